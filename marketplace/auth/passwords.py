"""Password hashing with argon2id (argon2-cffi's default variant)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def use_fast_hashing_for_tests() -> None:
    """Cheaper argon2id parameters; still argon2id, only for the test suite's speed."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problems(password: str) -> list[str]:
    """Why a new password is unacceptable (empty list when it is fine)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"at least {MIN_LENGTH} characters / 至少{MIN_LENGTH}个字符")
    if password.isdigit():
        problems.append("not only digits / 不能全为数字")
    return problems
