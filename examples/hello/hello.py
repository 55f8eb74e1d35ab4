"""A tiny CLI to try kiln on: `kiln build examples/hello/hello.py`."""

import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description="Greets, as JSON.")
    parser.add_argument("name", nargs="?", default="world")
    args = parser.parse_args()
    print(json.dumps({"hello": args.name, "frozen": getattr(sys, "frozen", False)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
