"""Ending SSO sessions: the sessions, every token issued in them, and word to every site that took part."""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri

from .. import audit
from ..accounts.models import User
from ..accounts.sessions import SsoSession
from ..extensions import db, runtime
from . import storage
from .backchannel import Delivery, logout_token


def _notifications(sessions: list[SsoSession], sub: str | None) -> tuple[list[Delivery], list[str]]:
    """Back-channel deliveries and front-channel URLs for every client that got tokens in these sessions,
    each under the sid its ID token carried."""
    joined = [pair for session in sessions for pair in runtime().sessions.clients_of(session)]
    clients = {c.client_id: c for c in storage.get_clients(sorted({client_id for _, client_id in joined}))}
    deliveries, frontchannel = [], []
    issuer = runtime().settings.server.issuer
    for sid, client_id in joined:
        client = clients.get(client_id)
        if client is None:
            continue
        if client.backchannel_logout_uri:
            deliveries.append(Delivery(client_id, client.backchannel_logout_uri, logout_token(client, sub, sid), sub))
        if client.frontchannel_logout_uri:
            frontchannel.append(add_params_to_uri(client.frontchannel_logout_uri, {"iss": issuer, "sid": sid}))
    return deliveries, frontchannel


def _sub(user_id: int) -> str | None:
    user = db.session.get(User, user_id)
    return user.sub if user else None


def end_sso_session(session: SsoSession, client_id: str | None = None) -> list[str]:
    """Sign the browser out everywhere; returns the front-channel logout URLs for the logged-out page."""
    sub = _sub(session.user_id)
    deliveries, frontchannel = _notifications([session], sub)
    storage.revoke_session_tokens(session.sid)
    runtime().sessions.end(session.sid)
    audit.record("signout", account=sub, client_id=client_id, sid=session.sid)
    runtime().backchannel.send(deliveries)
    return frontchannel


def sign_out_everywhere(user_id: int, keep_sid: str | None = None) -> None:
    """End every session of an account (but keep_sid) and revoke every refresh token it holds."""
    sessions = [s for s in runtime().sessions.for_user(user_id) if s.sid != keep_sid]
    deliveries, _ = _notifications(sessions, _sub(user_id))
    runtime().sessions.end_all(user_id, keep=keep_sid)
    storage.revoke_user_tokens(user_id, keep_sid=keep_sid)
    runtime().backchannel.send(deliveries)
