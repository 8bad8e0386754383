"""The discovery document (OpenID Connect Discovery 1.0, RFC 8414), rendered once."""

from __future__ import annotations

import hashlib
import json

from ..config import SUPPORTED_ALGS, SUPPORTED_LOCALES, Settings
from .claims import ACR_VALUES_SUPPORTED, CLAIMS_SUPPORTED, SCOPES_SUPPORTED

# select_account: one account per browser, so choosing one means signing in (as prompt=login).
PROMPTS = ("none", "login", "consent", "select_account")

PATHS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "jwks_uri": "/jwks.json",
    "end_session_endpoint": "/logout",
    "introspection_endpoint": "/introspect",
    "revocation_endpoint": "/revoke",
}


def provider_metadata(settings: Settings) -> dict:
    issuer = settings.server.issuer
    client_auth = ["client_secret_basic", "client_secret_post"]
    return {
        "issuer": issuer,
        **{name: issuer + path for name, path in PATHS.items()},
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "token_endpoint_auth_methods_supported": [*client_auth, "none"],
        "introspection_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": [*client_auth, "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "acr_values_supported": ACR_VALUES_SUPPORTED,
        "prompt_values_supported": list(PROMPTS),
        "ui_locales_supported": list(SUPPORTED_LOCALES),
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
    }


def render(settings: Settings) -> tuple[bytes, str]:
    """The document as bytes and its ETag."""
    body = json.dumps(provider_metadata(settings), separators=(",", ":")).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
