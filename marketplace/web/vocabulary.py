"""Labels for the codes pages show that are not labelled enums: order steps and audit actions.

Like the enums' labels, each is a (Chinese, English) pair chosen by the page's language; the
stored code stays what the API, the exports and the audit filter use. A code without a label
is shown as it is, so a new one is visible (tests/web/test_one_language.py fails on it).
"""

from __future__ import annotations

from marketplace.enums import LabelledEnum
from marketplace.i18n import _, is_english
from marketplace.orders.enums import OrderAction
from marketplace.payments.enums import PaymentStatus
from marketplace.settlement.enums import ClaimAction, PayoutLineStatus
from providers.enums import ObjectionStatus, ProviderAction, ReviewStatus
from vouchers.enums import ApplicationAction
from vouchers.holds import Preview
from vouchers.rules import Limit

Pair = tuple[str, str]

ORDER_STEPS: dict[str, Pair] = {
    "request": ("提出需求", "Requested"),
    OrderAction.QUOTE: ("报价", "Quoted"),
    OrderAction.DECLINE: ("拒绝", "Declined"),
    OrderAction.ACCEPT: ("接受报价", "Quote accepted"),
    OrderAction.PAY: ("支付自付部分", "Co-payment paid"),
    OrderAction.DELIVER: ("交付", "Delivered"),
    OrderAction.CONFIRM: ("确认验收", "Delivery confirmed"),
    OrderAction.AUTO_CONFIRM: ("到期自动验收", "Confirmed automatically"),
    OrderAction.DISPUTE: ("提出争议", "Disputed"),
    OrderAction.DISMISS_DISPUTE: ("争议驳回", "Dispute dismissed"),
    OrderAction.UPHOLD_PARTIAL: ("争议部分成立", "Dispute partly upheld"),
    OrderAction.UPHOLD_FULL: ("争议成立", "Dispute upheld"),
    OrderAction.CLAIM: ("申请兑付", "Claimed"),
    OrderAction.REJECT_CLAIM: ("兑付被驳回", "Claim rejected"),
    OrderAction.APPROVE_CLAIM: ("兑付获批", "Claim approved"),
    OrderAction.PAY_OUT: ("已拨付", "Paid out"),
    OrderAction.PAYOUT_FAILED: ("拨付失败", "Payout failed"),
    OrderAction.SETTLE: ("结清", "Settled"),
    OrderAction.CANCEL: ("取消", "Cancelled"),
}

AUDIT_SUBJECTS: dict[str, Pair] = {
    "admin": ("管理员账号", "Administrator account"),
    "api_token": ("API 令牌", "API token"),
    "application": ("电子券申请", "Voucher application"),
    "audit_sample": ("审计抽查样本", "Audit sample"),
    "audit_trail": ("审计日志", "Audit trail"),
    "claim": ("结算申请", "Settlement claim"),
    "claim_line_freeze": ("结算明细冻结", "Claim line freeze"),
    "enterprise": ("企业", "Enterprise"),
    "funder": ("出资方", "Funder"),
    "hold": ("冻结", "Hold"),
    "hold_freeze": ("订单券额冻结", "Order freeze"),
    "instrument_booking": ("仪器预约", "Instrument booking"),
    "instrument_calendar": ("仪器预约日历", "Instrument calendar"),
    "order": ("订单", "Order"),
    "payment": ("付款", "Payment"),
    "payout_batch": ("拨付批次", "Payout batch"),
    "payout_line": ("拨付明细", "Payout line"),
    "programme": ("券种", "Programme"),
    "provider": ("服务机构", "Provider"),
    "provider_bank_change": ("结算账户变更", "Bank account change"),
    "risk": ("风险评估", "Risk assessment"),
    "risk_rule": ("风险规则", "Risk rule"),
    "service": ("服务", "Service"),
    "user": ("账号", "Account"),
    "voucher": ("电子券", "Voucher"),
    "vouchers": ("电子券", "Vouchers"),
}

