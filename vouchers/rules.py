"""The voucher policy as pure arithmetic: no database, no Flask, no clock of its own.

* :func:`split_order` — how much of an order a voucher pays (POLICY.md rules 1 and 2):
  ``min(requested, floor(price × ceiling), voucher balance, remaining annual cap)``; the
  enterprise pays the rest. The two parts always add up to the price exactly.
* :func:`validate_amount` — amounts are positive whole fen below a sanity maximum.
* The state machines of applications, enterprise verification, vouchers, holds and the
  freezes of a blacklisting (:data:`APPLICATION`, :data:`VERIFICATION`, :data:`VOUCHER`,
  :data:`HOLD`, :data:`HOLD_FREEZE`).
* :func:`split_fen` — the funders' parts of a voucher part (largest remainder, ties to the
  first funder in share order), always adding up to the fen.
* Serial numbers with a check character, eligibility and budget-alert arithmetic.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from marketplace import regions
from marketplace.credit_code import CHARSET
from marketplace.enums import ServiceCategory, SizeClass
from marketplace.errors import DomainError
from marketplace.statemachine import StateMachine
from vouchers.enums import (
    ApplicationAction,
    ApplicationStatus,
    FreezeAction,
    FreezeStatus,
    HoldAction,
    HoldStatus,
    ProgrammeKind,
    VerificationStatus,
    VoucherAction,
    VoucherStatus,
)
from vouchers.errors import AmountInvalid, HoldNotOpen, InvalidTransition

BPS = 10_000
#: ¥10 billion: far above any programme budget; refuses typos and overflow long before BIGINT.
MAX_AMOUNT_FEN = 1_000_000_000_000


# --------------------------------------------------------------------------- amounts


def validate_amount(
    value: object, *, field: str = "amount_fen", maximum: int = MAX_AMOUNT_FEN
) -> int:
    """Return ``value`` if it is a whole number of fen in 1…maximum; raise AmountInvalid.

    Booleans, floats (even 100.0), strings and Decimals are refused: money is never
    rounded or coerced on the way in.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise AmountInvalid(
            f"金额必须是以分为单位的整数 / the amount must be a whole number of fen: {value!r}",
            field=field,
        )
    if value <= 0:
        raise AmountInvalid(f"金额必须大于零 / the amount must be positive: {value}", field=field)
    if value > maximum:
        raise AmountInvalid(
            f"金额超出允许的最大值 / the amount exceeds the maximum of {maximum} fen: {value}",
            field=field,
        )
    return value


def ceiling_fen(price_fen: int, ceiling_bps: int) -> int:
    """The most a voucher may pay of ``price_fen``, rounded down to the fen."""
    if price_fen < 0 or not 0 < ceiling_bps <= BPS:
        raise ValueError("price must be >= 0 and the ceiling in 1..10000 basis points")
    return price_fen * ceiling_bps // BPS


class Limit(enum.StrEnum):
    """Which bound decided the voucher part of an order."""

    REQUESTED = "requested"
    CEILING = "ceiling"
    BALANCE = "balance"
    CAP = "cap"


@dataclass(frozen=True, slots=True)
class Split:
    price_fen: int
    voucher_fen: int
    copay_fen: int
    limited_by: Limit


