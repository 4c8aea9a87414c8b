"""Pure normalisation of the attributes that reveal related parties.

Each function turns what people type into the one form two records must share to match:
``+86 138-0013-8000`` and ``13800138000`` are one phone; ``云南省昆明市五华区 学府路 1 号`` and
``云南省昆明市五华区学府路1号`` one address. A value too short to identify anyone (or an e-mail
at a public mail service, which millions share) normalises to ``None`` and is not indexed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from marketplace.parties.enums import AttributeKind

#: Mail services open to the public: sharing one says nothing about who controls a firm.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "qq.com", "vip.qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "vip.163.com",
        "188.com", "sina.com", "sina.cn", "vip.sina.com", "sohu.com", "139.com", "189.cn",
        "wo.cn", "21cn.com", "tom.com", "aliyun.com", "gmail.com", "outlook.com", "hotmail.com",
        "live.com", "msn.com", "yahoo.com", "icloud.com", "me.com", "proton.me",
        "protonmail.com",
    }
)  # fmt: skip

_NON_DIGIT = re.compile(r"\D")
#: Whitespace and punctuation (ASCII and CJK) carry no meaning in an address.
_ADDRESS_NOISE = re.compile(r"[\s,，.。;；:：、\-—_·()（）\[\]【】#＃\"'“”‘’/\\]+")
_ID_NUMBER = re.compile(r"\d{17}[\dX]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def phone_key(text: str | None) -> str | None:
    """Digits only, without the country code (+86 / 0086) — at least 7 digits left."""
    digits = _NON_DIGIT.sub("", text or "")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 11:
            digits = digits[len(prefix) :]
            break
    return digits if len(digits) >= 7 else None


def bank_key(text: str | None) -> str | None:
    """Digits only (accounts are typed in groups); at least 8 digits."""
    digits = _NON_DIGIT.sub("", text or "")
    return digits if len(digits) >= 8 else None


def address_key(text: str | None) -> str | None:
    """Full-width folded (NFKC), lower-cased, without whitespace or punctuation, and without
    the province prefix people sometimes omit; at least 6 characters left."""
    folded = unicodedata.normalize("NFKC", text or "").lower()
    folded = _ADDRESS_NOISE.sub("", folded)
    folded = folded.removeprefix("云南省").removeprefix("云南")
    return folded if len(folded) >= 6 else None


def email_domain_key(address: str | None) -> str | None:
    """The domain of an e-mail address, unless it is a public mail service."""
    text = (address or "").strip().lower()
    if "@" not in text:
        return None
    domain = text.rpartition("@")[2].strip(".")
    if not domain or "." not in domain or domain in PUBLIC_MAIL_DOMAINS:
        return None
    return domain


def clean_id_number(text: str | None) -> str | None:
    """A resident identity number (GB 11643-1999: 18 characters, ISO 7064 check) in upper case,
    or None when it is not one."""
    value = (text or "").strip().upper().replace(" ", "")
    if not _ID_NUMBER.fullmatch(value):
        return None
    total = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return value if _ID_CHECK[total % 11] == value[17] else None


def keyed_hash(key: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under the deployment's key: equal numbers give equal hashes,
    but the number cannot be recovered (nor guessed by hashing all birth dates) without the
    key."""
    return hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()


def index_key(kind: AttributeKind, raw: str | None) -> str | None:
    """The indexed form of one raw value (legal representatives are indexed by their hash,
    computed by the caller)."""
    if kind is AttributeKind.PHONE:
        return phone_key(raw)
    if kind is AttributeKind.BANK_ACCOUNT:
        return bank_key(raw)
    if kind is AttributeKind.ADDRESS:
        return address_key(raw)
    if kind is AttributeKind.EMAIL_DOMAIN:
        return email_domain_key(raw)
    return (raw or "").strip() or None
