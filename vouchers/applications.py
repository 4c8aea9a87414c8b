"""Applications for vouchers and their review; issuing a voucher commits programme budget.

State machine: :data:`vouchers.rules.APPLICATION`, moved only by :func:`_transition`. Every
change appends an :class:`~vouchers.models.ApplicationEvent` (the history) and an audit event.

Approval locks the application row, then the enterprise's quota row for the programme's year
(so two approvals for one enterprise cannot both use the same cap headroom), then posts the
issue to the ledger, whose conditional UPDATE on ``budget_available`` refuses to go below zero:
the budget can never be over-committed, however many reviewers approve at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace import clock
from marketplace.audit.services import record
from marketplace.credit_code import CHARSET
from marketplace.db import utcnow
from marketplace.errors import NotFound, ValidationFailed
from vouchers import ledger, rules
from vouchers.common import MAX_ID, MAX_TEXT, clean_text, fetch, refuse_nul
from vouchers.enterprises import get_enterprise
from vouchers.enums import (
    ApplicationAction,
    ApplicationSource,
    ApplicationStatus,
    TransactionKind,
    VoucherStatus,
)
from vouchers.errors import (
    AmountAboveRequest,
    BudgetExceeded,
    CapExceeded,
    DuplicateApplication,
    InsufficientFunds,
    NotEligible,
    ProgrammeClosed,
)
from vouchers.holds import check_enterprise_may_use
from vouchers.models import Application, ApplicationEvent, Enterprise, Programme, Voucher
from vouchers.programmes import ensure_funded, get_programme
from vouchers.quota import lock_quota, outstanding_in_scope, scope_of


@dataclass(frozen=True, slots=True)
class ApplicationInput:
    requested_fen: int
    planned_categories: list[str]
    plan: str


def _event(
    session: Session,
    application: Application,
    action: ApplicationAction,
    from_status: ApplicationStatus | None,
    *,
    actor_id: int | None,
    note: str | None = None,
    amount_fen: int | None = None,
    now: datetime,
) -> None:
    session.add(
        ApplicationEvent(
            application_id=application.id,
            action=action,
            from_status=from_status,
            to_status=application.status,
            amount_fen=amount_fen,
            note=note or None,
            actor_id=actor_id,
            created_at=now,
        )
    )
    session.flush()
    record(
        session,
        f"application.{action.value}",
        actor_id=actor_id,
        subject_type="application",
        subject_id=application.id,
        from_status=from_status.value if from_status else None,
        to_status=application.status.value,
        amount_fen=amount_fen,
    )


def check_eligible(programme: Programme, enterprise: Enterprise, planned: list[str]) -> None:
    """Raise EnterpriseBlacklisted, EnterpriseUnverified or NotEligible."""
    check_enterprise_may_use(enterprise)
    problems = rules.eligibility_problems(
        region_prefix=programme.region_prefix,
        eligible_size_classes=programme.eligible_size_classes,
        eligible_categories=programme.eligible_categories,
        region_code=enterprise.region_code,
        size_class=enterprise.size_class,
        planned_categories=planned,
    )
    if problems:
        raise NotEligible("；".join(problems), extra={"reasons": problems})


def available_budget(session: Session, programme: Programme) -> int:
    ensure_funded(session, programme)
    return ledger.balance_of(session, ledger.programme_accounts(session, programme.id).available)


def apply(
    session: Session,
    enterprise_id: int,
    programme_id: int,
    data: ApplicationInput,
    *,
    actor_id: int | None,
    now: datetime | None = None,
) -> Application:
    """Submit an application. Raises AmountInvalid, ValidationFailed, EnterpriseBlacklisted,
    EnterpriseUnverified, ProgrammeClosed, NotEligible, CapExceeded, BudgetExceeded,
    DuplicateApplication, NotFound."""
    now = now or utcnow()
    rules.validate_amount(data.requested_fen, field="requested_fen")
    errors: dict[str, list[str]] = {}
    plan = (data.plan or "").strip()
    refuse_nul(plan, "plan")
    if not 10 <= len(plan) <= MAX_TEXT:
        errors["plan"] = [f"10–{MAX_TEXT} characters / 请用10至{MAX_TEXT}字说明计划"]
    planned = sorted(set(data.planned_categories or []))
    if not planned or not set(planned) <= rules.category_values():
        errors["planned_categories"] = [
            "choose the services you plan to buy / 请选择计划购买的服务"
        ]
    if errors:
        raise ValidationFailed("申请信息有误 / the application is not valid", errors)
    enterprise = get_enterprise(session, enterprise_id)
    programme = get_programme(session, programme_id)
    check_enterprise_may_use(enterprise)
    today = clock.local_date(now)
    if not programme.is_open_on(today):
        raise ProgrammeClosed(
            f"“{programme.name}”的申请期为 {programme.applications_open_on} 至 "
            f"{programme.applications_close_on} / applications are open from "
            f"{programme.applications_open_on} to {programme.applications_close_on}"
        )
    check_eligible(programme, enterprise, planned)
    cap = scope_of(programme).cap_fen
    if data.requested_fen > cap:
        raise CapExceeded(
            f"申请金额超过每户年度上限 {cap} 分 / the amount is above the annual cap of {cap} fen",
            field="requested_fen",
            extra={"cap_fen": cap},
        )
    if data.requested_fen > available_budget(session, programme):
        raise BudgetExceeded(
            "申请金额超过券种剩余预算 / the amount is above the programme's remaining budget",
            field="requested_fen",
        )
    live = session.scalar(
        sa.select(Application.id).where(
            Application.enterprise_id == enterprise.id,
            Application.live_programme_id == programme.id,
        )
    )
    if live is not None:
        raise DuplicateApplication(
            "已申请过该券种 / the enterprise already has an application for this programme",
            extra={"application_id": live},
        )
    try:
        with session.begin_nested():
            application = Application(
                enterprise_id=enterprise.id,
                programme_id=programme.id,
                live_programme_id=programme.id,
                status=rules.APPLICATION.next(None, ApplicationAction.SUBMIT),
                source=ApplicationSource.ONLINE,
                requested_fen=data.requested_fen,
                planned_categories=planned,
                plan=plan,
                version=1,
                created_at=now,
                updated_at=now,
            )
            session.add(application)
            session.flush()
            _event(
                session,
                application,
                ApplicationAction.SUBMIT,
                None,
                actor_id=actor_id,
                amount_fen=data.requested_fen,
                now=now,
            )
    except IntegrityError:
        raise DuplicateApplication(
            "已申请过该券种 / the enterprise already has an application for this programme"
        ) from None
    return application


def get_application(
    session: Session, application_id: int, *, enterprise_id: int | None = None
) -> Application:
    """The application; with ``enterprise_id``, only if it belongs to that enterprise
    (another enterprise's application is NotFound, so ids do not leak)."""
    application = fetch(session, Application, application_id)
    if application is None or (
        enterprise_id is not None and application.enterprise_id != enterprise_id
    ):
        raise NotFound("没有该申请 / no such application")
    return application


def _lock_application(
    session: Session, application_id: int, *, enterprise_id: int | None = None
) -> Application:
    if not 0 < application_id <= MAX_ID:
        raise NotFound("没有该申请 / no such application")
    application = session.scalars(
        sa.select(Application)
        .where(Application.id == application_id)
        .with_for_update(of=Application)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if application is None or (
        enterprise_id is not None and application.enterprise_id != enterprise_id
    ):
        raise NotFound("没有该申请 / no such application")
    return application


def _transition(
    session: Session,
    application: Application,
    action: ApplicationAction,
    *,
    actor_id: int | None,
    note: str | None,
    now: datetime,
    amount_fen: int | None = None,
) -> None:
    """Move a **locked** application by ``action``: status, version, history, audit.

    The one place an application's status changes. Raises InvalidTransition (nothing changed).
    """
    before, after = rules.APPLICATION.move(application, action)
    if after is ApplicationStatus.REJECTED:
        # A rejected application no longer blocks a new one for the same programme.
        application.live_programme_id = None
    application.version += 1
    application.updated_at = now
    _event(
        session,
        application,
        action,
        before,
        actor_id=actor_id,
        note=note,
        amount_fen=amount_fen,
        now=now,
    )


def request_clarification(
    session: Session,
    application_id: int,
    *,
    question: str,
    actor_id: int | None,
    now: datetime | None = None,
) -> Application:
    """Ask the enterprise a question. Raises ReasonRequired, InvalidTransition, NotFound."""
    now = now or utcnow()
    cleaned = clean_text(question, "question")
    with session.begin_nested():
        application = _lock_application(session, application_id)
        _transition(
            session,
            application,
            ApplicationAction.REQUEST_CLARIFICATION,
            actor_id=actor_id,
            note=cleaned,
            now=now,
        )
        application.clarification_question = cleaned
    return application


def respond_to_clarification(
    session: Session,
    application_id: int,
    *,
    enterprise_id: int,
    response: str,
    actor_id: int | None,
    now: datetime | None = None,
) -> Application:
    """The enterprise answers; the application goes back to review.

    Raises ReasonRequired, InvalidTransition, NotFound (also for another enterprise's)."""
    now = now or utcnow()
    cleaned = clean_text(response, "response")
    with session.begin_nested():
        application = _lock_application(session, application_id, enterprise_id=enterprise_id)
        _transition(
            session,
            application,
            ApplicationAction.CLARIFY,
            actor_id=actor_id,
            note=cleaned,
            now=now,
        )
        application.clarification_question = None
    return application


def reject(
    session: Session,
    application_id: int,
    *,
    reason: str,
    actor_id: int | None,
    now: datetime | None = None,
) -> Application:
    """Reject with a mandatory reason. Raises ReasonRequired, InvalidTransition, NotFound."""
    now = now or utcnow()
    cleaned = clean_text(reason, "reason")
    with session.begin_nested():
        application = _lock_application(session, application_id)
        _transition(
            session, application, ApplicationAction.REJECT, actor_id=actor_id, note=cleaned, now=now
        )
        application.decision_reason = cleaned
        application.decided_at = now
        application.clarification_question = None
    return application


def approve(
    session: Session,
    application_id: int,
    *,
    amount_fen: int | None = None,
    actor_id: int | None,
    note: str | None = None,
    now: datetime | None = None,
) -> Voucher:
    """Approve (the requested amount, or less) and issue the voucher.

    Raises AmountInvalid, AmountAboveRequest, InvalidTransition, EnterpriseBlacklisted,
    EnterpriseUnverified, NotEligible, ProgrammeClosed (past use-by), CapExceeded,
    BudgetExceeded, NotFound. Nothing is written when it raises.
    """
    now = now or utcnow()
    if amount_fen is not None:
        rules.validate_amount(amount_fen)
    cleaned = clean_text(note, "note", required=False) or None
    with session.begin_nested():
        application = _lock_application(session, application_id)
        # Refused before anything else is checked or a voucher issued.
        rules.APPLICATION.next(application.status, ApplicationAction.APPROVE)
        amount = application.requested_fen if amount_fen is None else amount_fen
        if amount > application.requested_fen:
            raise AmountAboveRequest(
                f"批准金额不能超过申请金额 {application.requested_fen} 分 / cannot approve more than "
                f"the {application.requested_fen} fen requested",
                field="amount_fen",
            )
        check_eligible(application.programme, application.enterprise, [])
        voucher = issue_voucher(session, application, amount, actor_id=actor_id, now=now)
        # Before the move: CHECK approved_has_amount ties the amount to the approved status.
        application.approved_fen = amount
        application.decided_at = now
        application.decision_reason = cleaned
        _transition(
            session,
            application,
            ApplicationAction.APPROVE,
            actor_id=actor_id,
            note=cleaned,
            now=now,
            amount_fen=amount,
        )
    return voucher


def _new_serial(session: Session, programme: Programme) -> str:
    while True:
        body = "".join(secrets.choice(CHARSET) for _ in range(rules.SERIAL_BODY_LENGTH))
        serial = rules.make_serial(programme.kind, programme.year, body)
        if session.scalar(sa.select(Voucher.id).where(Voucher.serial == serial)) is None:
            return serial


def issue_voucher(
    session: Session,
    application: Application,
    amount_fen: int,
    *,
    actor_id: int | None,
    now: datetime,
) -> Voucher:
    """Create the voucher for a (locked) application and commit its budget in the ledger.

    The caller holds the application's row lock and runs inside a savepoint. Raises
    ProgrammeClosed, CapExceeded, BudgetExceeded.
    """
    programme = application.programme
    today = clock.local_date(now)
    if today > programme.use_by:
        raise ProgrammeClosed(
            f"券种使用期已于 {programme.use_by} 结束 / the programme's vouchers could be used "
            f"until {programme.use_by}"
        )
    ensure_funded(session, programme, actor_id=actor_id, now=now)
    quota = lock_quota(session, application.enterprise_id, programme.year, programme)
    headroom = rules.issuance_headroom(
        quota.cap_fen,
        quota.used_fen,
        quota.held_fen,
        outstanding_in_scope(session, application.enterprise_id, programme.year, programme),
    )
    if amount_fen > headroom:
        raise CapExceeded(
            f"超过企业{programme.year}年度可用额度（尚可发放 {headroom} 分） / above the "
            f"enterprise's annual cap for {programme.year}: at most {headroom} fen more",
            field="amount_fen",
            extra={"headroom_fen": headroom, "cap_fen": quota.cap_fen},
        )
    voucher = Voucher(
        serial=_new_serial(session, programme),
        programme_id=programme.id,
        enterprise_id=application.enterprise_id,
        application_id=application.id,
        status=VoucherStatus.ACTIVE,
        face_value_fen=amount_fen,
        balance_fen=amount_fen,
        held_fen=0,
        used_fen=0,
        returned_fen=0,
        valid_from=min(today, programme.use_by),
        use_by=programme.use_by,
        claim_deadline=programme.claim_deadline,
        token_nonce=secrets.token_hex(8),
        issued_at=now,
    )
    session.add(voucher)
    session.flush()
    prog = ledger.programme_accounts(session, programme.id)
    accounts = ledger.voucher_accounts(session, programme.id, voucher.id)
    try:
        ledger.post(
            session,
            f"issue:application:{application.id}",
            TransactionKind.ISSUE,
            ledger.transfer(prog.available, prog.committed, amount_fen)
            + ledger.transfer(prog.issued, accounts.balance, amount_fen),
            programme_id=programme.id,
            voucher_id=voucher.id,
            actor_id=actor_id,
            memo=f"voucher {voucher.serial}",
            now=now,
        )
    except InsufficientFunds:
        raise BudgetExceeded(
            "券种剩余预算不足 / not enough programme budget left for this amount",
            field="amount_fen",
        ) from None
    record(
        session,
        "voucher.issued",
        actor_id=actor_id,
        subject_type="voucher",
        subject_id=voucher.id,
        serial=voucher.serial,
        amount_fen=amount_fen,
        application_id=application.id,
    )
    return voucher
