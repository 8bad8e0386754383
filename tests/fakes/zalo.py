"""A stand-in for Zalo's social login (OAuth v4 + Graph v2.0) on 127.0.0.1, speaking its wire format.

GET /v4/permission?app_id=&redirect_uri=&state=&code_challenge= plays the person
allowing access and redirects back with ?code=...&state=...&code_challenge=...
(PKCE S256 is mandatory). POST /v4/access_token takes the app's secret in a
`secret_key` header and a form with app_id, code, grant_type=authorization_code
and code_verifier (or grant_type=refresh_token with refresh_token); Zalo answers
HTTP 200 even for errors, {"error": <negative int>, "error_name", "error_reason",
"error_description"}, and on success {"access_token", "refresh_token",
"expires_in": "3600"} (a string). GET /v2.0/me?fields=id,name,picture takes the
token in an `access_token` header and answers 200 with the fields plus
"error": 0, "message": "Success", or {"error": -124, "message": "Access token is invalid"}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from urllib.parse import urlencode

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from .server import LocalServer

BAD_PARAMETER, BAD_CODE, BAD_VERIFIER = -14002, -14014, -14016
RAW_HEADERS = "fake_zalo.raw_headers"


class _RawHeadersHandler(WSGIRequestHandler):
    """werkzeug's dev server drops headers whose names contain "_" (anti-spoofing); Zalo's `secret_key` and
    `access_token` headers are exactly such, so keep the raw (name, value) list in the environ."""

    def make_environ(self):
        environ = super().make_environ()
        environ[RAW_HEADERS] = [(k, v.replace("\r\n", "")) for k, v in self.headers.items()]
        return environ


def _header(request: Request, name: str) -> str:
    """An exact-name header (case-insensitive, but "secret_key" is not "secret-key")."""
    for key, value in request.environ.get(RAW_HEADERS, ()):
        if key.lower() == name:
            return value
    return ""


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeZalo:
    def __init__(self, app_id="4143000000000000001", secret_key="zalo-secret-key"):
        self.app_id, self.secret_key = app_id, secret_key
        self.mode = "ok"  # ok | deny | token_error | down
        self.profile: dict = {"id": "8712000000000000001", "name": "Trần Văn Zalo",
                              "picture": {"data": {"url": "https://s120.example/avatar.jpg"}}}
        self.authorize_requests: list[dict] = []  # query params of every /v4/permission request
        self.token_requests: list[dict] = []  # {"headers" (raw names), "form"} of every /v4/access_token request
        self.me_requests: list[dict] = []  # {"args", "headers" (raw names)} of every /v2.0/me request
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.http = LocalServer(self.app, request_handler=_RawHeadersHandler)
        self.url = self.http.url
        self.authorize_url = f"{self.url}/v4/permission"
        self.token_url = f"{self.url}/v4/access_token"
        self.graph_url = f"{self.url}/v2.0"

    def stop(self):
        self.http.stop()

    def _json(self, data, status=200) -> Response:
        return Response(json.dumps(data), status=status, mimetype="application/json")

    def _error(self, code: int, name: str, reason: str, status=200) -> Response:
        return self._json({"error": code, "error_name": name, "error_reason": reason,
                           "error_description": reason}, status)

    def app(self, environ, start_response):
        request = Request(environ)
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/v4/permission" and request.method == "GET":
            return self.permission(request)
        if path == "/v4/access_token" and request.method == "POST":
            return self.access_token(request)
        if path == "/v2.0/me" and request.method == "GET":
            return self.me(request)
        return self._json({"error": 404, "message": "Not found"}, 404)

    # --- permission (authorize) -----------------------------------------------------------------
    def permission(self, request: Request) -> Response:
        args = request.args
        with self._lock:
            self.authorize_requests.append(args.to_dict())
        if args.get("app_id", "") != self.app_id:
            return self._error(BAD_PARAMETER, "Invalid parameter", "app_id is invalid", status=400)
        redirect_uri, state, challenge = args.get("redirect_uri", ""), args.get("state", ""), args.get("code_challenge", "")
        if not redirect_uri:
            return self._error(BAD_PARAMETER, "Invalid parameter", "redirect_uri is required", status=400)
        if not state:
            return self._error(BAD_PARAMETER, "Invalid parameter", "state is required", status=400)
        if not challenge:
            return self._error(BAD_PARAMETER, "Invalid parameter", "code_challenge is required", status=400)
        if self.mode == "deny":
            query = {"error": "access_denied", "state": state}
        else:
            code = secrets.token_urlsafe(48)
            with self._lock:
                self.codes[code] = {"redirect_uri": redirect_uri, "code_challenge": challenge}
            query = {"code": code, "state": state, "code_challenge": challenge}
        sep = "&" if "?" in redirect_uri else "?"
        return Response(status=302, headers={"Location": redirect_uri + sep + urlencode(query)})

    # --- token endpoint -------------------------------------------------------------------------
    def _issue(self) -> Response:
        access, refresh = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
        with self._lock:
            self.tokens[access] = {}
            self.refresh_tokens[refresh] = {}
        return self._json({"access_token": access, "refresh_token": refresh, "expires_in": "3600"})

    def access_token(self, request: Request) -> Response:
        form = request.form
        with self._lock:
            self.token_requests.append({"headers": dict(request.environ.get(RAW_HEADERS, ())), "form": form.to_dict()})
        if self.mode == "down":
            return Response("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
                            "</h1></center><hr><center>nginx</center></body></html>", status=502, mimetype="text/html")
        if self.mode == "token_error":
            return self._error(BAD_CODE, "Invalid code", "Invalid authorization code")
        if _header(request, "secret_key") != self.secret_key:
            return self._error(BAD_PARAMETER, "Invalid parameter", "secret_key is invalid")
        if form.get("app_id", "") != self.app_id:
            return self._error(BAD_PARAMETER, "Invalid parameter", "app_id is invalid")
        grant_type = form.get("grant_type", "")
        if grant_type == "refresh_token":
            with self._lock:
                known = self.refresh_tokens.pop(form.get("refresh_token", ""), None) is not None
            if not known:
                return self._error(-14020, "Invalid refresh token", "refresh_token is invalid or expired")
            return self._issue()
        if grant_type != "authorization_code":
            return self._error(BAD_PARAMETER, "Invalid parameter", "grant_type is invalid")
        with self._lock:
            grant = self.codes.pop(form.get("code", ""), None)
        if grant is None:
            return self._error(BAD_CODE, "Invalid code", "Invalid authorization code")
        verifier = form.get("code_verifier", "")
        if not verifier or not hmac.compare_digest(_s256(verifier), grant["code_challenge"]):
            return self._error(BAD_VERIFIER, "Invalid code verifier", "code_verifier is invalid")
        return self._issue()

    # --- Graph API ------------------------------------------------------------------------------
    def me(self, request: Request) -> Response:
        with self._lock:
            self.me_requests.append({"args": request.args.to_dict(), "headers": dict(request.environ.get(RAW_HEADERS, ()))})
            known = _header(request, "access_token") in self.tokens
        if not known:
            return self._json({"error": -124, "message": "Access token is invalid"})
        fields = [f.strip() for f in request.args.get("fields", "id,name,picture").split(",") if f.strip()]
        body = {name: self.profile[name] for name in fields if self.profile.get(name) is not None}
        body.update({"error": 0, "message": "Success"})
        return self._json(body)