AUDIT_ACTIONS: dict[str, Pair] = {
    "claim_line_freeze.frozen": (
        "冻结结算明细（服务机构暂停）",
        "Claim line frozen (provider suspended)",
    ),
    "hold_freeze.frozen": (
        "冻结订单券额（失信名单）",
        "Order's voucher money frozen (blacklisting)",
    ),
    "instrument.calendar_set": ("设置仪器预约日历", "Instrument calendar set"),
    "instrument.closure_added": ("添加仪器停用时段", "Instrument closure added"),
    "instrument.closure_removed": ("删除仪器停用时段", "Instrument closure removed"),
    "instrument_booking.request": ("申请仪器预约", "Instrument booking requested"),
    "invoice.recovery_flagged": ("发票冲销：标记追回", "Invoice reversed: recovery flagged"),
    "invoice.reversed": ("发票被红字发票冲销", "Invoice reversed by a red-letter invoice"),
    "order.price_lowered": ("按实际用时降低价格", "Price lowered to the hours used"),
    "payout_batch.approved": ("拨付批次复核通过", "Payout batch approved by a second officer"),
    "risk.assessed": ("风险评估", "Risk assessed"),
    "risk.finding_recorded": ("记录抽查结论", "Audit finding recorded"),
    "risk.sample_drawn": ("抽取审计样本", "Audit sample drawn"),
    "risk.setting_changed": ("修改风险规则设置", "Risk rule setting changed"),
    "user.password_reset_requested": ("申请重置密码", "Password reset requested"),
    "user.recovery_code_used": ("使用恢复码登录", "Recovery code used"),
    "user.recovery_codes_renewed": ("重新生成恢复码", "Recovery codes renewed"),
    "user.role_changed": ("变更账号角色", "Account role changed"),
    "user.second_factor_enrolled": ("启用双重验证", "Second factor enrolled"),
    "user.second_factor_reset": ("重置双重验证", "Second factor reset"),
    "user.sessions_ended": ("结束账号的所有会话", "All sessions of the account ended"),
    "voucher.frozen": ("冻结电子券", "Voucher frozen"),
    "voucher.unfrozen": ("解冻电子券", "Voucher unfrozen"),
    "admin.created": ("创建管理员账号", "Administrator created"),
    "api_token.created": ("创建 API 令牌", "API token created"),
    "personal_data.revealed": (
        "查看完整个人信息（已说明理由）",
        "Personal data revealed (with a reason)",
    ),
    "personal_data.exported": ("导出含个人信息的文件", "File with personal data exported"),
    "user.anonymised": (
        "账号个人信息已按保存期限匿名化",
        "Account anonymised (retention period over)",
    ),
    "organisation.anonymised": (
        "机构联系人信息已按保存期限匿名化",
        "Organisation contacts anonymised (retention period over)",
    ),
    "user.closed": ("注销账号", "Account closed"),
    "api_token.revoked": ("撤销 API 令牌", "API token revoked"),
    "claim.submitted": ("提交结算申请", "Claim submitted"),
    "enterprise.blacklisted": ("列入失信名单", "Put on the dishonesty list"),
    "enterprise.profile_updated": ("修改企业资料", "Profile updated"),
    "enterprise.refused": ("企业核验未通过", "Verification refused"),
    "enterprise.registered": ("企业注册", "Enterprise registered"),
    "enterprise.unblacklisted": ("移出失信名单", "Removed from the dishonesty list"),
    "enterprise.verified": ("企业核验通过", "Enterprise verified"),
    "hold.capture_reversed": ("冲回已核销金额", "Capture reversed"),
    "hold.captured": ("核销", "Captured"),
    "hold.placed": ("冻结券额", "Hold placed"),
    "hold.released": ("释放冻结", "Hold released"),
    "order.dispute_document": ("争议材料", "Dispute document"),
    "order.dispute_message": ("争议留言", "Dispute message"),
    "order.rated": ("评价", "Rated"),
    "order.refund_returned": ("退款退回", "Refund returned"),
    "order.refunded": ("退款", "Refunded"),
    "order.requested": ("提出需求", "Requested"),
    "order.settled": ("结清", "Settled"),
    "order.unexpected_payment": ("意外到账", "Unexpected payment"),
    "funder.created": ("登记出资方", "Funder registered"),
    "funder.updated": ("修改出资方", "Funder updated"),
    "payment.gateway_mismatch": ("支付渠道金额不符", "Gateway mismatch"),
    "payment.opened": ("创建付款", "Payment opened"),
    "payment.refund_discovered": ("发现渠道退款", "Refund found at the gateway"),
    "payment.refund_failed": ("退款失败", "Refund failed"),
    "payment.refund_requested": ("申请退款", "Refund requested"),
    "payment.refunded": ("已退款", "Refunded"),
    "payment.started": ("开始付款", "Payment started"),
    "payout_batch.confirmation_imported": ("导入银行回单", "Bank confirmation imported"),
    "payout_batch.created": ("生成拨付批次", "Payout batch built"),
    "payout_batch.sent": ("提交银行", "Sent to the bank"),
    "programme.created": ("创建券种", "Programme created"),
    "programme.funder_budget_set": ("设定出资方预算", "Funder's budget set"),
    "programme.shares_set": ("设定出资份额", "Funders' shares set"),
    "programme.updated": ("修改券种", "Programme updated"),
    "provider.assessed": ("信用评价", "Assessed"),
    "provider.assessment_replaced": ("信用评价被替换", "Assessment replaced"),
    "provider.bank_change_approved": ("批准变更银行账户", "Bank account change approved"),
    "provider.bank_change_rejected": ("驳回变更银行账户", "Bank account change rejected"),
    "provider.bank_change_requested": ("申请变更银行账户", "Bank account change requested"),
    "provider.bank_change_superseded": ("银行账户变更被取代", "Bank account change replaced"),
    "provider.commitment_signed": ("签署信用承诺", "Credit commitment signed"),
    "provider.credit_event": ("信用事件", "Credit event"),
    "provider.document_deleted": ("删除材料", "Document deleted"),
    "provider.document_uploaded": ("上传材料", "Document uploaded"),
    "provider.documents_accepted_with_application": (
        "材料随入库申请通过",
        "Documents accepted with the application",
    ),
    "provider.objection_filed": ("提出异议", "Objection filed"),
    "provider.participation_changed": ("券种参与变更", "Programme participation changed"),
    "provider.profile_updated": ("修改机构资料", "Profile updated"),
    "provider.qualification_change_accepted": ("资质变更通过", "Qualification change accepted"),
    "provider.qualification_change_rejected": ("资质变更驳回", "Qualification change rejected"),
    "provider.qualification_change_requested": ("申请资质变更", "Qualification change requested"),
    "provider.qualification_change_superseded": (
        "资质变更被取代",
        "Qualification change replaced",
    ),
    "provider.qualification_removed": ("删除资质", "Qualification removed"),
    "provider.qualification_set": ("登记资质", "Qualification recorded"),
    "provider.registered": ("服务机构注册", "Provider registered"),
    "provider.related_party_declared": ("申报关联关系", "Related party declared"),
    "provider.related_party_withdrawal_requested": (
        "申请撤回关联关系",
        "Related-party withdrawal requested",
    ),
    "provider.related_party_withdrawal_superseded": (
        "撤回关联关系被取代",
        "Related-party withdrawal replaced",
    ),
    "provider.related_party_withdrawn": ("撤回关联关系", "Related party withdrawn"),
    "service.activated": ("上架服务", "Service listed"),
    "service.created": ("新建服务", "Service created"),
    "service.deactivated": ("下架服务", "Service withdrawn"),
    "service.rated": ("服务评价", "Service rated"),
    "service.updated": ("修改服务", "Service updated"),
    "voucher.expired": ("电子券过期", "Voucher expired"),
    "voucher.issued": ("发放电子券", "Voucher issued"),
    "voucher.revoked": ("撤销电子券", "Voucher revoked"),
    "vouchers.bulk_issued": ("批量发券", "Issued in bulk"),
}

