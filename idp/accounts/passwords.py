"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import phonenumbers
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from ..config import PasswordSettings

MAX_LENGTH = 128  # longer inputs only cost hashing time


class PasswordRejected(ValueError):
    """The password does not meet the policy; `reason` is one of the REASONS."""

    REASONS = ("too_short", "too_long", "too_common")

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Passwords:
    """Hashes and checks passwords with the configured argon2id parameters."""

    def __init__(self, settings: PasswordSettings):
        self.settings = settings
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        # Spent on unknown accounts too, so timing does not tell whether one exists.
        self._dummy_hash = self.hasher.hash("not a real password")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant-effort check; False for a wrong password or a missing hash."""
        try:
            return self.hasher.verify(password_hash or self._dummy_hash, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    def check_policy(self, password: str, user_inputs: list[str]) -> None:
        """Raise PasswordRejected if the password is too short, too long or too guessable."""
        if len(password) < self.settings.min_length:
            raise PasswordRejected("too_short")
        if len(password) > MAX_LENGTH:
            raise PasswordRejected("too_long")
        inputs = [variant for value in user_inputs if value for variant in _variants(value)]
        inputs += ["matkhau", "password", "vietnam"]
        if zxcvbn(password, user_inputs=inputs)["score"] < self.settings.min_strength:
            raise PasswordRejected("too_common")


def _variants(value: str) -> list[str]:
    """What a person might build a password from: e-mail local parts and local phone formats too."""
    variants = [value, value.split("@")[0]]
    if value.startswith("+"):
        try:
            number = phonenumbers.parse(value)
        except phonenumbers.NumberParseException:
            return variants
        national = str(number.national_number)
        variants += [value[1:], national, "0" + national]
    return variants
