"""The account table."""

import datetime
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..dbtypes import UtcDateTime
from ..extensions import db


def new_subject() -> str:
    """An opaque, stable subject identifier: never a username, e-mail or phone."""
    return secrets.token_urlsafe(16)


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (migration 0009)

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(sa.String(32), unique=True, default=new_subject)
    username: Mapped[str] = mapped_column(sa.String(32), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    phone: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    phone_verified: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str | None] = mapped_column(sa.String(128))
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    locked: Mapped[bool] = mapped_column(default=False)
    role: Mapped[str | None] = mapped_column(sa.String(16))  # admin | support | None
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


class TotpFactor(db.Model):
    """An authenticator app: its secret is encrypted with keys.encryption_key."""

    __tablename__ = "totp_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    last_step: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # a TOTP step is accepted once
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow)


class RecoveryCode(db.Model):
    """A single-use recovery code, kept as a SHA-256 digest (it is random and long)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    used_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)