def split_order(
    *,
    price_fen: int,
    requested_fen: int,
    ceiling_bps: int,
    balance_fen: int,
    cap_remaining_fen: int,
) -> Split:
    """Split an order's price into the voucher part and the enterprise's co-payment.

    When the voucher part is zero, ``limited_by`` names the bound that is exhausted (the cap
    before the balance before the ceiling), so the caller can say why nothing was held.
    """
    for name, value in (
        ("price_fen", price_fen),
        ("requested_fen", requested_fen),
        ("balance_fen", balance_fen),
        ("cap_remaining_fen", cap_remaining_fen),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
    bounds = [
        (Limit.CAP, cap_remaining_fen),
        (Limit.BALANCE, balance_fen),
        (Limit.CEILING, ceiling_fen(price_fen, ceiling_bps)),
        (Limit.REQUESTED, requested_fen),
    ]
    voucher = min(value for _limit, value in bounds)
    limited_by = next(limit for limit, value in bounds if value == voucher)
    return Split(
        price_fen=price_fen,
        voucher_fen=voucher,
        copay_fen=price_fen - voucher,
        limited_by=limited_by,
    )


def cap_remaining(cap_fen: int, used_fen: int, held_fen: int) -> int:
    return max(0, cap_fen - used_fen - held_fen)


def issuance_headroom(cap_fen: int, used_fen: int, held_fen: int, outstanding_fen: int) -> int:
    """How much more voucher value an enterprise can usefully be issued against one cap in a
    year: the cap less what it used, holds, and still has unspent on live vouchers."""
    return max(0, cap_fen - used_fen - held_fen - outstanding_fen)


def budget_is_low(available_fen: int, total_fen: int, alert_bps: int) -> bool:
    """True when what is left is at or below ``alert_bps`` of the total budget."""
    return available_fen * BPS <= total_fen * alert_bps


def bps_of(part: int, whole: int) -> int:
    """``part / whole`` in basis points, rounded down (0 for an empty whole)."""
    return 0 if whole <= 0 else part * BPS // whole


def split_fen(amount_fen: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount_fen`` in proportion to ``weights``, to the fen: the largest-remainder
    rule. Each part is ``floor(amount × w / Σw)``; the fen left over go one each to the parts
    with the largest remainders, ties to the earlier weight (the funder first in share order).

    The parts always add up to ``amount_fen`` exactly, and a part never exceeds its exact
    quota rounded up. Split with the parts of a larger amount as ``weights`` (a partial
    capture of a hold split by its held parts), no part exceeds its weight either: a remainder
    fen only goes to a part whose quota is not whole, hence below its (whole) weight.
    Raises ValueError for a negative amount, a negative weight or weights summing to 0.
    """
    if isinstance(amount_fen, bool) or amount_fen < 0:
        raise ValueError("the amount to split must be ≥ 0 fen")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("weights must be ≥ 0 and sum to more than 0")
    total = sum(weights)
    parts = [amount_fen * w // total for w in weights]
    remainders = [amount_fen * w % total for w in weights]
    left = amount_fen - sum(parts)
    # Stable sort: among equal remainders the earlier weight comes first.
    for index in sorted(range(len(weights)), key=lambda i: -remainders[i])[:left]:
        parts[index] += 1
    return parts


# --------------------------------------------------------------------------- state machines
#
# One machine per entity; ``move`` is the only writer of its status (marketplace.statemachine).
#
#   application:  (new) ─submit→ submitted ─approve→ approved ←bulk_issue─ (new)
#                 submitted ─request_clarification→ clarification_requested ─clarify→ submitted
#                 submitted, clarification_requested ─reject→ rejected
#   verification: pending → verified | rejected; verified ⇄ rejected (the decision names the
#                 status it leads to, so the target status is the action)
#   voucher:      active ─exhaust→ exhausted ─replenish→ active; active, exhausted ─expire→
#                 expired; active, exhausted, expired ─revoke→ revoked
#   hold:         open ─capture→ captured ─reverse_capture→ released; open ─release→ released


def _application_refused(
    status: ApplicationStatus | None, action: ApplicationAction
) -> InvalidTransition:
    state = status.zh if status else "新申请"
    state_en = status.en.lower() if status else "new"
    return InvalidTransition(
        f"申请当前状态为“{state}”，不能执行“{action.zh}” / "
        f"cannot '{action.value}' an application that is {state_en}"
    )


#: A ``None`` state is a new application: submitted online, or issued in bulk (approved).
APPLICATION: StateMachine[ApplicationStatus, ApplicationAction] = StateMachine(
    "application",
    {
        (None, ApplicationAction.SUBMIT): ApplicationStatus.SUBMITTED,
        (None, ApplicationAction.BULK_ISSUE): ApplicationStatus.APPROVED,
        (ApplicationStatus.SUBMITTED, ApplicationAction.REQUEST_CLARIFICATION): (
            ApplicationStatus.CLARIFICATION_REQUESTED
        ),
        (ApplicationStatus.CLARIFICATION_REQUESTED, ApplicationAction.CLARIFY): (
            ApplicationStatus.SUBMITTED
        ),
        (ApplicationStatus.SUBMITTED, ApplicationAction.APPROVE): ApplicationStatus.APPROVED,
        (ApplicationStatus.SUBMITTED, ApplicationAction.REJECT): ApplicationStatus.REJECTED,
        (ApplicationStatus.CLARIFICATION_REQUESTED, ApplicationAction.REJECT): (
            ApplicationStatus.REJECTED
        ),
    },
    refuse=_application_refused,
)


def _verification_refused(
    status: VerificationStatus | None, decision: VerificationStatus
) -> InvalidTransition:
    assert status is not None  # an enterprise registers pending, never by a move
    return InvalidTransition(
        f"企业当前为“{status.zh}”，不能改为“{decision.zh}” / cannot go from "
        f"{status.value} to {decision.value}"
    )


#: A reviewer's decision is the status it leads to; a decision can be revised either way.
VERIFICATION: StateMachine[VerificationStatus, VerificationStatus] = StateMachine(
    "verification",
    {
        (VerificationStatus.PENDING, VerificationStatus.VERIFIED): VerificationStatus.VERIFIED,
        (VerificationStatus.PENDING, VerificationStatus.REJECTED): VerificationStatus.REJECTED,
        (VerificationStatus.REJECTED, VerificationStatus.VERIFIED): VerificationStatus.VERIFIED,
        (VerificationStatus.VERIFIED, VerificationStatus.REJECTED): VerificationStatus.REJECTED,
    },
    refuse=_verification_refused,
    attribute="verification_status",
)


def _voucher_refused(status: VoucherStatus | None, action: VoucherAction) -> InvalidTransition:
    assert status is not None  # vouchers are issued active, never by a move
    if status is VoucherStatus.REVOKED:
        # Revocation is final: whatever is asked of a revoked voucher gets the answer a
        # second revocation has always had.
        return InvalidTransition("电子券已被撤销 / the voucher is already revoked")
    return InvalidTransition(
        f"电子券当前为“{status.zh}”，不能执行“{action.value}” / "
        f"cannot {action.value} a voucher that is {status.en.lower()}"
    )


VOUCHER: StateMachine[VoucherStatus, VoucherAction] = StateMachine(
    "voucher",
    {
        (VoucherStatus.ACTIVE, VoucherAction.EXHAUST): VoucherStatus.EXHAUSTED,
        (VoucherStatus.EXHAUSTED, VoucherAction.REPLENISH): VoucherStatus.ACTIVE,
        (VoucherStatus.ACTIVE, VoucherAction.EXPIRE): VoucherStatus.EXPIRED,
        (VoucherStatus.EXHAUSTED, VoucherAction.EXPIRE): VoucherStatus.EXPIRED,
        # An expired voucher can still be revoked: its redeemed money is flagged for recovery.
        (VoucherStatus.ACTIVE, VoucherAction.REVOKE): VoucherStatus.REVOKED,
        (VoucherStatus.EXHAUSTED, VoucherAction.REVOKE): VoucherStatus.REVOKED,
        (VoucherStatus.EXPIRED, VoucherAction.REVOKE): VoucherStatus.REVOKED,
        # A blacklisting freezes what still carries money; lifting it makes it usable again
        # (exhausted again at once if nothing is left); a frozen voucher can still be revoked.
        (VoucherStatus.ACTIVE, VoucherAction.FREEZE): VoucherStatus.FROZEN,
        (VoucherStatus.EXHAUSTED, VoucherAction.FREEZE): VoucherStatus.FROZEN,
        (VoucherStatus.FROZEN, VoucherAction.UNFREEZE): VoucherStatus.ACTIVE,
        (VoucherStatus.FROZEN, VoucherAction.REVOKE): VoucherStatus.REVOKED,
    },
    refuse=_voucher_refused,
)


def freeze_machine(
    name: str, refuse: Callable[[FreezeStatus | None, FreezeAction], DomainError]
) -> StateMachine[FreezeStatus, FreezeAction]:
    """The one table of every freeze (a blacklisting's frozen order, a suspension's frozen
    claim line): decided once — released to the budget, let through, or lifted with its cause.
    Each domain names it and says no in its own words."""
    return StateMachine(
        name,
        {
            (FreezeStatus.FROZEN, FreezeAction.RELEASE): FreezeStatus.RELEASED,
            (FreezeStatus.FROZEN, FreezeAction.UNFREEZE): FreezeStatus.UNFROZEN,
            (FreezeStatus.FROZEN, FreezeAction.LIFT): FreezeStatus.LIFTED,
        },
        refuse=refuse,
    )


#: An order's frozen voucher money is decided once: back to the budget, or let through.
HOLD_FREEZE = freeze_machine(
    "hold_freeze",
    lambda status, action: InvalidTransition(
        f"该冻结已处理（{status.zh if status else '—'}） / this freeze was already decided "
        f"({status.value if status else 'new'}), cannot {action.value}"
    ),
)


def _hold_refused(status: HoldStatus | None, action: HoldAction) -> HoldNotOpen:
    assert status is not None  # holds are placed open, never by a move
    if action is HoldAction.REVERSE_CAPTURE:
        message = f"该冻结未核销，无需冲回 / the hold is {status.value}, not captured"
    else:
        message = f"该冻结已{status.zh}，不能再次处理 / the hold is already {status.value}"
    return HoldNotOpen(message, extra={"hold_status": status.value})


#: A hold is resolved once, by capture or release.
HOLD: StateMachine[HoldStatus, HoldAction] = StateMachine(
    "hold",
    {
        (HoldStatus.OPEN, HoldAction.CAPTURE): HoldStatus.CAPTURED,
        (HoldStatus.OPEN, HoldAction.RELEASE): HoldStatus.RELEASED,
        (HoldStatus.CAPTURED, HoldAction.REVERSE_CAPTURE): HoldStatus.RELEASED,
    },
    refuse=_hold_refused,
)


# --------------------------------------------------------------------------- eligibility


def eligibility_problems(
    *,
    region_prefix: str,
    eligible_size_classes: Iterable[str],
    eligible_categories: Iterable[str],
    region_code: str,
    size_class: SizeClass,
    planned_categories: Iterable[str] = (),
) -> list[str]:
    """Why an enterprise (or its planned services) does not fit a programme's rules; empty
    when it fits. Verification and the blacklist are checked separately (own error codes)."""
    problems = []
    if not region_code.startswith(region_prefix):
        registered, wanted = regions.label(region_code), regions.label(region_prefix)
        problems.append(
            f"注册地（{registered}）不在本券种的适用地区（{wanted}）内 / "
            f"registered in {registered} ({region_code}), outside the programme's region "
            f"{wanted} ({region_prefix})"
        )
    if size_class.value not in set(eligible_size_classes):
        problems.append(
            f"企业规模“{size_class.zh}”不在适用范围内 / size class '{size_class.en}' is not eligible"
        )
    funded = set(eligible_categories)
    outside = [c for c in planned_categories if c not in funded]
    if outside:
        labels = {c.value: c for c in ServiceCategory}
        zh = "、".join(labels[c].zh if c in labels else c for c in outside)
        en = ", ".join(labels[c].en if c in labels else c for c in outside)
        problems.append(f"本券种不支持以下服务类别：{zh} / the programme does not fund: {en}")
    return problems


def category_values() -> set[str]:
    return {c.value for c in ServiceCategory}


def size_class_values() -> set[str]:
    return {s.value for s in SizeClass}


_REGION_PREFIX = re.compile(r"^\d{2,6}$")


def region_prefix_problem(prefix: str) -> str | None:
    if not _REGION_PREFIX.match(prefix):
        return "2–6 digits of an administrative-division code / 须为2至6位行政区划代码"
    if not regions.is_known(prefix[:2]):
        return f"no province with code {prefix[:2]} / 省级代码 {prefix[:2]} 不存在"
    return None


# --------------------------------------------------------------------------- serial numbers

SERIAL_PREFIX = {ProgrammeKind.INNOVATION: "CX", ProgrammeKind.SERVICE: "FW"}
SERIAL_BODY_LENGTH = 8
_CHAR_VALUE = {c: i for i, c in enumerate(CHARSET)}
_MODULUS = len(CHARSET)  # 31, a prime
_SERIAL = re.compile(r"^(CX|FW)(\d{4})-([0-9A-Z]{8})-([0-9A-Z])$")


def serial_check_character(payload: str) -> str:
    """Weighted mod-31 check character over ``payload`` (credit-code alphabet).

    The check character carries weight 1 and the payload's characters 3¹, 3², …: powers of
    3, a primitive root mod 31, are distinct and non-zero for up to 30 positions, so every
    single-character error and every transposition of two different characters (the check
    character included) changes the weighted sum mod 31 and is detected.
    """
    total = sum(_CHAR_VALUE[c] * pow(3, i + 1, _MODULUS) for i, c in enumerate(payload))
    return CHARSET[(-total) % _MODULUS]


def make_serial(kind: ProgrammeKind, year: int, body: str) -> str:
    if len(body) != SERIAL_BODY_LENGTH or any(c not in _CHAR_VALUE for c in body):
        raise ValueError("serial body must be 8 characters of the credit-code alphabet")
    payload = f"{SERIAL_PREFIX[kind]}{year:04d}{body}"
    return f"{SERIAL_PREFIX[kind]}{year:04d}-{body}-{serial_check_character(payload)}"


def serial_is_valid(serial: str) -> bool:
    match = _SERIAL.match(serial.strip().upper())
    if not match:
        return False
    prefix, year, body, check = match.groups()
    payload = prefix + year + body
    if any(c not in _CHAR_VALUE for c in payload + check):
        return False
    return serial_check_character(payload) == check
