"""A FastAPI service started in-process by uvicorn from an import string, queried once."""
import socket
import threading
import time

import httpx
import uvicorn


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    # The app is named by an import string, as `uvicorn webapp:app` would take it.
    config = uvicorn.Config("webapp:app", host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base) as client:
        print("health:", client.get("/api/health").json())
        r = client.post("/api/users", json={"name": "Ada", "email": "ada@example.com", "age": 36})
        print("create:", r.status_code, r.json())
        r = client.post("/api/users", json={"name": "Bob", "email": "not-an-email", "age": 3})
        print("invalid:", r.status_code, [e["loc"][-1] for e in r.json()["detail"]])
        print("openapi paths:", sorted(client.get("/openapi.json").json()["paths"]))
    server.should_exit = True
    thread.join(timeout=10)
    print("stopped:", not thread.is_alive())


if __name__ == "__main__":
    main()
