"""Authlib endpoints: introspection (RFC 7662), revocation (RFC 7009), userinfo, RP-initiated logout."""

from __future__ import annotations

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.oauth2.rfc6749 import InvalidRequestError, scope_to_list

from ..extensions import runtime
from . import storage
from .claims import user_claims
from .grants import AUTH_METHODS

INTROSPECTION_SCOPE = "introspection"


def _find_token(token_string: str, hint: str | None):
    """An access token (store) or a refresh token (SQL), trying the hinted kind first."""
    lookups = [storage.get_access_token, storage.find_refresh_token]
    if hint == "refresh_token":
        lookups.reverse()
    for lookup in lookups:
        token = lookup(token_string)
        if token is None:
            continue
        # A refresh token of a client since disabled, or of a scope since withdrawn, is not active
        # (get_access_token checks the same for access tokens).
        if token.token_type == "refresh_token" and not storage.client_still_allows(token.client_id, token.scope):
            return None
        return token
    return None


def _require_token_parameter(request) -> None:
    # RFC 7009 §2.1 and RFC 7662 §2.1: an unknown token_type_hint is ignored, not an error.
    if not request.form.get("token"):
        raise InvalidRequestError("Missing 'token' parameter.")


class IntrospectionEndpoint(_IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def check_params(self, request, client):
        _require_token_parameter(request)

    def query_token(self, token_string, token_type_hint):
        return _find_token(token_string, token_type_hint)

    def check_permission(self, token, client, request) -> bool:
        # A client may introspect its own tokens; a resource server needs the introspection scope.
        return token.check_client(client) or INTROSPECTION_SCOPE in scope_to_list(client.scopes)

    def introspect_token(self, token) -> dict:
        issued_at = token.issued_at if isinstance(token.issued_at, int) else int(token.issued_at.timestamp())
        expires_at = token.expires_at if isinstance(token.expires_at, int) else int(token.expires_at.timestamp())
        payload = {
            "active": True,
            "client_id": token.client_id,
            "scope": token.scope,
            "token_type": "Bearer" if token.token_type == "access_token" else "refresh_token",
            "iat": issued_at,
            "exp": expires_at,
            "iss": runtime().settings.server.issuer,
        }
        user = storage.get_user(token.user_id)
        if token.user_id is not None and user is None:
            return {"active": False}  # the account is gone or locked
        if user is not None:
            payload["sub"] = user.sub
            payload["username"] = user.username
        if token.sid:
            payload["sid"] = token.sid
        return payload


class RevocationEndpoint(_RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def check_params(self, request, client):
        _require_token_parameter(request)

    def query_token(self, token_string, token_type_hint):
        return _find_token(token_string, token_type_hint)

    def revoke_token(self, token, request) -> None:
        if token.token_type == "refresh_token":
            storage.revoke_family(token.family_id)
        else:
            storage.delete_access_tokens([storage.digest(request.form["token"])])


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return storage.get_access_token(token_string)


def _bearer_error(status: int, error: str | None, description: str = "", scope: str | None = None):
    """An RFC 6750 §3 answer: the challenge says what went wrong, or nothing when no token came."""
    challenge = f'Bearer realm="{runtime().settings.server.issuer}"'
    body = {}
    if error:
        challenge += f', error="{error}"'
        body = {"error": error, **({"error_description": description} if description else {})}
    if scope:
        challenge += f', scope="{scope}"'
    return status, body, [*default_json_headers, ("WWW-Authenticate", challenge)]


class UserInfoEndpoint(_UserInfoEndpoint):
    def __call__(self, request):
        try:
            token = self.resource_protector.acquire_token("openid")
        except (MissingAuthorizationError, UnsupportedTokenTypeError):
            if request.headers.get("Authorization", "").split(" ")[0].lower() == "bearer":
                return _bearer_error(400, "invalid_request", "Send the access token as 'Authorization: Bearer <token>'.")
            return _bearer_error(401, None)  # §3.1: no bearer credentials at all, no error code
        except InsufficientScopeError:
            return _bearer_error(403, "insufficient_scope", "The token lacks the openid scope.", scope="openid")
        except InvalidTokenError:
            return _bearer_error(401, "invalid_token", "The access token is not valid.")
        user = token.get_user()
        if user is None:
            # The account behind a still-valid token was locked or removed.
            return _bearer_error(401, "invalid_token", "The account is not active.")
        return 200, self.generate_user_info(user, token.scope), default_json_headers

    def generate_user_info(self, user, scope):
        return user_claims(user, scope)


class EndSessionEndpoint(_EndSessionEndpoint):
    def get_server_jwks(self):
        return runtime().keyring.public_keys()

    def is_post_logout_redirect_uri_legitimate(self, request, post_logout_redirect_uri, client, logout_hint) -> bool:
        # Reached only with a client_id and a URI registered for it exactly (checked by Authlib),
        # and the person confirms the sign-out on our page first: no open redirect is possible.
        return True

    def end_session(self, end_session_request) -> None:
        # Ending the browser's session is done by the view, which owns the cookie.
        pass
