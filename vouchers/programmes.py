"""Programmes: create and edit (rules frozen once vouchers exist), budget grants and changes
through the ledger, the budget overview with its low-budget alert.

Functions take the session first, flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.audit.services import record
from marketplace.errors import NotFound, PreconditionFailed, ValidationFailed
from vouchers import ledger, rules
from vouchers.common import fetch, refuse_nul
from vouchers.enums import AccountKind, CapScope, FundingBody, ProgrammeKind, TransactionKind
from vouchers.errors import (
    BudgetExceeded,
    DatesOutOfOrder,
    DuplicateProgramme,
    InsufficientFunds,
    ProgrammeRulesLocked,
)
from vouchers.ledger_models import LedgerAccount, LedgerTransaction
from vouchers.models import DEFAULT_ANNUAL_CAP_FEN, Programme, Voucher


@dataclass(frozen=True, slots=True)
class ProgrammeInput:
    kind: ProgrammeKind
    year: int
    name: str
    funding_body: FundingBody
    total_budget_fen: int
    cap_scope: CapScope
    annual_cap_fen: int
    ceiling_bps: int
    eligible_categories: list[str]
    eligible_size_classes: list[str]
    region_prefix: str
    applications_open_on: date
    applications_close_on: date
    use_by: date
    claim_deadline: date
    low_budget_alert_bps: int
    notice_days: int
    #: Enterprises under one controller share one annual cap (vouchers.quota.lock_group_quotas).
    #: Not a RULE_FIELD: tightening it mid-year only affects holds placed from then on.
    group_cap: bool = False


#: Fields that decide what an issued voucher is worth and to whom: frozen once vouchers exist.
RULE_FIELDS = (
    "kind",
    "year",
    "cap_scope",
    "annual_cap_fen",
    "ceiling_bps",
    "eligible_categories",
    "eligible_size_classes",
    "region_prefix",
    "use_by",
    "claim_deadline",
)


def _normalised(data: ProgrammeInput) -> dict[str, Any]:
    """Validate ``data``; return the column values. Raises AmountInvalid, ValidationFailed."""
    rules.validate_amount(data.total_budget_fen, field="total_budget_fen")
    rules.validate_amount(data.annual_cap_fen, field="annual_cap_fen")
    errors: dict[str, list[str]] = {}
    name = (data.name or "").strip()
    refuse_nul(name, "name")
    if not 2 <= len(name) <= 200:
        errors["name"] = ["2–200 characters / 2至200个字符"]
    if not 2000 <= data.year <= 2100:
        errors["year"] = ["between 2000 and 2100 / 须在2000至2100之间"]
    if not 1 <= data.ceiling_bps <= rules.BPS:
        errors["ceiling_bps"] = ["between 0.01% and 100% / 须在0.01%至100%之间"]
    if not 0 <= data.low_budget_alert_bps <= rules.BPS:
        errors["low_budget_alert_bps"] = ["between 0% and 100% / 须在0%至100%之间"]
    if not 0 <= data.notice_days <= 365:
        errors["notice_days"] = ["between 0 and 365 / 须在0至365之间"]
    categories = sorted(set(data.eligible_categories))
    if not categories or not set(categories) <= rules.category_values():
        errors["eligible_categories"] = [
            "choose at least one known category / 请至少选择一个服务类别"
        ]
    sizes = sorted(set(data.eligible_size_classes))
    if not sizes or not set(sizes) <= rules.size_class_values():
        errors["eligible_size_classes"] = [
            "choose at least one size class / 请至少选择一个企业规模"
        ]
    prefix = (data.region_prefix or "").strip()
    problem = rules.region_prefix_problem(prefix)
    if problem:
        errors["region_prefix"] = [problem]
    if errors:
        raise ValidationFailed("券种设置有误 / the programme settings are not valid", errors)
    for field, earlier, later, message in (
        (
            "applications_close_on",
            data.applications_open_on,
            data.applications_close_on,
            "申请截止日早于开始日 / applications would close before they open",
        ),
        (
            "use_by",
            data.applications_open_on,
            data.use_by,
            "使用截止日早于申请开始日 / vouchers would expire before applications open",
        ),
        (
            "claim_deadline",
            data.use_by,
            data.claim_deadline,
            "兑付申请截止日早于使用截止日 / the claim deadline would precede the use-by date",
        ),
    ):
        if later < earlier:
            raise DatesOutOfOrder(message, field=field)
    cap = data.annual_cap_fen if data.cap_scope is CapScope.PROGRAMME else DEFAULT_ANNUAL_CAP_FEN
    return {
        "kind": data.kind,
        "year": data.year,
        "name": name,
        "funding_body": data.funding_body,
        "total_budget_fen": data.total_budget_fen,
        "cap_scope": data.cap_scope,
        "annual_cap_fen": cap,
        "ceiling_bps": data.ceiling_bps,
        "eligible_categories": categories,
        "eligible_size_classes": sizes,
        "region_prefix": prefix,
        "applications_open_on": data.applications_open_on,
        "applications_close_on": data.applications_close_on,
        "use_by": data.use_by,
        "claim_deadline": data.claim_deadline,
        "low_budget_alert_bps": data.low_budget_alert_bps,
        "notice_days": data.notice_days,
        "group_cap": bool(data.group_cap),
    }


def programme_input_from(programme: Programme) -> ProgrammeInput:
    return ProgrammeInput(**{f.name: getattr(programme, f.name) for f in fields(ProgrammeInput)})


def _differs(programme: Programme, name: str, value: Any) -> bool:
    current = getattr(programme, name)
    if isinstance(value, list):
        # Lists of categories are sets: the order they were stored in does not matter.
        return sorted(current or []) != value
    return bool(current != value)


def get_programme(session: Session, programme_id: int) -> Programme:
    programme = fetch(session, Programme, programme_id)
    if programme is None:
        raise NotFound("没有该券种 / no such programme")
    return programme


def create_programme(
    session: Session, data: ProgrammeInput, *, actor_id: int | None, now: datetime | None = None
) -> Programme:
    """Create a programme and grant its budget in the ledger.

    Raises AmountInvalid, ValidationFailed, DuplicateProgramme.
    """
    values = _normalised(data)
    exists = session.scalar(
        sa.select(Programme.id).where(Programme.kind == data.kind, Programme.year == data.year)
    )
    if exists is not None:
        raise DuplicateProgramme(
            f"{data.year}年度已有{data.kind.zh} / a {data.kind.en.lower()} programme for "
            f"{data.year} already exists",
            field="year",
        )
    try:
        with session.begin_nested():
            programme = Programme(**values, version=1)
            session.add(programme)
            session.flush()
            ensure_funded(session, programme, actor_id=actor_id, now=now)
    except IntegrityError:
        raise DuplicateProgramme(
            "该年度已有同类券种 / a programme of this kind already exists for the year",
            field="year",
        ) from None
    record(
        session,
        "programme.created",
        actor_id=actor_id,
        subject_type="programme",
        subject_id=programme.id,
        budget_fen=programme.total_budget_fen,
    )
    return programme


def ensure_funded(
    session: Session,
    programme: Programme,
    *,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Grant the programme's budget in the ledger once (funding → available), keyed
    ``programme:<id>:budget:1``. Programmes created through :func:`create_programme` are funded
    at once; rows inserted by other means (older data, fixtures) are funded on first use."""
    key = f"programme:{programme.id}:budget:1"
    if session.scalar(
        sa.select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key)
    ):
        return
    accounts = ledger.programme_accounts(session, programme.id)
    ledger.post(
        session,
        key,
        TransactionKind.BUDGET,
        ledger.transfer(accounts.funding, accounts.available, programme.total_budget_fen),
        programme_id=programme.id,
        actor_id=actor_id,
        memo="initial budget",
        now=now,
    )


