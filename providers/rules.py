"""Pure policy of the provider domain: its state machines, the public notice, qualification
numbers, what a complete application holds, and accreditation lapse.

Nothing here touches the database; services gather the facts and call these functions.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from marketplace.enums import InstitutionType, ServiceCategory
from marketplace.errors import ReasonRequired
from marketplace.statemachine import StateMachine
from providers.enums import (
    AccreditationLevel,
    BankChangeStatus,
    DocumentKind,
    ObjectionAction,
    ObjectionStatus,
    ParticipationAction,
    ParticipationStatus,
    ProviderAction,
    ProviderStatus,
    QualificationKind,
    ReviewAction,
    ReviewStatus,
)
from providers.errors import (
    BankChangeNotPending,
    InvalidQualification,
    ObjectionAlreadyDecided,
    ParticipationNotAllowed,
    ReviewNotPending,
    TransitionNotAllowed,
)

# --------------------------------------------------------------------------- admission

S = ProviderStatus
A = ProviderAction


def _refuse_provider(status: ProviderStatus | None, action: ProviderAction) -> TransitionNotAllowed:
    assert status is not None  # a provider registers pending, never by a move
    return TransitionNotAllowed(
        f"“{action.zh}”不适用于当前状态“{status.zh}” / "
        f"{action.en.lower()} is not allowed while the provider is {status.en.lower()}",
        extra={"provider_status": status.value, "action": action.value},
    )


#: The admission life cycle (providers.services.change_status moves a provider through it).
#: ``SUBMIT`` keeps a pending provider pending (it only stamps ``submitted_at``) and lets a
#: rejected one re-apply.
PROVIDER = StateMachine(
    "provider",
    {
        (S.PENDING, A.SUBMIT): S.PENDING,
        (S.REJECTED, A.SUBMIT): S.PENDING,
        (S.PENDING, A.PASS_TO_NOTICE): S.IN_NOTICE,
        (S.PENDING, A.REJECT): S.REJECTED,
        (S.IN_NOTICE, A.UPHOLD_OBJECTION): S.REJECTED,
        (S.IN_NOTICE, A.ADMIT): S.ADMITTED,
        (S.ADMITTED, A.SUSPEND): S.SUSPENDED,
        (S.SUSPENDED, A.REINSTATE): S.ADMITTED,
        (S.ADMITTED, A.REVOKE): S.REVOKED,
        (S.SUSPENDED, A.REVOKE): S.REVOKED,
    },
    refuse=_refuse_provider,
)

#: Every refusal, suspension, reinstatement and revocation states why.
REASON_REQUIRED = frozenset({A.REJECT, A.UPHOLD_OBJECTION, A.SUSPEND, A.REINSTATE, A.REVOKE})
MAX_REASON_LENGTH = 2000


def clean_reason(reason: str | None, *, required: bool) -> str | None:
    """Trimmed reason; raises ReasonRequired when one is needed and missing (or too long)."""
    text = (reason or "").strip()
    if len(text) > MAX_REASON_LENGTH:
        raise ReasonRequired(
            f"理由不得超过{MAX_REASON_LENGTH}字 / the reason is longer than {MAX_REASON_LENGTH} characters",
            field="reason",
        )
    if required and not text:
        raise ReasonRequired("请填写理由 / a reason is required", field="reason")
    return text or None


# --------------------------------------------------------------------------- programmes


P = ParticipationStatus
PA = ParticipationAction


def participation_refusal(
    current: ParticipationStatus, target: ParticipationStatus
) -> ParticipationNotAllowed:
    return ParticipationNotAllowed(
        f"项目参与状态不能从“{current.zh}”改为“{target.zh}” / "
        f"a participation cannot go from {current.en.lower()} to {target.en.lower()}",
        extra={"participation_status": current.value, "target": target.value},
    )


def _participation_target(action: ParticipationAction) -> ParticipationStatus:
    """The status ``action`` leads to: one per action, from wherever it is allowed."""
    return next(t for (_s, a), t in PARTICIPATION.transitions.items() if a is action)


def _refuse_participation(
    status: ParticipationStatus | None, action: ParticipationAction
) -> ParticipationNotAllowed:
    assert status is not None  # a participation is created applied, never by a move
    return participation_refusal(status, _participation_target(action))


#: A provider's standing in one programme (providers.services.change_participation).
PARTICIPATION = StateMachine(
    "participation",
    {
        # The provider's own choices (providers.services.choose_programmes, re-submission).
        (P.REJECTED, PA.APPLY): P.APPLIED,
        (P.WITHDRAWN, PA.APPLY): P.APPLIED,
        (P.APPLIED, PA.LEAVE): P.WITHDRAWN,
        (P.ADMITTED, PA.LEAVE): P.WITHDRAWN,
        # Its admission decides the applied ones; a reviewer may admit again later.
        (P.APPLIED, PA.ADMIT): P.ADMITTED,
        (P.REJECTED, PA.ADMIT): P.ADMITTED,
        (P.WITHDRAWN, PA.ADMIT): P.ADMITTED,
        (P.APPLIED, PA.REJECT): P.REJECTED,
        # A reviewer takes an admitted provider out; an open application is rejected instead.
        (P.ADMITTED, PA.WITHDRAW): P.WITHDRAWN,
    },
    refuse=_refuse_participation,
)

#: What a reviewer may decide on one programme, named (in the API and on the pages) by the
#: status it leads to. Applying and leaving are the provider's own choices.
REVIEWER_DECISIONS: dict[ParticipationStatus, ParticipationAction] = {
    P.ADMITTED: PA.ADMIT,
    P.REJECTED: PA.REJECT,
    P.WITHDRAWN: PA.WITHDRAW,
}
PARTICIPATION_REASON_REQUIRED = frozenset({PA.REJECT, PA.WITHDRAW})


# --------------------------------------------------------------------------- objections


def _refuse_objection(
    status: ObjectionStatus | None, action: ObjectionAction
) -> ObjectionAlreadyDecided:
    assert status is not None  # an objection is filed open, never by a move
    return ObjectionAlreadyDecided(
        f"该异议已处理（{status.zh}） / the objection was already {status.en.lower()}"
    )


#: An objection to a provider's public notice, decided once (providers.admission).
OBJECTION = StateMachine(
    "objection",
    {
        (ObjectionStatus.OPEN, ObjectionAction.UPHOLD): ObjectionStatus.UPHELD,
        (ObjectionStatus.OPEN, ObjectionAction.DISMISS): ObjectionStatus.DISMISSED,
    },
    refuse=_refuse_objection,
)


# --------------------------------------------------------------------------- maker-checker


R = ReviewStatus
RA = ReviewAction


def _refuse_bank_change(
    status: BankChangeStatus | None, action: ReviewAction
) -> BankChangeNotPending:
    assert status is not None  # a request is made pending, never by a move
    return BankChangeNotPending(
        f"该申请已处理（{status.zh}） / the request was already {status.en.lower()}",
        extra={"status": status.value},
    )


def _refuse_evidence(status: ReviewStatus | None, action: ReviewAction) -> ReviewNotPending:
    assert status is not None  # evidence is uploaded or requested pending, never by a move
    return ReviewNotPending(
        f"该申请已处理（{status.zh}） / this was already decided ({status.en.lower()})",
        extra={"status": status.value},
    )


def _refuse_withdrawal(status: ReviewStatus | None, action: ReviewAction) -> ReviewNotPending:
    assert status is not None  # a request is made pending, never by a move
    return ReviewNotPending(
        f"该撤回申请已处理（{status.zh}） / the withdrawal was already {status.en.lower()}",
        extra={"status": status.value},
    )


#: A change of the settlement account, decided by finance (providers.bank_changes). Its
#: statuses are its own (``approved``, where evidence is ``accepted``), hence its own table.
BANK_CHANGE = StateMachine(
    "bank account change",
    {
        (BankChangeStatus.PENDING, RA.APPROVE): BankChangeStatus.APPROVED,
        (BankChangeStatus.PENDING, RA.REJECT): BankChangeStatus.REJECTED,
        (BankChangeStatus.PENDING, RA.SUPERSEDE): BankChangeStatus.SUPERSEDED,
    },
    refuse=_refuse_bank_change,
)

#: A document uploaded once the file was reviewed (providers.evidence). A newer upload is a
#: document of its own, so none is ever superseded.
DOCUMENT_REVIEW = StateMachine(
    "document review",
    {(R.PENDING, RA.APPROVE): R.ACCEPTED, (R.PENDING, RA.REJECT): R.REJECTED},
    refuse=_refuse_evidence,
    attribute="review_status",
)

#: A request a newer one of the same subject replaces while it waits.
_REQUEST_MOVES = {
    (R.PENDING, RA.APPROVE): R.ACCEPTED,
    (R.PENDING, RA.REJECT): R.REJECTED,
    (R.PENDING, RA.SUPERSEDE): R.SUPERSEDED,
}
#: A new qualification number or validity (providers.evidence).
QUALIFICATION_CHANGE = StateMachine("qualification change", _REQUEST_MOVES, refuse=_refuse_evidence)
#: The end of a related-party declaration (providers.related): the same life cycle as a
#: qualification change, refused in its own words.
RELATED_PARTY_WITHDRAWAL = StateMachine(
    "related-party withdrawal", _REQUEST_MOVES, refuse=_refuse_withdrawal
)


# --------------------------------------------------------------------------- public notice

DEFAULT_NOTICE_DAYS = 7


def notice_days(programme_notice_days: Iterable[int]) -> int:
    """The notice a provider gets: the longest its programmes ask for, else the default.

    Decision: a provider applying to several programmes is admitted once, so it gets the
    strictest (longest) notice among them; with no programme to consult, 7 days.
    """
    days = list(programme_notice_days)
    return max(days) if days else DEFAULT_NOTICE_DAYS


def notice_window(start: date, days: int) -> tuple[date, date]:
    """First and last day (inclusive) of a notice of ``days`` days starting on ``start``.

    With 0 days the last day is the day before the start: the notice is over at once.
    """
    return start, start + timedelta(days=days - 1)


def notice_running(today: date, starts_on: date | None, ends_on: date | None) -> bool:
    return starts_on is not None and ends_on is not None and starts_on <= today <= ends_on


def notice_over(today: date, ends_on: date | None) -> bool:
    return ends_on is not None and today > ends_on


# --------------------------------------------------------------------------- qualifications

#: White space exactly as Python's ``str.strip()`` sees it, spelled out so that a JSON-schema
#: ``pattern`` (ECMA-262, whose ``\s`` differs) means the same thing as the service.
WS_CHARS = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
WS = rf"[{WS_CHARS}]"
#: Neither white space nor NUL (which PostgreSQL cannot store).
SOLID = rf"[^{WS_CHARS}\x00]"
_WS_OR_HYPHEN = rf"[{WS_CHARS}-]"

#: What a person may type for each qualification number (also the API's ``pattern``s):
#: digits and letters, with spaces or hyphens anywhere, which normalisation drops.
QUALIFICATION_INPUTS: dict[QualificationKind, str] = {
    QualificationKind.CMA: rf"^{_WS_OR_HYPHEN}*([0-9]{_WS_OR_HYPHEN}*){{12}}$",
    QualificationKind.CNAS: (
        rf"^{_WS_OR_HYPHEN}*([Cc][Nn][Aa][Ss]{_WS_OR_HYPHEN}*)?[LlIi]{_WS_OR_HYPHEN}*"
        rf"([0-9]{_WS_OR_HYPHEN}*){{4,5}}$"
    ),
    QualificationKind.PATENT_AGENCY: rf"^{_WS_OR_HYPHEN}*([0-9]{_WS_OR_HYPHEN}*){{5}}$",
}
QUALIFICATION_FORMATS: dict[QualificationKind, str] = {
    QualificationKind.CMA: "12位数字 / 12 digits, e.g. 192312050123",
    QualificationKind.CNAS: "CNAS L1234（实验室）或 CNAS I1234（检验机构） / CNAS L1234 or CNAS I1234",
    QualificationKind.PATENT_AGENCY: "5位机构代码 / the 5-digit agency code, e.g. 53101",
}
_SEPARATORS = re.compile(_WS_OR_HYPHEN)


def normalise_qualification(kind: QualificationKind, raw: str) -> str:
    """Canonical form of a qualification number. Raises InvalidQualification."""
    if not re.match(QUALIFICATION_INPUTS[kind], raw or ""):
        raise InvalidQualification(
            f"{kind.zh}编号格式不正确 / not a valid {kind.en} number",
            {"number": [QUALIFICATION_FORMATS[kind]]},
        )
    compact = _SEPARATORS.sub("", raw).upper()
    if kind is QualificationKind.CNAS:
        return "CNAS " + compact.removeprefix("CNAS")
    return compact


LABORATORY_TYPES = frozenset({InstitutionType.KEY_LABORATORY, InstitutionType.TESTING_CENTRE})
ACCREDITED_CENTRE_TYPES = frozenset(
    {InstitutionType.KEY_LABORATORY, InstitutionType.ENGINEERING_CENTRE}
)

#: Documents that carry the accreditation itself: when every accepted one of a kind has
#: expired, the accreditation has lapsed (providers.cli suspend-lapsed).
ACCREDITATION_DOCUMENTS = frozenset(
    {
        DocumentKind.ACCREDITATION,
        DocumentKind.CMA_CERTIFICATE,
        DocumentKind.CNAS_CERTIFICATE,
        DocumentKind.PATENT_AGENCY_LICENCE,
    }
)
#: Every accreditation document needs its expiry date: one without could never lapse, and
#: ``suspend-lapsed`` could never act on it.
EXPIRY_REQUIRED = ACCREDITATION_DOCUMENTS
CERTIFICATE_FOR: dict[QualificationKind, DocumentKind] = {
    QualificationKind.CMA: DocumentKind.CMA_CERTIFICATE,
    QualificationKind.CNAS: DocumentKind.CNAS_CERTIFICATE,
    QualificationKind.PATENT_AGENCY: DocumentKind.PATENT_AGENCY_LICENCE,
}

#: Settlement account numbers: 8–30 digits, spaces and hyphens allowed; blank clears it.
BANK_ACCOUNT_INPUT = rf"^{WS}*$|^{_WS_OR_HYPHEN}*([0-9]{_WS_OR_HYPHEN}*){{8,30}}$"
_EMAIL_PART = rf"[^@{WS_CHARS}\x00]+"
EMAIL_INPUT = rf"^{WS}*{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}{WS}*$"
WEBSITE_INPUT = rf"^{WS}*$|^{WS}*https?://{SOLID}+{WS}*$"


#: An assessment period: a year, a half or a quarter (2026, 2026-H1, 2026-Q3), any case.
PERIOD_INPUT = rf"^{WS}*[0-9]{{4}}(-([Hh][12]|[Qq][1-4]))?{WS}*$"


def normalise_period(raw: str) -> str | None:
    """The canonical period (2026, 2026-H1, 2026-Q3); None when ``raw`` is not one."""
    text = raw or ""
    if not re.match(PERIOD_INPUT, text):
        return None
    return text.strip().upper()


def normalise_bank_account(raw: str) -> str | None:
    """Digits only (spaces and hyphens dropped), 8–30 of them; None when not an account."""
    text = raw or ""
    if not text.strip() or not re.match(BANK_ACCOUNT_INPUT, text):
        return None
    return _SEPARATORS.sub("", text)


def comparable_name(name: str | None) -> str:
    """A name as banks compare it: NFKC (full-width brackets and letters become ASCII) with
    all white space removed."""
    return "".join(unicodedata.normalize("NFKC", name or "").split())


def account_name_matches(account_name: str | None, registered_name: str) -> bool:
    """Whether the settlement account is held in the institution's registered name.

    Decision: the account must be the institution's own (户名 = 登记名称), so vouchers are never
    paid to a third party; only width and spacing differences are forgiven.
    """
    return bool(account_name) and comparable_name(account_name) == comparable_name(registered_name)


# --------------------------------------------------------------------------- completeness


@dataclass(frozen=True)
class ApplicationFacts:
    """What the application holds, gathered by the service for :func:`application_problems`."""

    institution_type: InstitutionType
    accreditation_level: AccreditationLevel | None
    categories: list[ServiceCategory]
    contact_name: str
    contact_phone: str
    contact_email: str
    bank_account_name: str | None
    bank_name: str | None
    bank_account_number: str | None
    qualifications: frozenset[QualificationKind]
    valid_documents: frozenset[DocumentKind]
    commitment_signed: bool
    programmes_applied: int
    extra: dict[str, list[str]] = field(default_factory=dict)


def application_problems(facts: ApplicationFacts) -> dict[str, list[str]]:
    """Field → what is missing. Empty when the application may be submitted."""
    problems: dict[str, list[str]] = {}

    def need(key: str, message: str) -> None:
        problems.setdefault(key, []).append(message)

    if facts.accreditation_level is None:
        need("accreditation_level", "请选择认定级别 / choose the accreditation level")
    if not facts.categories:
        need("service_categories", "请至少选择一个服务类别 / choose at least one service category")
    if not (facts.contact_name and facts.contact_phone and facts.contact_email):
        need("contact", "请填写联系人信息 / contact details are required")
    if not (facts.bank_account_name and facts.bank_name and facts.bank_account_number):
        need("bank_account", "请填写结算银行账户 / the settlement bank account is required")
    docs = facts.valid_documents
    if DocumentKind.BUSINESS_LICENCE not in docs:
        need(
            "documents",
            "请上传有效的营业执照或法人登记证书 / upload a valid business licence or legal-person certificate",
        )
    if facts.institution_type in ACCREDITED_CENTRE_TYPES and DocumentKind.ACCREDITATION not in docs:
        need("documents", "请上传有效的认定文件 / upload a valid accreditation certificate")
    quals = facts.qualifications
    if facts.institution_type in LABORATORY_TYPES and not (
        quals & {QualificationKind.CMA, QualificationKind.CNAS}
    ):
        need(
            "qualifications",
            "实验室和检验检测机构须填写 CMA 或 CNAS 编号 / laboratories and testing centres need a CMA or CNAS number",
        )
    if (
        facts.institution_type is InstitutionType.IP_AGENCY
        and QualificationKind.PATENT_AGENCY not in quals
    ):
        need(
            "qualifications",
            "知识产权服务机构须填写专利代理机构执业许可证编号 / IP agencies need their patent agency licence number",
        )
    for kind in sorted(quals):
        certificate = CERTIFICATE_FOR[kind]
        if certificate not in docs:
            need("documents", f"请上传有效的{certificate.zh} / upload a valid {certificate.en}")
    if not facts.commitment_signed:
        need("commitment", "请签署最新版信用承诺书 / sign the current credit commitment")
    if facts.programmes_applied < 1:
        need("programmes", "请至少申请参与一个创新券项目 / apply to at least one voucher programme")
    for key, messages in facts.extra.items():
        for message in messages:
            need(key, message)
    return problems


def lapsed_documents(
    documents: Iterable[tuple[DocumentKind, date | None]], today: date
) -> dict[DocumentKind, date]:
    """Accreditation kinds with no document still valid today → the latest expiry seen.

    Callers pass only accepted documents (a reviewer accepted them, alone or with the
    application). A renewed certificate (a newer accepted upload of the same kind) keeps the
    accreditation alive; a document without an expiry date (uploaded before one was required)
    never lapses.
    """
    latest: dict[DocumentKind, date | None] = {}
    for kind, expires_on in documents:
        if kind not in ACCREDITATION_DOCUMENTS:
            continue
        if kind not in latest:
            latest[kind] = expires_on
            continue
        current = latest[kind]
        if current is None or expires_on is None:
            latest[kind] = None
        else:
            latest[kind] = max(current, expires_on)
    return {kind: day for kind, day in latest.items() if day is not None and day < today}


# --------------------------------------------------------------------------- credit commitment

#: Version of the commitment text below. Change both together; providers must sign again.
COMMITMENT_VERSION = "2026-01"
COMMITMENT_TEXT = """信用承诺书

