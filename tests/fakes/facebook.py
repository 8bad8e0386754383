"""A stand-in for Facebook Login (OAuth 2 dialog + Graph API) on 127.0.0.1, speaking its wire format.

GET /v19.0/dialog/oauth plays the person pressing "Continue" and redirects back
with ?code=...&state=... (or error=access_denied&error_reason=user_denied...).
GET or POST /v19.0/oauth/access_token exchanges the code (client_id and
client_secret in the query, a form body or HTTP Basic auth; redirect_uri must be
the authorize one; PKCE S256/plain checked when a challenge was sent) for
{"access_token", "token_type": "bearer", "expires_in"}. GET /v19.0/me takes the
token as ?access_token= or an "Authorization: Bearer|OAuth" header, requires
appsecret_proof = hex HMAC-SHA256(app_secret, access_token) and returns the
`profile` keys named in ?fields= (plus "id"). Errors use the Graph format:
{"error": {"message", "type", "code", "fbtrace_id"}}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from urllib.parse import unquote, urlencode

from werkzeug.wrappers import Request, Response

from .server import LocalServer

VERSION = "v19.0"


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeFacebook:
    def __init__(self, app_id="fb-app-id", app_secret="fb-app-secret"):
        self.app_id, self.app_secret = app_id, app_secret
        self.mode = "ok"  # ok | deny | token_error | down
        self.profile: dict = {"id": "10220000000000001", "name": "Nguyễn Thị Hoa", "email": "hoa.fb@example.com"}
        self.authorize_requests: list[dict] = []  # query params of every /dialog/oauth request
        self.token_requests: list[dict] = []  # {"args", "form", "headers"} of every /oauth/access_token request
        self.me_requests: list[dict] = []  # query params of every /me request
        self.codes: dict[str, dict] = {}
        self.used_codes: set[str] = set()
        self.tokens: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.http = LocalServer(self.app)
        self.url = self.http.url
        self.authorize_url = f"{self.url}/{VERSION}/dialog/oauth"
        self.token_url = f"{self.url}/{VERSION}/oauth/access_token"
        self.graph_url = f"{self.url}/{VERSION}"

    def stop(self):
        self.http.stop()

    def appsecret_proof(self, access_token: str) -> str:
        return hmac.new(self.app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()

    def _json(self, data, status=200) -> Response:
        return Response(json.dumps(data), status=status, mimetype="application/json")

    def _error(self, status: int, code: int, message: str, type_="OAuthException", **extra) -> Response:
        body = {"message": message, "type": type_, "code": code, **extra, "fbtrace_id": secrets.token_urlsafe(9)}
        return self._json({"error": body}, status)

    def app(self, environ, start_response):
        request = Request(environ)
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == f"/{VERSION}/dialog/oauth" and request.method == "GET":
            return self.authorize(request)
        if path == f"/{VERSION}/oauth/access_token" and request.method in ("GET", "POST"):
            return self.access_token(request)
        if path == f"/{VERSION}/me" and request.method == "GET":
            return self.me(request)
        return self._error(400, 803, f"Unknown path components: {request.path}")

    # --- OAuth dialog ---------------------------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        args = request.args
        with self._lock:
            self.authorize_requests.append(args.to_dict())
        client_id = args.get("client_id", "")
        if client_id != self.app_id:
            return self._error(400, 101, f"Error validating application. Invalid application ID: {client_id or 'None'}")
        if args.get("response_type", "code") != "code":
            return self._error(400, 100, "Invalid response_type: only 'code' is supported")
        redirect_uri, state = args.get("redirect_uri", ""), args.get("state", "")
        if not redirect_uri:
            return self._error(400, 100, "Missing redirect_uri parameter.")
        if not state:
            return self._error(400, 100, "Missing state parameter.")
        if self.mode == "deny":
            query = {"error": "access_denied", "error_code": "200", "error_reason": "user_denied",
                     "error_description": "Permissions error", "state": state}
        else:
            code = secrets.token_urlsafe(32)
            with self._lock:
                self.codes[code] = {
                    "redirect_uri": redirect_uri,
                    "code_challenge": args.get("code_challenge"),
                    "code_challenge_method": args.get("code_challenge_method") or "plain",
                    "scope": args.get("scope", ""),
                }
            query = {"code": code, "state": state}
        sep = "&" if "?" in redirect_uri else "?"
        return Response(status=302, headers={"Location": redirect_uri + sep + urlencode(query)})

    # --- token endpoint -------------------------------------------------------------------------
    def access_token(self, request: Request) -> Response:
        params = {**request.args.to_dict(), **request.form.to_dict()}
        with self._lock:
            self.token_requests.append({"args": request.args.to_dict(), "form": request.form.to_dict(),
                                        "headers": dict(request.headers)})
        if self.mode == "down":
            return self._error(500, 2, "An unexpected error has occurred. Please retry your request later.",
                               is_transient=True)
        if self.mode == "token_error":
            return self._error(400, 100, "Invalid verification code format.")
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            client_id = client_id or unquote(auth.username or "")
            client_secret = client_secret or unquote(auth.password or "")
        if not client_id:
            return self._error(400, 101, "Missing client_id parameter.")
        if client_id != self.app_id:
            return self._error(400, 101, f"Error validating application. Invalid application ID: {client_id}")
        if client_secret != self.app_secret:
            return self._error(400, 100, "Error validating client secret.")
        code = params.get("code", "")
        if not code:
            return self._error(400, 100, "Missing code parameter.")
        with self._lock:
            grant = self.codes.pop(code, None)
            used = code in self.used_codes
            self.used_codes.add(code)
        if grant is None:
            return self._error(400, 100, "This authorization code has been used." if used
                               else "Invalid verification code format.")
        if params.get("redirect_uri", "") != grant["redirect_uri"]:
            return self._error(400, 100, "Error validating verification code. Please make sure your redirect_uri is "
                                         "identical to the one you used in the OAuth dialog request")
        if grant["code_challenge"]:
            verifier = params.get("code_verifier", "")
            expected = _s256(verifier) if grant["code_challenge_method"].upper() == "S256" else verifier
            if not verifier or not hmac.compare_digest(expected, grant["code_challenge"]):
                return self._error(400, 100, "Invalid code verifier.")
        token = "EAA" + secrets.token_urlsafe(48)
        with self._lock:
            self.tokens[token] = {"scope": grant["scope"]}
        return self._json({"access_token": token, "token_type": "bearer", "expires_in": 5183944})

    # --- Graph API ------------------------------------------------------------------------------
    def me(self, request: Request) -> Response:
        args = request.args
        with self._lock:
            self.me_requests.append(args.to_dict())
        token = args.get("access_token", "")
        if not token:
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() in ("bearer", "oauth"):
                token = value.strip()
        with self._lock:
            known = token in self.tokens
        if not known:
            return self._error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        proof = args.get("appsecret_proof", "")
        if not proof or not hmac.compare_digest(proof, self.appsecret_proof(token)):
            return self._error(400, 100, "Invalid appsecret_proof provided in the API argument",
                               type_="GraphMethodException")
        fields = [f.strip() for f in args.get("fields", "id,name").split(",") if f.strip()]
        body = {"id": self.profile.get("id")}
        for name in fields:
            if self.profile.get(name) is not None:
                body[name] = self.profile[name]
        return self._json(body)