def has_vouchers(session: Session, programme_id: int) -> bool:
    return (
        session.scalar(sa.select(Voucher.id).where(Voucher.programme_id == programme_id).limit(1))
        is not None
    )


def update_programme(
    session: Session,
    programme_id: int,
    data: ProgrammeInput,
    *,
    expected_version: int,
    actor_id: int | None,
    now: datetime | None = None,
) -> Programme:
    """Edit a programme. Once it has issued vouchers its rules (RULE_FIELDS) are frozen; the
    name, budget, application window and alert settings stay editable. A budget change is
    posted to the ledger; it cannot fall below what is already committed or spent.

    Raises NotFound, PreconditionFailed, AmountInvalid, ValidationFailed,
    ProgrammeRulesLocked, BudgetExceeded, DuplicateProgramme.
    """
    values = _normalised(data)
    with session.begin_nested():
        programme = fetch(session, Programme, programme_id, lock=True)
        if programme is None:
            raise NotFound("没有该券种 / no such programme")
        if programme.version != expected_version:
            raise PreconditionFailed(
                "券种已被他人修改，请刷新后重试 / the programme changed since you loaded it; reload"
            )
        changed = [name for name, value in values.items() if _differs(programme, name, value)]
        locked = [name for name in changed if name in RULE_FIELDS]
        if locked and has_vouchers(session, programme.id):
            raise ProgrammeRulesLocked(
                "已发券的券种不能修改规则：" + ", ".join(locked) + " / vouchers were issued under "
                "these rules, which can no longer change: " + ", ".join(locked),
                extra={"fields": locked},
            )
        if ("kind" in changed or "year" in changed) and session.scalar(
            sa.select(Programme.id).where(
                Programme.kind == values["kind"],
                Programme.year == values["year"],
                Programme.id != programme.id,
            )
        ):
            raise DuplicateProgramme(
                "该年度已有同类券种 / a programme of this kind already exists for the year",
                field="year",
            )
        ensure_funded(session, programme, actor_id=actor_id, now=now)
        delta = values["total_budget_fen"] - programme.total_budget_fen
        new_version = programme.version + 1
        if delta:
            accounts = ledger.programme_accounts(session, programme.id)
            source, destination = (
                (accounts.funding, accounts.available)
                if delta > 0
                else (accounts.available, accounts.funding)
            )
            try:
                ledger.post(
                    session,
                    f"programme:{programme.id}:budget:{new_version}",
                    TransactionKind.BUDGET,
                    ledger.transfer(source, destination, abs(delta)),
                    programme_id=programme.id,
                    actor_id=actor_id,
                    memo=f"budget {programme.total_budget_fen} → {values['total_budget_fen']}",
                    now=now,
                )
            except InsufficientFunds:
                raise BudgetExceeded(
                    "预算不能低于已发放和已使用的金额 / the budget cannot fall below what is "
                    "already committed to vouchers or spent",
                    field="total_budget_fen",
                ) from None
        for name, value in values.items():
            setattr(programme, name, value)
        programme.version = new_version
        session.flush()
    record(
        session,
        "programme.updated",
        actor_id=actor_id,
        subject_type="programme",
        subject_id=programme.id,
        fields=changed,
    )
    return programme


