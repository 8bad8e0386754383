"""OpenID Connect Back-Channel Logout 1.0: signed logout tokens to every site of an ending session.

Tokens are made in the request (they need the signing keys); delivery runs in
a small thread pool with a timeout and retries with back-off, so a slow or dead
site never holds up the person's logout page. A delivery that keeps failing is
audited.
"""

from __future__ import annotations

import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from joserfc import jwt

from .. import audit, clock
from ..extensions import runtime

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_SECONDS = 120


@dataclass(frozen=True)
class Delivery:
    client_id: str
    uri: str
    logout_token: str
    account: str | None


def logout_token(client, sub: str | None, sid: str | None) -> str:
    """A logout token (Back-Channel Logout §2.4): iss, aud, iat, exp, jti, events, sid and sub; never a nonce."""
    settings = runtime().settings
    alg = client.id_token_alg or settings.keys.default_alg
    kid, key = runtime().keyring.signing_key(alg)
    now = int(clock.now())
    claims = {
        "iss": settings.server.issuer,
        "aud": client.client_id,
        "iat": now,
        "exp": now + TOKEN_SECONDS,
        "jti": secrets.token_urlsafe(16),
        "events": {EVENT: {}},
    }
    if sub:
        claims["sub"] = sub
    if sid:
        claims["sid"] = sid
    return jwt.encode({"alg": alg, "kid": kid, "typ": "logout+jwt"}, claims, key)


class BackchannelNotifier:
    """Delivers logout tokens in the background; one per process."""

    def __init__(self, app):
        self.app = app
        self.settings = app.extensions["idp"].settings.logout
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="backchannel-logout")
        self.http = requests.Session()

    def send(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            self.pool.submit(self._deliver, delivery)

    def _deliver(self, delivery: Delivery) -> None:
        wait = self.settings.backchannel_retry_seconds
        problem = ""
        for attempt in range(self.settings.backchannel_attempts):
            if attempt:
                time.sleep(wait)
                wait *= 4
            try:
                response = self.http.post(
                    delivery.uri,
                    data={"logout_token": delivery.logout_token},
                    timeout=self.settings.backchannel_timeout_seconds,
                    allow_redirects=False,
                )
                if response.status_code in (200, 204):
                    return
                problem = f"HTTP {response.status_code}"
            except requests.RequestException as error:
                problem = type(error).__name__
        log.warning("back-channel logout to %s failed: %s", delivery.client_id, problem)
        with self.app.app_context():
            audit.record("logout.delivery_failed", account=delivery.account, client_id=delivery.client_id,
                         problem=problem, attempts=self.settings.backchannel_attempts)
