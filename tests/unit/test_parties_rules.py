"""Normalisation of the attributes that reveal related parties (marketplace.parties.rules)."""

from __future__ import annotations

import pytest

from marketplace.parties import rules
from marketplace.parties.enums import AttributeKind


def id_number(body17: str) -> str:
    """A resident identity number with its GB 11643 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(body17, weights, strict=True))
    return body17 + "10X98765432"[total % 11]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("(0871) 6512 3456", "087165123456"),
        ("8613800138000", "13800138000"),
        ("12345", None),
        (None, None),
    ],
)
def test_phones_reduce_to_their_digits_without_the_country_code(raw, key):
    assert rules.phone_key(raw) == key


def test_addresses_ignore_spacing_punctuation_width_and_the_province():
    a = rules.address_key("云南省昆明市五华区 学府路 1 号，A座")
    b = rules.address_key("昆明市五华区学府路１号A座")
    assert a == b == "昆明市五华区学府路1号a座"
    assert rules.address_key("昆明") is None
    assert rules.address_key("昆明市五华区学府路2号A座") != a


def test_bank_accounts_are_digits_and_short_numbers_identify_nobody():
    assert rules.bank_key("6228 4800 1234 5670 001") == "6228480012345670001"
    assert rules.bank_key("1234-567") is None


def test_email_domains_except_public_mail_services():
    assert rules.email_domain_key("Zhang@Lab.Example.CN ") == "lab.example.cn"
    for public in ("a@qq.com", "b@163.com", "c@GMAIL.com", "d@foxmail.com"):
        assert rules.email_domain_key(public) is None
    assert rules.email_domain_key("not-an-address") is None


def test_identity_numbers_need_the_check_character():
    good = id_number("53010219900101123")
    assert rules.clean_id_number(good.lower()) == good
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert rules.clean_id_number(wrong) is None
    assert rules.clean_id_number("5301021990") is None


def test_keyed_hash_depends_on_the_key():
    number = id_number("53010219900101123")
    assert rules.keyed_hash("k1", number) == rules.keyed_hash("k1", number)
    assert rules.keyed_hash("k1", number) != rules.keyed_hash("k2", number)
    assert number not in rules.keyed_hash("k1", number)


def test_index_key_dispatches_by_kind():
    assert rules.index_key(AttributeKind.PHONE, "138 0013 8000") == "13800138000"
    assert rules.index_key(AttributeKind.LEGAL_REPRESENTATIVE, " abc ") == "abc"
    assert rules.index_key(AttributeKind.EMAIL_DOMAIN, "x@qq.com") is None
