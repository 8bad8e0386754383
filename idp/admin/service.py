"""What the operator's staff do: find accounts, act on them, read the audit log. Every action is audited."""

from __future__ import annotations

import csv
import datetime
import io

import sqlalchemy as sa

from .. import audit, clock
from ..accounts import mfa
from ..accounts import service as accounts
from ..accounts.models import User
from ..audit import AuditEvent
from ..extensions import db, runtime
from ..federation.service import identities_of
from ..linking.directory import normalize_key
from ..linking.models import Contract, ContractLink
from ..oidc.logout import sign_out_everywhere
from ..otp import codes

ROLES = ("admin", "support")
PAGE_SIZE = 50


class UnknownRole(ValueError):
    pass


def overview() -> dict:
    since = clock.utcnow() - datetime.timedelta(hours=24)

    def events(name):
        return db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.event == name, AuditEvent.at >= since))

    return {
        "accounts": db.session.scalar(sa.select(sa.func.count()).select_from(User)),
        "signed_in_24h": db.session.scalar(sa.select(sa.func.count(sa.distinct(AuditEvent.account))).where(
            AuditEvent.event == "signin.ok", AuditEvent.at >= since)),
        "sign_ins_24h": events("signin.ok"),
        "failures_24h": events("signin.failed"),
        "sms_today": codes.budget_used_today(),
        "sms_budget": runtime().settings.sms.daily_budget,
        "contracts_linked": db.session.scalar(sa.select(sa.func.count()).where(ContractLink.ended_at.is_(None))),
    }


def search_accounts(query: str) -> list[User]:
    """By username, e-mail, phone (any format) or contract number."""
    query = (query or "").strip()
    if not query:
        return list(db.session.scalars(sa.select(User).order_by(User.created_at.desc()).limit(PAGE_SIZE)))
    found = accounts.find_account(query)
    results = [found] if found else []
    number = normalize_key(query)
    owners = db.session.scalars(
        sa.select(User).join(ContractLink, ContractLink.user_id == User.id)
        .where(ContractLink.contract_number == number, ContractLink.ended_at.is_(None))
    )
    results += [u for u in owners if u not in results]
    like = f"{query.lower()}%"
    results += [u for u in db.session.scalars(
        sa.select(User).where(sa.or_(User.username.like(like), User.email.like(like))).order_by(User.username).limit(PAGE_SIZE)
    ) if u not in results]
    return results[:PAGE_SIZE]


def account_detail(user: User) -> dict:
    sessions = runtime().sessions.for_user(user.id)
    links = db.session.scalars(sa.select(ContractLink).where(ContractLink.user_id == user.id)
                               .order_by(ContractLink.linked_at.desc())).all()
    return {
        "user": user,
        "has_totp": mfa.has_totp(user),
        "recovery_codes_left": mfa.remaining_recovery_codes(user),
        "identities": identities_of(user),
        "links": links,
        "sessions": sessions,
        "events": audit.recent(30, account=user.sub),
    }


def set_role(user: User, role: str | None, acting: str | None) -> None:
    if role not in (*ROLES, None):
        raise UnknownRole(role)
    user.role = role
    db.session.commit()
    audit.record("admin.role_changed", account=user.sub, admin=acting, role=role)


def lock(user: User, acting: str) -> None:
    accounts.set_locked(user, True)
    audit.record("admin.account_locked", account=user.sub, admin=acting)


def unlock(user: User, acting: str) -> None:
    accounts.set_locked(user, False)
    audit.record("admin.account_unlocked", account=user.sub, admin=acting)


def end_sessions(user: User, acting: str) -> None:
    sign_out_everywhere(user.id)
    audit.record("admin.sessions_ended", account=user.sub, admin=acting)


def remove_factor(user: User, acting: str) -> None:
    mfa.remove_totp(user)
    audit.record("admin.factor_removed", account=user.sub, admin=acting, factor="totp")


def require_password_change(user: User, acting: str) -> None:
    """The next sign-in must choose a new password: every session and refresh token ends now."""
    user.must_change_password = True
    db.session.commit()
    sign_out_everywhere(user.id)
    audit.record("admin.password_change_required", account=user.sub, admin=acting)


def find_contracts(query: str) -> list[Contract]:
    query = (query or "").strip()
    statement = sa.select(Contract).order_by(Contract.number).limit(PAGE_SIZE)
    if query:
        try:
            phone = accounts.normalize_phone(query)
        except accounts.InvalidPhone:
            phone = None
        number = normalize_key(query)
        statement = statement.where(sa.or_(Contract.number.like(f"{number}%"), Contract.phone == phone,
                                           Contract.holder_name.ilike(f"%{query}%")))
    return list(db.session.scalars(statement))


def contract_history(number: str) -> list[tuple[ContractLink, User | None]]:
    links = db.session.scalars(sa.select(ContractLink).where(ContractLink.contract_number == number)
                               .order_by(ContractLink.linked_at.desc())).all()
    return [(link, db.session.get(User, link.user_id) if link.user_id else None) for link in links]


def audit_query(account: str | None = None, event: str | None = None, client_id: str | None = None,
                ip: str | None = None, since: datetime.datetime | None = None, until: datetime.datetime | None = None,
                before_id: int | None = None, limit: int = PAGE_SIZE) -> list[AuditEvent]:
    """Newest first; `before_id` is the cursor of the next page."""
    statement = sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if account:
        user = accounts.find_account(account)
        statement = statement.where(AuditEvent.account == (user.sub if user else account))
    for column, value in ((AuditEvent.event, event), (AuditEvent.client_id, client_id), (AuditEvent.ip, ip)):
        if value:
            statement = statement.where(column == value)
    if since:
        statement = statement.where(AuditEvent.at >= since)
    if until:
        statement = statement.where(AuditEvent.at < until)
    if before_id:
        statement = statement.where(AuditEvent.id < before_id)
    return list(db.session.scalars(statement))


def _inert(cell) -> str:
    """A cell a spreadsheet shows as text: a leading =, +, -, @, tab or CR would make it a formula
    (a user agent or a typed name is attacker-chosen)."""
    text = str(cell)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def audit_csv(rows: list[AuditEvent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "event", "account", "ip", "user_agent", "client_id", "details"])
    for row in rows:
        described = audit.describe(row)
        writer.writerow([_inert(cell) for cell in (described["at"], row.event, row.account or "", row.ip or "",
                                                   row.user_agent or "", row.client_id or "", described["details"])])
    return out.getvalue()


def delete_contract(contract: Contract, acting: str) -> None:
    """Remove a contract from the directory; whoever held it holds it no more (a reused number is not theirs)."""
    db.session.execute(
        sa.update(ContractLink).where(ContractLink.contract_number == contract.number, ContractLink.ended_at.is_(None))
        .values(ended_at=clock.utcnow(), ended_reason="contract_deleted")
    )
    db.session.delete(contract)
    db.session.commit()
    audit.record("admin.contract_deleted", admin=acting, contract=contract.number)


def release_contract(number: str, acting: str) -> bool:
    """End the contract's current link (a mistaken or disputed owner); False if nobody holds it."""
    link = db.session.scalar(sa.select(ContractLink).where(
        ContractLink.contract_number == number, ContractLink.ended_at.is_(None)))
    if link is None:
        return False
    owner = db.session.get(User, link.user_id) if link.user_id else None
    link.ended_at, link.ended_reason = clock.utcnow(), "released"
    db.session.commit()
    audit.record("admin.contract_released", account=owner.sub if owner else None, admin=acting, contract=number)
    return True
