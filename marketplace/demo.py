"""Demo data: the two programmes of the policy for the current year, admitted providers across
the policy's categories, verified Yunnan SMEs, and one account per role.

Idempotent: every record is looked up by its natural key (programme kind and year, credit
code, e-mail) and created only when missing, so ``flask demo seed`` can run on every start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.auth.passwords import hash_password
from marketplace.clock import local_date
from marketplace.config import current_settings
from marketplace.credit_code import make_credit_code, parse_credit_code
from marketplace.db import utcnow
from marketplace.enums import InstitutionType, Role, ServiceCategory, SizeClass
from marketplace.instruments.enums import RateBasis
from marketplace.instruments.models import InstrumentCalendar
from marketplace.orders import copayment, delivery
from marketplace.risk.services import assess
from providers.enums import ProviderStatus
from providers.models import InstrumentListing, Provider
from vouchers.enums import FunderLevel, FundingBody, ProgrammeKind, VerificationStatus
from vouchers.models import DEFAULT_ANNUAL_CAP_FEN, Enterprise, Programme
from vouchers.programmes import ensure_funded

if TYPE_CHECKING:
    from marketplace.orders.models import Order

DEMO_PASSWORD = "voucher-demo-2026"
#: The demo administrators' TOTP secret (base32), printed by ``demo seed`` so a reviewer can
#: sign in with any authenticator app or ``oathtool --totp -b <secret>``. Demo only: real
#: administrators enrol their own at first sign-in.
DEMO_TOTP_SECRET = "VOUCHERDEMOYUNNANKUNMINGTOTPKEYS"


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
    # No applications yet: the account to try "apply for a voucher" with (the innovation
    # voucher is province-wide; the service voucher is Kunming's, and this is Dali).
    ("sme3@demo.example.cn", Role.ENTERPRISE, "杨磊 (大理苍山数字)", 3),
    ("provider@demo.example.cn", Role.PROVIDER, "张伟 (省质检院)", 0),
    ("ip@demo.example.cn", Role.PROVIDER, "陈静 (知信专利)", 2),
    ("reviewer@demo.example.cn", Role.REVIEWER, "审核员 赵磊", None),
    ("finance@demo.example.cn", Role.FINANCE, "财务 孙丽", None),
    # Four eyes: the batches finance@ builds are sent and confirmed by another officer.
    ("finance2@demo.example.cn", Role.FINANCE, "财务 钱敏", None),
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
        existing = session.scalar(sa.select(User).where(User.email == email))
        if existing is not None:
            if existing.is_admin and existing.totp_secret is None:
                # A demo database seeded before the second factor existed.
                existing.totp_secret, existing.totp_enabled_at = DEMO_TOTP_SECRET, utcnow()
            continue
        password_hash = password_hash or hash_password(DEMO_PASSWORD)
        user = User(email=email, password_hash=password_hash, display_name=display_name, role=role)
        if role.is_admin:
            # Administrators cannot reach any page without a second factor.
            user.totp_secret, user.totp_enabled_at = DEMO_TOTP_SECRET, utcnow()
        if role is Role.ENTERPRISE and org_index is not None:
            enterprises[org_index].users.append(user)
        elif role is Role.PROVIDER and org_index is not None:
            providers[org_index].users.append(user)
        session.add(user)
        result.count("accounts")


#: (enterprise index into DEMO_ENTERPRISES, programme kind, amount in fen, approve?)
DEMO_VOUCHERS: list[tuple[int, ProgrammeKind, int, bool]] = [
    (0, ProgrammeKind.INNOVATION, 1_000_000, True),
    (0, ProgrammeKind.SERVICE, 500_000, True),
    (1, ProgrammeKind.INNOVATION, 2_000_000, True),
    (2, ProgrammeKind.INNOVATION, 800_000, False),
]


def seed_vouchers(
    session: Session, result: SeedResult, enterprises: list[Enterprise], today: date
) -> None:
    """Fund the year's programmes in the ledger and issue a few vouchers through the real
    services (one application is left awaiting review). Skips what already exists."""
    from vouchers import applications
    from vouchers.models import Application

    # Noon in Kunming on ``today``: inside the programmes' windows.
    now = datetime.combine(today, time(4, 0), UTC)
    programmes = {
        p.kind: p for p in session.scalars(sa.select(Programme).where(Programme.year == today.year))
    }
    for funded in programmes.values():
        ensure_funded(session, funded, now=now)
    reviewer = session.scalar(sa.select(User).where(User.role == Role.REVIEWER).order_by(User.id))
    for index, kind, amount, approve in DEMO_VOUCHERS:
        enterprise, programme = enterprises[index], programmes.get(kind)
        if programme is None or session.scalar(
            sa.select(Application.id).where(
                Application.enterprise_id == enterprise.id,
                Application.programme_id == programme.id,
            )
        ):
            continue
        application = applications.apply(
            session,
            enterprise.id,
            programme.id,
            applications.ApplicationInput(
                requested_fen=amount,
                planned_categories=programme.eligible_categories[:2],
                plan="购买检验检测与知识产权服务，支持新产品研发与认证。",
            ),
            actor_id=None,
            now=now,
        )
        result.count("applications")
        if approve:
            applications.approve(
                session, application.id, actor_id=reviewer.id if reviewer else None, now=now
            )
            result.count("vouchers")


#: Per demo provider (index into DEMO_PROVIDERS): accreditation level, declared categories,
#: qualifications (kind, number), description, and services. A service is (title, category,
#: description, price in fen or None for a quote, unit, lead time in days, instrument or None);
#: an instrument is (name, model, manufacturer, location) and its hourly rate is the price.
DemoService = tuple[
    str, ServiceCategory, str, int | None, str, int, tuple[str, str, str, str] | None
]
DEMO_CATALOGUE: list[
    tuple[str, list[ServiceCategory], list[tuple[str, str]], str, list[DemoService]]
] = [
    (
        "provincial",
        [ServiceCategory.TESTING, ServiceCategory.EVALUATION],
        [("cma", "162312050101"), ("cnas", "CNAS L0586")],
        "省级综合性产品质量检验机构，具备CMA资质认定和CNAS实验室认可，面向企业提供材料、食品、电气产品检验检测。",
        [
            (
                "材料检测服务",
                ServiceCategory.TESTING,
                "金属与非金属材料力学性能、化学成分、金相组织检测，出具CMA/CNAS检测报告。",
                80_000,
                "样品",
                7,
                None,
            ),
            (
                "食品安全检验",
                ServiceCategory.TESTING,
                "农药残留、重金属、微生物、食品添加剂等项目检验，支持新品上市送检。",
                120_000,
                "批次",
                10,
                None,
            ),
            (
                "电气产品安全检测",
                ServiceCategory.TESTING,
                "家用电器与电气设备安全性能、电磁兼容检测，服务产品认证申请。",
                350_000,
                "型号",
                20,
                None,
            ),
            (
                "产品质量技术评估",
                ServiceCategory.EVALUATION,
                "对企业新产品的质量水平与技术指标进行综合评估并出具评估报告。",
                None,
                "项",
                30,
                None,
            ),
        ],
    ),
    (
        "provincial",
        [
            ServiceCategory.TESTING,
            ServiceCategory.RND,
            ServiceCategory.TRANSFORMATION,
            ServiceCategory.INSTRUMENT_SHARING,
        ],
        [("cma", "182312050233")],
        "省级重点实验室，聚焦高原特色农业与生物资源，开放共享大型仪器并开展联合研发与成果转化。",
        [
            (
                "农产品农药残留检测",
                ServiceCategory.TESTING,
                "茶叶、咖啡、花卉等高原特色农产品的农药残留多残留筛查。",
                60_000,
                "样品",
                5,
                None,
            ),
            (
                "高原特色作物联合研发",
                ServiceCategory.RND,
                "与企业共建课题，开展品种改良、栽培技术与加工工艺联合研发。",
                None,
                "项",
                180,
                None,
            ),
            (
                "农业科技成果转化对接",
                ServiceCategory.TRANSFORMATION,
                "实验室专利与技术成果的评估、许可与转化对接服务。",
                None,
                "项",
                60,
                None,
            ),
            (
                "液质联用仪 LC-MS/MS 机时共享",
                ServiceCategory.INSTRUMENT_SHARING,
                "三重四极杆液质联用仪，适用于痕量残留与代谢物定量分析，可提供上机培训。",
                45_000,
                "小时",
                3,
                (
                    "液相色谱-三重四极杆质谱联用仪",
                    "Agilent 6470",
                    "Agilent",
                    "昆明市盘龙区北京路高原农业大楼2楼",
                ),
            ),
        ],
    ),
    (
        "municipal",
        [ServiceCategory.IP],
        [("patent_agency", "53101")],
        "经国家知识产权局批准设立的专利代理机构，提供专利申请、检索分析与布局服务。",
        [
            (
                "专利代理",
                ServiceCategory.IP,
                "发明、实用新型、外观设计专利申请代理，含技术交底、撰写与答复审查意见。",
                450_000,
                "件",
                90,
                None,
            ),
            (
                "专利检索分析",
                ServiceCategory.IP,
                "查新检索、侵权风险分析与专利导航报告，支持研发立项决策。",
                300_000,
                "项",
                15,
                None,
            ),
            (
                "商标注册代理",
                ServiceCategory.IP,
                "商标查询、注册申请与续展代理。",
                80_000,
                "件",
                30,
                None,
            ),
        ],
    ),
    (
        "municipal",
        [
            ServiceCategory.CONSULTING,
            ServiceCategory.HIGH_TECH_CERT,
            ServiceCategory.AUDIT,
            ServiceCategory.TECH_TRANSACTION,
            ServiceCategory.FINANCING,
        ],
        [],
        "科技咨询机构，服务企业高新技术企业认定、研发费用专项审计、技术交易与投融资。",
        [
            (
                "高新技术企业认定咨询",
                ServiceCategory.HIGH_TECH_CERT,
                "对照认定办法诊断企业条件，辅导知识产权、研发组织与申报材料编制。",
                2_000_000,
                "项",
                60,
                None,
            ),
            (
                "研发费用加计扣除专项审计",
                ServiceCategory.AUDIT,
                "研发费用归集专项审计并出具鉴证报告。",
                800_000,
                "项",
                20,
                None,
            ),
            (
                "技术合同登记与交易咨询",
                ServiceCategory.TECH_TRANSACTION,
                "技术合同认定登记、技术交易定价与合同审核。",
                300_000,
                "项",
                10,
                None,
            ),
            (
                "科技型企业投融资辅导",
                ServiceCategory.FINANCING,
                "商业计划书打磨、路演辅导与投资机构对接。",
                None,
                "项",
                45,
                None,
            ),
            (
                "企业技术创新咨询",
                ServiceCategory.CONSULTING,
                "技术路线规划、创新管理体系建设咨询。",
                500_000,
                "项",
                30,
                None,
            ),
        ],
    ),
    (
        "municipal",
        [ServiceCategory.INSTRUMENT_SHARING, ServiceCategory.TESTING],
        [],
        "昆明市大型科学仪器共享平台，整合高校院所大型仪器，按机时向企业开放共享。",
        [
            (
                "扫描电镜 SEM 机时共享",
                ServiceCategory.INSTRUMENT_SHARING,
                "场发射扫描电子显微镜，配能谱仪（EDS），适用于材料形貌与成分分析。",
                60_000,
                "小时",
                3,
                ("场发射扫描电子显微镜", "JSM-7610F", "JEOL", "昆明市呈贡区大学城科技共享中心B201"),
            ),
            (
                "X射线衍射仪 XRD 机时共享",
                ServiceCategory.INSTRUMENT_SHARING,
                "多功能X射线衍射仪，物相鉴定与结晶度分析。",
                40_000,
                "小时",
                3,
                (
                    "多功能X射线衍射仪",
                    "SmartLab 9kW",
                    "Rigaku",
                    "昆明市呈贡区大学城科技共享中心B105",
                ),
            ),
            (
                "透射电镜 TEM 机时共享",
                ServiceCategory.INSTRUMENT_SHARING,
                "球差校正透射电镜，纳米材料微结构表征。",
                120_000,
                "小时",
                5,
                (
                    "场发射透射电子显微镜",
                    "Talos F200X",
                    "Thermo Fisher",
                    "昆明市五华区学府路共享仪器楼1层",
                ),
            ),
        ],
    ),
]

#: A provider in public notice, so the 公示 page and the objection form have something to show.
DEMO_NOTICE_PROVIDER = DemoOrganisation("云南滇中新材料检测中心", "530113", "MA6N0006")
#: (enterprise index, provider index, service index, stars, comment)
DEMO_RATINGS: list[tuple[int, int, int, int, str]] = [
    (0, 0, 0, 5, "报告出具及时，数据规范。"),
    (1, 0, 0, 4, "检测周期比承诺略长，结果可靠。"),
    (0, 2, 0, 5, "撰写质量高，沟通顺畅。"),
    (1, 4, 0, 4, "机时预约方便，操作员专业。"),
]


def seed_catalogue(
    session: Session, result: SeedResult, providers: list[Provider], today: date
) -> None:
    """Give the demo providers their admission files, qualifications, programme participation
    and realistic services (through the real catalogue service), a few ratings, and put one
    more institution in public notice. Natural keys (credit code, title, order ref) keep it
    idempotent."""
    from providers import catalogue, credit, services
    from providers.catalogue import InstrumentInput, ServiceInput
    from providers.enums import (
        AccreditationLevel,
        ParticipationStatus,
        PricingMode,
        ProviderAction,
        QualificationKind,
    )
    from providers.models import (
        CreditCommitment,
        ProgrammeParticipation,
        ProviderQualification,
        ProviderStatusChange,
        Rating,
        Service,
    )
    from providers.rules import COMMITMENT_TEXT, COMMITMENT_VERSION, commitment_digest

    programmes = list(session.scalars(sa.select(Programme).where(Programme.year == today.year)))

    def file_in(provider: Provider, level: str, categories: list[ServiceCategory]) -> None:
        if provider.accreditation_level is None:
            provider.accreditation_level = AccreditationLevel(level)
            provider.service_categories = [c.value for c in categories]
            provider.address = "云南省昆明市"
            provider.bank_account_name = provider.name
            provider.bank_name = "中国工商银行昆明分行营业部"
            provider.bank_account_number = "25020" + provider.credit_code[10:16].replace("N", "1")
        if services.current_commitment(session, provider.id) is None:
            session.add(
                CreditCommitment(
                    provider_id=provider.id,
                    text_version=COMMITMENT_VERSION,
                    text_sha256=commitment_digest(COMMITMENT_TEXT),
                    signer_name=provider.contact_name,
                    signer_title="法定代表人",
                )
            )

    def qualify(provider: Provider, qualifications: list[tuple[str, str]]) -> None:
        for kind, number in qualifications:
            exists = session.scalar(
                sa.select(ProviderQualification.id).where(
                    ProviderQualification.kind == QualificationKind(kind),
                    ProviderQualification.number == number,
                )
            )
            if exists is None:
                session.add(
                    ProviderQualification(
                        provider_id=provider.id, kind=QualificationKind(kind), number=number
                    )
                )

    def participate(provider: Provider, status: ParticipationStatus) -> None:
        for programme in programmes:
            if not set(provider.service_categories) & set(programme.eligible_categories):
                continue
            if programme.id in {
                p.programme_id for p in services.participations(session, provider.id)
            }:
                continue
            session.add(
                ProgrammeParticipation(
                    provider_id=provider.id, programme_id=programme.id, status=status
                )
            )
            result.count("programme participations")

    for provider, (level, categories, qualifications, description, offers) in zip(
        providers, DEMO_CATALOGUE, strict=True
    ):
        file_in(provider, level, categories)
        provider.description = provider.description or description
        qualify(provider, qualifications)
        session.flush()
        participate(provider, ParticipationStatus.ADMITTED)
        for title, category, text, price, unit, days, instrument in offers:
            if session.scalar(
                sa.select(Service.id).where(
                    Service.provider_id == provider.id, Service.title == title
                )
            ):
                continue
            catalogue.create_service(
                session,
                provider,
                ServiceInput(
                    title=title,
                    category=category,
                    description=text,
                    pricing=PricingMode.FIXED if price else PricingMode.QUOTE,
                    price_fen=price,
                    unit=unit,
                    lead_time_days=days,
                    instrument=InstrumentInput(
                        instrument_name=instrument[0],
                        model=instrument[1],
                        manufacturer=instrument[2],
                        location=instrument[3],
                        hourly_rate_fen=price or 0,
                    )
                    if instrument
                    else None,
                ),
                actor_id=None,
            )
            result.count("services")
    session.flush()

    enterprises = [
        session.scalar(sa.select(Enterprise).where(Enterprise.credit_code == org.credit_code))
        for org, _size, _industry in DEMO_ENTERPRISES
    ]
    for enterprise_index, provider_index, service_index, stars, comment in DEMO_RATINGS:
        enterprise = enterprises[enterprise_index]
        title = DEMO_CATALOGUE[provider_index][4][service_index][0]
        service = session.scalar(
            sa.select(Service).where(
                Service.provider_id == providers[provider_index].id, Service.title == title
            )
        )
        ref = f"DEMO-{provider_index}-{service_index}"
        if (
            enterprise is None
            or service is None
            or session.scalar(
                sa.select(Rating.id).where(
                    Rating.enterprise_id == enterprise.id, Rating.order_ref == ref
                )
            )
        ):
            continue
        credit.rate_service(session, enterprise, service, ref, stars, comment)
        result.count("ratings")

    org = DEMO_NOTICE_PROVIDER
    if session.scalar(sa.select(Provider.id).where(Provider.credit_code == org.credit_code)):
        return
    starts, ends = today, today + timedelta(days=6)
    newcomer = Provider(
        name=org.name,
        credit_code=org.credit_code,
        region_code=org.division,
        institution_type=InstitutionType.TESTING_CENTRE,
        status=ProviderStatus.IN_NOTICE,
        contact_name="业务联系人",
        contact_phone="0871-65550006",
        contact_email="contact-ma6n0006@demo.example.cn",
        description="新材料与复合材料检验检测机构，申请入库科技创新券服务机构。",
        submitted_at=datetime.combine(today, time(1, 0), UTC),
        notice_starts_on=starts,
        notice_ends_on=ends,
    )
    session.add(newcomer)
    session.flush()
    for action, before, after in (
        (ProviderAction.SUBMIT, ProviderStatus.PENDING, ProviderStatus.PENDING),
        (ProviderAction.PASS_TO_NOTICE, ProviderStatus.PENDING, ProviderStatus.IN_NOTICE),
    ):
        session.add(
            ProviderStatusChange(
                provider_id=newcomer.id, action=action, from_status=before, to_status=after
            )
        )
    file_in(newcomer, "municipal", [ServiceCategory.TESTING])
    qualify(newcomer, [("cma", "202312050388")])
    session.flush()
    participate(newcomer, ParticipationStatus.APPLIED)
    result.count("providers in notice")


#: Demo orders, one per step a demo account can take next: (enterprise index, provider index,
#: service title, the status to reach, the request note — the natural key).
DEMO_ORDERS: list[tuple[int, int, str, str, str]] = [
    (0, 0, "电气产品安全检测", "requested", "演示订单：新款控制柜的安全性能检测，请报价。"),
    (0, 0, "食品安全检验", "quoted", "演示订单：员工食堂供应商送检样品。"),
    (1, 0, "材料检测服务", "agreed", "演示订单：新型铝合金型材力学性能检测。"),
    (0, 0, "材料检测服务", "delivered", "演示订单：齿轮钢金相组织检测。"),
    (1, 0, "食品安全检验", "confirmed", "演示订单：新品上市送检。"),
]
#: A one-page PDF standing in for the demo service reports.
DEMO_REPORT_PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


def demo_copayment(
    session: Session, order: Order, finance: User, bank_reference: str, now: datetime
) -> None:
    """The demo finance officer records the SME's co-payment transfer."""
    from marketplace.payments import services as payments

    payment = copayment.payment_of(session, order)
    assert payment is not None
    payments.record_offline_payment(
        session,
        payment.id,
        bank_reference=bank_reference,
        amount_fen=payment.amount_fen,
        actor_id=finance.id,
        now=now,
    )


