"""Server-side SSO sessions in the ephemeral store.

The browser holds a random secret in an HttpOnly cookie; the store holds the
session under its `sid`, a digest of that secret. The `sid` goes into ID
tokens and logout tokens, and knowing it does not give anyone the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, field, fields

from .. import clock
from ..config import SessionSettings
from ..store import EphemeralStore

# Authentication context classes (OIDC `acr`), as advertised in discovery.
ACR_SINGLE_FACTOR = "urn:idp:acr:single-factor"
ACR_MULTI_FACTOR = "urn:idp:acr:multi-factor"

FRESH_SIGN_IN_SECONDS = 600  # sensitive actions need a sign-in (first step) this recent
TOUCH_EVERY = 60  # seconds: write last_seen at most this often, not on every request
MAX_COOKIE_LENGTH = 100
MAX_FORMER_SIDS = 10


@dataclass
class SsoSession:
    sid: str
    user_id: int
    auth_time: int
    amr: list[str]
    acr: str
    remember: bool
    created_at: float
    last_seen: float
    expires_at: float
    ip: str = ""
    user_agent: str = ""
    # Sessions of the same account that this one replaced when the person signed in again on
    # this browser: their sites are still in use, and know them by those sids.
    former_sids: list[str] = field(default_factory=list)

    @classmethod
    def from_record(cls, data: dict) -> SsoSession:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def is_fresh(session: SsoSession) -> bool:
    """The person signed in (not only proved a second factor) less than ten minutes ago."""
    return clock.now() - session.auth_time <= FRESH_SIGN_IN_SECONDS


def sid_for(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()[:32]


def _key(sid: str) -> str:
    return f"sess:{sid}"


def _user_index(user_id: int) -> str:
    return f"user-sessions:{user_id}"


def _clients_index(sid: str) -> str:
    return f"sess-clients:{sid}"


class Sessions:
    def __init__(self, store: EphemeralStore, settings: SessionSettings):
        self.store = store
        self.settings = settings

    def _idle_seconds(self, session: SsoSession) -> float:
        if session.remember:
            return self.settings.remember_days * 86400
        return self.settings.idle_minutes * 60

    def _ttl(self, session: SsoSession) -> float:
        return min(self._idle_seconds(session), session.expires_at - clock.now())

    def _save(self, session: SsoSession) -> bool:
        """Write back a change to a live session; False (and nothing written) once it has ended.

        Update-only: a request that loaded the session before it was ended elsewhere
        (sign-out everywhere, a password reset, an admin) must not bring it back.
        """
        ttl = self._ttl(session)
        return ttl > 0 and self.store.replace(_key(session.sid), asdict(session), ttl)

    def start(
        self, user_id: int, amr: list[str], acr: str, remember: bool, ip: str = "", user_agent: str = "",
        replaces: SsoSession | None = None,
    ) -> tuple[str, SsoSession]:
        """Open a new session; returns the cookie value (shown once) and the session.

        `replaces`: this browser's session of the same account, which the new one carries on.
        """
        cookie_value = secrets.token_urlsafe(32)
        now = clock.now()
        lifetime = self.settings.remember_days * 86400 if remember else self.settings.absolute_hours * 3600
        session = SsoSession(
            sid=sid_for(cookie_value),
            user_id=user_id,
            auth_time=int(now),
            amr=amr,
            acr=acr,
            remember=remember,
            created_at=now,
            last_seen=now,
            expires_at=now + lifetime,
            ip=ip[:45],
            user_agent=user_agent[:256],
            former_sids=[*replaces.former_sids, replaces.sid][-MAX_FORMER_SIDS:] if replaces else [],
        )
        self.store.put(_key(session.sid), asdict(session), self._ttl(session))
        self.store.index_add(_user_index(user_id), session.sid, lifetime)
        return cookie_value, session

    def load(self, cookie_value: str | None) -> SsoSession | None:
        """The live session behind a cookie, or None (missing, tampered, idle or expired)."""
        if not cookie_value or len(cookie_value) > MAX_COOKIE_LENGTH:
            return None
        return self.get(sid_for(cookie_value))

    def _live(self, data: dict | None) -> SsoSession | None:
        if data is None:
            return None
        session = SsoSession.from_record(data)
        now = clock.now()
        if now >= session.expires_at or now - session.last_seen >= self._idle_seconds(session):
            return None
        return session

    def alive(self, sid: str) -> bool:
        """The session exists and has neither idled out nor expired (nothing is written)."""
        return self._live(self.store.get(_key(sid))) is not None

    def get(self, sid: str) -> SsoSession | None:
        session = self._live(self.store.get(_key(sid)))
        if session is None:
            return None
        now = clock.now()
        if now - session.last_seen >= TOUCH_EVERY:
            session.last_seen = now
            if not self._save(session):
                return None
        return session

    def touch(self, session: SsoSession) -> bool:
        """Count now as activity, whenever the session was last seen; False if it has ended."""
        session.last_seen = clock.now()
        return self._save(session)

    def add_client(self, session: SsoSession, client_id: str) -> None:
        """Remember that a client receives tokens in this session, for logout.

        A set of its own, added to atomically: two sites signing in at the same moment both count.
        """
        self.store.index_add(_clients_index(session.sid), client_id, max(1.0, session.expires_at - clock.now()))

    def clients_of(self, session: SsoSession) -> list[tuple[str, str]]:
        """(sid, client_id) for every site that received tokens in this session or the ones it carries on."""
        return [(sid, client_id) for sid in [*session.former_sids, session.sid]
                for client_id in self.store.index_members(_clients_index(sid))]

    def sites_of(self, session: SsoSession) -> list[str]:
        """The client ids of those sites, each once."""
        return list(dict.fromkeys(client_id for _, client_id in self.clients_of(session)))

    def end(self, sid: str) -> None:
        self.store.delete(_key(sid))

    def elevate(self, session: SsoSession, method: str) -> bool:
        """A second factor was just proven in this session (step-up): it becomes multi-factor.

        `auth_time` stays the time of the first step: a second factor alone never
        makes a sign-in "fresh" for actions that ask for one.
        """
        session.amr = list(dict.fromkeys([*session.amr, method, "mfa"]))
        session.acr = ACR_MULTI_FACTOR
        return self._save(session)

    def for_user(self, user_id: int) -> list[SsoSession]:
        """The account's live sessions, newest first."""
        sids = self.store.index_members(_user_index(user_id))
        live = [s for s in map(self._live, self.store.get_many([_key(s) for s in sids])) if s is not None]
        return sorted(live, key=lambda s: s.created_at, reverse=True)

    def end_one(self, user_id: int, sid: str) -> bool:
        """End one of the account's sessions (from its own device list); False if it is not theirs."""
        if sid not in self.store.index_members(_user_index(user_id)):
            return False
        self.end(sid)
        self.store.index_remove(_user_index(user_id), sid)
        return True

    def end_all(self, user_id: int, keep: str | None = None) -> list[str]:
        """End every session of an account (but `keep`); returns the sids ended."""
        sids = [s for s in self.store.index_members(_user_index(user_id)) if s != keep]
        if sids:
            self.store.delete(*[_key(s) for s in sids])
            self.store.index_remove(_user_index(user_id), *sids)
        return sids

    def cookie_max_age(self, session: SsoSession) -> int | None:
        """Persistent cookie only when the person asked to stay signed in."""
        if session.remember:
            return int(session.expires_at - clock.now())
        return None
