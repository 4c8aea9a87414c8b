"""Vocabularies of instrument booking, stored by value (named CHECK constraints on both
databases), and the actions of the booking machine (:data:`marketplace.instruments.rules.BOOKING`)."""

from __future__ import annotations

from enum import StrEnum

from marketplace.enums import LabelledEnum


class RateBasis(LabelledEnum):
    """What the instrument's listed rate is charged for."""

    HOUR = "hour", "按机时计费", "Per hour"
    SAMPLE = "sample", "按样品计费", "Per sample"


class BookingStatus(LabelledEnum):
    REQUESTED = "requested", "待确认", "Awaiting the provider"
    CONFIRMED = "confirmed", "已确认", "Confirmed"
    DECLINED = "declined", "已拒绝", "Declined"
    CANCELLED = "cancelled", "已取消", "Cancelled"
    USED = "used", "已使用", "Used"
    NO_SHOW = "no_show", "未到场", "No-show"


class BookingAction(StrEnum):
    REQUEST = "request"
    CONFIRM = "confirm"
    DECLINE = "decline"
    CANCEL = "cancel"
    RECORD_USE = "record_use"
    NO_SHOW = "no_show"
