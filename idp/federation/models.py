"""Social identities linked to accounts."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..dbtypes import UtcDateTime
from ..extensions import db


class Identity(db.Model):
    """An account at an upstream provider, linked to one local account."""

    __tablename__ = "identities"
    __table_args__ = (sa.UniqueConstraint("provider", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(sa.String(32))
    subject: Mapped[str] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    name: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)
