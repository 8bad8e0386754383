"""Registering and managing relying-party clients."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import scope_to_list

from ..config import LOCAL_HOSTS, SUPPORTED_ALGS
from ..extensions import db
from .claims import SCOPES_SUPPORTED
from .endpoints import INTROSPECTION_SCOPE
from .models import Client, digest

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
GRANTS_FOR_PEOPLE = ["authorization_code", "refresh_token"]
ADMIN_SCOPE = "admin"
ASSIGNABLE_SCOPES = [*SCOPES_SUPPORTED, INTROSPECTION_SCOPE, ADMIN_SCOPE]


class ClientError(ValueError):
    """A client registration is invalid; the message says which part."""


class ClientNotFound(LookupError):
    pass


def _check_uri(uri: str, what: str) -> str:
    parts = urlsplit(uri)
    if len(uri) > 2000 or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"{what} must be an absolute http(s) URL: {uri}")
    if parts.fragment:
        raise ClientError(f"{what} must not have a fragment: {uri}")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise ClientError(f"{what} must use https unless it is on this machine: {uri}")
    return uri


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class ClientSettings:
    """Everything about a client an operator may set (all but its id, secret and kind)."""

    name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    first_party: bool = False
    scopes: list[str] = field(default_factory=lambda: ["openid", "profile", "email", "phone"])
    client_credentials: bool = False
    id_token_alg: str | None = None
    backchannel_logout_uri: str | None = None
    frontchannel_logout_uri: str | None = None

    def validated(self, public: bool) -> ClientSettings:
        name = (self.name or "").strip()
        if not name or len(name) > 128:
            raise ClientError("name must be 1 to 128 characters")
        if not self.redirect_uris and not self.client_credentials:
            raise ClientError("at least one redirect URI is needed")
        for uri in self.redirect_uris:
            _check_uri(uri, "redirect URI")
        for uri in self.post_logout_redirect_uris:
            _check_uri(uri, "post-logout redirect URI")
        if self.backchannel_logout_uri:
            _check_uri(self.backchannel_logout_uri, "back-channel logout URI")
        if self.frontchannel_logout_uri:
            _check_uri(self.frontchannel_logout_uri, "front-channel logout URI")
        scopes = self.scopes or ["openid", "profile", "email", "phone"]
        unknown = [s for s in scopes if s not in ASSIGNABLE_SCOPES]
        if unknown:
            raise ClientError(f"unknown scope {unknown[0]} (known: {', '.join(ASSIGNABLE_SCOPES)})")
        if self.id_token_alg is not None and self.id_token_alg not in SUPPORTED_ALGS:
            raise ClientError(f"ID token algorithm must be one of {', '.join(SUPPORTED_ALGS)}")
        if public and self.client_credentials:
            raise ClientError("a public client cannot use client_credentials")
        return replace(self, name=name, scopes=list(dict.fromkeys(scopes)),
                       backchannel_logout_uri=self.backchannel_logout_uri or None,
                       frontchannel_logout_uri=self.frontchannel_logout_uri or None)

    def apply(self, client: Client) -> None:
        client.name = self.name
        client.redirect_uris = list(self.redirect_uris)
        client.post_logout_redirect_uris = list(self.post_logout_redirect_uris)
        client.first_party = self.first_party
        client.scopes = " ".join(self.scopes)
        client.grant_types = (GRANTS_FOR_PEOPLE if self.redirect_uris else []) + (
            ["client_credentials"] if self.client_credentials else [])
        client.id_token_alg = self.id_token_alg
        client.backchannel_logout_uri = self.backchannel_logout_uri
        client.frontchannel_logout_uri = self.frontchannel_logout_uri


def create_client(
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] = (),
    public: bool = False,
    first_party: bool = False,
    scopes: list[str] | None = None,
    client_credentials: bool = False,
    id_token_alg: str | None = None,
    client_id: str | None = None,
    backchannel_logout_uri: str | None = None,
    frontchannel_logout_uri: str | None = None,
) -> tuple[Client, str | None]:
    """Register a client; returns it and its secret (None for public clients), shown only now."""
    wanted = ClientSettings(name, list(redirect_uris), list(post_logout_redirect_uris), first_party, scopes or [],
                            client_credentials, id_token_alg, backchannel_logout_uri, frontchannel_logout_uri)
    wanted = wanted.validated(public)
    if client_id is not None and not CLIENT_ID_RE.match(client_id):
        raise ClientError("client id must be 3 to 64 letters, digits, dots, dashes or underscores")
    client_id = client_id or secrets.token_urlsafe(16)
    if db.session.scalar(sa.select(Client.id).where(Client.client_id == client_id)):
        raise ClientError(f"client id {client_id} is taken")
    secret = None if public else new_secret()
    client = Client(client_id=client_id, secret_digest=digest(secret) if secret else None, public=public)
    wanted.apply(client)
    db.session.add(client)
    db.session.commit()
    return client, secret


def update_client(client_id: str, wanted: ClientSettings) -> Client:
    client = find_client(client_id)
    wanted.validated(client.public).apply(client)
    db.session.commit()
    return client


def settings_of(client: Client) -> ClientSettings:
    return ClientSettings(
        client.name, list(client.redirect_uris or []), list(client.post_logout_redirect_uris or []), client.first_party,
        scope_to_list(client.scopes), "client_credentials" in (client.grant_types or []), client.id_token_alg,
        client.backchannel_logout_uri, client.frontchannel_logout_uri,
    )


def set_disabled(client_id: str, disabled: bool) -> Client:
    client = find_client(client_id)
    client.disabled = disabled
    db.session.commit()
    return client


def find_client(client_id: str) -> Client:
    client = db.session.scalar(sa.select(Client).where(Client.client_id == client_id))
    if client is None:
        raise ClientNotFound(client_id)
    return client


def list_clients() -> list[Client]:
    return list(db.session.scalars(sa.select(Client).order_by(Client.created_at, Client.id)))


def rotate_secret(client_id: str) -> str:
    client = find_client(client_id)
    if client.public:
        raise ClientError("a public client has no secret")
    secret = new_secret()
    client.secret_digest = digest(secret)
    db.session.commit()
    return secret


def remove_client(client_id: str) -> None:
    """Delete a client; its refresh tokens and the access tokens issued with them stop working now."""
    client = find_client(client_id)
    from . import storage
    from .models import Consent, RefreshToken

    for family_id in db.session.scalars(
        sa.select(RefreshToken.family_id).where(RefreshToken.client_id == client.client_id).distinct()
    ).all():
        storage.revoke_family(family_id)
    client = find_client(client_id)
    db.session.execute(sa.delete(RefreshToken).where(RefreshToken.client_id == client.client_id))
    db.session.execute(sa.delete(Consent).where(Consent.client_id == client.client_id))
    db.session.delete(client)
    db.session.commit()


def describe(client: Client) -> dict:
    """A client as plain data, without any secret."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "public": client.public,
        "first_party": client.first_party,
        "redirect_uris": list(client.redirect_uris or []),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris or []),
        "scopes": scope_to_list(client.scopes),
        "grant_types": list(client.grant_types or []),
        "id_token_alg": client.id_token_alg,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "frontchannel_logout_uri": client.frontchannel_logout_uri,
        "disabled": client.disabled,
        "created_at": client.created_at.isoformat(),
    }
