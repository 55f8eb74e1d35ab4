"""requests against a local http.server running in a thread: JSON, headers, sessions, errors."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/items"):
            self._send(200, {"items": [1, 2, 3], "ua": self.headers["User-Agent"].split("/")[0]})
        else:
            self._send(404, {"error": "nope"})

    def do_POST(self):
        n = int(self.headers["Content-Length"])
        self._send(201, {"got": json.loads(self.rfile.read(n)), "auth": self.headers.get("Authorization", "")[:5]})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{server.server_address[1]}"
with requests.Session() as s:
    s.mount("http://", HTTPAdapter(max_retries=Retry(total=1)))
    r = s.get(base + "/items", params={"q": "x"}, timeout=10)
    print(r.status_code, r.json(), r.headers["Content-Type"])
    r = s.post(base + "/new", json={"name": "ada"}, auth=("u", "p"), timeout=10)
    print(r.status_code, r.json())
    r = s.get(base + "/missing", timeout=10)
    try:
        r.raise_for_status()
    except requests.HTTPError as e:
        print("error:", e.response.status_code)
print("certifi bundle present:", requests.certs.where().endswith(".pem"))
server.shutdown()