def demo_delivery(
    session: Session, storage: Any, order: Order, seller: User, number: str, now: datetime
) -> None:
    """The provider delivers with a typed (paper-era) invoice numbered ``number`` and a
    report: the demo has no 数电发票 file."""
    import io

    from marketplace.orders.files import Upload

    assert order.price_fen is not None
    delivery.deliver(
        session,
        storage,
        order.id,
        seller,
        invoice=delivery.InvoiceInput(
            code="053002300111",
            number=number,
            issued_on=local_date(now),
            amount_fen=order.price_fen,
            buyer_taxpayer_id=order.enterprise.credit_code,
            seller_taxpayer_id=order.provider.credit_code,
        ),
        report=Upload("检测报告.pdf", io.BytesIO(DEMO_REPORT_PDF)),
        now=now,
    )


def seed_orders(
    session: Session,
    result: SeedResult,
    enterprises: list[Enterprise],
    providers: list[Provider],
    today: date,
) -> None:
    """Orders at each step through the real order, voucher and payment services (the demo
    finance officer records the bank transfers). They need the application's settings
    (payments, e-mail, the upload directory), so they are made only inside an application
    context, as ``flask demo seed`` runs. The request note is the natural key."""

    from flask import has_app_context

    from marketplace.orders import services as orders
    from marketplace.orders.enums import OrderStatus
    from marketplace.orders.files import OrderFileStorage
    from marketplace.orders.models import Order
    from providers.models import Service
    from vouchers.models import Voucher

    if not has_app_context():
        return
    now = datetime.combine(today, time(4, 0), UTC)
    storage = OrderFileStorage.from_settings(current_settings())

    def user(**where: object) -> User | None:
        return session.scalar(sa.select(User).filter_by(**where).order_by(User.id).limit(1))

    finance = user(role=Role.FINANCE)
    steps = ["requested", "quoted", "agreed", "paid", "delivered", "confirmed"]
    for number, (e_index, p_index, title, target, note) in enumerate(DEMO_ORDERS, start=1):
        enterprise, provider = enterprises[e_index], providers[p_index]
        sme, seller = user(enterprise_id=enterprise.id), user(provider_id=provider.id)
        service = session.scalar(
            sa.select(Service).where(Service.provider_id == provider.id, Service.title == title)
        )
        voucher = session.scalar(
            sa.select(Voucher)
            .where(Voucher.enterprise_id == enterprise.id, Voucher.balance_fen > 0)
            .order_by(Voucher.id)
            .limit(1)
        )
        if sme is None or seller is None or service is None or finance is None:
            continue
        if session.scalar(
            sa.select(Order.id).where(
                Order.enterprise_id == enterprise.id, Order.request_note == note
            )
        ):
            continue
        reach = steps.index(target)
        order = orders.request_service(session, sme, service.id, note=note, now=now)
        if reach >= 1:
            orders.quote(session, order.id, seller, now=now)
        if reach >= 2:
            orders.accept(
                session,
                order.id,
                sme,
                voucher_id=voucher.id if voucher else None,
                agree=True,
                now=now,
            )
        if reach >= 3:
            demo_copayment(session, order, finance, f"DEMO{today:%Y%m%d}{number:04d}", now)
        if reach >= 4:
            demo_delivery(session, storage, order, seller, f"{today:%y%m}{number:04d}", now)
        if reach >= 5:
            delivery.confirm(session, order.id, sme, now=now)
        assert order.status is OrderStatus(target)
        result.count("orders")


