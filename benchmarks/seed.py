"""Benchmark data, seeded fast.

* Rows without side effects (providers, services, enterprises, extra ledger history) go in
  in bulk into the models' tables, with ids reserved up front: executemany on SQLite,
  ``COPY … FROM STDIN`` on PostgreSQL (see :func:`insert_rows`).
* Everything that moves money (vouchers, orders, holds) goes through the real services, so the
  ledger, the quotas and the order history are what production would hold and ``ledger
  verify`` passes.
* The synthetic ledger history is made of complete hold → release pairs on real vouchers: each
  pair nets to zero on every account, so cached balances, quotas and voucher columns stay
  consistent with the entries.

All text is realistic Chinese catalogue copy, generated from a fixed seed (same data every run).
"""

from __future__ import annotations

import enum
import itertools
import json
import random
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.auth.models import User
from marketplace.auth.passwords import hash_password
from marketplace.auth.services import create_api_token
from marketplace.clock import local_date
from marketplace.credit_code import make_credit_code
from marketplace.db import get_db, utcnow
from marketplace.demo import SeedResult, demo_delivery, seed_programmes
from marketplace.enums import InstitutionType, Role, ServiceCategory, SizeClass
from marketplace.orders import copayment, delivery
from providers.catalogue import build_search_text
from providers.enums import ParticipationStatus, PricingMode, ProviderStatus
from providers.models import InstrumentListing, ProgrammeParticipation, Provider, Service
from vouchers.enums import HoldStatus, ProgrammeKind, Side, TransactionKind, VerificationStatus
from vouchers.ledger import voucher_accounts
from vouchers.ledger_models import LedgerEntry, LedgerTransaction
from vouchers.models import Enterprise, Hold, Programme
from vouchers.programmes import ensure_funded

BENCH_PASSWORD = "bench-password-2026"

#: Yunnan county-level divisions (Kunming's districts first: most providers are there).
DIVISIONS = [
    "530102",
    "530103",
    "530111",
    "530112",
    "530114",
    "530181",
    "530302",
    "530402",
    "530502",
    "530602",
    "530702",
    "532301",
    "532501",
    "532801",
    "532901",
    "533102",
]
CITIES = ["云南", "昆明", "曲靖", "玉溪", "红河", "大理", "楚雄", "普洱", "保山", "昭通", "丽江"]
WORDS = [
    "滇池",
    "高原",
    "云岭",
    "春城",
    "苍山",
    "洱海",
    "翠湖",
    "金马",
    "碧鸡",
    "彩云",
    "南方",
    "西南",
]


# --------------------------------------------------------------------------- batches


def chunks(rows: Sequence[dict[str, Any]], size: int = 2_000) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def reserve_ids(session: Session, model: Any, count: int) -> list[int]:
    """``count`` fresh primary keys for ``model``'s table: taken from its sequence on
    PostgreSQL (so later inserts never collide), after the largest id on SQLite."""
    table = model.__table__
    if session.get_bind().dialect.name == "postgresql":
        sequence = session.scalar(
            sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
        )
        return sorted(
            session.scalars(
                sa.text("SELECT nextval(:sequence) FROM generate_series(1, :count)"),
                {"sequence": sequence, "count": count},
            )
        )
    start = int(session.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))) or 0) + 1
    return list(range(start, start + count))


