"""argon2id hashing with production parameters, and the password policy."""

from __future__ import annotations

import pytest

from idp.accounts.passwords import PasswordRejected, Passwords
from idp.config import PasswordSettings


@pytest.fixture(scope="module")
def production():
    return Passwords(PasswordSettings())


def test_hash_is_argon2id_with_configured_parameters(production):
    hashed = production.hash("Quiet-River-Stone-8")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=2$")
    assert production.verify(hashed, "Quiet-River-Stone-8")
    assert not production.verify(hashed, "quiet-river-stone-8")
    assert not production.needs_rehash(hashed)


def test_missing_or_corrupt_hash_never_verifies(production):
    assert not production.verify(None, "anything-at-all")
    assert not production.verify("not-a-hash", "anything-at-all")


def test_older_parameters_need_rehash(production):
    cheap = Passwords(PasswordSettings(argon2_time_cost=1, argon2_memory_kib=64, argon2_parallelism=1))
    assert production.needs_rehash(cheap.hash("Quiet-River-Stone-8"))


@pytest.mark.parametrize(
    "password, reason",
    [
        ("short", "too_short"),
        ("x" * 129, "too_long"),
        ("1234567890", "too_common"),
        ("password123", "too_common"),
        ("matkhau12345", "too_common"),
        ("qwertyuiop", "too_common"),
        ("hoa0912000111", "too_common"),
    ],
)
def test_policy_rejects_short_long_and_guessable_passwords(production, password, reason):
    with pytest.raises(PasswordRejected) as rejected:
        production.check_policy(password, ["hoa", "hoa@example.com", "+84912000111"])
    assert rejected.value.reason == reason


@pytest.mark.parametrize("password", ["Quiet-River-Stone-8", "cá vàng bơi trong hồ nước"])
def test_policy_accepts_strong_passwords(production, password):
    production.check_policy(password, ["hoa"])
