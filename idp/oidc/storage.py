"""The one door to protocol storage: clients, codes, tokens and consents.

Authorization codes and access tokens live in the ephemeral store under the
SHA-256 of their value; refresh tokens and consents live in SQL. Grants and
endpoints call these functions and never touch a table or key themselves.

On the embedded SQLite default the store shares the database file, so store
writes happen before or after a SQL write transaction, never inside one.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, TokenMixin, scope_to_list

from .. import clock
from ..accounts.models import User
from ..extensions import db, runtime
from .models import Client, Consent, RefreshToken, digest

USED_CODE_MEMORY = 600  # seconds a used code is remembered, to catch replays


# Clients ---------------------------------------------------------------------

def get_client(client_id: str | None) -> Client | None:
    """An enabled client, or None."""
    if not client_id or len(client_id) > 64:
        return None
    client = db.session.scalar(sa.select(Client).where(Client.client_id == client_id))
    if client is None or client.disabled:
        return None
    return client


def get_clients(client_ids: list[str]) -> list[Client]:
    if not client_ids:
        return []
    return list(db.session.scalars(sa.select(Client).where(Client.client_id.in_(client_ids))))


def get_user(user_id: int | None) -> User | None:
    """An account that may still receive tokens (exists and is not locked)."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.locked:
        return None
    return user


# Authorization codes -----------------------------------------------------------

@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    client_id: str
    user_id: int
    redirect_uri: str
    scope: str
    sid: str | None
    auth_time: int
    amr: list[str]
    acr: str | None
    family_id: str
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    id_token_claims: list[str] = field(default_factory=list)  # asked for with the `claims` parameter
    code_digest: str = field(default="", repr=False)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str]:
        return self.amr


def save_code(code: str, record: AuthorizationCode) -> None:
    data = asdict(record)
    data.pop("code_digest")
    runtime().store.put(f"code:{digest(code)}", data, runtime().settings.tokens.code_seconds)


def take_code(code: str, client: Client) -> AuthorizationCode | None:
    """Redeem a code exactly once. A replayed code revokes what it issued (RFC 6749 §4.1.2)."""
    store = runtime().store
    code_digest = digest(code)
    data = store.take(f"code:{code_digest}")
    if data is None:
        used = store.get(f"code-used:{code_digest}")
        if used is not None:
            revoke_family(used["family_id"], extra_access_digests=used.get("access_digests", []))
        return None
    # Remember the redemption before any token exists, so a replay racing us still finds it.
    store.put(f"code-used:{code_digest}", {"family_id": data["family_id"]}, USED_CODE_MEMORY)
    if data["client_id"] != client.get_client_id():
        revoke_family(data["family_id"])
        return None
    return AuthorizationCode(**data, code_digest=code_digest)


def remember_code_tokens(code: AuthorizationCode, access_digest: str) -> None:
    """Record the access token a code produced, so a replay of the code can revoke it."""
    runtime().store.put(
        f"code-used:{code.code_digest}",
        {"family_id": code.family_id, "access_digests": [access_digest]},
        USED_CODE_MEMORY,
    )


# Access tokens (opaque, in the ephemeral store) -----------------------------------

@dataclass
class AccessToken(TokenMixin):
    client_id: str
    user_id: int | None
    scope: str
    issued_at: int
    expires_at: int
    sid: str | None = None
    family_id: str | None = None
    token_type = "access_token"

    def check_client(self, client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_at - int(clock.now())

    def is_expired(self) -> bool:
        return self.expires_at <= clock.now()

    def is_revoked(self) -> bool:
        return False  # revoked access tokens are deleted from the store

    def get_user(self) -> User | None:
        account = getattr(self, "account", None)  # read with the client by get_access_token
        if account is None:
            return get_user(self.user_id)
        return None if account.locked else account

    def get_client(self) -> Client | None:
        return get_client(self.client_id)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def save_access_token(token: str, record: AccessToken) -> str:
    key_digest = digest(token)
    runtime().store.put(f"at:{key_digest}", asdict(record), max(1, record.expires_at - clock.now()))
    return key_digest


def get_access_token(token: str) -> AccessToken | None:
    """A live access token whose client is still enabled and still allowed every scope it carries.

    Disabling or deleting a client, or taking a scope from it, ends its tokens at once.
    """
    if not token or len(token) > 512:
        return None
    data = runtime().store.get(f"at:{digest(token)}")
    if not data:
        return None
    record = AccessToken(**data)
    if record.is_expired():
        return None
    # The client and the account in one round trip: userinfo needs both.
    query = sa.select(Client, User).outerjoin(User, User.id == record.user_id).where(Client.client_id == record.client_id)
    row = db.session.execute(query).first()
    if row is None or not _allows(row[0], record.scope):
        return None
    record.account = row[1]
    return record


def _allows(client: Client | None, scope: str) -> bool:
    return client is not None and not client.disabled and set(scope_to_list(scope)) <= set(scope_to_list(client.scopes))


def client_still_allows(client_id: str, scope: str) -> bool:
    """The client exists, is enabled and is still allowed every scope in `scope`."""
    return _allows(db.session.scalar(sa.select(Client).where(Client.client_id == client_id)), scope)


def delete_access_tokens(digests: list[str]) -> None:
    runtime().store.delete(*[f"at:{d}" for d in digests if d])


# Refresh tokens (SQL, rotated on every use) -------------------------------------------

def new_family_id() -> str:
    return secrets.token_hex(16)


class RefreshTokenReused(Exception):
    """A refresh token was presented after it had been used; its family is now revoked."""


def record_refresh(previous: RefreshToken | None, token: str | None, **fields) -> None:
    """One transaction: mark the previous refresh token used and add its successor."""
    if previous is not None and not claim_refresh_token(previous):
        # Two requests raced with the same refresh token: the loser is a reuse.
        revoke_family(previous.family_id)
        raise RefreshTokenReused()
    if token:
        add_refresh_token(token, **fields)
    db.session.commit()


def add_refresh_token(
    token: str,
    *,
    client_id: str,
    user_id: int,
    scope: str,
    family_id: str,
    sid: str | None,
    auth_time: int,
    amr: list[str],
    acr: str | None,
    access_digest: str | None,
) -> RefreshToken:
    """Add a refresh token row to the caller's transaction."""
    now = clock.utcnow()
    row = RefreshToken(
        digest=digest(token),
        family_id=family_id,
        client_id=client_id,
        user_id=user_id,
        scope=scope,
        sid=sid,
        auth_time=auth_time,
        amr=amr,
        acr=acr,
        access_digest=access_digest,
        issued_at=now,
        expires_at=now + datetime.timedelta(days=runtime().settings.tokens.refresh_token_days),
    )
    db.session.add(row)
    return row


def find_refresh_token(token: str) -> RefreshToken | None:
    if not token or len(token) > 512:
        return None
    return db.session.scalar(sa.select(RefreshToken).where(RefreshToken.digest == digest(token)))


def claim_refresh_token(row: RefreshToken) -> bool:
    """Mark a refresh token used, atomically: False if someone used it first (a reuse)."""
    result = db.session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(rotated_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def revoke_family(family_id: str, extra_access_digests: list[str] = ()) -> None:
    """Revoke every refresh token of a family and the access tokens issued with them.

    Runs in a transaction of its own: whatever the caller had pending is dropped,
    since this is only called when a request has just been found to be an attack.
    """
    db.session.rollback()
    access_digests = list(
        db.session.scalars(sa.select(RefreshToken.access_digest).where(RefreshToken.family_id == family_id))
    )
    db.session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=clock.utcnow())
    )
    db.session.commit()
    delete_access_tokens([*access_digests, *extra_access_digests])


