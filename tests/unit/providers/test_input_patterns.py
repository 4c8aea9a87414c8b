"""The API's patterns say exactly what the services accept (the OpenAPI document must not
promise what a service then refuses)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from providers.credit import evaluator_key
from providers.enums import QualificationKind
from providers.errors import InvalidQualification
from providers.rules import (
    BANK_ACCOUNT_INPUT,
    EMAIL_INPUT,
    PERIOD_INPUT,
    QUALIFICATION_INPUTS,
    normalise_bank_account,
    normalise_period,
    normalise_qualification,
)
from providers.schemas import ObjectionIn, ProfileIn, nonblank

TEXT = st.text(alphabet=st.characters(exclude_characters="\x00"), max_size=30)
SPACED_DIGITS = st.text(alphabet="0123456789 -\t", max_size=40)


@given(TEXT, st.integers(1, 12))
def test_nonblank_means_the_stripped_length(text, minimum):
    assert bool(re.match(nonblank(minimum), text)) == (len(text.strip()) >= minimum)


@given(st.one_of(TEXT, SPACED_DIGITS, st.from_regex(BANK_ACCOUNT_INPUT, fullmatch=True)))
def test_bank_account_pattern_is_what_normalisation_accepts(text):
    accepted = bool(re.match(BANK_ACCOUNT_INPUT, text))
    if text.strip():
        assert accepted == (normalise_bank_account(text) is not None)
    else:
        assert accepted


@given(
    st.sampled_from(list(QualificationKind)),
    st.one_of(SPACED_DIGITS, TEXT, st.just("cnas-l1234")),
)
def test_qualification_patterns_are_what_normalisation_accepts(kind, text):
    try:
        normalise_qualification(kind, text)
        normalised = True
    except InvalidQualification:
        normalised = False
    assert normalised == bool(re.match(QUALIFICATION_INPUTS[kind], text))


def test_schemas_refuse_what_services_would():
    assert ProfileIn().validate({"version": 1, "contact_email": "not-an-email"})
    assert not ProfileIn().validate({"version": 1, "contact_email": " a@b.cn "})
    assert re.match(EMAIL_INPUT, "张@例子.中国")
    errors = ObjectionIn().validate(
        {"objector_name": " 王 ", "objector_contact": "   138   ", "grounds": " " * 20}
    )
    assert set(errors) == {"objector_name", "objector_contact", "grounds"}


PERIODS = st.from_regex(r"\s*[0-9]{4}(-[HhQq][0-9])?\s*", fullmatch=True)


@given(st.one_of(TEXT, PERIODS))
def test_period_pattern_is_what_assessments_accept(text):
    period = normalise_period(text)
    assert (period is not None) == bool(re.match(PERIOD_INPUT, text))
    if period is not None:
        assert re.fullmatch(r"[0-9]{4}(-(H[12]|Q[1-4]))?", period)


@given(TEXT)
def test_evaluator_names_keep_the_lengths_the_schema_checks(text):
    # The schema counts the trimmed length (2–200); the stored key is never shorter or longer.
    key = evaluator_key(text)
    stripped = text.strip()
    assert len(key) <= len(stripped)
    assert (len(key) >= 2) == (len(stripped) >= 2)
