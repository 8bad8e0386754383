"""Protocol tables: clients, signing keys, refresh tokens, consents."""

from __future__ import annotations

import datetime
import hashlib
import hmac

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, list_to_scope, scope_to_list
from sqlalchemy.orm import Mapped, mapped_column

from .. import clock
from ..clock import utcnow
from ..dbtypes import UtcDateTime
from ..extensions import db


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough for random tokens, and fast on the hot path."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Client(db.Model, ClientMixin):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    secret_digest: Mapped[str | None] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(128))
    redirect_uris: Mapped[list] = mapped_column(sa.JSON, default=list)
    post_logout_redirect_uris: Mapped[list] = mapped_column(sa.JSON, default=list)
    scopes: Mapped[str] = mapped_column(sa.String(512), default="openid profile email phone")
    grant_types: Mapped[list] = mapped_column(sa.JSON, default=list)
    public: Mapped[bool] = mapped_column(default=False)
    first_party: Mapped[bool] = mapped_column(default=False)
    id_token_alg: Mapped[str | None] = mapped_column(sa.String(16))
    backchannel_logout_uri: Mapped[str | None] = mapped_column(sa.String(2000))
    frontchannel_logout_uri: Mapped[str | None] = mapped_column(sa.String(2000))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow)

    # Authlib's ClientMixin -------------------------------------------------
    @property
    def client_metadata(self) -> dict:
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris or [])}

    @property
    def id_token_signed_response_alg(self) -> str | None:
        return self.id_token_alg

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self):
        # OIDC Core §3.1.2.1: redirect_uri is required, so there is no default.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(scope_to_list(self.scopes))
        return list_to_scope([s for s in scope_to_list(scope or "") if s in allowed])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match, as OAuth 2.0 Security BCP requires.
        return redirect_uri in (self.redirect_uris or [])

    def check_client_secret(self, client_secret: str) -> bool:
        if self.public or not self.secret_digest or len(client_secret) > 512:
            return False
        return hmac.compare_digest(self.secret_digest, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.disabled:
            return False
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in (self.grant_types or [])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.grant_types or [])


class SigningKey(db.Model):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(sa.String(16))
    public_jwk: Mapped[dict] = mapped_column(sa.JSON)
    private_encrypted: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow)
    activates_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow)
    retired_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)


class RefreshToken(db.Model, TokenMixin):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    family_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(sa.Text)
    sid: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    auth_time: Mapped[int] = mapped_column(sa.BigInteger)
    amr: Mapped[list] = mapped_column(sa.JSON, default=list)
    acr: Mapped[str | None] = mapped_column(sa.String(64))
    access_digest: Mapped[str | None] = mapped_column(sa.String(64))
    issued_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    rotated_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)

    token_type = "refresh_token"

    def check_client(self, client) -> bool:
        return hmac.compare_digest(self.client_id, client.get_client_id())

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at.timestamp() - clock.now())

    def is_expired(self) -> bool:
        return self.expires_at.timestamp() <= clock.now()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None or self.rotated_at is not None


class Consent(db.Model):
    __tablename__ = "consents"
    __table_args__ = (sa.UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[str] = mapped_column(sa.Text)
    granted_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utcnow)
