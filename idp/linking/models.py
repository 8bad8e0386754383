"""The local subscriber directory and the links between accounts and contracts."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..dbtypes import UtcDateTime
from ..extensions import db


class Contract(db.Model):
    """A subscriber contract as the operator's directory knows it (the `table` back end)."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    holder_name: Mapped[str] = mapped_column(sa.String(128))
    phone: Mapped[str] = mapped_column(sa.String(20), index=True)
    branch: Mapped[str | None] = mapped_column(sa.String(64))
    services: Mapped[list] = mapped_column(sa.JSON, default=list)
    updated_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class ContractKey(db.Model):
    """Another way to find a contract: a smartcard number or a device code."""

    __tablename__ = "contract_keys"
    __table_args__ = (sa.UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # smartcard | device
    value: Mapped[str] = mapped_column(sa.String(64))


class ContractLink(db.Model):
    """An account holding a contract. A contract has one owner at a time; ended links stay as history."""

    __tablename__ = "contract_links"
    __table_args__ = (
        sa.Index(
            "uq_contract_links_active_number",
            "contract_number",
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_number: Mapped[str] = mapped_column(sa.String(32))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16), default="owner")
    linked_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)
    ended_reason: Mapped[str | None] = mapped_column(sa.String(32))  # unlinked | taken_over | account_deleted | released | contract_deleted
