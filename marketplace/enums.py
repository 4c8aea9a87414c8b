"""Vocabularies shared by more than one domain package, stored by value in the database.

Labels are bilingual: Chinese first, English beside it, as the pages show them.
"""

from __future__ import annotations

from enum import StrEnum


class LabelledEnum(StrEnum):
    """A string enum whose members carry a Chinese and an English label."""

    zh: str
    en: str

    def __new__(cls, value: str, zh: str = "", en: str = "") -> LabelledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member.zh = zh
        member.en = en
        return member

    @property
    def label(self) -> str:
        return f"{self.zh} {self.en}"

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]


class Role(LabelledEnum):
    ENTERPRISE = "enterprise", "企业用户", "Enterprise (SME)"
    PROVIDER = "provider", "服务机构", "Service provider"
    REVIEWER = "reviewer", "审核员", "Reviewer"
    FINANCE = "finance", "财务人员", "Finance officer"
    AUDITOR = "auditor", "审计员（只读）", "Auditor (read-only)"
    SYSADMIN = "sysadmin", "系统管理员", "System administrator"

    @property
    def is_admin(self) -> bool:
        return self in ADMIN_ROLES


ADMIN_ROLES = frozenset({Role.REVIEWER, Role.FINANCE, Role.AUDITOR, Role.SYSADMIN})


class SizeClass(LabelledEnum):
    """Enterprise size class (大中小微企业划型标准)."""

    MICRO = "micro", "微型", "Micro"
    SMALL = "small", "小型", "Small"
    MEDIUM = "medium", "中型", "Medium"


class ServiceCategory(LabelledEnum):
    """The service categories the two programmes fund (POLICY.md, "Two voucher programmes")."""

    TESTING = "testing", "检验检测认证", "Inspection, testing and certification"
    IP = "ip", "知识产权", "Intellectual property"
    RND = "rnd", "研发合作", "R&D cooperation"
    INSTRUMENT_SHARING = "instrument_sharing", "仪器设备共享", "Instrument and equipment sharing"
    CONSULTING = "consulting", "技术咨询", "Technical consulting"
    EVALUATION = "evaluation", "技术评估", "Technical evaluation"
    AUDIT = "audit", "专项审计", "Special audit"
    TECH_TRANSACTION = "tech_transaction", "技术交易", "Technology transaction"
    FINANCING = "financing", "技术投融资", "Technology investment and financing"
    HIGH_TECH_CERT = "high_tech_cert", "高新技术企业认定", "High-tech enterprise certification"
    TRANSFORMATION = "transformation", "科技成果转化", "S&T achievement transformation"


class InstitutionType(LabelledEnum):
    """Kinds of provider institution named by the policy."""

    KEY_LABORATORY = "key_laboratory", "重点实验室", "Key laboratory"
    ENGINEERING_CENTRE = (
        "engineering_centre",
        "工程技术研究中心",
        "Engineering technology research centre",
    )
    TESTING_CENTRE = (
        "testing_centre",
        "检验检测认证机构",
        "Testing, inspection and certification centre",
    )
    IP_AGENCY = "ip_agency", "知识产权服务机构", "IP agency"
    UNIVERSITY = "university", "高等院校", "University"
    RESEARCH_INSTITUTE = "research_institute", "科研院所", "Research institute"
    ST_SERVICE = "st_service", "科技服务机构", "S&T service institution"
    CONSULTING_FIRM = "consulting_firm", "技术咨询机构", "Technology consulting firm"
    INSTRUMENT_PLATFORM = "instrument_platform", "仪器共享平台", "Instrument-sharing platform"
