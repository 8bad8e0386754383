"""Second factors: authenticator apps (TOTP, RFC 6238) and single-use recovery codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets

import pyotp
import qrcode
import qrcode.image.svg
import sqlalchemy as sa

from .. import audit, clock
from ..crypto import seal, unseal
from ..extensions import db, runtime
from .models import RecoveryCode, TotpFactor, User

ENROLLMENT_SECONDS = 600
RECOVERY_CODES = 10
DRIFT_STEPS = 1  # accept the previous and next 30-second step, no more


class FactorError(Exception):
    pass


class EnrollmentExpired(FactorError):
    """The enrollment was not confirmed in time; start again."""


class WrongFactorCode(FactorError):
    pass


def _pending_key(user: User) -> str:
    return f"totp-enroll:{user.id}"


def start_totp_enrollment(user: User) -> dict:
    """A new secret to scan, kept aside until the person proves their app has it."""
    secret = pyotp.random_base32()
    runtime().store.put(_pending_key(user), {"secret": secret}, ENROLLMENT_SECONDS)
    return enrollment_view(user, secret)


def pending_enrollment(user: User) -> dict | None:
    pending = runtime().store.get(_pending_key(user))
    return enrollment_view(user, pending["secret"]) if pending else None


def enrollment_view(user: User, secret: str) -> dict:
    issuer = runtime().settings.branding.operator_name
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return {
        "secret": secret,
        "uri": uri,
        "qr_data_uri": "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode(),
    }


def _step(now: float) -> int:
    return int(now // 30)


def _matching_step(secret: str, code: str, after_step: int) -> int | None:
    """The step within the allowed drift whose code equals `code`, if it was not used before."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = _step(clock.now())
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * 30), code) and step > after_step:
            found = step
    return found


def confirm_totp_enrollment(user: User, code: str) -> list[str]:
    """Turn the pending secret into the account's factor; returns the recovery codes, shown once."""
    pending = runtime().store.get(_pending_key(user))
    if pending is None:
        raise EnrollmentExpired()
    step = _matching_step(pending["secret"], code, after_step=0)
    if step is None:
        raise WrongFactorCode()
    if runtime().store.take(_pending_key(user)) is None:
        raise EnrollmentExpired()  # confirmed a moment ago by another request: one enrollment only
    db.session.execute(sa.delete(TotpFactor).where(TotpFactor.user_id == user.id))
    db.session.add(
        TotpFactor(
            user_id=user.id,
            secret_encrypted=seal(runtime().settings.keys.encryption_key, pending["secret"].encode()),
            last_step=step,
        )
    )
    codes = _replace_recovery_codes(user)
    db.session.commit()
    audit.record("factor.enrolled", account=user.sub, factor="totp")
    return codes


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits each, single use, behind the password
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, digest=_digest(raw)))
    return codes


def has_totp(user: User) -> bool:
    return db.session.scalar(sa.select(TotpFactor.id).where(TotpFactor.user_id == user.id)) is not None


def verify_totp(user: User, code: str) -> bool:
    """True for a current code not used before (each 30-second step counts once)."""
    factor = db.session.scalar(sa.select(TotpFactor).where(TotpFactor.user_id == user.id))
    if factor is None:
        return False
    secret = unseal(runtime().settings.keys.encryption_key, factor.secret_encrypted).decode()
    step = _matching_step(secret, code, after_step=factor.last_step)
    if step is None:
        return False
    claimed = db.session.execute(
        sa.update(TotpFactor)
        .where(TotpFactor.id == factor.id, TotpFactor.last_step < step)
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def use_recovery_code(user: User, code: str) -> bool:
    """True once per recovery code."""
    if not code or len(code) > 32:
        return False
    used = db.session.execute(
        sa.update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.digest == _digest(code), RecoveryCode.used_at.is_(None))
        .values(used_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if used:
        audit.record("recovery_code.used", account=user.sub, remaining=remaining_recovery_codes(user))
    return used == 1


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def new_recovery_codes(user: User) -> list[str]:
    codes = _replace_recovery_codes(user)
    db.session.commit()
    return codes


def remove_totp(user: User) -> None:
    db.session.execute(sa.delete(TotpFactor).where(TotpFactor.user_id == user.id))
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.commit()
    audit.record("factor.removed", account=user.sub, factor="totp")
