"""Linking an account to the subscriber contracts its holder proves.

The customer finds a contract by number, smartcard, device code or phone; idp
shows the holder's name and the contract's phone masked and sends an SMS code
to the phone on the contract (never to a number the customer typed). The right
code links the contract. A contract has one owner account: whoever proves the
contract's phone takes it over, and both events are audited.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from .. import audit, clock
from ..accounts.models import User
from ..accounts.service import InvalidPhone, normalize_phone
from ..extensions import db, runtime
from ..otp import codes
from ..ratelimit import Rule, hit
from .directory import KINDS, ContractRecord, normalize_key
from .models import ContractLink


class NothingFound(Exception):
    """No contract matches; said the same way for every kind of search."""


class NotYourCandidate(Exception):
    """The contract was not among this account's own search results (or they expired)."""


class LinkConflict(Exception):
    """Someone else linked the same contract at the same moment: try again."""


class PendingLinkExpired(Exception):
    """No link is waiting for this contract any more (12 hours passed, or it was never asked for)."""


@dataclass(frozen=True)
class Candidate:
    number: str
    holder: str  # masked
    phone: str  # masked
    branch: str | None


def mask_name(name: str) -> str:
    """'Nguyễn Văn An' -> 'N***** V** A*': enough to recognise, not to learn."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def _candidate(record: ContractRecord) -> Candidate:
    return Candidate(record.number, mask_name(record.holder_name), codes.mask_phone(record.phone), record.branch)


def _pending_seconds() -> int:
    return runtime().settings.linking.pending_hours * 3600


def find_contracts(user: User, kind: str, value: str, ip: str) -> list[Candidate]:
    """Search the directory; RateLimited, NothingFound or DirectoryUnavailable otherwise."""
    settings = runtime().settings.linking
    # Counted before anything is looked up: found and not found cost the same.
    hit(Rule("contract-lookup-account", settings.lookups_per_account_per_hour, 3600), user.sub)
    hit(Rule("contract-lookup-ip", settings.lookups_per_ip_per_hour, 3600), ip)
    if kind not in KINDS:
        raise NothingFound()
    if kind == "phone":
        try:
            value = normalize_phone(value)
        except InvalidPhone:
            raise NothingFound() from None
    else:
        value = normalize_key(value)
        if not value:
            raise NothingFound()
    records = runtime().directory.find(kind, value)
    if not records:
        raise NothingFound()
    runtime().store.put(f"contract-candidates:{user.id}", {"numbers": [r.number for r in records]}, _pending_seconds())
    return [_candidate(r) for r in records]


def request_link(user: User, number: str, ip: str) -> codes.SentCode:
    """Send a code to the phone on the contract; the link waits pending_hours for it."""
    found = runtime().store.get(f"contract-candidates:{user.id}")
    if found is None or number not in found["numbers"]:
        raise NotYourCandidate()
    records = runtime().directory.get_many([number])
    if not records:
        raise NotYourCandidate()
    record = records[0]
    message = _("%(operator)s code to link contract %(number)s to your account: {code}. Valid 6 minutes. Never share it.",
                operator=runtime().settings.branding.operator_name, number=record.number)
    sent = codes.send_code("link_contract", f"link:{user.id}:{number}", record.phone, message, ip=ip, account=user.sub)
    runtime().store.put(f"contract-pending:{user.id}:{number}", {"at": clock.now()}, _pending_seconds())
    runtime().store.index_add(f"contract-pending:{user.id}", number, _pending_seconds())
    return sent


def pending_numbers(user: User) -> list[str]:
    """Contracts this account asked to link and may still confirm."""
    numbers = runtime().store.index_members(f"contract-pending:{user.id}")
    live = runtime().store.get_many([f"contract-pending:{user.id}:{n}" for n in numbers])
    return sorted(n for n, data in zip(numbers, live) if data)


def active_link(number: str) -> ContractLink | None:
    return db.session.scalar(
        sa.select(ContractLink).where(ContractLink.contract_number == number, ContractLink.ended_at.is_(None))
    )


def confirm_link(user: User, number: str, code: str) -> ContractLink:
    """The code from the contract's phone: link it, taking it over from any previous owner."""
    store = runtime().store
    if store.get(f"contract-pending:{user.id}:{number}") is None:
        raise PendingLinkExpired()
    codes.verify_code("link_contract", f"link:{user.id}:{number}", code, account=user.sub)
    store.delete(f"contract-pending:{user.id}:{number}")
    store.index_remove(f"contract-pending:{user.id}", number)
    previous = active_link(number)
    if previous is not None and previous.user_id == user.id:
        return previous
    previous_owner = db.session.get(User, previous.user_id) if previous and previous.user_id else None
    if previous is not None:
        previous.ended_at = clock.utcnow()
        previous.ended_reason = "taken_over"
        db.session.flush()  # the old link ends before the new one starts (one active link per contract)
    link = ContractLink(contract_number=number, user_id=user.id, role="owner")
    db.session.add(link)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        # One active link per contract (a unique index): a concurrent link won the race.
        db.session.rollback()
        raise LinkConflict() from None
    if previous is not None:
        audit.record("contract.taken_over", account=previous_owner.sub if previous_owner else None,
                     contract=number, by=user.sub)
    audit.record("contract.linked", account=user.sub, contract=number, taken_over=previous is not None)
    return link


def links_of(user: User) -> list[ContractLink]:
    return list(db.session.scalars(
        sa.select(ContractLink).where(ContractLink.user_id == user.id, ContractLink.ended_at.is_(None))
        .order_by(ContractLink.linked_at)
    ))


def unlink(user: User, number: str) -> None:
    link = db.session.scalar(sa.select(ContractLink).where(
        ContractLink.user_id == user.id, ContractLink.contract_number == number, ContractLink.ended_at.is_(None)))
    if link is None:
        return
    link.ended_at = clock.utcnow()
    link.ended_reason = "unlinked"
    db.session.commit()
    audit.record("contract.unlinked", account=user.sub, contract=number)


def contracts_claim(user: User) -> list[dict]:
    """The `contracts` claim: the account's contracts with their services, from the directory."""
    links = {link.contract_number: link for link in links_of(user)}
    records = runtime().directory.get_many(sorted(links))
    return [
        {
            "number": r.number,
            "role": links[r.number].role,
            "services": [
                {"code": s.code, "name": s.name, "status": s.status, "expires_at": s.expires_at} for s in r.services
            ],
        }
        for r in records
    ]
