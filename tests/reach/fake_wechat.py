"""A fake WeChat OAuth (网页授权) and API server on 127.0.0.1 for tests: /connect/oauth2/authorize
answers as WeChat does for snsapi_base (straight back to redirect_uri with a code and the state),
and /sns/oauth2/access_token exchanges each code once for the openid it was issued for."""

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

APPID, SECRET = "wx-test-app", "wx-test-secret"


class FakeWeChat:
    def __init__(self):
        self.openid = "o-resident-1"          # who is "using WeChat" when the browser comes to authorize
        self.codes: dict[str, str] = {}       # code -> openid, until exchanged
        self.exchanges: list[dict] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/connect/oauth2/authorize":
                    if query.get("appid") != APPID or query.get("scope") != "snsapi_base":
                        return self._json({"errcode": 10003, "errmsg": "redirect_uri or appid wrong"})
                    code = secrets.token_hex(8)
                    with fake._lock:
                        fake.codes[code] = fake.openid
                    target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
                    self.send_response(302)
                    self.send_header("location", target)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if url.path == "/sns/oauth2/access_token":
                    with fake._lock:
                        fake.exchanges.append(query)
                        openid = fake.codes.pop(query.get("code", ""), None) \
                            if query.get("appid") == APPID and query.get("secret") == SECRET else None
                    if openid is None:
                        return self._json({"errcode": 40029, "errmsg": "invalid code"})
                    return self._json({"access_token": "AT-" + secrets.token_hex(4), "expires_in": 7200,
                                       "refresh_token": "RT", "openid": openid, "scope": "snsapi_base"})
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def issue(self, openid: str) -> str:
        """A code as WeChat would hand the browser for this openid (API tests skip the redirect)."""
        code = secrets.token_hex(8)
        with self._lock:
            self.codes[code] = openid
        return code

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
