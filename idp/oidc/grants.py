"""Authlib grants and extensions wired to idp's storage, keys and sessions."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants, scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken

from .. import clock
from ..extensions import runtime
from . import storage
from ..linking.service import contracts_claim
from .claims import requested_id_token_claims, user_claims

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class IdTokenSigning(OpenIDToken):
    """How every ID token is signed and what it always carries."""

    def get_client_algorithm(self, client) -> str:
        return client.id_token_alg or runtime().settings.keys.default_alg

    def get_encode_header(self, client) -> dict:
        alg = self.get_client_algorithm(client)
        kid, _ = runtime().keyring.signing_key(alg)
        return {"alg": alg, "kid": kid, "typ": "JWT"}

    def resolve_client_private_key(self, client):
        _, key = runtime().keyring.signing_key(self.get_client_algorithm(client))
        return key

    def get_client_claims(self, client) -> dict:
        settings = runtime().settings
        now = int(clock.now())
        return {
            "iss": settings.server.issuer,
            "aud": client.get_client_id(),
            "iat": now,
            "exp": now + settings.tokens.id_token_seconds,
        }

    def generate_user_info(self, user, scope):
        # Heavy claims (contracts) go to the ID token only when asked for with `claims`.
        return user_claims(user, scope, with_contracts=False)


class IdTokenForCode(IdTokenSigning, OpenIDCode):
    """ID tokens from the authorization code grant (OIDC Core §3.1.3.3)."""

    def __init__(self):
        super().__init__(require_nonce=False)

    def exists_nonce(self, nonce, request) -> bool:
        # Codes are single use and bound to the client, so a nonce cannot be replayed through us.
        return False

    def get_authorization_code_claims(self, authorization_code):
        claims = super().get_authorization_code_claims(authorization_code)
        if authorization_code.sid:
            claims["sid"] = authorization_code.sid
        if "contracts" in authorization_code.id_token_claims and "contracts" in authorization_code.scope.split():
            claims["contracts"] = contracts_claim(storage.get_user(authorization_code.user_id))
        return claims


class IdTokenForRefresh(IdTokenSigning):
    """ID tokens on refresh (OIDC Core §12.2): same sub, auth_time, acr, amr and sid as before."""

    def get_compatible_claims(self, request):
        claims = super().get_compatible_claims(request)
        rt = request.refresh_token
        claims["auth_time"] = rt.auth_time
        if rt.acr:
            claims["acr"] = rt.acr
        if rt.amr:
            claims["amr"] = rt.amr
        if rt.sid:
            claims["sid"] = rt.sid
        return claims


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code, request):
        session = request.sso_session
        storage.save_code(
            code,
            storage.AuthorizationCode(
                client_id=request.client.get_client_id(),
                user_id=request.user.id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                sid=session.sid,
                auth_time=session.auth_time,
                amr=session.amr,
                acr=session.acr,
                family_id=storage.new_family_id(),
                nonce=request.payload.data.get("nonce"),
                code_challenge=request.payload.data.get("code_challenge"),
                code_challenge_method=request.payload.data.get("code_challenge_method"),
                id_token_claims=requested_id_token_claims(request.payload.data.get("claims")),
            ),
        )

    def query_authorization_code(self, code, client):
        if not code or len(code) > 512:
            return None
        found = storage.take_code(code, client)
        if found is not None and found.sid and not runtime().sessions.alive(found.sid):
            return None  # the person signed out between the code and its redemption
        return found

    def delete_authorization_code(self, authorization_code):
        pass  # take_code already removed it

    def authenticate_user(self, authorization_code):
        return storage.get_user(authorization_code.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        row = storage.find_refresh_token(refresh_token)
        if row is None or row.is_expired():
            return None
        if row.is_revoked():
            # A rotated token came back: someone holds a stolen copy. Revoke the whole family.
            storage.revoke_family(row.family_id)
            return None
        if storage.get_user(row.user_id) is None:
            return None  # the account is locked or gone: invalid_grant (RFC 6749 §5.2)
        # Without offline_access a refresh token lives only as long as the sign-in it came from
        # (OIDC Core §11): once that SSO session has ended, it ends too.
        if "offline_access" not in scope_to_list(row.scope) and row.sid and not runtime().sessions.alive(row.sid):
            return None
        return row

    def authenticate_user(self, refresh_token):
        return storage.get_user(refresh_token.user_id)

    def issue_token(self, user, refresh_token):
        # Never more than the client is allowed now: a scope taken from it stops at the next refresh.
        scope = self.request.client.get_allowed_scope(self.request.payload.scope or refresh_token.get_scope())
        return self.generate_token(user=user, scope=scope, include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN)

    def revoke_old_credential(self, refresh_token):
        pass  # rotation happens in save_token, in the same transaction as the new token


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only, required for public clients (RFC 7636, OAuth 2.0 Security BCP §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.", redirect_uri=redirect_uri)
        if grant.request.client.public and not data.get("code_challenge"):
            raise InvalidRequestError("Public clients must use PKCE (S256).", redirect_uri=redirect_uri)


def save_token(token: dict, request) -> None:
    """Persist what the token endpoint just issued (Authlib's save_token hook)."""
    settings = runtime().settings
    now = int(clock.now())
    grant_type = request.payload.grant_type
    code = request.authorization_code if grant_type == "authorization_code" else None
    previous = request.refresh_token if grant_type == "refresh_token" else None
    source = code or previous  # what this token continues: a sign-in, or an earlier refresh
    access_digest = storage.digest(token["access_token"])
    if source is not None:
        try:
            storage.record_refresh(
                previous,
                token.get("refresh_token"),
                client_id=request.client.get_client_id(),
                user_id=request.user.id,
                # RFC 6749 §6: a narrower access token leaves the refresh token's scope as it was.
                scope=previous.scope if previous is not None else token.get("scope", ""),
                family_id=source.family_id,
                sid=source.sid,
                auth_time=source.auth_time,
                amr=source.amr,
                acr=source.acr,
                access_digest=access_digest,
            )
        except storage.RefreshTokenReused:
            raise InvalidGrantError("The refresh token was already used.") from None
    storage.save_access_token(
        token["access_token"],
        storage.AccessToken(
            client_id=request.client.get_client_id(),
            user_id=request.user.id if request.user else None,
            scope=token.get("scope", ""),
            issued_at=now,
            expires_at=now + settings.tokens.access_token_seconds,
            sid=source.sid if source else None,
            family_id=source.family_id if source else None,
        ),
    )
    if code is not None:
        storage.remember_code_tokens(code, access_digest)