def insert_with_ids(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Bulk INSERT (executemany on the table, no RETURNING) with reserved ids, which it
    returns in the rows' order."""
    ids = reserve_ids(session, model, len(rows))
    insert_rows(session, model, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids


def insert_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """executemany on SQLite (in-process, fast); ``COPY … FROM STDIN`` on PostgreSQL, where
    executemany would be one round trip per row."""
    if not rows:
        return
    table: sa.Table = model.__table__
    if session.get_bind().dialect.name == "postgresql":
        _copy_rows(session, table, rows)
        return
    for part in chunks(rows):
        session.execute(sa.insert(table), list(part))


def _copy_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _copy_rows(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY in the session's transaction. Python-side column defaults (timestamps, counters)
    are filled in here, as an INSERT through SQLAlchemy would."""
    given = list(rows[0])
    defaults = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None:
            continue
        if getattr(default, "is_scalar", False):
            defaults[column.name] = lambda arg=default.arg: arg  # type: ignore[attr-defined]
        elif getattr(default, "is_callable", False):
            defaults[column.name] = lambda fn=default.arg: fn(None)  # type: ignore[attr-defined]
    columns = given + list(defaults)
    connection = session.connection().connection.driver_connection
    assert connection is not None
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            values = [_copy_value(row[name]) for name in given]
            values += [_copy_value(make()) for make in defaults.values()]
            copy.write_row(values)


@contextmanager
def seeding() -> Iterator[Session]:
    """A unit of work for seeding through the services that commits *without* running the
    after-commit jobs. With the offline gateway those are only e-mail deliveries: the messages
    stay in the outbox (pending), as in a deployment with Redis before its worker has run
    (``flask notifications send-pending`` would send them). Delivering thousands of e-mails
    inline would triple the seeding time and measure nothing."""
    session = get_db().new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.clear()
        session.close()


class Codes:
    """Valid, unique unified social credit codes: a numeric organisation body per kind."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.serial = itertools.count(1)

    def next(self, division: str) -> str:
        return make_credit_code(division, f"{self.prefix}{next(self.serial):07d}")


PROVIDER_CODES = Codes("6")
ENTERPRISE_CODES = Codes("7")
_password_hash: str | None = None


def password_hash() -> str:
    global _password_hash
    _password_hash = _password_hash or hash_password(BENCH_PASSWORD)
    return _password_hash


# --------------------------------------------------------------------------- catalogue text


@dataclass(frozen=True)
class Offer:
    title: str
    category: ServiceCategory
    description: str
    unit: str
    price_range: tuple[int, int] | None  # fen; None: quote on request
    instrument: tuple[str, str, str] | None = None  # name, model, manufacturer


MATERIALS = [
    "金属材料",
    "高分子材料",
    "建筑材料",
    "纺织品",
    "化妆品",
    "食品",
    "饮用水",
    "土壤",
    "茶叶",
    "咖啡",
    "中药材",
    "医疗器械",
    "锂电池",
    "光伏组件",
]
INSTRUMENTS = [
    ("扫描电子显微镜", "SEM Sigma 300", "ZEISS"),
    ("X射线衍射仪", "XRD D8 Advance", "Bruker"),
    ("液相色谱-三重四极杆质谱联用仪", "LC-MS/MS 6470", "Agilent"),
    ("电磁兼容测试暗室", "EMC 3m法半电波暗室", "ETS-Lindgren"),
    ("核磁共振波谱仪", "NMR AVANCE 400", "Bruker"),
    ("电感耦合等离子体质谱仪", "ICP-MS iCAP RQ", "Thermo Fisher"),
    ("气相色谱-质谱联用仪", "GC-MS 8890-5977B", "Agilent"),
    ("激光共聚焦显微镜", "LSM 980", "ZEISS"),
]
FIELDS = ["高原特色农业", "生物医药", "新材料", "绿色能源", "数字经济", "先进装备制造", "有色金属"]

TESTING_LINES = [
    "依据国家标准开展检测，出具带CMA/CNAS标识的检测报告。",
    "检测周期短，支持加急；可上门取样。",
    "覆盖力学性能、化学成分与有害物质检测项目。",
    "服务面向云南省中小微企业，可使用科技创新券抵扣。",
]
IP_LINES = [
    "资深专利代理师一对一服务，提供技术交底书撰写指导。",
    "含专利检索、新颖性分析与申请文件撰写。",
    "代理费用透明，可使用创新券抵扣官费以外部分。",
    "服务面向云南省中小微企业。",
]
GENERAL_LINES = [
    "团队由高级工程师与高校专家组成，服务流程规范。",
    "提供书面报告与后续技术支持。",
    "服务面向云南省中小微企业，可使用科技创新券抵扣。",
    "可签订技术服务合同并开具增值税电子发票。",
]


def _offers(rng: random.Random, institution: InstitutionType) -> list[Offer]:
    """The kinds of service an institution of this type lists."""
    material = rng.choice(MATERIALS)
    field_ = rng.choice(FIELDS)
    name, model, maker = rng.choice(INSTRUMENTS)
    testing = [
        Offer(
            f"{material}检测",
            ServiceCategory.TESTING,
            f"{material}理化指标与安全项目检测。",
            "样品",
            (30_000, 300_000),
        ),
        Offer(
            "电磁兼容（EMC）检测",
            ServiceCategory.TESTING,
            "电磁兼容EMC测试：辐射发射、传导骚扰、静电放电抗扰度，服务3C认证。",
            "型号",
            (200_000, 1_500_000),
        ),
        Offer(
            "电气安全检测",
            ServiceCategory.TESTING,
            "家用电器与电气设备安全性能检测。",
            "型号",
            (100_000, 800_000),
        ),
        Offer(
            "环境可靠性试验",
            ServiceCategory.TESTING,
            "高低温、湿热、盐雾、振动等环境可靠性试验。",
            "项",
            (50_000, 600_000),
        ),
        Offer(
            f"{material}检验认证",
            ServiceCategory.TESTING,
            f"{material}产品质量检验与认证咨询。",
            "批次",
            (80_000, 400_000),
        ),
        Offer(
            "产品质量技术评估",
            ServiceCategory.EVALUATION,
            "新产品质量水平与技术指标综合评估。",
            "项",
            None,
        ),
    ]
    ip = [
        Offer(
            "发明专利申请代理",
            ServiceCategory.IP,
            "发明专利申请文件撰写与审查意见答复。",
            "件",
            (500_000, 1_200_000),
        ),
        Offer(
            "实用新型专利代理",
            ServiceCategory.IP,
            "实用新型专利申请代理，含附图绘制。",
            "件",
            (150_000, 400_000),
        ),
        Offer(
            "外观设计专利代理",
            ServiceCategory.IP,
            "外观设计专利申请代理。",
            "件",
            (80_000, 200_000),
        ),
        Offer(
            "商标注册代理",
            ServiceCategory.IP,
            "商标查询、注册申请与续展代理。",
            "件",
            (50_000, 150_000),
        ),
        Offer(
            "专利检索与分析",
            ServiceCategory.IP,
            "专利查新检索、技术路线与侵权风险分析报告。",
            "项",
            (300_000, 2_000_000),
        ),
        Offer(
            "PCT国际专利申请代理", ServiceCategory.IP, "PCT国际专利申请与国家阶段代理。", "件", None
        ),
        Offer(
            "知识产权贯标辅导",
            ServiceCategory.IP,
            "企业知识产权管理规范（GB/T 29490）贯标辅导。",
            "项",
            (1_000_000, 3_000_000),
        ),
    ]
    lab = [
        Offer(
            f"{field_}联合研发",
            ServiceCategory.RND,
            f"与企业共建{field_}课题，开展联合攻关。",
            "项",
            None,
        ),
        Offer(
            f"{field_}科技成果转化对接",
            ServiceCategory.TRANSFORMATION,
            "专利与技术成果评估、许可与转化对接。",
            "项",
            None,
        ),
        Offer(
            f"{name}机时共享",
            ServiceCategory.INSTRUMENT_SHARING,
            f"{name}（{model}）对外开放共享，可提供上机培训与检测。",
            "小时",
            (20_000, 120_000),
            (name, model, maker),
        ),
        Offer(
            f"{material}成分检测",
            ServiceCategory.TESTING,
            f"{material}成分分析与检测。",
            "样品",
            (40_000, 200_000),
        ),
    ]
    instruments = [
        Offer(
            f"{n}机时共享",
            ServiceCategory.INSTRUMENT_SHARING,
            f"{n}（{m}）按小时共享，含样品制备指导。",
            "小时",
            (15_000, 150_000),
            (n, m, k),
        )
        for n, m, k in INSTRUMENTS
    ]
    consulting = [
        Offer(
            "高新技术企业认定辅导",
            ServiceCategory.HIGH_TECH_CERT,
            "高新技术企业认定申报材料梳理与辅导。",
            "项",
            (1_000_000, 3_000_000),
        ),
        Offer(
            "科技项目申报咨询",
            ServiceCategory.CONSULTING,
            "省市科技计划项目申报咨询与材料编制。",
            "项",
            (300_000, 1_000_000),
        ),
        Offer(
            "研发费用加计扣除专项审计",
            ServiceCategory.AUDIT,
            "研发费用归集与加计扣除专项审计报告。",
            "项",
            (500_000, 2_000_000),
        ),
        Offer(
            "技术合同认定登记服务",
            ServiceCategory.TECH_TRANSACTION,
            "技术合同认定登记与技术交易咨询。",
            "项",
            (100_000, 500_000),
        ),
        Offer(
            "科技型企业融资对接",
            ServiceCategory.FINANCING,
            "知识产权质押融资与股权融资对接。",
            "项",
            None,
        ),
        Offer(
            "技术成果价值评估",
            ServiceCategory.EVALUATION,
            "技术成果与专利价值评估报告。",
            "项",
            (500_000, 2_000_000),
        ),
    ]
    return {
        InstitutionType.TESTING_CENTRE: testing,
        InstitutionType.IP_AGENCY: ip,
        InstitutionType.KEY_LABORATORY: lab,
        InstitutionType.ENGINEERING_CENTRE: lab + testing[:2],
        InstitutionType.UNIVERSITY: lab + ip[4:5],
        InstitutionType.RESEARCH_INSTITUTE: lab + testing[3:4],
        InstitutionType.INSTRUMENT_PLATFORM: instruments,
        InstitutionType.ST_SERVICE: consulting + ip[3:5],
        InstitutionType.CONSULTING_FIRM: consulting,
    }[institution]


#: How common each kind of institution is among admitted providers.
INSTITUTION_MIX = [
    (InstitutionType.TESTING_CENTRE, 30),
    (InstitutionType.IP_AGENCY, 15),
    (InstitutionType.KEY_LABORATORY, 10),
    (InstitutionType.ENGINEERING_CENTRE, 8),
    (InstitutionType.UNIVERSITY, 5),
    (InstitutionType.RESEARCH_INSTITUTE, 7),
    (InstitutionType.INSTRUMENT_PLATFORM, 5),
    (InstitutionType.ST_SERVICE, 10),
    (InstitutionType.CONSULTING_FIRM, 10),
]
NAME_SUFFIX = {
    InstitutionType.TESTING_CENTRE: ["检验检测有限公司", "产品质量检验所", "检测技术服务中心"],
    InstitutionType.IP_AGENCY: ["专利代理事务所", "知识产权代理有限公司", "知识产权服务中心"],
    InstitutionType.KEY_LABORATORY: ["省级重点实验室"],
    InstitutionType.ENGINEERING_CENTRE: ["工程技术研究中心"],
    InstitutionType.UNIVERSITY: ["大学分析测试中心", "学院技术转移中心"],
    InstitutionType.RESEARCH_INSTITUTE: ["研究所", "科学研究院"],
    InstitutionType.INSTRUMENT_PLATFORM: ["大型科学仪器共享平台"],
    InstitutionType.ST_SERVICE: ["科技服务有限公司", "生产力促进中心"],
    InstitutionType.CONSULTING_FIRM: ["科技咨询有限公司", "企业管理咨询有限公司"],
}


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class CatalogueStats:
    providers: int
    admitted: int
    services: int
    listed: int


def seed_catalogue(
    session: Session, *, admitted: int = 2_000, per_provider: int = 10, unlisted: int = 200
) -> CatalogueStats:
    """``admitted`` admitted providers with ``per_provider`` services each (5% withdrawn),
    plus ``unlisted`` providers still in review or suspended whose services must never show."""
    rng = random.Random(20_260_601)
    kinds = [k for k, _w in INSTITUTION_MIX]
    weights = [w for _k, w in INSTITUTION_MIX]
    provider_rows: list[dict[str, Any]] = []
    for n in range(admitted + unlisted):
        institution = rng.choices(kinds, weights)[0]
        division = rng.choice(DIVISIONS)
        status = ProviderStatus.ADMITTED
        if n >= admitted:
            status = rng.choice(
                [ProviderStatus.PENDING, ProviderStatus.IN_NOTICE, ProviderStatus.SUSPENDED]
            )
        categories = sorted({o.category.value for o in _offers(rng, institution)})
        provider_rows.append(
            {
                "name": f"{rng.choice(CITIES)}{rng.choice(WORDS)}{n + 1}号"
                f"{rng.choice(NAME_SUFFIX[institution])}",
                "credit_code": PROVIDER_CODES.next(division),
                "region_code": division,
                "institution_type": institution,
                "status": status,
                "contact_name": "业务联系人",
                "contact_phone": "0871-65550000",
                "contact_email": f"bench-provider-{n}@bench.example.cn",
                "service_categories": categories,
                "credit_score": rng.randint(55, 98),
            }
        )
    provider_ids = insert_with_ids(session, Provider, provider_rows)

    service_rows: list[dict[str, Any]] = []
    listings: list[tuple[int, dict[str, Any]]] = []
    for index, (pid, row) in enumerate(zip(provider_ids, provider_rows, strict=True)):
        provider = Provider(name=row["name"], institution_type=row["institution_type"])
        count = per_provider if index < admitted else per_provider // 2
        for _ in range(count):
            offer = rng.choice(_offers(rng, row["institution_type"]))
            lines = (
                TESTING_LINES
                if offer.category is ServiceCategory.TESTING
                else IP_LINES
                if offer.category is ServiceCategory.IP
                else GENERAL_LINES
            )
            description = offer.description + "".join(rng.sample(lines, 2))
            price = rng.randint(*offer.price_range) // 100 * 100 if offer.price_range else None
            service = Service(title=offer.title, category=offer.category, description=description)
            listing = None
            if offer.instrument is not None:
                name, model, maker = offer.instrument
                listing = {
                    "instrument_name": name,
                    "model": model,
                    "manufacturer": maker,
                    "location": f"{rng.choice(CITIES)}市科技园{rng.randint(1, 30)}号楼",
                    "hourly_rate_fen": price,
                }
                service.instrument = InstrumentListing(**listing)
            rated = rng.random() < 0.6
            count_r = rng.randint(1, 60) if rated else 0
            total_r = rng.randint(count_r * 3, count_r * 5) if rated else 0
            service_rows.append(
                {
                    "provider_id": pid,
                    "title": offer.title,
                    "category": offer.category,
                    "description": description,
                    "pricing": PricingMode.FIXED if price else PricingMode.QUOTE,
                    "price_fen": price,
                    "unit": offer.unit,
                    "lead_time_days": rng.randint(3, 60),
                    "is_active": rng.random() >= 0.05,
                    "search_text": build_search_text(service, provider),
                    "rating_count": count_r,
                    "rating_total": total_r,
                    "rating_avg_x100": total_r * 100 // count_r if count_r else 0,
                }
            )
            if listing is not None:
                listings.append((len(service_rows) - 1, listing))
    service_ids = insert_with_ids(session, Service, service_rows)
    insert_rows(
        session,
        InstrumentListing,
        [{"service_id": service_ids[i], **listing} for i, listing in listings],
    )
    return CatalogueStats(
        providers=len(provider_ids),
        admitted=admitted,
        services=len(service_ids),
        listed=_count_listed(session),
    )


def _count_listed(session: Session) -> int:
    from providers.search import listed_services

    return int(
        session.scalar(sa.select(sa.func.count()).select_from(listed_services().subquery())) or 0
    )


# --------------------------------------------------------------------------- people


def programme_of(session: Session, year: int) -> Programme:
    """The innovation programme of ``year``. The year's two programmes are created like the
    demo's when missing, and both are funded in the ledger (an unfunded one is a breach)."""
    seed_programmes(session, SeedResult(), year)
    session.flush()
    programmes = session.scalars(sa.select(Programme).where(Programme.year == year)).all()
    for programme in programmes:
        ensure_funded(session, programme)
    return next(p for p in programmes if p.kind is ProgrammeKind.INNOVATION)


def add_enterprises(session: Session, count: int, *, rng: random.Random) -> list[int]:
    rows = []
    for n in range(count):
        division = rng.choice(DIVISIONS)
        rows.append(
            {
                "name": f"{rng.choice(CITIES)}{rng.choice(WORDS)}{rng.choice(FIELDS)}科技有限公司{n}",
                "credit_code": ENTERPRISE_CODES.next(division),
                "region_code": division,
                "size_class": rng.choice(list(SizeClass)),
                "industry": rng.choice(FIELDS),
                "contact_name": "企业联系人",
                "contact_phone": "13800000000",
                "contact_email": f"bench-sme-{ENTERPRISE_CODES.prefix}-{n}-{rng.random():.6f}@bench.example.cn",
                "verification_status": VerificationStatus.VERIFIED,
            }
        )
    return insert_with_ids(session, Enterprise, rows)


def add_user(session: Session, role: Role, email: str, **links: Any) -> User:
    user = User(
        email=email,
        password_hash=password_hash(),
        display_name=f"{role.zh} {email.split('@')[0]}",
        role=role,
        **links,
    )
    session.add(user)
    session.flush()
    return user


def issue_vouchers(
    session: Session,
    programme: Programme,
    enterprise_ids: Sequence[int],
    amount_fen: int,
    now: datetime,
) -> list[int]:
    """Apply and approve through the real services: one voucher per enterprise."""
    from vouchers import applications

    voucher_ids = []
    for enterprise_id in enterprise_ids:
        application = applications.apply(
            session,
            enterprise_id,
            programme.id,
            applications.ApplicationInput(
                requested_fen=amount_fen,
                planned_categories=[ServiceCategory.TESTING.value],
                plan="购买检验检测服务，支持新产品研发与认证。",
            ),
            actor_id=None,
            now=now,
        )
        voucher_ids.append(applications.approve(session, application.id, actor_id=None, now=now).id)
    return voucher_ids


def api_headers(session: Session, user: User) -> dict[str, str]:
    _token, plain = create_api_token(session, user, name="bench")
    return {"Authorization": f"Bearer {plain}"}


def signed_in_client(app: Flask, email: str) -> FlaskClient:
    """A client signed in through the real login form (CSRF token included)."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"email": email, "password": BENCH_PASSWORD}
    if match:
        data["csrf_token"] = match.group(1)
    response = client.post("/login", data=data)
    if response.status_code != 302:
        raise RuntimeError(f"bench login failed for {email}: HTTP {response.status_code}")
    return client


#: The price (fen) of each of the benchmark testing centre's services.
TESTING_PRICE_FEN = 18_000


def add_testing_centre(
    session: Session, programme_id: int, *, email: str
) -> tuple[Provider, list[int]]:
    """The admitted testing centre the benchmarks' SMEs order from: in the programme, with
    three fixed-price testing services (TESTING_PRICE_FEN); returns it and their ids."""
    provider = Provider(
        name="昆明春城检验检测有限公司（压测）",
        credit_code=PROVIDER_CODES.next("530102"),
        region_code="530102",
        institution_type=InstitutionType.TESTING_CENTRE,
        status=ProviderStatus.ADMITTED,
        contact_name="业务联系人",
        contact_phone="0871-65550000",
        contact_email=email,
        service_categories=[ServiceCategory.TESTING.value],
    )
    session.add(provider)
    session.flush()
    session.add(
        ProgrammeParticipation(
            provider_id=provider.id, programme_id=programme_id, status=ParticipationStatus.ADMITTED
        )
    )
    service_ids = []
    for title in ("金属材料检测", "电磁兼容（EMC）检测", "食品安全检验"):
        service = Service(
            provider_id=provider.id,
            title=title,
            category=ServiceCategory.TESTING,
            description=f"{title}，出具CMA检测报告。",
            pricing=PricingMode.FIXED,
            price_fen=TESTING_PRICE_FEN,
            unit="样品",
            lead_time_days=7,
            is_active=True,
        )
        service.search_text = build_search_text(service, provider)
        session.add(service)
        session.flush()
        service_ids.append(service.id)
    return provider, service_ids


# --------------------------------------------------------------------------- orders


@dataclass
class OrderWorld:
    sme_email: str
    provider_email: str
    sme_headers: dict[str, str]
    provider_headers: dict[str, str]
    provider_id: int
    confirmed_order_ids: list[int]
    total_orders: int
    claim_today: date


def seed_orders(app: Flask, *, confirmed: int = 200, open_requests: int = 800) -> OrderWorld:
    """One SME with ``confirmed + open_requests`` orders from one testing centre:
    ``confirmed`` go request → quote → accept (voucher hold) → bank transfer → delivery with
    invoice and report → confirmation (hold captured), the rest are requested or quoted.
    Everything happens three days ago, so today the confirmed orders are claimable."""
    from marketplace.orders import services as orders
    from marketplace.orders.files import OrderFileStorage
    from marketplace.payments import services as payments

    storage = OrderFileStorage.from_settings(app.config["SETTINGS"])
    placed = utcnow() - timedelta(days=3)
    rng = random.Random(7)
    with app.app_context():
        with seeding() as session:
            programme = programme_of(session, local_date(placed).year)
            tag = f"{utcnow():%H%M%S%f}"
            provider, service_ids = add_testing_centre(
                session, programme.id, email=f"bench-lab-{tag}@bench.example.cn"
            )
            (enterprise_id,) = add_enterprises(session, 1, rng=rng)
            enterprise = session.get(Enterprise, enterprise_id)
            sme = add_user(
                session, Role.ENTERPRISE, f"bench-sme-{tag}@bench.example.cn", enterprise=enterprise
            )
            seller = add_user(
                session, Role.PROVIDER, f"bench-lab-{tag}@bench.example.cn", provider=provider
            )
            finance = add_user(session, Role.FINANCE, f"bench-finance-{tag}@bench.example.cn")
            (voucher_id,) = issue_vouchers(session, programme, [enterprise_id], 2_000_000, placed)
            world = OrderWorld(
                sme_email=sme.email,
                provider_email=seller.email,
                sme_headers=api_headers(session, sme),
                provider_headers=api_headers(session, seller),
                provider_id=provider.id,
                confirmed_order_ids=[],
                total_orders=confirmed + open_requests,
                claim_today=local_date(utcnow()),
            )
            sme_id, seller_id, finance_id = sme.id, seller.id, finance.id

        def people(session: Session) -> tuple[User, User]:
            buyer, lab = session.get(User, sme_id), session.get(User, seller_id)
            assert buyer is not None and lab is not None
            return buyer, lab

        invoice_numbers = itertools.count(rng.randint(10_000_000, 50_000_000))
        for batch in range(0, confirmed, 50):
            with seeding() as session:
                sme, seller = people(session)
                for n in range(batch, min(batch + 50, confirmed)):
                    order = orders.request_service(
                        session, sme, service_ids[n % 3], note="请安排检测。", now=placed
                    )
                    orders.quote(session, order.id, seller, price_fen=18_000, now=placed)
                    orders.accept(
                        session, order.id, sme, voucher_id=voucher_id, agree=True, now=placed
                    )
                    payment = copayment.payment_of(session, order)
                    assert payment is not None
                    payments.record_offline_payment(
                        session,
                        payment.id,
                        bank_reference=f"BENCH{payment.id:010d}",
                        amount_fen=payment.amount_fen,
                        actor_id=finance_id,
                        now=placed,
                    )
                    delivered = placed + timedelta(days=1)
                    number = f"{next(invoice_numbers) % 100_000_000:08d}"
                    demo_delivery(session, storage, order, seller, number, delivered)
                    delivery.confirm(session, order.id, sme, now=placed + timedelta(days=2))
                    world.confirmed_order_ids.append(order.id)
        with seeding() as session:
            sme, seller = people(session)
            for n in range(open_requests):
                order = orders.request_service(
                    session, sme, service_ids[n % 3], note="请报价。", now=placed
                )
                if n % 8 == 0:
                    orders.quote(session, order.id, seller, price_fen=18_000, now=placed)
    return world


# --------------------------------------------------------------------------- ledger


@dataclass(frozen=True)
class VoucherRef:
    id: int
    programme_id: int
    quota_id: int
    balance_account_id: int
    held_account_id: int


def voucher_refs(session: Session, voucher_ids: Sequence[int]) -> list[VoucherRef]:
    """What a synthetic hold needs per voucher: its accounts and its quota row (taken from a
    real hold, so run at least one real place + release per voucher first)."""
    from vouchers.models import Voucher

    refs = []
    for voucher_id in voucher_ids:
        voucher = session.get(Voucher, voucher_id)
        assert voucher is not None
        quota_id = session.scalar(
            sa.select(Hold.quota_id).where(Hold.voucher_id == voucher_id).limit(1)
        )
        assert quota_id is not None, "place one real hold on the voucher first"
        accounts = voucher_accounts(session, voucher.programme_id, voucher_id)
        refs.append(
            VoucherRef(
                voucher_id, voucher.programme_id, quota_id, accounts.balance.id, accounts.held.id
            )
        )
    return refs


def add_hold_history(
    session: Session, refs: Sequence[VoucherRef], pairs: int, now: datetime
) -> int:
    """``pairs`` complete hold → release postings (4 ledger entries each) spread over the
    vouchers, bulk-inserted; returns the number of entries written."""
    rng = random.Random(pairs)
    stamp = f"{utcnow():%Y%m%d%H%M%S%f}"
    written = 0
    step = 5_000
    for start in range(0, pairs, step):
        count = min(step, pairs - start)
        plan = []
        for n in range(start, start + count):
            ref = refs[n % len(refs)]
            amount = rng.randint(1, 200) * 100
            plan.append((ref, amount, f"bench-{stamp}-{n}"))
        hold_ids = insert_with_ids(
            session,
            Hold,
            [
                {
                    "voucher_id": ref.id,
                    "quota_id": ref.quota_id,
                    "order_ref": f"order:{key}",
                    "status": HoldStatus.RELEASED,
                    "requested_fen": amount,
                    "price_fen": amount * 2,
                    "amount_fen": amount,
                    "captured_fen": 0,
                    "released_fen": amount,
                    "idempotency_key": f"{key}:hold",
                    "resolution_key": f"{key}:release",
                    "release_reason": "cancelled",
                    "placed_at": now,
                    "resolved_at": now,
                }
                for ref, amount, key in plan
            ],
        )
        txn_rows = []
        for (ref, _amount, key), hold_id in zip(plan, hold_ids, strict=True):
            common = {"programme_id": ref.programme_id, "voucher_id": ref.id, "hold_id": hold_id}
            txn_rows.append(
                {
                    **common,
                    "idempotency_key": f"hold.place:{key}:hold",
                    "kind": TransactionKind.HOLD,
                    "resolves_hold_id": None,
                    "memo": f"order order:{key}",
                    "posted_at": now,
                }
            )
            txn_rows.append(
                {
                    **common,
                    "idempotency_key": f"hold.release:{key}:release",
                    "kind": TransactionKind.RELEASE,
                    "resolves_hold_id": hold_id,
                    "memo": f"order order:{key}: cancelled",
                    "posted_at": now,
                }
            )
        txn_ids = insert_with_ids(session, LedgerTransaction, txn_rows)
        entries = []
        for i, (ref, amount, _key) in enumerate(plan):
            place, release = txn_ids[2 * i], txn_ids[2 * i + 1]
            entries += [
                {
                    "transaction_id": place,
                    "account_id": ref.balance_account_id,
                    "side": Side.DEBIT,
                    "amount_fen": amount,
                },
                {
                    "transaction_id": place,
                    "account_id": ref.held_account_id,
                    "side": Side.CREDIT,
                    "amount_fen": amount,
                },
                {
                    "transaction_id": release,
                    "account_id": ref.held_account_id,
                    "side": Side.DEBIT,
                    "amount_fen": amount,
                },
                {
                    "transaction_id": release,
                    "account_id": ref.balance_account_id,
                    "side": Side.CREDIT,
                    "amount_fen": amount,
                },
            ]
        insert_rows(session, LedgerEntry, entries)
        written += len(entries)
    return written


def ledger_entry_count(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) or 0)
