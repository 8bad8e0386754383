"""The SSO session as seen from a request: reading, setting and clearing its cookie."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, g, request

from ..extensions import runtime
from .sessions import SsoSession

_MISSING = object()


def current_session() -> SsoSession | None:
    """The live SSO session of this request's browser, loaded once per request."""
    cached = g.get("sso_session", _MISSING)
    if cached is _MISSING:
        rt = runtime()
        cached = rt.sessions.load(request.cookies.get(rt.settings.session.cookie_name))
        g.sso_session = cached
    return cached


def set_session_cookie(response: Response, cookie_value: str, session: SsoSession) -> None:
    rt = runtime()
    response.set_cookie(
        rt.settings.session.cookie_name,
        cookie_value,
        max_age=rt.sessions.cookie_max_age(session),
        httponly=True,
        secure=rt.settings.secure_cookies,
        samesite="Lax",
        path="/",
    )
    g.sso_session = session


def clear_session_cookie(response: Response) -> None:
    rt = runtime()
    response.delete_cookie(
        rt.settings.session.cookie_name,
        httponly=True,
        secure=rt.settings.secure_cookies,
        samesite="Lax",
        path="/",
    )
    g.sso_session = None


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: `next` must never send a person to another site."""
    if not target or len(target) > 4096:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target