本机构自愿申请成为云南省科技创新券、创业创新服务券服务机构，现郑重承诺：
一、所提交的全部申请材料、资质证明和服务信息真实、准确、完整，不存在虚假记载或重大遗漏；
二、严格按照公布的服务内容、价格和周期提供服务，不以任何形式虚增服务价格、虚开发票或套取财政资金；
三、不与关联企业之间开展以使用创新券为目的的交易，如实申报关联关系并及时更新；
四、一项服务只申请一次兑付，不就同一费用重复申请其他财政资金支持；
五、妥善保管服务对象提供的技术资料和商业秘密，不泄露、不买卖用户信息；
六、接受主管部门、服务对象和第三方机构的监督与评价，资质证书到期前及时更新；
七、如违反上述承诺，自愿接受暂停或撤销服务机构资格、追回已兑付资金、纳入失信记录等处理，并承担相应法律责任。

Credit commitment: we apply to serve the Yunnan innovation-voucher programmes and undertake that
our documents are true and complete; we deliver at the published prices and lead times and never
inflate prices or invoices; we declare our related parties and do not trade vouchers with them;
each service is claimed once; we keep our clients' data confidential; we accept evaluation by the
administrators, the enterprises we serve and third parties, and renew our certificates in time;
on breach we accept suspension or revocation, recovery of funds and a dishonesty record."""


def commitment_digest(text: str = COMMITMENT_TEXT) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
