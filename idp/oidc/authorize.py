"""What an authorization request needs next: a sign-in, a consent, or a code."""

from __future__ import annotations

import enum
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    InteractionRequiredError,
    LoginRequiredError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from joserfc import jwt
from joserfc.errors import JoseError

from .. import clock
from ..accounts.models import User
from ..accounts.sessions import ACR_MULTI_FACTOR, SsoSession
from ..extensions import runtime
from ..params import small_int
from . import storage
from .claims import requested_acr, requested_id_token_claims
from .discovery import PROMPTS

MAX_PARAMETER_LENGTH = 2048
# The whole request travels on through sign-in as a `next` URL, encoded once more: past this it
# would no longer fit a request line (gunicorn allows 4094 bytes), so it is refused up front.
MAX_REQUEST_LENGTH = 2500


class Step(enum.Enum):
    SIGN_IN = "sign_in"
    STEP_UP = "step_up"
    CHANGE_PASSWORD = "change_password"
    CONSENT = "consent"
    ISSUE_CODE = "issue_code"


def oversized_parameter(values) -> str | None:
    """The name of the first parameter longer than anyone needs, if any."""
    for name, value in values.items(multi=True):
        if len(name) > 64 or len(value) > MAX_PARAMETER_LENGTH:
            return name[:64]
    return None


def _error(cls, grant, description: str | None = None) -> OAuth2Error:
    error = cls(description, redirect_uri=grant.redirect_uri) if description else cls(redirect_uri=grant.redirect_uri)
    error.state = grant.request.payload.state
    return error


def hinted_subject(grant) -> str | None:
    """The `sub` of a valid id_token_hint issued by us (expired ones are fine, OIDC Core §3.1.2.1)."""
    hint = grant.request.payload.data.get("id_token_hint")
    if not hint:
        return None
    try:
        token = jwt.decode(hint, runtime().keyring.public_keys())
    except (JoseError, ValueError):
        raise _error(InvalidRequestError, grant, "Invalid 'id_token_hint'.") from None
    if token.claims.get("iss") != runtime().settings.server.issuer or not token.claims.get("sub"):
        raise _error(InvalidRequestError, grant, "Invalid 'id_token_hint'.")
    return token.claims["sub"]


def next_step(grant, session: SsoSession | None, user: User | None) -> Step:
    """Decide the next step; raises an OAuth2Error carrying the redirect URI when it must stop."""
    data = grant.request.payload.data
    if sum(len(name) + len(value) + 2 for name, value in data.items()) > MAX_REQUEST_LENGTH:
        raise _error(InvalidRequestError, grant, "The authorization request is too long.")
    # OIDC Core §6: request objects are not supported, and discovery says so.
    if "request" in data:
        raise _error(RequestNotSupportedError, grant)
    if "request_uri" in data:
        raise _error(RequestURINotSupportedError, grant)
    try:
        requested_id_token_claims(data.get("claims"))
    except ValueError:
        raise _error(InvalidRequestError, grant, "Invalid 'claims' parameter.") from None
    if data.get("response_mode", "query") != "query":
        raise _error(InvalidRequestError, grant, "Only response_mode=query is supported.")
    prompts = set((data.get("prompt") or "").split())
    if not prompts <= set(PROMPTS):
        raise _error(InvalidRequestError, grant, "Invalid 'prompt' parameter.")
    max_age = data.get("max_age")
    if max_age is not None and small_int(max_age) is None:
        raise _error(InvalidRequestError, grant, "'max_age' must be a non-negative integer.")
    hint_sub = hinted_subject(grant)

    signed_in = session is not None and user is not None
    must_sign_in = (
        not signed_in
        or "login" in prompts
        or "select_account" in prompts  # one account per browser: choosing one means signing in
        or (max_age is not None and clock.now() - session.auth_time > int(max_age))
        or (hint_sub is not None and hint_sub != user.sub)
    )
    if must_sign_in:
        if "none" in prompts:
            raise _error(LoginRequiredError, grant)
        return Step.SIGN_IN

    # An account told to choose a new password uses nothing until it has.
    if user.must_change_password:
        if "none" in prompts:
            raise _error(InteractionRequiredError, grant)
        return Step.CHANGE_PASSWORD

    # acr_values naming the multi-factor class: the client needs a second factor in this session.
    wanted_acr = [*(data.get("acr_values") or "").split(), *requested_acr(data.get("claims"))]
    if ACR_MULTI_FACTOR in wanted_acr and session.acr != ACR_MULTI_FACTOR:
        if "none" in prompts:
            raise _error(InteractionRequiredError, grant)
        return Step.STEP_UP

    client = grant.request.client
    if not client.first_party and (
        "consent" in prompts or not storage.has_consent(user.id, client.get_client_id(), grant.request.scope)
    ):
        if "none" in prompts:
            raise _error(ConsentRequiredError, grant)
        return Step.CONSENT
    return Step.ISSUE_CODE


# Fields of our own consent form, never part of the authorization request itself.
FORM_FIELDS = ("csrf_token", "decision")


def request_url(path: str, values) -> str:
    """The authorization request as a same-site URL, whether it came as a query or a POSTed form."""
    query = [(name, value) for name, value in values.items(multi=True) if name not in FORM_FIELDS]
    return path + ("?" + urlencode(query) if query else "")


def return_url_after_sign_in(url: str) -> str:
    """The authorization URL to come back to, without what forced the sign-in (or it would loop)."""
    parts = urlsplit(url)
    query = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "max_age":
            continue
        if name == "prompt":
            value = " ".join(p for p in value.split() if p not in ("login", "select_account"))
            if not value:
                continue
        query.append((name, value))
    return parts.path + ("?" + urlencode(query) if query else "")