#: The treasuries of the demo: the province and the prefectures of the demo enterprises
#: (name, GB/T 2260 code, budget in the co-funded programme in fen).
DEMO_FUNDERS: list[tuple[str, str, int]] = [
    ("云南省财政厅", "530000", 2_000_000_00),
    ("昆明市财政局", "530100", 500_000_00),
    ("曲靖市财政局", "530300", 300_000_00),
    ("玉溪市财政局", "530400", 300_000_00),
    ("大理白族自治州财政局", "532900", 300_000_00),
]
#: The co-funded programme's demo order: a Yuxi SME uses a Kunming provider, so the province
#: and Yuxi (its home prefecture) each hold half of the voucher part ("use anywhere, pay at
#: home"). (enterprise index, provider index, service title, request note)
DEMO_CO_FUNDED_ORDER = (1, 0, "材料检测服务", "演示订单：省州共担券，异地检测、属地支付。")


def seed_co_funded(
    session: Session,
    result: SeedResult,
    enterprises: list[Enterprise],
    providers: list[Provider],
    today: date,
) -> None:
    """One co-funded programme beside the two single-funder ones: the province pays 50 % and
    the SME's home prefecture 50 %. Programmes are unique per kind and year, so it is next
    year's innovation programme, opened for applications today so the demo can use it now.
    Vouchers go to the Kunming and Yuxi SMEs; the Yuxi SME's order with a Kunming provider is
    agreed, so its hold is split between the province and Yuxi."""
    from flask import has_app_context

    from marketplace.orders import services as orders
    from marketplace.orders.models import Order
    from providers.enums import ParticipationStatus
    from providers.models import ProgrammeParticipation, Service
    from vouchers import applications, funders
    from vouchers.funder_models import Funder
    from vouchers.models import Voucher

    year = today.year + 1
    now = datetime.combine(today, time(4, 0), UTC)
    programme = session.scalar(
        sa.select(Programme).where(
            Programme.kind == ProgrammeKind.INNOVATION, Programme.year == year
        )
    )
    if programme is None:
        programme = Programme(
            kind=ProgrammeKind.INNOVATION,
            year=year,
            name=f"{year}年度科技创新券（省州共担·属地支付）",
            funding_body=FundingBody.PROVINCIAL,
            total_budget_fen=sum(budget for _, _, budget in DEMO_FUNDERS),
            annual_cap_fen=DEFAULT_ANNUAL_CAP_FEN,
            eligible_categories=[
                c.value for c in (ServiceCategory.TESTING, ServiceCategory.IP, ServiceCategory.RND)
            ],
            eligible_size_classes=[s.value for s in SizeClass],
            region_prefix="53",
            applications_open_on=today,
            applications_close_on=date(year, 12, 31),
            use_by=date(year, 12, 31),
            claim_deadline=date(year + 1, 3, 31),
        )
        session.add(programme)
        session.flush()
        ensure_funded(session, programme, now=now)
        result.count("programmes")
    by_code = {f.region_code: f for f in session.scalars(sa.select(Funder))}
    for name, code, _budget in DEMO_FUNDERS:
        if code not in by_code:
            by_code[code] = funders.create_funder(
                session,
                funders.FunderInput(
                    name, code, f"{name}国库存款户", "中国人民银行昆明中心支行", f"5300{code}0001"
                ),
                actor_id=None,
            )
            result.count("funders")
    if not programme.co_funded:
        funders.set_shares(
            session,
            programme.id,
            [
                funders.ShareInput(5_000, funder_id=by_code["530000"].id),
                funders.ShareInput(5_000, home_level=FunderLevel.PREFECTURE),
            ],
            expected_version=programme.version,
            actor_id=None,
        )
    for _name, code, budget in DEMO_FUNDERS:
        funders.set_budget(session, programme.id, by_code[code].id, budget, actor_id=None)
    provider_index = DEMO_CO_FUNDED_ORDER[1]
    for provider in (providers[provider_index],):
        if not session.scalar(
            sa.select(ProgrammeParticipation.id).where(
                ProgrammeParticipation.provider_id == provider.id,
                ProgrammeParticipation.programme_id == programme.id,
            )
        ):
            session.add(
                ProgrammeParticipation(
                    provider_id=provider.id,
                    programme_id=programme.id,
                    status=ParticipationStatus.ADMITTED,
                )
            )
    reviewer = session.scalar(sa.select(User).where(User.role == Role.REVIEWER).order_by(User.id))
    vouchers: dict[int, Voucher] = {}
    for index in (0, 1):
        enterprise = enterprises[index]
        voucher = session.scalar(
            sa.select(Voucher).where(
                Voucher.enterprise_id == enterprise.id, Voucher.programme_id == programme.id
            )
        )
        if voucher is None:
            application = applications.apply(
                session,
                enterprise.id,
                programme.id,
                applications.ApplicationInput(
                    requested_fen=500_000,
                    planned_categories=[ServiceCategory.TESTING.value],
                    plan="委托省级检验机构开展新产品检验检测，省州共担、属地支付。",
                ),
                actor_id=None,
                now=now,
            )
            result.count("applications")
            voucher = applications.approve(
                session, application.id, actor_id=reviewer.id if reviewer else None, now=now
            )
            result.count("vouchers")
        vouchers[index] = voucher
    e_index, p_index, title, note = DEMO_CO_FUNDED_ORDER
    enterprise, provider = enterprises[e_index], providers[p_index]
    sme = session.scalar(
        sa.select(User).where(User.enterprise_id == enterprise.id).order_by(User.id).limit(1)
    )
    seller = session.scalar(
        sa.select(User).where(User.provider_id == provider.id).order_by(User.id).limit(1)
    )
    service = session.scalar(
        sa.select(Service).where(Service.provider_id == provider.id, Service.title == title)
    )
    if not has_app_context() or sme is None or seller is None or service is None:
        return
    if session.scalar(
        sa.select(Order.id).where(Order.enterprise_id == enterprise.id, Order.request_note == note)
    ):
        return
    order = orders.request_service(session, sme, service.id, note=note, now=now)
    orders.quote(session, order.id, seller, now=now)
    orders.accept(session, order.id, sme, voucher_id=vouchers[e_index].id, agree=True, now=now)
    result.count("co-funded orders")
    seed_co_funded_payout(session, result, order, sme, seller, today, now)


