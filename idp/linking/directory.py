"""The subscriber directory: idp's own contract table, or the operator's billing system over HTTP."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Protocol

import requests
import sqlalchemy as sa

from ..config import LinkingSettings
from ..extensions import db
from .models import Contract, ContractKey

log = logging.getLogger(__name__)

KINDS = ("number", "smartcard", "device", "phone")
SERVICE_STATUSES = ("active", "suspended", "expired", "cancelled")


class DirectoryUnavailable(Exception):
    """The billing system did not answer (in time, or sensibly)."""


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    status: str
    expires_at: str | None = None  # ISO date


@dataclass(frozen=True)
class ContractRecord:
    number: str
    holder_name: str
    phone: str
    branch: str | None = None
    services: tuple[Service, ...] = field(default_factory=tuple)


def normalize_key(value: str) -> str:
    """Contract numbers, smartcards and device codes as printed: spaces and dashes do not matter."""
    return re.sub(r"[\s-]", "", value or "").upper()[:64]


class SubscriberDirectory(Protocol):
    def find(self, kind: str, value: str) -> list[ContractRecord]:
        """Contracts matching a number, smartcard, device code or (E.164) phone."""

    def get_many(self, numbers: list[str]) -> list[ContractRecord]:
        """The contracts with these numbers that still exist."""


def _record(row: Contract) -> ContractRecord:
    return ContractRecord(
        number=row.number,
        holder_name=row.holder_name,
        phone=row.phone,
        branch=row.branch,
        services=tuple(Service(**s) for s in row.services or []),
    )


class TableDirectory:
    """idp's own contracts table."""

    def find(self, kind: str, value: str) -> list[ContractRecord]:
        if kind == "number":
            query = sa.select(Contract).where(Contract.number == value)
        elif kind == "phone":
            query = sa.select(Contract).where(Contract.phone == value).order_by(Contract.number)
        else:
            query = sa.select(Contract).join(ContractKey).where(ContractKey.kind == kind, ContractKey.value == value)
        return [_record(row) for row in db.session.scalars(query)]

    def get_many(self, numbers: list[str]) -> list[ContractRecord]:
        if not numbers:
            return []
        rows = db.session.scalars(sa.select(Contract).where(Contract.number.in_(numbers)).order_by(Contract.number))
        return [_record(row) for row in rows]


class BillingDirectory:
    """The operator's billing system: GET {url}/contracts?<kind>=<value> -> {"contracts": [...]}."""

    def __init__(self, settings: LinkingSettings):
        self.url = settings.billing_url.rstrip("/")
        self.timeout = settings.timeout_seconds
        self.http = requests.Session()
        if settings.billing_token:
            self.http.headers["Authorization"] = f"Bearer {settings.billing_token}"

    def _query(self, params: list[tuple[str, str]]) -> list[ContractRecord]:
        try:
            response = self.http.get(self.url + "/contracts", params=params, timeout=self.timeout)
            response.raise_for_status()
            items = response.json()["contracts"]
            return [
                ContractRecord(
                    number=str(item["number"]),
                    holder_name=str(item["holder_name"]),
                    phone=str(item["phone"]),
                    branch=item.get("branch"),
                    services=tuple(
                        Service(code=str(s["code"]), name=str(s["name"]), status=str(s["status"]),
                                expires_at=s.get("expires_at"))
                        for s in item.get("services", [])
                    ),
                )
                for item in items
            ]
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            log.warning("billing directory failed: %s", type(error).__name__)
            raise DirectoryUnavailable(type(error).__name__) from None

    def find(self, kind: str, value: str) -> list[ContractRecord]:
        return self._query([(kind, value)])

    def get_many(self, numbers: list[str]) -> list[ContractRecord]:
        return self._query([("number", n) for n in numbers]) if numbers else []


def make_directory(settings: LinkingSettings) -> SubscriberDirectory:
    return BillingDirectory(settings) if settings.directory == "billing" else TableDirectory()
