import sys

def main():
    pass

if __name__ == "__main__":
    import uvicorn
    main()