#: Actions written as "<subject>.<enum value>": the enum's own labels name them.
_ENUM_ACTIONS: dict[str, type[LabelledEnum]] = {
    "application": ApplicationAction,
    # claim.approve, claim.finance_approve …: a claim's decisions (settlement.claims).
    "claim": ClaimAction,
    "payment": PaymentStatus,
    "payout_line": PayoutLineStatus,
    "provider": ProviderAction,
}
#: Actions written as "<subject>.<prefix><enum value>".
_PREFIXED_ACTIONS: tuple[tuple[str, type[LabelledEnum], Pair], ...] = (
    ("provider.document_", ReviewStatus, ("材料审核", "Document review")),
    ("provider.objection_", ObjectionStatus, ("异议处理", "Objection")),
    ("provider.related_party_withdrawal_", ReviewStatus, ("撤回关联关系", "Withdrawal")),
)


def refusal_label(reason: str | None) -> str:
    """Why a voucher cannot be used (the code of the voucher rule that refuses it)."""
    labels = {
        "voucher_revoked": _("The voucher was revoked."),
        "voucher_expired": _("The voucher has expired."),
        "voucher_not_yet_valid": _("The voucher is not valid yet."),
        "voucher_exhausted": _("The voucher has no balance left."),
        "enterprise_blacklisted": _("The holder is on the dishonesty list."),
        "enterprise_unverified": _("The holder's verification is not complete."),
        "cap_exceeded": _("The holder has used its annual allowance."),
        "not_eligible": _("The voucher's programme does not fund this kind of service."),
    }
    return labels.get(reason or "", _("The voucher cannot be used now."))


