"""Password hashing with argon2id (argon2-cffi's default variant) and the password policy.

The policy (OWASP ASVS 2.1): at least 12 characters, at most 200 (hashing cost), not guessable
— zxcvbn's estimate, whose bundled dictionaries (common passwords, names, English words,
keyboard patterns, repeats and sequences) refuse ``password12``, ``qwertyuiop`` and
``aaaaaaaaaaaa`` — and not containing the person's e-mail or name.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 200
#: zxcvbn's score 3: "safely unguessable: moderate protection from offline slow-hash attacks".
MIN_SCORE = 3
#: zxcvbn refuses longer input; the first 72 characters decide (a long random tail cannot
#: rescue a guessable start, which is what an attacker's dictionary tries first).
_ZXCVBN_MAX = 72
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


def _personal_parts(email: str, names: tuple[str, ...]) -> list[str]:
    """The pieces of who the person is that a password must not contain."""
    parts = []
    email = email.strip().lower()
    if email:
        parts.append(email)
        local = email.partition("@")[0]
        if len(local) >= 3:
            parts.append(local)
    for name in names:
        name = name.strip().lower()
        # Chinese names are two or three characters: two suffice; Latin ones need three.
        if len(name) >= 3 or (len(name) == 2 and not name.isascii()):
            parts.append(name)
            parts.extend(p for p in name.split() if len(p) >= 3)
    return parts


def _guessability(password: str) -> int:
    """zxcvbn's score (0–4). zxcvbn's dictionaries take ≈ 12 MiB once loaded: imported by the
    first password check, not by every worker that never sees one (an export, a job)."""
    from zxcvbn import zxcvbn

    return int(zxcvbn(password)["score"])


def password_problems(password: str, *, email: str = "", names: tuple[str, ...] = ()) -> list[str]:
    """Why a new password is unacceptable (empty list when it is fine)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"at least {MIN_LENGTH} characters / 至少{MIN_LENGTH}个字符")
    if len(password) > MAX_LENGTH:
        problems.append(f"at most {MAX_LENGTH} characters / 最多{MAX_LENGTH}个字符")
    lowered = password.lower()
    if any(part in lowered for part in _personal_parts(email, names)):
        problems.append("must not contain your e-mail address or name / 不能包含您的邮箱或姓名")
    if not problems and _guessability(password[:_ZXCVBN_MAX]) < MIN_SCORE:
        problems.append(
            "too common or too easy to guess (add unrelated words) / "
            "密码过于常见或容易被猜到（请加入几个不相关的词）"
        )
    return problems
