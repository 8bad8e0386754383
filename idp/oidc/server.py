"""The Authlib authorization server: grants, endpoints and extensions in one place."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc9207 import IssuerParameter

from ..config import Settings
from . import storage
from .clients import ASSIGNABLE_SCOPES
from .endpoints import (
    AccessTokenValidator,
    EndSessionEndpoint,
    IntrospectionEndpoint,
    RevocationEndpoint,
    UserInfoEndpoint,
)
from .grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    IdTokenForCode,
    IdTokenForRefresh,
    RefreshTokenGrant,
    S256CodeChallenge,
    save_token,
)


class Issuer(IssuerParameter):
    """RFC 9207: `iss` in every authorization response, errors included."""

    def __init__(self, issuer: str):
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


def create_authorization_server(app, settings: Settings) -> AuthorizationServer:
    server = AuthorizationServer(app, query_client=storage.get_client, save_token=save_token)
    server.scopes_supported = ASSIGNABLE_SCOPES

    def new_token(**_):
        return storage.new_token()

    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            access_token_generator=new_token,
            refresh_token_generator=new_token,
            expires_generator=lambda client, grant_type: settings.tokens.access_token_seconds,
        ),
    )
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), IdTokenForCode()])
    server.register_grant(RefreshTokenGrant, [IdTokenForRefresh()])
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(EndSessionEndpoint)
    protector = ResourceProtector()
    protector.register_token_validator(AccessTokenValidator())
    server.register_endpoint(UserInfoEndpoint(resource_protector=protector))
    server.register_extension(Issuer(settings.server.issuer))
    return server