def _pick(pair: Pair) -> str:
    return pair[1] if is_english() else pair[0]


def order_step(code: str) -> str:
    """An order event's action (``accept``) as a step name (接受报价)."""
    pair = ORDER_STEPS.get(str(code))
    return _pick(pair) if pair else str(code)


def audit_subject(code: str) -> str:
    pair = AUDIT_SUBJECTS.get(code)
    return _pick(pair) if pair else code


def audit_action(code: str) -> str:
    """An audit action (``order.confirm``) in the page's language."""
    if code in AUDIT_ACTIONS:
        return _pick(AUDIT_ACTIONS[code])
    subject, _dot, verb = code.partition(".")
    if subject == "order" and verb in ORDER_STEPS:
        return _pick(ORDER_STEPS[verb])
    for prefix, enum_cls, what in _PREFIXED_ACTIONS:
        if code.startswith(prefix):
            member = _member(enum_cls, code.removeprefix(prefix))
            if member is not None:
                return f"{_pick(what)}：{_pick((member.zh, member.en))}"
    labelled = _ENUM_ACTIONS.get(subject)
    member = _member(labelled, verb) if labelled else None
    if member is not None:
        return f"{audit_subject(subject)}：{_pick((member.zh, member.en))}"
    return code


def _member(enum_cls: type[LabelledEnum], value: str) -> LabelledEnum | None:
    try:
        return enum_cls(value)
    except ValueError:
        return None


def why_smaller(preview: Preview) -> str:
    """Why a voucher pays what it does of a price: the bound that decided it, or why it
    cannot be used (the accept form and the service page's estimate)."""
    if preview.refusal:
        return refusal_label(preview.refusal)
    ceiling = f"{preview.voucher.programme.ceiling_bps / 100:g}"
    return {
        Limit.CEILING: _("The voucher pays at most %(percent)s%% of the price.", percent=ceiling),
        Limit.BALANCE: _("The voucher's balance limits it."),
        Limit.CAP: _("Your remaining annual allowance limits it."),
        Limit.REQUESTED: _("You asked for this amount."),
    }[preview.split.limited_by]
