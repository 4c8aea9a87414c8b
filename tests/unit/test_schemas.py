"""Shared schema fields: money in fen, RFC 3339 times, credit codes, ids."""

import pytest
from marshmallow import Schema, ValidationError

from marketplace.schemas import MAX_ID, CreditCodeField, Fen, Id, StrictSchema, ZonedDateTime


class Sample(StrictSchema):
    amount = Fen()
    at = ZonedDateTime()
    code = CreditCodeField()
    ref = Id()


@pytest.mark.parametrize("value", [12.5, "100", True, -1])
def test_fen_refuses_floats_strings_booleans_and_negatives(value):
    with pytest.raises(ValidationError):
        Sample().load({"amount": value})


def test_fen_accepts_integers():
    assert Sample().load({"amount": 3_000_000}) == {"amount": 3_000_000}


@pytest.mark.parametrize(
    "value", ["2026-01-01T00:00:00Z", "2026-01-01t00:00:00z", "2026-06-30T23:59:60+08:00"]
)
def test_rfc3339_times_with_zone(value):
    assert Sample().load({"at": value})["at"].tzinfo is not None


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00", "2026-01-01", "yesterday"])
def test_times_without_zone_are_refused(value):
    with pytest.raises(ValidationError):
        Sample().load({"at": value})


def test_times_are_written_with_zone():
    class Out(Schema):
        at = ZonedDateTime()

    from datetime import UTC, datetime

    assert Out().dump({"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}) == {
        "at": "2026-01-02T03:04:05+00:00"
    }


def test_credit_codes_are_normalised_and_explained():
    assert Sample().load({"code": " 91350100m000100y43 "}) == {"code": "91350100M000100Y43"}
    with pytest.raises(ValidationError) as info:
        Sample().load({"code": "91350100M000100Y44"})
    assert "第18位" in info.value.messages["code"][0]


@pytest.mark.parametrize("value", [0, -3, MAX_ID + 1])
def test_ids_are_bounded(value):
    with pytest.raises(ValidationError):
        Sample().load({"ref": value})


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError) as info:
        Sample().load({"colour": "red"})
    assert "colour" in info.value.messages
