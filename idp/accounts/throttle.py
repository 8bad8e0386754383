"""Brute-force protection for password sign-in.

The source is throttled first: failures from one IP for one account bring
growing delays (1 s, 2 s, 4 s, ... up to signin.max_delay_seconds), and too
many failures from one IP block that IP for a while. Only a flood of failures
from many sources locks the account itself, and only for
signin.lockout_minutes, so nobody can keep a real customer out for good.
Unknown accounts are throttled exactly like real ones: the answers never
tell whether an account exists.
"""

from __future__ import annotations

import hashlib

from .. import audit
from ..extensions import runtime
from ..ratelimit import RateLimited, Rule, block, check, count, reset
from .models import User


def _rules():
    s = runtime().settings.signin
    return (
        Rule("signin-ip", s.failures_per_ip, s.ip_block_minutes * 60),
        Rule("signin-account-ip", s.free_failures_per_account, 3600),
        Rule("signin-account", s.lockout_failures, s.lockout_minutes * 60),
    )


def account_key(identifier: str, user: User | None) -> str:
    """Counters follow the account, whatever name it was tried under; unknown names get their own."""
    if user is not None:
        return user.sub
    return "?" + hashlib.sha256(identifier.strip().lower().encode()).hexdigest()[:24]


def before_attempt(key: str, ip: str) -> None:
    """RateLimited if this source, or this account, must wait."""
    by_ip, by_account_ip, by_account = _rules()
    check(by_ip, ip)
    check(by_account_ip, f"{key}:{ip}")
    check(by_account, key)


def after_failure(key: str, ip: str, user: User | None) -> None:
    """Count a failed attempt and impose whatever wait it earns."""
    settings = runtime().settings.signin
    by_ip, by_account_ip, by_account = _rules()
    if count(by_ip, ip) >= by_ip.limit:
        block(by_ip, ip, by_ip.window)
        audit.record("signin.throttled", account=user.sub if user else None, scope="ip")
    failures = count(by_account_ip, f"{key}:{ip}")
    if failures >= by_account_ip.limit:
        delay = min(2 ** (failures - by_account_ip.limit), settings.max_delay_seconds)
        block(by_account_ip, f"{key}:{ip}", delay)
    if count(by_account, key) >= by_account.limit:
        block(by_account, key, by_account.window)
        audit.record("account.lockout", account=user.sub if user else None, minutes=settings.lockout_minutes)


def after_success(key: str, ip: str) -> None:
    _, by_account_ip, _ = _rules()
    reset(by_account_ip, f"{key}:{ip}")


def clear_account(user: User) -> None:
    """Lift an account-wide lockout (admin unlock)."""
    _, _, by_account = _rules()
    reset(by_account, user.sub)


__all__ = ["RateLimited", "account_key", "before_attempt", "after_failure", "after_success", "clear_account"]
