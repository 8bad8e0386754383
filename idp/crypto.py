"""Encryption at rest for secrets kept in the database (signing keys, authenticator secrets)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class CannotDecrypt(RuntimeError):
    """A stored secret cannot be decrypted with keys.encryption_key."""


def seal(encryption_key: str, plaintext: bytes) -> str:
    return Fernet(encryption_key.encode()).encrypt(plaintext).decode()


def unseal(encryption_key: str, token: str) -> bytes:
    try:
        return Fernet(encryption_key.encode()).decrypt(token.encode())
    except InvalidToken:
        raise CannotDecrypt("a stored secret cannot be decrypted with keys.encryption_key") from None
