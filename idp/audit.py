"""The audit log of security events: record() is the only writer of audit rows."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.orm import Mapped, mapped_column

from .clock import utcnow
from .dbtypes import UtcDateTime
from .extensions import db

EVENTS = (
    "signin.ok",
    "signin.failed",
    "signin.throttled",
    "signout",
    "account.registered",
    "account.locked",
    "account.unlocked",
    "account.lockout",
    "code.sent",
    "code.send_failed",
    "code.verified",
    "code.failed",
    "code.blocked",
    "sms.budget_reached",
    "phone.verified",
    "phone.released",
    "email.verified",
    "password.reset",
    "password.changed",
    "factor.enrolled",
    "factor.removed",
    "recovery_code.used",
    "second_factor.failed",
    "identity.linked",
    "identity.unlinked",
    "contract.linked",
    "contract.taken_over",
    "contract.unlinked",
    "logout.delivery_failed",
    "session.ended",
    "consent.revoked",
    "account.deleted",
    "admin.role_changed",
    "admin.client_created",
    "admin.client_updated",
    "admin.client_secret_rotated",
    "admin.client_deleted",
    "admin.account_locked",
    "admin.account_unlocked",
    "admin.sessions_ended",
    "admin.factor_removed",
    "admin.password_change_required",
    "admin.contracts_imported",
    "admin.keys_rotated",
    "admin.audit_exported",
    "admin.contract_released",
    "admin.contract_saved",
    "admin.contract_deleted",
    "admin.forbidden",
)


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    event: Mapped[str] = mapped_column(sa.String(48), index=True)
    # The account's opaque `sub`, not a foreign key: rows outlive deleted accounts.
    account: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(256))
    client_id: Mapped[str | None] = mapped_column(sa.String(64))
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)


def record(event: str, account: str | None = None, client_id: str | None = None, **details) -> None:
    """Write one audit row now, in a transaction of its own (it must survive a failed request)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event}")
    ip = user_agent = None
    if has_request_context():
        ip = request.remote_addr
        user_agent = (request.user_agent.string or "")[:256] or None
    db.session.add(
        AuditEvent(event=event, account=account, ip=ip, user_agent=user_agent, client_id=client_id, details=details)
    )
    db.session.commit()


def forget(account: str) -> None:
    """A deleted account's trail keeps what happened and when, under the opaque sub; where from,
    with what and the details (masked phones, contract numbers) go."""
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.account == account)
                       .values(ip=None, user_agent=None, details={}))
    db.session.commit()


def recent(limit: int = 50, account: str | None = None, event: str | None = None) -> list[AuditEvent]:
    """Newest events first."""
    query = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if account:
        query = query.where(AuditEvent.account == account)
    if event:
        query = query.where(AuditEvent.event == event)
    return list(db.session.scalars(query))


def describe(row: AuditEvent) -> dict:
    return {
        "at": row.at.isoformat(),
        "event": row.event,
        "account": row.account,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "client_id": row.client_id,
        "details": row.details or {},
    }
