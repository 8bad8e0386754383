"""What an upstream identity means here: a sign-in, a new link, or an account still to be completed.

Nothing is ever merged because an e-mail matches: the person signs in to the
existing account first, then the identity is linked. A new identity becomes an
account only once a phone is proven by SMS (or a contract is linked), so no
account is ever left half-made.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from .. import audit, clock
from ..accounts import service as accounts
from ..accounts.models import User
from ..extensions import db, runtime
from ..otp import codes
from .models import Identity
from .providers import UpstreamIdentity

PENDING_SECONDS = 1800


class IdentityTaken(Exception):
    """This upstream identity already belongs to another account."""


class LastSignInMethod(Exception):
    """Removing it would leave the account with no way to sign in."""


class PendingExpired(Exception):
    """The upstream sign-in waiting to be completed or linked is gone: start again."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # signed_in | linked | existing_account | complete_profile
    user: User | None = None
    pending: str | None = None  # token of the identity waiting for the person


def _pending_key(token: str) -> str:
    return f"fed-pending:{token}"


def _keep_pending(identity: UpstreamIdentity) -> str:
    token = secrets.token_urlsafe(24)
    runtime().store.put(_pending_key(token), asdict(identity), PENDING_SECONDS)
    return token


def load_pending(token: str | None) -> UpstreamIdentity | None:
    if not token or len(token) > 64:
        return None
    data = runtime().store.get(_pending_key(token))
    return UpstreamIdentity(**data) if data else None


def _find(identity: UpstreamIdentity) -> Identity | None:
    return db.session.scalar(
        sa.select(Identity).where(Identity.provider == identity.provider, Identity.subject == identity.subject)
    )


def resolve(identity: UpstreamIdentity, signed_in: User | None) -> Outcome:
    """Decide what the upstream identity leads to; links it when the person is signed in and asked to."""
    link = _find(identity)
    if signed_in is not None:
        if link is not None and link.user_id != signed_in.id:
            raise IdentityTaken()
        if link is None:
            link_identity(signed_in, identity)
        return Outcome("linked", user=signed_in)
    if link is not None:
        user = db.session.get(User, link.user_id)
        if user.locked:
            raise accounts.AccountLocked()
        link.last_used_at = clock.utcnow()
        db.session.commit()
        return Outcome("signed_in", user=user)
    # Only an address the provider vouches for may point at an existing account (an unverified
    # one would let anyone ask "is there an account with this e-mail?").
    if identity.email and identity.email_verified and accounts.find_account(identity.email) is not None:
        return Outcome("existing_account", pending=_keep_pending(identity))
    return Outcome("complete_profile", pending=_keep_pending(identity))


def _save_link(user: User, identity: UpstreamIdentity) -> None:
    """Add the identity to the account and commit everything pending; IdentityTaken if someone was faster."""
    db.session.add(Identity(user_id=user.id, provider=identity.provider, subject=identity.subject,
                            email=identity.email, name=identity.name, last_used_at=clock.utcnow()))
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise IdentityTaken() from None


def link_identity(user: User, identity: UpstreamIdentity) -> None:
    _save_link(user, identity)
    audit.record("identity.linked", account=user.sub, provider=identity.provider)


def link_pending(user: User, token: str) -> UpstreamIdentity:
    """After signing in to the existing account, attach the identity that was waiting."""
    identity = load_pending(token)
    if identity is None:
        raise PendingExpired()
    link = _find(identity)
    if link is not None and link.user_id != user.id:
        raise IdentityTaken()
    if link is None:
        link_identity(user, identity)
    runtime().store.delete(_pending_key(token))
    return identity


def send_profile_code(token: str, raw_phone: str, ip: str) -> tuple[str, codes.SentCode]:
    """Completing a new account: prove a phone number first."""
    if load_pending(token) is None:
        raise PendingExpired()
    phone = accounts.normalize_phone(raw_phone)
    message = _("%(operator)s code to confirm your phone: {code}. Valid 6 minutes. Never share it.",
                operator=runtime().settings.branding.operator_name)
    sent = codes.send_code("verify_phone", f"fed:{token}:{phone}", phone, message, ip=ip, owner=f"ip:{ip}",
                           unverified=True)
    return phone, sent


def complete_profile(token: str, phone: str, code: str) -> User:
    """The phone is proven: create the account with the identity linked, all in one transaction."""
    identity = load_pending(token)
    if identity is None:
        raise PendingExpired()
    codes.verify_code("verify_phone", f"fed:{token}:{phone}", code)
    if db.session.scalar(sa.select(User.id).where(User.phone == phone)):
        raise accounts.AccountExists()
    email = identity.email
    if email and db.session.scalar(sa.select(User.id).where(User.email == email)):
        email = None
    user = User(
        username=_username_for(identity),
        phone=phone,
        phone_verified=True,
        email=email,
        email_verified=bool(email and identity.email_verified),
        name=identity.name,
    )
    db.session.add(user)
    db.session.flush()
    _save_link(user, identity)  # the account and its identity in one transaction
    runtime().store.delete(_pending_key(token))
    audit.record("account.registered", account=user.sub, method=identity.provider)
    return user


def _username_for(identity: UpstreamIdentity) -> str:
    base = (identity.email or "").split("@")[0] or identity.name or identity.provider
    base = re.sub(r"[^a-z0-9._-]", "", base.lower().replace(" ", "."))[:20]
    if not base or not base[0].isalpha():
        base = "u" + base
    for _attempt in range(5):
        candidate = f"{base}.{secrets.token_hex(2)}"[:32]
        if not db.session.scalar(sa.select(User.id).where(User.username == candidate)):
            return candidate
    return "u" + secrets.token_hex(8)


def identities_of(user: User) -> list[Identity]:
    return list(db.session.scalars(sa.select(Identity).where(Identity.user_id == user.id).order_by(Identity.created_at)))


def sign_in_methods(user: User) -> int:
    """How many independent ways this account has to sign in, as the database has them now."""
    identities = db.session.scalar(sa.select(sa.func.count()).where(Identity.user_id == user.id))
    has_password = db.session.scalar(sa.select(User.password_hash.is_not(None)).where(User.id == user.id))
    ways = identities + (1 if has_password else 0)
    if runtime().settings.accounts.phone_sign_in and user.phone and user.phone_verified:
        ways += 1
    return ways


def _keeping_a_way_in(user: User, change) -> None:
    """Make one change to the account's ways in and commit it, unless it would leave none.

    One change per account at a time (the row lock on PostgreSQL; SQLite has one writer),
    and the count is taken after the change, inside its transaction: two requests that
    each remove "one of two" ways cannot both succeed.
    """
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
    change()
    db.session.flush()
    if sign_in_methods(user) < 1:
        db.session.rollback()
        raise LastSignInMethod()
    db.session.commit()


def unlink(user: User, identity_id: int) -> None:
    identity = db.session.scalar(sa.select(Identity).where(Identity.id == identity_id, Identity.user_id == user.id))
    if identity is None:
        return
    _keeping_a_way_in(user, lambda: db.session.delete(identity))
    audit.record("identity.unlinked", account=user.sub, provider=identity.provider)


def remove_password(user: User) -> None:
    """Sign in only with linked providers (or phone) from now on; never the last way in."""
    if not user.password_hash:
        return
    _keeping_a_way_in(user, lambda: setattr(user, "password_hash", None))
    audit.record("password.changed", account=user.sub, removed=True)
