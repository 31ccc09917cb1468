"""A fake SMS gateway / WeChat API on 127.0.0.1 for tests: records every request, honours the
Idempotency-Key as a real gateway does (a repeated key is accepted but delivered once), and can be
told to fail."""

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeGateway:
    def __init__(self):
        self.requests: list[dict] = []
        self.delivered: dict[str, dict] = {}  # idempotency key -> body, once each
        self.fail_with: int | None = None
        self.wechat_errcode = 0
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                with gateway._lock:
                    gateway.requests.append({"method": "GET", "path": url.path, "query": parse_qs(url.query),
                                             "headers": dict(self.headers)})
                if url.path == "/cgi-bin/token":
                    return self._reply(200, {"access_token": "TOKEN-1", "expires_in": 7200})
                self._reply(404, {})

            def do_POST(self):
                url = urlparse(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                key = self.headers.get("idempotency-key")
                with gateway._lock:
                    gateway.requests.append({"method": "POST", "path": url.path, "query": parse_qs(url.query),
                                             "headers": dict(self.headers), "json": body})
                    if gateway.fail_with:
                        return self._reply(gateway.fail_with, {"error": "down"})
                    if url.path.startswith("/cgi-bin/message/subscribe/send") and gateway.wechat_errcode:
                        return self._reply(200, {"errcode": gateway.wechat_errcode, "errmsg": "refused"})
                    gateway.delivered.setdefault(key, body)
                self._reply(200, {"errcode": 0, "status": "accepted"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def posts(self, path: str = "/sms") -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == path]

    def key_counts(self) -> Counter:
        return Counter(r["headers"].get("Idempotency-Key") for r in self.requests if r["method"] == "POST")
