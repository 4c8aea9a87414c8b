"""Vocabularies of the provider domain, stored by value (named CHECK constraints on both
databases), and the actions of its state machines (:mod:`providers.rules`)."""

from __future__ import annotations

from enum import StrEnum

from marketplace.enums import LabelledEnum


class ProviderStatus(LabelledEnum):
    """Admission life cycle of a provider (see providers.rules for the allowed moves)."""

    PENDING = "pending", "待审核", "Pending review"  # registered; submitted_at says if applied
    IN_NOTICE = "in_notice", "公示中", "In public notice"  # reviewer passed it; 公示 running
    ADMITTED = "admitted", "已入库", "Admitted"
    REJECTED = "rejected", "未通过", "Rejected"
    SUSPENDED = "suspended", "已暂停", "Suspended"
    REVOKED = "revoked", "已撤销", "Revoked"


class ProviderAction(LabelledEnum):
    SUBMIT = "submit", "提交入库申请", "Application submitted"
    PASS_TO_NOTICE = "pass_to_notice", "审核通过并公示", "Passed to public notice"
    REJECT = "reject", "驳回", "Rejected"
    UPHOLD_OBJECTION = "uphold_objection", "异议成立", "Objection upheld"
    ADMIT = "admit", "公示期满入库", "Admitted after notice"
    SUSPEND = "suspend", "暂停", "Suspended"
    REINSTATE = "reinstate", "恢复", "Reinstated"
    REVOKE = "revoke", "撤销资格", "Revoked"


class AccreditationLevel(LabelledEnum):
    NATIONAL = "national", "国家级", "National"
    PROVINCIAL = "provincial", "省级", "Provincial"
    MUNICIPAL = "municipal", "市级", "Municipal"


class QualificationKind(LabelledEnum):
    CMA = "cma", "检验检测机构资质认定（CMA）", "CMA accreditation"
    CNAS = "cnas", "CNAS 实验室认可", "CNAS accreditation"
    PATENT_AGENCY = "patent_agency", "专利代理机构执业许可证", "Patent agency licence"


class DocumentKind(LabelledEnum):
    BUSINESS_LICENCE = (
        "business_licence",
        "营业执照或法人登记证书",
        "Business licence or legal-person certificate",
    )
    ACCREDITATION = "accreditation", "认定文件", "Accreditation certificate"
    CMA_CERTIFICATE = "cma_certificate", "CMA 资质认定证书", "CMA certificate"
    CNAS_CERTIFICATE = "cnas_certificate", "CNAS 认可证书", "CNAS certificate"
    PATENT_AGENCY_LICENCE = (
        "patent_agency_licence",
        "专利代理机构执业许可证",
        "Patent agency licence",
    )
    OTHER = "other", "其他证明材料", "Other supporting document"


class ParticipationStatus(LabelledEnum):
    APPLIED = "applied", "已申请", "Applied"
    ADMITTED = "admitted", "已入选", "Admitted"
    REJECTED = "rejected", "未入选", "Rejected"
    WITHDRAWN = "withdrawn", "已退出", "Withdrawn"


class ObjectionStatus(LabelledEnum):
    OPEN = "open", "待处理", "Open"
    UPHELD = "upheld", "异议成立", "Upheld"
    DISMISSED = "dismissed", "异议不成立", "Dismissed"


class BankChangeStatus(LabelledEnum):
    PENDING = "pending", "待财务审批", "Awaiting finance approval"
    APPROVED = "approved", "已批准", "Approved"
    REJECTED = "rejected", "已驳回", "Rejected"
    SUPERSEDED = "superseded", "已被新申请取代", "Replaced by a newer request"


class ReviewStatus(LabelledEnum):
    """A reviewer's decision on evidence a provider changes once its file was reviewed: a
    document, a qualification number, the withdrawal of a related-party declaration."""

    PENDING = "pending", "待审核", "Awaiting review"
    ACCEPTED = "accepted", "已通过", "Accepted"
    REJECTED = "rejected", "已驳回", "Rejected"
    SUPERSEDED = "superseded", "已被新申请取代", "Replaced by a newer request"


class PricingMode(LabelledEnum):
    FIXED = "fixed", "固定价格", "Fixed price"
    QUOTE = "quote", "询价", "Quote on request"


class AssessorKind(LabelledEnum):
    ADMINISTRATOR = "administrator", "主管部门评价", "Administrator"
    THIRD_PARTY = "third_party", "第三方评价", "Third-party evaluator"


class CreditEventKind(LabelledEnum):
    UPHELD_DISPUTE = "upheld_dispute", "争议成立", "Upheld dispute"
    LATE_DELIVERY = "late_delivery", "逾期交付", "Late delivery"
    IRREGULAR_FINDING = "irregular_finding", "审计发现违规", "Irregular audit finding"


class RelationKind(LabelledEnum):
    SHAREHOLDER = "shareholder", "股东或出资人", "Shareholder or investor"
    SUBSIDIARY = "subsidiary", "控股或下属企业", "Subsidiary"
    COMMON_CONTROL = "common_control", "同一实际控制人", "Under common control"
    KEY_PERSONNEL = "key_personnel", "关键人员任职或持股", "Key personnel hold office or shares"
    OTHER = "other", "其他关联关系", "Other relationship"


class ParticipationAction(StrEnum):
    """How a provider's standing in one programme moves. The provider chooses its programmes
    (it may ``APPLY`` again, or ``LEAVE`` one); its admission admits or rejects the ones it
    applied to; afterwards a reviewer decides (:data:`REVIEWER_DECISIONS`)."""

    APPLY = "apply"
    LEAVE = "leave"
    ADMIT = "admit"
    REJECT = "reject"
    WITHDRAW = "withdraw"


class ObjectionAction(StrEnum):
    """A reviewer's decision on an objection (providers.admission.decide_objection)."""

    UPHOLD = "uphold"
    DISMISS = "dismiss"


class ReviewAction(StrEnum):
    """What happens to a pending maker-checker request (providers.reviews)."""

    APPROVE = "approve"
    REJECT = "reject"
    #: The maker asked for something else while it waited; nobody decided it.
    SUPERSEDE = "supersede"
