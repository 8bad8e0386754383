"""The second step of a sign-in, and step-up of a signed-in session, with TOTP, an SMS code or a recovery code."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass

from flask_babel import gettext as _

from .. import audit
from ..extensions import db, runtime
from ..otp import codes
from ..ratelimit import RateLimited, Rule, block, check, count
from . import mfa
from .models import User
from .sessions import ACR_MULTI_FACTOR, SsoSession

PENDING_SECONDS = 600
MAX_WRONG = 5  # per sign-in attempt: then the password again
# Per account, across attempts (each password sign-in or step-up starts a new one): guessing
# second factors stops for the account after this many wrong codes in an hour.
ACCOUNT_WRONG_PER_HOUR = 10
METHOD_AMR = {"totp": "otp", "recovery": "otp", "sms": "sms"}


class SecondStepExpired(Exception):
    """Nothing is waiting for a second step (too late, or never started): sign in again."""


class WrongSecondFactor(Exception):
    pass


@dataclass
class Pending:
    token: str
    user_id: int
    remember: bool
    target: str
    step_up_sid: str | None = None  # set when an existing session is being stepped up
    first_amr: str = "pwd"  # how the first step was made: a password, or an SMS code


def _key(token: str) -> str:
    return f"second-step:{token}"


def begin(user: User, remember: bool, target: str, step_up_sid: str | None = None, first_amr: str = "pwd") -> str:
    """Remember that the first step succeeded; the returned token goes into the form cookie."""
    token = secrets.token_urlsafe(24)
    pending = Pending(token, user.id, remember, target, step_up_sid, first_amr)
    runtime().store.put(_key(token), asdict(pending), PENDING_SECONDS)
    return token


def load(token: str | None) -> Pending | None:
    if not token or len(token) > 64:
        return None
    data = runtime().store.get(_key(token))
    return Pending(**data) if data else None


def user_of(pending: Pending) -> User:
    user = db.session.get(User, pending.user_id)
    if user is None or user.locked:
        raise SecondStepExpired()
    return user


def methods_for(user: User, first_amr: str = "pwd") -> list[str]:
    """The second factors this person can use now.

    An enrolled authenticator app is the only way (with its recovery codes): an SMS
    code must not become a weaker way around it. Without one, a verified phone
    serves, unless the first step was already an SMS code.
    """
    if mfa.has_totp(user):
        return ["totp", "recovery"]
    if first_amr != "sms" and user.phone and user.phone_verified and runtime().settings.sms.sender != "none":
        return ["sms"]
    return []


def needs_second_step(user: User) -> bool:
    """Sign-in asks for a second factor whenever an authenticator app is enrolled."""
    return mfa.has_totp(user)


def send_sms(pending: Pending, ip: str) -> codes.SentCode:
    user = user_of(pending)
    if "sms" not in methods_for(user, pending.first_amr):
        raise WrongSecondFactor()
    message = _("%(operator)s sign-in code: {code}. Valid 6 minutes. Never share it.",
                operator=runtime().settings.branding.operator_name)
    return codes.send_code("second_factor", f"step:{pending.token}", user.phone, message, ip=ip, account=user.sub)


def _account_rule() -> Rule:
    return Rule("second-factor", ACCOUNT_WRONG_PER_HOUR, 3600)


def _count_wrong_code(user: User, method: str) -> None:
    """Audit a wrong code; too many for the account in an hour lock its second step for a while."""
    rule = _account_rule()
    wrong = count(rule, user.sub)
    audit.record("second_factor.failed", account=user.sub, method=method, wrong_this_hour=wrong)
    if wrong >= rule.limit:
        minutes = runtime().settings.signin.lockout_minutes
        block(rule, user.sub, minutes * 60)
        audit.record("account.lockout", account=user.sub, factor="second", minutes=minutes)


def complete(pending: Pending, method: str, code: str) -> tuple[User, str]:
    """Check the second factor; returns the account and the `amr` value it earns.

    RateLimited when the account has had too many wrong codes lately.
    """
    user = user_of(pending)
    check(_account_rule(), user.sub)
    if method not in methods_for(user, pending.first_amr):
        raise WrongSecondFactor()
    if method == "totp":
        ok = mfa.verify_totp(user, code)
    elif method == "recovery":
        ok = mfa.use_recovery_code(user, code)
    else:
        try:
            ok = codes.verify_code("second_factor", f"step:{pending.token}", code, account=user.sub) is not None
        except codes.CodeInvalid:
            ok = False
    if not ok:
        _count_wrong_code(user, method)
        if runtime().store.incr(f"second-step-tries:{pending.token}", PENDING_SECONDS) >= MAX_WRONG:
            runtime().store.delete(_key(pending.token))  # guessing stops here: start over with the password
            raise SecondStepExpired()
        raise WrongSecondFactor()
    runtime().store.delete(_key(pending.token))
    return user, METHOD_AMR[method]


def step_up(session: SsoSession, amr_value: str) -> bool:
    """Make the session multi-factor; False if it ended meanwhile."""
    return runtime().sessions.elevate(session, amr_value)


__all__ = ["ACR_MULTI_FACTOR", "Pending", "RateLimited", "SecondStepExpired", "WrongSecondFactor", "begin", "complete",
           "load"]
