"""Which claims about a person a client receives, by scope."""

from __future__ import annotations

import json

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core import UserInfo

from ..accounts.models import User
from ..accounts.sessions import ACR_MULTI_FACTOR, ACR_SINGLE_FACTOR
from ..linking.service import contracts_claim

SCOPES_SUPPORTED = ["openid", "profile", "email", "phone", "contracts", "offline_access"]
ACR_VALUES_SUPPORTED = [ACR_SINGLE_FACTOR, ACR_MULTI_FACTOR]

CLAIMS_SUPPORTED = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "sid",
    "name",
    "preferred_username",
    "locale",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "contracts",
]

# Claims a client may ask for in the ID token with the `claims` request parameter (OIDC Core §5.5).
ID_TOKEN_REQUESTABLE = ("contracts",)


def user_claims(user: User, scope: str, with_contracts: bool = True) -> UserInfo:
    """Standard claims (OIDC Core §5.4) for the scopes granted, and `contracts` for that scope."""
    scopes = set(scope_to_list(scope or ""))
    claims = UserInfo(sub=user.sub)
    if "profile" in scopes:
        claims["preferred_username"] = user.username
        if user.name:
            claims["name"] = user.name
        if user.locale:
            claims["locale"] = user.locale
        claims["updated_at"] = int(user.updated_at.timestamp())
    if "email" in scopes and user.email:
        claims["email"] = user.email
        claims["email_verified"] = bool(user.email_verified)
    if "phone" in scopes and user.phone:
        claims["phone_number"] = user.phone
        claims["phone_number_verified"] = bool(user.phone_verified)
    if with_contracts and "contracts" in scopes:
        claims["contracts"] = contracts_claim(user)
    return claims


def _claims_request(raw: str | None) -> dict:
    """The `claims` parameter's id_token member (OIDC Core §5.5); ValueError if it is not valid JSON."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except RecursionError:  # nested deeper than any real request
        raise ValueError("claims nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("id_token", {}), dict):
        raise ValueError("claims must be a JSON object")
    return data.get("id_token") or {}


def requested_id_token_claims(raw: str | None) -> list[str]:
    """Names asked for in the `claims` parameter's id_token member; ValueError if it is not valid JSON."""
    return [name for name in _claims_request(raw) if name in ID_TOKEN_REQUESTABLE]


def requested_acr(raw: str | None) -> list[str]:
    """The `acr` values asked for through the `claims` parameter (§5.5.1.1), like `acr_values`."""
    wanted = _claims_request(raw).get("acr")
    if not isinstance(wanted, dict):
        return []
    values = wanted.get("values", [wanted.get("value")])
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []
