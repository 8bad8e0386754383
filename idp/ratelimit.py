"""One rate limiter for sign-in, codes and look-ups: fixed windows counted in the ephemeral store."""

from __future__ import annotations

from dataclasses import dataclass

from . import clock
from .extensions import runtime


class RateLimited(Exception):
    """Too many attempts; try again after `retry_after` seconds."""

    def __init__(self, rule: str, retry_after: int):
        super().__init__(rule)
        self.rule = rule
        self.retry_after = max(1, int(retry_after))


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window: int  # seconds


def count(rule: Rule, key: str) -> int:
    """Count one attempt and return how many there were in the current window."""
    return runtime().store.incr(f"rl:{rule.name}:{key}", rule.window)


def current(rule: Rule, key: str) -> int:
    """Attempts counted so far in the current window, without counting one."""
    return runtime().store.counter(f"rl:{rule.name}:{key}")


def hit(rule: Rule, key: str) -> int:
    """Count one attempt; RateLimited once the rule's limit is passed in its window."""
    attempts = count(rule, key)
    if attempts > rule.limit:
        raise RateLimited(rule.name, rule.window)
    return attempts


def check(rule: Rule, key: str) -> None:
    """RateLimited if the limit is already passed, without counting an attempt."""
    state = runtime().store.get(f"rl-block:{rule.name}:{key}")
    if state is not None:
        raise RateLimited(rule.name, state["until"] - clock.now())


def block(rule: Rule, key: str, seconds: float) -> None:
    """Refuse this key under this rule for a while."""
    runtime().store.put(f"rl-block:{rule.name}:{key}", {"until": clock.now() + seconds}, seconds)


def reset(rule: Rule, key: str) -> None:
    runtime().store.delete(f"rl:{rule.name}:{key}", f"rl-block:{rule.name}:{key}")
