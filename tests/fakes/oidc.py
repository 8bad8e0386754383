"""A minimal OpenID Connect provider on 127.0.0.1 that can misbehave on purpose.

The happy path is tested against a real second idp; this one exists to send
what a real provider should not: ID tokens with a bad signature, the wrong
nonce, issuer or audience, an expired one, or an error instead of a token.
"""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.wrappers import Request, Response

from .server import LocalServer


class FakeOidc:
    def __init__(self, client_id="downstream", client_secret="downstream-secret"):
        self.client_id, self.client_secret = client_id, client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "good"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "good"})  # same kid, wrong key
        self.mode = "ok"  # ok | bad_signature | wrong_nonce | wrong_issuer | wrong_audience | expired | token_error | deny
        self.subject = "fake-subject-1"
        self.email = "fake.user@example.com"
        self.extra_claims: dict = {}  # merged into the ID token (e.g. {"email_verified": "false"})
        self.omit_from_discovery: set[str] = set()  # e.g. {"jwks_uri"}
        self.codes: dict[str, dict] = {}
        self.access_tokens: set[str] = set()
        self.http = LocalServer(self.app)
        self.url = self.http.url

    def stop(self):
        self.http.stop()

    def _json(self, data, status=200):
        return Response(json.dumps(data), status=status, mimetype="application/json")

    def app(self, environ, start_response):
        request = Request(environ)
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        if request.path == "/.well-known/openid-configuration":
            document = {
                "issuer": self.url,
                "authorization_endpoint": self.url + "/authorize",
                "token_endpoint": self.url + "/token",
                "jwks_uri": self.url + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
            return self._json({k: v for k, v in document.items() if k not in self.omit_from_discovery})
        if request.path == "/jwks":
            return self._json({"keys": [{**self.key.as_dict(private=False), "alg": "RS256", "use": "sig"}]})
        if request.path == "/authorize":
            args = request.args
            target = args["redirect_uri"]
            if self.mode == "deny":
                query = {"error": "access_denied", "state": args["state"]}
            else:
                code = secrets.token_urlsafe(16)
                self.codes[code] = {"nonce": args.get("nonce"), "redirect_uri": target}
                query = {"code": code, "state": args["state"]}
            return Response(status=302, headers={"Location": target + "?" + urlencode(query)})
        if request.path == "/token" and request.method == "POST":
            auth = request.authorization
            if not auth or (auth.username, auth.password) != (self.client_id, self.client_secret):
                return self._json({"error": "invalid_client"}, 401)
            grant = self.codes.pop(request.form.get("code", ""), None)
            if grant is None or self.mode == "token_error":
                return self._json({"error": "invalid_grant", "error_description": "bad code"}, 400)
            now = int(time.time())
            claims = {
                "iss": "https://someone-else.example" if self.mode == "wrong_issuer" else self.url,
                "aud": "another-client" if self.mode == "wrong_audience" else self.client_id,
                "sub": self.subject,
                "iat": now - (7200 if self.mode == "expired" else 0),
                "exp": now - 3600 if self.mode == "expired" else now + 600,
                "nonce": "not-the-nonce" if self.mode == "wrong_nonce" else grant["nonce"],
                "email": self.email,
                "email_verified": True,
                "name": "Fake User",
                **self.extra_claims,
            }
            key = self.other_key if self.mode == "bad_signature" else self.key
            id_token = jwt.encode({"alg": "RS256", "kid": "good"}, claims, key)
            access_token = secrets.token_urlsafe(16)
            self.access_tokens.add(access_token)
            return self._json({"access_token": access_token, "token_type": "Bearer", "expires_in": 600,
                               "id_token": id_token})
        if request.path == "/me":
            # A plain OAuth 2 profile endpoint with its own claim names.
            if request.headers.get("Authorization", "")[7:] not in self.access_tokens:
                return self._json({"error": "invalid_token"}, 401)
            return self._json({"user_id": self.subject, "mail": self.email, "display_name": "Fake User",
                               "mobile": "+84912555666"})
        return self._json({"error": "not_found"}, 404)