def seed_co_funded_payout(
    session: Session,
    result: SeedResult,
    order: Order,
    sme: User,
    seller: User,
    today: date,
    now: datetime,
) -> None:
    """The co-funded order through delivery, claim and both approvals, then one payout batch
    per paying treasury (the province's part and Yuxi's: "pay at home"), built by the demo
    finance officer; finance2 sends each and imports its confirmation (four eyes)."""
    from marketplace.orders.files import OrderFileStorage
    from marketplace.settlement import claims, payouts
    from marketplace.settlement.enums import ClaimAction

    def staff(role: Role) -> User | None:
        return session.scalar(sa.select(User).where(User.role == role).order_by(User.id).limit(1))

    finance, reviewer = staff(Role.FINANCE), staff(Role.REVIEWER)
    if finance is None or reviewer is None:
        return
    demo_copayment(session, order, finance, f"DEMOCF{today:%Y%m%d}", now)
    storage = OrderFileStorage.from_settings(current_settings())
    demo_delivery(session, storage, order, seller, f"{today:%y%m}9001", now)
    delivery.confirm(session, order.id, sme, now=now)
    claim = claims.create_claim(session, order.provider_id, [order.id], actor_id=seller.id, now=now)
    claims.review(session, claim.id, ClaimAction.APPROVE, actor_id=reviewer.id, now=now)
    claims.finance_decide(
        session, claim.id, ClaimAction.FINANCE_APPROVE, actor_id=finance.id, now=now
    )
    built = payouts.create_batches(
        session,
        actor_id=finance.id,
        second_approval_above_fen=current_settings().payout_second_approval_above_fen,
        now=now,
    )
    for _batch in built.batches:
        result.count("payout batches")


