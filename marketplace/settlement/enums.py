"""Vocabularies of settlement: claims (兑付申请), their lines and checklist, payout batches.

Stored by value with named CHECK constraints; kept apart from the models so that
:mod:`marketplace.settlement.rules` stays free of SQLAlchemy.
"""

from __future__ import annotations

from marketplace.enums import LabelledEnum


class ClaimStatus(LabelledEnum):
    """A claim's status, derived from its lines (:func:`marketplace.settlement.rules.claim_status`)."""

    IN_REVIEW = "in_review", "待初审", "Awaiting review"
    AWAITING_FINANCE = "awaiting_finance", "待财务审批", "Awaiting finance approval"
    CHANGES_REQUESTED = "changes_requested", "待服务机构补正", "Changes requested"
    APPROVED = "approved", "已批准待拨付", "Approved for payment"
    PAID = "paid", "已拨付", "Paid"
    REJECTED = "rejected", "已驳回", "Rejected"


class ClaimLineStatus(LabelledEnum):
    """One order in a claim. The order's own status moves alongside (see marketplace.settlement.rules)."""

    PENDING_REVIEW = "pending_review", "待初审", "Awaiting review"
    CHANGES_REQUESTED = "changes_requested", "待补正", "Changes requested"
    REJECTED = "rejected", "已驳回", "Rejected"
    REVIEWED = "reviewed", "初审通过，待财务审批", "Reviewed, awaiting finance"
    APPROVED = "approved", "已批准，待拨付", "Approved, awaiting payout"
    IN_PAYOUT = "in_payout", "拨付中", "In a payout batch"
    PAID = "paid", "已拨付", "Paid"


class ClaimAction(LabelledEnum):
    SUBMIT = "submit", "提交兑付申请", "Submitted"
    RESUBMIT = "resubmit", "补正后重新提交", "Resubmitted"
    APPROVE = "approve", "初审通过", "Approved by the reviewer"
    REQUEST_CHANGES = "request_changes", "要求补正", "Changes requested"
    REJECT = "reject", "驳回", "Rejected"
    FINANCE_APPROVE = "finance_approve", "财务批准拨付", "Approved for payment by finance"
    FINANCE_RETURN = "finance_return", "财务退回补正", "Returned by finance for changes"
    FINANCE_REJECT = "finance_reject", "财务驳回", "Rejected by finance"
    BATCH = "batch", "列入拨付批次", "Put in a payout batch"
    PAY = "pay", "银行已拨付", "Paid by the bank"
    PAYOUT_FAIL = (
        "payout_fail",
        "银行拨付失败，退回待拨付",
        "Bank payment failed, back in the queue",
    )


class CheckRule(LabelledEnum):
    """The automatic pre-check, one item per rule (POLICY.md rules 1, 2, 5, 8, 10)."""

    INVOICE_AMOUNT = (
        "invoice_amount",
        "发票金额等于订单价格",
        "Invoice amount equals the order price",
    )
    INVOICE_PARTIES = (
        "invoice_parties",
        "发票购买方为企业、销售方为服务机构（纳税人识别号即统一社会信用代码）",
        "Invoice buyer is the enterprise and seller the provider (taxpayer ids = credit codes)",
    )
    INVOICE_DATE = (
        "invoice_date",
        "发票日期在电子券有效期内（生效日至兑付截止日）",
        "Invoice date within the voucher's validity (valid from … claim deadline)",
    )
    CO_PAYMENT = "co_payment", "企业自付部分已全额收到", "Co-payment received in full"
    CEILING = (
        "ceiling",
        "券支付部分不超过发票金额的兑付比例上限",
        "Voucher part within the programme's ceiling of the invoiced amount",
    )
    ANNUAL_CAP = "annual_cap", "企业年度用券上限未被突破", "Enterprise's annual cap respected"
    CLAIM_DEADLINE = (
        "claim_deadline",
        "在项目兑付申请截止日期之前提交",
        "Claimed within the programme's redemption deadline",
    )
    INVOICE_UNIQUE = (
        "invoice_unique",
        "该发票从未在平台上申请过兑付",
        "Invoice never claimed before on the platform",
    )
    NOT_DISPUTED = "not_disputed", "订单不存在争议", "Order not disputed"
    NOT_RELATED = (
        "not_related",
        "企业与服务机构不是关联方",
        "The enterprise and the provider are not related parties",
    )
    VOUCHER_NOT_REVOKED = (
        "voucher_not_revoked",
        "电子券未被撤销（撤销的券已用金额待追回，不予兑付）",
        "Voucher not revoked (a revoked voucher's used amount is recovered, never paid out)",
    )
    INVOICE_ITEMS = (
        "invoice_items",
        "发票明细与服务类别相符（税收分类，如 *现代服务* / *研发和技术服务*）",
        "Invoice item lines fit the service category (tax classification, e.g. *现代服务*)",
    )
    INVOICE_NOT_REVERSED = (
        "invoice_not_reversed",
        "发票未被红字发票冲销",
        "Invoice not reversed by a red-letter invoice",
    )
    INVOICE_VERIFIED = (
        "invoice_verified",
        "发票经税务机关查验相符",
        "Invoice verified with the tax authority",
    )
    DOCUMENTS = (
        "documents",
        "兑付凭证齐全（发票文件、服务协议条款、服务/检测报告、企业验收确认）",
        "Claim documents present (invoice file, agreed terms, service or test report, acceptance)",
    )


class PayoutBatchStatus(LabelledEnum):
    DRAFT = "draft", "待发送银行", "Ready to send"
    SENT = "sent", "已发送银行，待确认", "Sent to the bank"
    COMPLETED = "completed", "银行已全部确认", "Confirmed by the bank"


class PayoutBatchAction(LabelledEnum):
    APPROVE = "approve", "复核批准", "Approved by a second finance officer"
    SEND = "send", "发送银行", "Sent to the bank"
    COMPLETE = "complete", "银行全部确认", "Confirmed in full by the bank"


class PayoutLineStatus(LabelledEnum):
    PENDING = "pending", "待银行确认", "Awaiting bank confirmation"
    PAID = "paid", "已到账", "Paid"
    FAILED = "failed", "拨付失败", "Failed"


class PayoutLineAction(LabelledEnum):
    """The bank's outcome for one payment line, as its confirmation reports it."""

    PAY = "pay", "银行已拨付", "Paid by the bank"
    FAIL = "fail", "银行拨付失败", "Failed at the bank"


class ClaimDocument(LabelledEnum):
    """The documents a claim line carries (POLICY.md rule 8: the invoice is the voucher)."""

    INVOICE_FILE = "invoice_file", "发票文件（数电发票）", "Invoice file (数电发票)"
    AGREED_TERMS = "agreed_terms", "服务协议条款", "Agreed service terms (the contract)"
    REPORT = "report", "服务/检测报告", "Service or test report"
    ACCEPTANCE = "acceptance", "企业验收确认", "The enterprise's acceptance"