def revoke_session_tokens(sid: str) -> None:
    """Revoke the refresh tokens (and their access tokens) issued in one SSO session."""
    families = list(
        db.session.scalars(
            sa.select(RefreshToken.family_id).where(RefreshToken.sid == sid, RefreshToken.revoked_at.is_(None)).distinct()
        )
    )
    for family_id in families:
        revoke_family(family_id)


def move_session_tokens(old_sid: str, new_sid: str) -> None:
    """The refresh tokens of a session now belong to the session that carries it on."""
    db.session.execute(sa.update(RefreshToken).where(RefreshToken.sid == old_sid).values(sid=new_sid))
    db.session.commit()


def revoke_user_tokens(user_id: int, keep_sid: str | None = None) -> None:
    """Revoke every refresh token family of an account (but those of session keep_sid)."""
    query = sa.select(RefreshToken.family_id).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    if keep_sid is not None:
        query = query.where(sa.or_(RefreshToken.sid.is_(None), RefreshToken.sid != keep_sid))
    for family_id in list(db.session.scalars(query.distinct())):
        revoke_family(family_id)


# Consents --------------------------------------------------------------------------------

def has_consent(user_id: int, client_id: str, scope: str) -> bool:
    """True if the person already agreed to give this client at least these scopes."""
    granted = db.session.scalar(
        sa.select(Consent.scopes).where(Consent.user_id == user_id, Consent.client_id == client_id)
    )
    return granted is not None and set(scope_to_list(scope)) <= set(scope_to_list(granted))


def save_consent(user_id: int, client_id: str, scope: str) -> None:
    """Add these scopes to the person's consent for the client.

    Compare-and-set, so two tabs saying "Allow" at once both count: an insert that
    loses to another, or an update of scopes that changed meanwhile, reads again.
    """
    mine = (Consent.user_id == user_id, Consent.client_id == client_id)
    for _ in range(10):
        granted = db.session.scalar(sa.select(Consent.scopes).where(*mine))
        try:
            if granted is None:
                db.session.add(Consent(user_id=user_id, client_id=client_id, scopes=scope))
                db.session.commit()
                return
            merged = " ".join(sorted(set(scope_to_list(granted)) | set(scope_to_list(scope))))
            changed = db.session.execute(
                sa.update(Consent).where(*mine, Consent.scopes == granted)
                .values(scopes=merged, granted_at=clock.utcnow()).execution_options(synchronize_session=False)
            ).rowcount
            db.session.commit()
            if changed:
                return
        except sa.exc.IntegrityError:
            db.session.rollback()
    raise RuntimeError("consent kept changing under us")


def consents_of(user_id: int) -> list[tuple[Consent, Client | None]]:
    """The sites this person allowed, with their clients."""
    consents = list(db.session.scalars(sa.select(Consent).where(Consent.user_id == user_id).order_by(Consent.granted_at)))
    clients = {c.client_id: c for c in get_clients([c.client_id for c in consents])}
    return [(consent, clients.get(consent.client_id)) for consent in consents]


def revoke_consent(user_id: int, client_id: str) -> None:
    """Forget the consent and revoke the refresh tokens that site holds for this person."""
    db.session.execute(sa.delete(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id))
    db.session.commit()
    families = db.session.scalars(
        sa.select(RefreshToken.family_id)
        .where(RefreshToken.user_id == user_id, RefreshToken.client_id == client_id, RefreshToken.revoked_at.is_(None))
        .distinct()
    ).all()
    for family_id in families:
        revoke_family(family_id)