def seed_instrument_calendars(session: Session, result: SeedResult) -> None:
    """Every demo instrument takes bookings online: Monday to Friday, 09:00–17:00 Beijing
    time, 1–4 hours, a day ahead, free cancellation until a day before, half the price for a
    no-show. Skips instruments that have a calendar."""
    listings = session.scalars(
        sa.select(InstrumentListing)
        .outerjoin(InstrumentCalendar, InstrumentCalendar.listing_id == InstrumentListing.id)
        .where(InstrumentCalendar.id.is_(None))
        .order_by(InstrumentListing.id)
    )
    for listing in listings:
        session.add(
            InstrumentCalendar(
                listing_id=listing.id,
                provider_id=listing.service.provider_id,
                rate_basis=RateBasis.HOUR,
                open_weekdays="12345",
                opens_hour=9,
                closes_hour=17,
                min_hours=1,
                max_hours=4,
                lead_time_hours=24,
                free_cancel_hours=24,
                no_show_fee_bps=5000,
                terms_note="请提前10分钟到场登记；未到场收取预约价格的50%（从自付部分扣除）。",
                is_bookable=True,
                version=1,
            )
        )
        result.count("instrument calendars")


def seed(session: Session, *, today: date | None = None) -> SeedResult:
    result = SeedResult()
    today = today or date.today()
    year = today.year
    seed_programmes(session, result, year)
    providers = seed_providers(session, result)
    enterprises = seed_enterprises(session, result)
    session.flush()
    seed_accounts(session, result, enterprises, providers)
    session.flush()
    seed_catalogue(session, result, providers, today)
    session.flush()
    seed_instrument_calendars(session, result)
    session.flush()
    seed_vouchers(session, result, enterprises, today)
    session.flush()
    seed_orders(session, result, enterprises, providers, today)
    session.flush()
    seed_co_funded(session, result, enterprises, providers, today)
    session.flush()
    # The risk pages and the dashboard show flags from the first visit.
    assess(session)
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
    click.echo("  管理员双重验证 Administrators' second factor (TOTP, any authenticator app):")
    click.echo(f"    secret {DEMO_TOTP_SECRET}   e.g. oathtool --totp -b {DEMO_TOTP_SECRET}")
    click.echo("")
