"""Vocabularies of the party index, stored by value."""

from __future__ import annotations

from marketplace.enums import LabelledEnum


class PartyKind(LabelledEnum):
    ENTERPRISE = "enterprise", "企业", "Enterprise"
    PROVIDER = "provider", "服务机构", "Provider"


class AttributeKind(LabelledEnum):
    """What two organisations can share. The first two identify one controller (strong): an
    order between such parties is refused; the others only raise a risk flag (weak)."""

    LEGAL_REPRESENTATIVE = "legal_representative", "法定代表人", "legal representative"
    BANK_ACCOUNT = "bank_account", "银行账户", "bank account"
    PHONE = "phone", "联系电话", "contact phone"
    ADDRESS = "address", "注册地址", "registered address"
    EMAIL_DOMAIN = "email_domain", "邮箱域名", "e-mail domain"

    @property
    def is_strong(self) -> bool:
        return self in STRONG


STRONG = frozenset({AttributeKind.LEGAL_REPRESENTATIVE, AttributeKind.BANK_ACCOUNT})
