"""Pure provider policy: reasons, notice arithmetic, qualification numbers, completeness per
institution type, accreditation lapse. The state machines have their own table tests
(``test_*_machine.py``)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from marketplace.enums import InstitutionType, ServiceCategory
from marketplace.errors import ReasonRequired
from providers import rules
from providers.enums import AccreditationLevel, DocumentKind, QualificationKind
from providers.errors import InvalidQualification


def test_a_required_reason_cannot_be_blank():
    with pytest.raises(ReasonRequired) as caught:
        rules.clean_reason("   ", required=True)
    assert (caught.value.code, caught.value.status) == ("reason_required", 422)
    assert rules.clean_reason("  理由  ", required=True) == "理由"


def test_reasons_have_a_length_limit():
    with pytest.raises(ReasonRequired):
        rules.clean_reason("长" * (rules.MAX_REASON_LENGTH + 1), required=False)
    assert rules.clean_reason("", required=False) is None


def test_notice_days_take_the_longest_programme_or_seven():
    assert rules.notice_days([]) == 7
    assert rules.notice_days([7, 12, 3]) == 12
    assert rules.notice_days([0]) == 0


def test_notice_window_is_inclusive():
    start = date(2026, 6, 1)
    first, last = rules.notice_window(start, 7)
    assert (first, last) == (start, date(2026, 6, 7))
    assert rules.notice_running(last, first, last)
    assert not rules.notice_over(last, last)
    assert rules.notice_over(last + timedelta(days=1), last)
    assert not rules.notice_running(first - timedelta(days=1), first, last)
    # No notice at all: over the same day.
    first, last = rules.notice_window(start, 0)
    assert rules.notice_over(start, last) and not rules.notice_running(start, first, last)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (QualificationKind.CMA, "1923 1205 0123", "192312050123"),
        (QualificationKind.CNAS, "CNAS L1234", "CNAS L1234"),
        (QualificationKind.CNAS, "l12345", "CNAS L12345"),
        (QualificationKind.CNAS, "cnas-I0042", "CNAS I0042"),
        (QualificationKind.PATENT_AGENCY, " 53101 ", "53101"),
    ],
)
def test_qualification_numbers_are_normalised(kind, raw, expected):
    assert rules.normalise_qualification(kind, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (QualificationKind.CMA, "12345"),
        (QualificationKind.CMA, "CNAS L1234"),
        (QualificationKind.CNAS, "CNAS X1234"),
        (QualificationKind.CNAS, "L12"),
        (QualificationKind.PATENT_AGENCY, "5310"),
        (QualificationKind.PATENT_AGENCY, ""),
    ],
)
def test_invalid_qualification_numbers(kind, raw):
    with pytest.raises(InvalidQualification) as caught:
        rules.normalise_qualification(kind, raw)
    assert caught.value.code == "invalid_qualification" and "number" in caught.value.errors


def test_bank_accounts():
    assert rules.normalise_bank_account("2502 0100-0900 0012 345") == "2502010009000012345"
    assert rules.normalise_bank_account("1234567") is None
    assert rules.normalise_bank_account("62220abc00") is None


def _facts(**overrides):
    values = {
        "institution_type": InstitutionType.CONSULTING_FIRM,
        "accreditation_level": AccreditationLevel.MUNICIPAL,
        "categories": [ServiceCategory.CONSULTING],
        "contact_name": "联系人",
        "contact_phone": "0871-1234567",
        "contact_email": "a@b.cn",
        "bank_account_name": "某公司",
        "bank_name": "某银行",
        "bank_account_number": "1234567890",
        "qualifications": frozenset(),
        "valid_documents": frozenset({DocumentKind.BUSINESS_LICENCE}),
        "commitment_signed": True,
        "programmes_applied": 1,
    }
    values.update(overrides)
    return rules.ApplicationFacts(**values)


def test_a_complete_consulting_firm_has_no_problems():
    assert rules.application_problems(_facts()) == {}


def test_laboratories_need_cma_or_cnas_and_the_certificate():
    lab = _facts(
        institution_type=InstitutionType.TESTING_CENTRE,
        qualifications=frozenset(),
    )
    assert "qualifications" in rules.application_problems(lab)
    lab = _facts(
        institution_type=InstitutionType.TESTING_CENTRE,
        qualifications=frozenset({QualificationKind.CNAS}),
    )
    assert rules.application_problems(lab) == {
        "documents": ["请上传有效的CNAS 认可证书 / upload a valid CNAS certificate"]
    }


def test_key_laboratories_also_need_their_accreditation_certificate():
    lab = _facts(
        institution_type=InstitutionType.KEY_LABORATORY,
        qualifications=frozenset({QualificationKind.CMA}),
        valid_documents=frozenset({DocumentKind.BUSINESS_LICENCE, DocumentKind.CMA_CERTIFICATE}),
    )
    assert list(rules.application_problems(lab)) == ["documents"]


def test_ip_agencies_need_the_patent_agency_licence():
    agency = _facts(institution_type=InstitutionType.IP_AGENCY)
    assert "qualifications" in rules.application_problems(agency)


def test_missing_everything_is_reported_field_by_field():
    problems = rules.application_problems(
        _facts(
            accreditation_level=None,
            categories=[],
            contact_phone="",
            bank_name=None,
            valid_documents=frozenset(),
            commitment_signed=False,
            programmes_applied=0,
        )
    )
    assert set(problems) == {
        "accreditation_level",
        "service_categories",
        "contact",
        "bank_account",
        "documents",
        "commitment",
        "programmes",
    }


def test_accreditation_lapses_only_when_no_copy_of_a_kind_is_valid():
    today = date(2026, 6, 1)
    old, new = today - timedelta(days=1), today + timedelta(days=100)
    assert rules.lapsed_documents([(DocumentKind.CMA_CERTIFICATE, old)], today) == {
        DocumentKind.CMA_CERTIFICATE: old
    }
    assert (
        rules.lapsed_documents(
            [(DocumentKind.CMA_CERTIFICATE, old), (DocumentKind.CMA_CERTIFICATE, new)], today
        )
        == {}
    )
    assert rules.lapsed_documents([(DocumentKind.CMA_CERTIFICATE, today)], today) == {}
    assert (
        rules.lapsed_documents(
            [(DocumentKind.PATENT_AGENCY_LICENCE, old), (DocumentKind.PATENT_AGENCY_LICENCE, None)],
            today,
        )
        == {}
    )
    # A business licence is not an accreditation; its expiry does not suspend anyone.
    assert rules.lapsed_documents([(DocumentKind.BUSINESS_LICENCE, old)], today) == {}


def test_the_commitment_digest_identifies_the_text():
    assert rules.commitment_digest() == rules.commitment_digest(rules.COMMITMENT_TEXT)
    assert rules.commitment_digest("其他文本") != rules.commitment_digest()
    assert "信用承诺书" in rules.COMMITMENT_TEXT
