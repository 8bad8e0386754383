"""Filling the contract table from a CSV file: every row checked, all rows or none."""

from __future__ import annotations

import csv
import datetime
import io
import re
from dataclasses import dataclass, replace

import sqlalchemy as sa

from ..accounts.service import InvalidPhone, normalize_phone
from ..extensions import db
from .directory import SERVICE_STATUSES, normalize_key
from .models import Contract, ContractKey

COLUMNS = ("number", "holder_name", "phone", "branch", "smartcards", "device_codes", "services")
REQUIRED = ("number", "holder_name", "phone")
NUMBER_RE = re.compile(r"^[A-Z0-9]{4,32}$")
KEY_RE = re.compile(r"^[A-Z0-9]{4,64}$")
MAX_ROWS = 200_000
MAX_CSV_BYTES = 5 * 1024 * 1024  # an import may be larger than server.max_request_bytes


class ImportRejected(Exception):
    """The file has bad rows; `problems` lists (line number, message). Nothing was imported."""

    def __init__(self, problems: list[tuple[int, str]]):
        super().__init__(f"{len(problems)} bad rows")
        self.problems = problems


@dataclass(frozen=True)
class ContractRow:
    number: str
    holder_name: str
    phone: str
    branch: str | None
    smartcards: tuple[str, ...]
    device_codes: tuple[str, ...]
    services: tuple[dict, ...]
    line: int = 0  # where it stood in the CSV file (0: not from a file)


def _keys(raw: str, what: str) -> tuple[str, ...]:
    values = tuple(normalize_key(v) for v in (raw or "").split(";") if v.strip())
    for value in values:
        if not KEY_RE.match(value):
            raise ValueError(f"{what} {value!r} must be 4 to 64 letters or digits")
    return values


def _services(raw: str) -> tuple[dict, ...]:
    """code|name|status|expires (YYYY-MM-DD, may be empty), separated by ';'."""
    services = []
    for item in (raw or "").split(";"):
        if not item.strip():
            continue
        parts = [p.strip() for p in item.split("|")]
        if len(parts) != 4:
            raise ValueError(f"service {item!r} must be code|name|status|expires")
        code, name, status, expires = parts
        if not code or not name:
            raise ValueError(f"service {item!r} needs a code and a name")
        if status not in SERVICE_STATUSES:
            raise ValueError(f"service status {status!r} must be one of {', '.join(SERVICE_STATUSES)}")
        if expires:
            try:
                datetime.date.fromisoformat(expires)
            except ValueError:
                raise ValueError(f"service expiry {expires!r} must be a date like 2027-01-31") from None
        services.append({"code": code, "name": name, "status": status, "expires_at": expires or None})
    return tuple(services)


def parse_row(row: dict) -> ContractRow:
    """One CSV row as a contract; ValueError naming the problem."""
    for column in REQUIRED:
        if not (row.get(column) or "").strip():
            raise ValueError(f"{column} is empty")
    number = normalize_key(row["number"])
    if not NUMBER_RE.match(number):
        raise ValueError(f"number {row['number']!r} must be 4 to 32 letters or digits")
    name = row["holder_name"].strip()
    if len(name) > 128:
        raise ValueError("holder_name is longer than 128 characters")
    try:
        phone = normalize_phone(row["phone"])
    except InvalidPhone:
        raise ValueError(f"phone {row['phone']!r} is not a valid phone number") from None
    branch = (row.get("branch") or "").strip() or None
    if branch and len(branch) > 64:
        raise ValueError("branch is longer than 64 characters")
    return ContractRow(number, name, phone, branch, _keys(row.get("smartcards", ""), "smartcard"),
                       _keys(row.get("device_codes", ""), "device code"), _services(row.get("services", "")))


def parse_csv(text: str) -> list[ContractRow]:
    """Every row checked; ImportRejected with every problem (line numbers as in the file)."""
    try:
        return _parse_csv(text)
    except csv.Error as error:  # e.g. a field past the csv module's size limit, a stray NUL
        raise ImportRejected([(0, f"not a readable CSV file: {error}")]) from None


def _parse_csv(text: str) -> list[ContractRow]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        problems = [(1, f"missing column {c}") for c in missing] + [(1, f"unknown column {c}") for c in unknown]
        raise ImportRejected(problems)
    rows, problems, seen, keys = [], [], {}, {}
    for index, raw in enumerate(reader):
        line = reader.line_num
        if index >= MAX_ROWS:
            problems.append((line, f"more than {MAX_ROWS} rows"))
            break
        if None in raw or any(v is None for v in raw.values()):
            problems.append((line, "wrong number of fields"))
            continue
        try:
            row = replace(parse_row(raw), line=line)
        except ValueError as error:
            problems.append((line, str(error)))
            continue
        if row.number in seen:
            problems.append((line, f"number {row.number} also on line {seen[row.number]}"))
            continue
        seen[row.number] = line
        for kind, values in (("smartcard", row.smartcards), ("device", row.device_codes)):
            for value in values:
                if (kind, value) in keys:
                    problems.append((line, f"{kind} {value} also on line {keys[(kind, value)]}"))
                keys[(kind, value)] = line
        rows.append(row)
    if problems:
        raise ImportRejected(problems)
    return rows


def _keys_held_elsewhere(rows: list[ContractRow], numbers: list[str]) -> list[tuple[int, str]]:
    """Smartcards and device codes of these rows that contracts outside the batch hold."""
    wanted = {(kind, value): row for row in rows
              for kind, values in (("smartcard", row.smartcards), ("device", row.device_codes)) for value in values}
    if not wanted:
        return []
    held = db.session.execute(
        sa.select(ContractKey.kind, ContractKey.value, Contract.number)
        .join(Contract, Contract.id == ContractKey.contract_id)
        .where(ContractKey.value.in_({value for _, value in wanted}), Contract.number.not_in(numbers))
    ).all()
    return sorted((wanted[(kind, value)].line, f"{kind} {value} belongs to contract {number}")
                  for kind, value, number in held if (kind, value) in wanted)


def save_contracts(rows: list[ContractRow]) -> dict:
    """Insert or replace the contracts, in one transaction; returns counts.

    Keys may move between contracts of the same batch (a smartcard swapped between
    two contracts): every contract's old keys go before any new key is added.
    """
    numbers = [r.number for r in rows]
    conflicts = _keys_held_elsewhere(rows, numbers)
    if conflicts:
        raise ImportRejected(conflicts)
    existing = {c.number: c for c in db.session.scalars(sa.select(Contract).where(Contract.number.in_(numbers)))} if numbers else {}
    created = updated = 0
    saved = []
    try:
        for row in rows:
            contract = existing.get(row.number)
            if contract is None:
                contract = Contract(number=row.number)
                db.session.add(contract)
                created += 1
            else:
                updated += 1
            contract.holder_name, contract.phone, contract.branch = row.holder_name, row.phone, row.branch
            contract.services = list(row.services)
            saved.append((row, contract))
        db.session.flush()
        db.session.execute(sa.delete(ContractKey).where(ContractKey.contract_id.in_([c.id for _, c in saved])))
        for row, contract in saved:
            for kind, values in (("smartcard", row.smartcards), ("device", row.device_codes)):
                for value in values:
                    db.session.add(ContractKey(contract_id=contract.id, kind=kind, value=value))
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()  # someone else saved the same key a moment ago
        raise ImportRejected([(0, "a smartcard or device code was given to another contract meanwhile; try again")]) from None
    return {"created": created, "updated": updated}


def import_csv(text: str) -> dict:
    return save_contracts(parse_csv(text))