@dataclass(frozen=True, slots=True)
class Budget:
    programme: Programme
    total_fen: int
    available_fen: int
    committed_fen: int
    spent_fen: int
    paid_out_fen: int
    vouchers: int

    @property
    def low(self) -> bool:
        return rules.budget_is_low(
            self.available_fen, self.total_fen, self.programme.low_budget_alert_bps
        )

    @property
    def available_bps(self) -> int:
        return rules.bps_of(self.available_fen, self.total_fen)


def budgets(session: Session, programme_ids: list[int] | None = None) -> list[Budget]:
    """Budget overview per programme, from the ledger's cached balances."""
    stmt = sa.select(Programme).order_by(Programme.year.desc(), Programme.kind)
    if programme_ids is not None:
        stmt = stmt.where(Programme.id.in_(programme_ids))
    programmes = list(session.scalars(stmt))
    sums: dict[tuple[int, AccountKind], int] = {}
    for programme_id, kind, total in session.execute(
        sa.select(
            LedgerAccount.programme_id, LedgerAccount.kind, sa.func.sum(LedgerAccount.balance_fen)
        ).group_by(LedgerAccount.programme_id, LedgerAccount.kind)
    ):
        sums[(programme_id, AccountKind(kind))] = int(total or 0)
    counts = dict(
        session.execute(
            sa.select(Voucher.programme_id, sa.func.count()).group_by(Voucher.programme_id)
        ).all()
    )
    return [
        Budget(
            programme=p,
            total_fen=sums.get((p.id, AccountKind.PROGRAMME_FUNDING), 0),
            available_fen=sums.get((p.id, AccountKind.BUDGET_AVAILABLE), 0),
            committed_fen=sums.get((p.id, AccountKind.BUDGET_COMMITTED), 0),
            spent_fen=sums.get((p.id, AccountKind.BUDGET_SPENT), 0),
            paid_out_fen=sums.get((p.id, AccountKind.PROVIDER_PAID), 0),
            vouchers=int(counts.get(p.id, 0)),
        )
        for p in programmes
    ]


def open_programmes(session: Session, today: date) -> list[Programme]:
    return list(
        session.scalars(
            sa.select(Programme)
            .where(
                Programme.applications_open_on <= today, Programme.applications_close_on >= today
            )
            .order_by(Programme.year.desc(), Programme.kind)
        )
    )
