"""Demo data: the two programmes of the policy for the current year, admitted providers across
the policy's categories, verified Yunnan SMEs, and one account per role.

Idempotent: every record is looked up by its natural key (programme kind and year, credit
code, e-mail) and created only when missing, so ``flask demo seed`` can run on every start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.auth.passwords import hash_password
from marketplace.credit_code import make_credit_code, parse_credit_code
from marketplace.enums import InstitutionType, Role, ServiceCategory, SizeClass
from providers.models import Provider, ProviderStatus
from vouchers.models import (
    DEFAULT_ANNUAL_CAP_FEN,
    Enterprise,
    FundingBody,
    Programme,
    ProgrammeKind,
    VerificationStatus,
)

DEMO_PASSWORD = "voucher-demo-2026"


@dataclass(frozen=True)
class DemoOrganisation:
    name: str
    division: str
    org_body: str

    @property
    def credit_code(self) -> str:
        return make_credit_code(self.division, self.org_body)


DEMO_PROVIDERS: list[tuple[DemoOrganisation, InstitutionType]] = [
    (
        DemoOrganisation("云南省产品质量监督检验研究院", "530102", "MA6N0001"),
        InstitutionType.TESTING_CENTRE,
    ),
    (
        DemoOrganisation("云南省高原特色农业重点实验室", "530112", "MA6N0002"),
        InstitutionType.KEY_LABORATORY,
    ),
    (DemoOrganisation("昆明知信专利代理事务所", "530103", "MA6N0003"), InstitutionType.IP_AGENCY),
    (
        DemoOrganisation("云南创见科技咨询有限公司", "530111", "MA6N0004"),
        InstitutionType.CONSULTING_FIRM,
    ),
    (
        DemoOrganisation("昆明市大型科学仪器共享平台", "530114", "MA6N0005"),
        InstitutionType.INSTRUMENT_PLATFORM,
    ),
]

DEMO_ENTERPRISES: list[tuple[DemoOrganisation, SizeClass, str]] = [
    (
        DemoOrganisation("昆明滇池智能装备有限公司", "530102", "MA6P0001"),
        SizeClass.SMALL,
        "智能制造",
    ),
    (
        DemoOrganisation("玉溪云岭新材料科技有限公司", "530402", "MA6P0002"),
        SizeClass.MEDIUM,
        "新材料",
    ),
    (
        DemoOrganisation("曲靖高原生物科技有限公司", "530302", "MA6P0003"),
        SizeClass.MICRO,
        "生物医药",
    ),
    (
        DemoOrganisation("大理苍山数字科技有限公司", "532901", "MA6P0004"),
        SizeClass.SMALL,
        "数字经济",
    ),
]

#: (e-mail, role, display name, organisation index into DEMO_ENTERPRISES / DEMO_PROVIDERS)
DEMO_ACCOUNTS: list[tuple[str, Role, str, int | None]] = [
    ("sme@demo.example.cn", Role.ENTERPRISE, "李明 (昆明滇池智能装备)", 0),
    ("sme2@demo.example.cn", Role.ENTERPRISE, "王芳 (玉溪云岭新材料)", 1),
    ("provider@demo.example.cn", Role.PROVIDER, "张伟 (省质检院)", 0),
    ("ip@demo.example.cn", Role.PROVIDER, "陈静 (知信专利)", 2),
    ("reviewer@demo.example.cn", Role.REVIEWER, "审核员 赵磊", None),
    ("finance@demo.example.cn", Role.FINANCE, "财务 孙丽", None),
    ("auditor@demo.example.cn", Role.AUDITOR, "审计 周强", None),
    ("admin@demo.example.cn", Role.SYSADMIN, "系统管理员 吴刚", None),
]


@dataclass
class SeedResult:
    created: dict[str, int] = field(default_factory=dict)
    accounts: list[tuple[str, Role]] = field(default_factory=list)

    def count(self, what: str) -> None:
        self.created[what] = self.created.get(what, 0) + 1


def seed_programmes(session: Session, result: SeedResult, year: int) -> None:
    specs = [
        (
            ProgrammeKind.INNOVATION,
            f"{year}年度云南省科技创新券",
            FundingBody.PROVINCIAL,
            50_000_000_00,
            [
                ServiceCategory.TESTING,
                ServiceCategory.IP,
                ServiceCategory.RND,
                ServiceCategory.TRANSFORMATION,
            ],
        ),
        (
            ProgrammeKind.SERVICE,
            f"{year}年度昆明市创业创新服务券",
            FundingBody.MUNICIPAL,
            20_000_000_00,
            [
                ServiceCategory.INSTRUMENT_SHARING,
                ServiceCategory.CONSULTING,
                ServiceCategory.EVALUATION,
                ServiceCategory.AUDIT,
                ServiceCategory.TECH_TRANSACTION,
                ServiceCategory.FINANCING,
                ServiceCategory.IP,
                ServiceCategory.HIGH_TECH_CERT,
            ],
        ),
    ]
    for kind, name, funding, budget, categories in specs:
        exists = session.scalar(
            sa.select(Programme.id).where(Programme.kind == kind, Programme.year == year)
        )
        if exists is not None:
            continue
        session.add(
            Programme(
                kind=kind,
                year=year,
                name=name,
                funding_body=funding,
                total_budget_fen=budget,
                annual_cap_fen=DEFAULT_ANNUAL_CAP_FEN,
                eligible_categories=[c.value for c in categories],
                eligible_size_classes=[s.value for s in SizeClass],
                region_prefix="53" if kind is ProgrammeKind.INNOVATION else "5301",
                applications_open_on=date(year, 1, 1),
                applications_close_on=date(year, 12, 31),
                use_by=date(year, 12, 31),
                claim_deadline=date(year + 1, 3, 31),
            )
        )
        result.count("programmes")


def seed_providers(session: Session, result: SeedResult) -> list[Provider]:
    providers = []
    for org, institution_type in DEMO_PROVIDERS:
        provider = session.scalar(
            sa.select(Provider).where(Provider.credit_code == org.credit_code)
        )
        if provider is None:
            provider = Provider(
                name=org.name,
                credit_code=org.credit_code,
                region_code=parse_credit_code(org.credit_code).division_code,
                institution_type=institution_type,
                status=ProviderStatus.ADMITTED,
                contact_name="业务联系人",
                contact_phone="0871-65550000",
                contact_email=f"contact-{org.org_body.lower()}@demo.example.cn",
            )
            session.add(provider)
            result.count("providers")
        providers.append(provider)
    return providers


def seed_enterprises(session: Session, result: SeedResult) -> list[Enterprise]:
    enterprises = []
    for org, size_class, industry in DEMO_ENTERPRISES:
        enterprise = session.scalar(
            sa.select(Enterprise).where(Enterprise.credit_code == org.credit_code)
        )
        if enterprise is None:
            enterprise = Enterprise(
                name=org.name,
                credit_code=org.credit_code,
                region_code=parse_credit_code(org.credit_code).division_code,
                size_class=size_class,
                industry=industry,
                contact_name="企业联系人",
                contact_phone="13800000000",
                contact_email=f"contact-{org.org_body.lower()}@demo.example.cn",
                verification_status=VerificationStatus.VERIFIED,
            )
            session.add(enterprise)
            result.count("enterprises")
        enterprises.append(enterprise)
    return enterprises


def seed_accounts(
    session: Session, result: SeedResult, enterprises: list[Enterprise], providers: list[Provider]
) -> None:
    password_hash: str | None = None
    for email, role, display_name, org_index in DEMO_ACCOUNTS:
        result.accounts.append((email, role))
        if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
            continue
        password_hash = password_hash or hash_password(DEMO_PASSWORD)
        user = User(email=email, password_hash=password_hash, display_name=display_name, role=role)
        if role is Role.ENTERPRISE and org_index is not None:
            user.enterprise = enterprises[org_index]
        elif role is Role.PROVIDER and org_index is not None:
            user.provider = providers[org_index]
        session.add(user)
        result.count("accounts")


def seed(session: Session, *, today: date | None = None) -> SeedResult:
    result = SeedResult()
    year = (today or date.today()).year
    seed_programmes(session, result, year)
    providers = seed_providers(session, result)
    enterprises = seed_enterprises(session, result)
    session.flush()
    seed_accounts(session, result, enterprises, providers)
    session.flush()
    return result


def print_credentials(result: SeedResult) -> None:
    created = (
        ", ".join(f"{n} {what}" for what, n in sorted(result.created.items())) or "nothing new"
    )
    click.echo(f"Demo data ready ({created}).")
    click.echo("")
    click.echo("  演示账号 Demo accounts — password for all: " + DEMO_PASSWORD)
    width = max(len(email) for email, _ in result.accounts)
    for email, role in result.accounts:
        click.echo(f"    {email.ljust(width)}  {role.zh} / {role.en}")
    click.echo("")
