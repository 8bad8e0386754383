"""Signing keys: stored in the database (private part encrypted), held in memory per process.

Rotation publishes a new key before it signs anything: the new key becomes
active activation_delay() after it is created, by which time every process has
reloaded the key set and serves it in the JWKS, and every copy of the old JWKS
that a relying party may cache (JWKS_MAX_AGE) has gone stale. The old key stops
signing then and stays published until every token it signed has expired.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey, import_key

from .. import clock
from ..config import SUPPORTED_ALGS, Settings
from ..crypto import CannotDecrypt, seal, unseal
from ..extensions import db
from .models import SigningKey


def _generate(alg: str):
    if alg == "RS256":
        return RSAKey.generate_key(2048)
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519")
    raise ValueError(f"unsupported algorithm {alg}")


def create_key(settings: Settings, alg: str, activates_at: datetime.datetime) -> SigningKey:
    """Generate a key pair and add it (encrypted) to the session; the caller commits."""
    key = _generate(alg)
    kid = key.thumbprint()[:16]
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    private = json.dumps(key.as_dict(private=True)).encode()
    row = SigningKey(
        kid=kid,
        alg=alg,
        public_jwk=public,
        private_encrypted=seal(settings.keys.encryption_key, private),
        activates_at=activates_at,
    )
    db.session.add(row)
    return row


JWKS_MAX_AGE = 60  # seconds a relying party may cache /jwks.json (Cache-Control)


def activation_delay(settings: Settings) -> int:
    """Seconds between a new key's creation and its first signature: a process may serve the old
    JWKS for up to reload_seconds, a relying party may cache that for JWKS_MAX_AGE more."""
    return 2 * settings.keys.reload_seconds + JWKS_MAX_AGE


def publish_grace_seconds(settings: Settings) -> int:
    """How long a retired key stays in the JWKS: the longest life of anything it signed."""
    return max(settings.tokens.id_token_seconds, settings.tokens.access_token_seconds) + settings.keys.reload_seconds


def rotate(settings: Settings, algs: tuple[str, ...] = SUPPORTED_ALGS, immediately: bool = False) -> list[SigningKey]:
    """Create a new key per algorithm and retire the current ones once the new ones are active."""
    now = clock.utcnow()
    activates_at = now if immediately else now + datetime.timedelta(seconds=activation_delay(settings))
    created = []
    for alg in algs:
        current = db.session.scalars(
            sa.select(SigningKey).where(SigningKey.alg == alg, SigningKey.retired_at.is_(None))
        ).all()
        for old in current:
            old.retired_at = activates_at
        created.append(create_key(settings, alg, activates_at))
    db.session.commit()
    return created


def ensure_keys(settings: Settings) -> None:
    """Give every supported algorithm a key if it has none (first start)."""
    present = set(db.session.scalars(sa.select(SigningKey.alg).where(SigningKey.retired_at.is_(None))))
    missing = tuple(alg for alg in SUPPORTED_ALGS if alg not in present)
    if missing:
        for alg in missing:
            create_key(settings, alg, clock.utcnow())
        db.session.commit()


def list_keys() -> list[SigningKey]:
    return list(db.session.scalars(sa.select(SigningKey).order_by(SigningKey.created_at.desc())))


@dataclass(frozen=True)
class _Loaded:
    signing: dict[str, tuple[str, object]]  # alg -> (kid, private key) in use now
    public: KeySet
    jwks_bytes: bytes
    etag: str
    loaded_at: float
    next_change: float  # when a pending key activates or a retired key leaves the JWKS


class KeyRing:
    """The process's view of the signing keys, reloaded every keys.reload_seconds."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def _current(self) -> _Loaded:
        loaded = self._loaded
        now = clock.now()
        if loaded is None or now - loaded.loaded_at >= self.settings.keys.reload_seconds or now >= loaded.next_change:
            with self._lock:
                loaded = self._loaded
                if loaded is None or now - loaded.loaded_at >= self.settings.keys.reload_seconds or now >= loaded.next_change:
                    loaded = self._loaded = self._load()
        return loaded

    def invalidate(self) -> None:
        self._loaded = None

    def _load(self) -> _Loaded:
        ensure_keys(self.settings)
        now = clock.now()
        grace = publish_grace_seconds(self.settings)
        rows = db.session.scalars(sa.select(SigningKey).order_by(SigningKey.activates_at)).all()
        signing: dict[str, tuple[str, object]] = {}
        published = []
        next_change = now + 86400
        for row in rows:
            activates = row.activates_at.timestamp()
            retired = row.retired_at.timestamp() if row.retired_at else None
            if retired is not None and retired + grace <= now:
                continue
            published.append(row.public_jwk)
            if retired is not None:
                next_change = min(next_change, retired + grace)
            if activates > now:
                next_change = min(next_change, activates)
            elif retired is None or retired > now:
                if retired is not None:
                    next_change = min(next_change, retired)
                signing[row.alg] = (row.kid, self._decrypt(row))
        jwks = {"keys": published}
        body = json.dumps(jwks, separators=(",", ":"), sort_keys=True).encode()
        return _Loaded(
            signing=signing,
            public=KeySet.import_key_set(jwks),
            jwks_bytes=body,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            loaded_at=now,
            next_change=next_change,
        )

    def _decrypt(self, row: SigningKey):
        try:
            data = json.loads(unseal(self.settings.keys.encryption_key, row.private_encrypted))
        except CannotDecrypt:
            raise CannotDecrypt(f"signing key {row.kid} cannot be decrypted with keys.encryption_key") from None
        return import_key({**data, "kid": row.kid})

    def signing_key(self, alg: str) -> tuple[str, object]:
        """(kid, private key) to sign with now for this algorithm."""
        return self._current().signing[alg]

    def public_keys(self) -> KeySet:
        return self._current().public

    def jwks(self) -> tuple[bytes, str]:
        """The JWKS document as bytes, and its ETag."""
        loaded = self._current()
        return loaded.jwks_bytes, loaded.etag
