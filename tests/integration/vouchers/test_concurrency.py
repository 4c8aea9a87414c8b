"""Holds under real concurrency: threads, each with its own connection, real commits.

On PostgreSQL the workers genuinely interleave (row locks, conditional UPDATEs); on SQLite
every transaction takes the write lock at BEGIN IMMEDIATE, so the same code is serialised.
Either way: no cap, balance or budget is ever breached and ``verify_ledger`` passes.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.db import create_engine
from marketplace.enums import InstitutionType, ServiceCategory, SizeClass
from marketplace.errors import DomainError
from providers.enums import ProviderStatus
from providers.models import Provider
from tests.support.fixtures import unique_credit_code
from vouchers import applications, holds, programmes
from vouchers.applications import ApplicationInput
from vouchers.enums import FundingBody, HoldStatus, ProgrammeKind, VerificationStatus
from vouchers.models import DEFAULT_ANNUAL_CAP_FEN, Enterprise, Hold, Programme, Quota, Voucher
from vouchers.verify import verify_ledger

NOW_2025 = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)
NOW_2026 = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
CAP = DEFAULT_ANNUAL_CAP_FEN


def _programme(session: Session, kind: ProgrammeKind, year: int) -> Programme:
    programme = Programme(
        kind=kind,
        year=year,
        name=f"{year} {kind.value}",
        funding_body=FundingBody.PROVINCIAL,
        total_budget_fen=1_000_000_000,
        eligible_categories=[c.value for c in ServiceCategory],
        eligible_size_classes=[s.value for s in SizeClass],
        region_prefix="53",
        applications_open_on=date(year, 1, 1),
        applications_close_on=date(year, 12, 31),
        # The earlier year's vouchers stay usable through the next year, so an enterprise can
        # hold more voucher value than one year's cap: the cap, not the balance, must bind.
        use_by=date(2026, 12, 31),
        claim_deadline=date(2027, 3, 31),
    )
    session.add(programme)
    session.flush()
    programmes.ensure_funded(session, programme)
    return programme


def _issue(
    session: Session, enterprise: Enterprise, programme: Programme, now: datetime, amount: int
) -> Voucher:
    application = applications.apply(
        session,
        enterprise.id,
        programme.id,
        ApplicationInput(amount, [ServiceCategory.TESTING.value], "检测服务计划，用于并发测试。"),
        actor_id=None,
        now=now,
    )
    return applications.approve(session, application.id, actor_id=None, now=now)


@dataclass
class World:
    vouchers: dict[int, list[int]] = field(default_factory=dict)  # enterprise id → voucher ids
    provider_id: int = 0


def _build_world(url: str, enterprises: int) -> World:
    engine = create_engine(url)
    world = World()
    try:
        with Session(engine) as session:
            older = _programme(session, ProgrammeKind.INNOVATION, 2025)
            newer = _programme(session, ProgrammeKind.SERVICE, 2026)
            provider = Provider(
                name="并发测试检测中心",
                credit_code=unique_credit_code(),
                region_code="530102",
                institution_type=InstitutionType.TESTING_CENTRE,
                status=ProviderStatus.ADMITTED,
                contact_name="联系人",
                contact_phone="0871-65550000",
                contact_email="lab@test.example.cn",
            )
            session.add(provider)
            for i in range(enterprises):
                code = unique_credit_code()
                enterprise = Enterprise(
                    name=f"并发企业{i}",
                    credit_code=code,
                    region_code=code[2:8],
                    size_class=SizeClass.SMALL,
                    contact_name="联系人",
                    contact_phone="13800000000",
                    contact_email=f"e{i}@test.example.cn",
                    verification_status=VerificationStatus.VERIFIED,
                )
                session.add(enterprise)
                session.flush()
                # Even enterprises hold more than the 2026 cap (the cap binds); odd ones less
                # (their balances run out first).
                amounts = (CAP, CAP) if i % 2 == 0 else (800_000, 700_000)
                world.vouchers[enterprise.id] = [
                    _issue(session, enterprise, older, NOW_2025, amounts[0]).id,
                    _issue(session, enterprise, newer, NOW_2026, amounts[1]).id,
                ]
            session.commit()
            world.provider_id = provider.id
    finally:
        engine.dispose()
    return world


@dataclass
class Tally:
    attempts: int = 0
    held: int = 0
    held_fen: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _worker(
    url_engine: sa.Engine,
    world: World,
    seed: int,
    attempts: int,
    barrier: threading.Barrier,
    tally: Tally,
) -> None:
    rng = random.Random(seed)
    mine: list[int] = []
    barrier.wait()
    for n in range(attempts):
        enterprise_id = rng.choice(list(world.vouchers))
        voucher_id = rng.choice(world.vouchers[enterprise_id])
        requested = rng.randint(20_000, 300_000)
        price = requested * 2 + rng.randint(0, 100_000)
        with Session(url_engine) as session:
            try:
                hold = holds.place_hold(
                    session,
                    voucher_id,
                    f"o-{seed}-{n}",
                    requested,
                    price,
                    f"h-{seed}-{n}",
                    NOW_2026,
                )
                amount = hold.amount_fen
                hold_id = hold.id
                session.commit()
                outcome = "held"
            except DomainError as exc:
                session.rollback()
                outcome = exc.code
                amount = 0
                hold_id = None
            except Exception as exc:  # deadlocks, lock timeouts: must never happen
                session.rollback()
                with tally.lock:
                    tally.unexpected.append(f"{type(exc).__name__}: {exc}")
                continue
        with tally.lock:
            tally.attempts += 1
            tally.outcomes[outcome] += 1
            if hold_id is not None:
                tally.held += 1
                tally.held_fen += amount
        if hold_id is not None:
            mine.append(hold_id)
        # Resolve some holds too, so captures and releases race with new holds.
        if mine and rng.random() < 0.3:
            target = mine.pop(rng.randrange(len(mine)))
            with Session(url_engine) as session:
                try:
                    if rng.random() < 0.5:
                        holds.release_hold(session, target, f"r-{seed}-{n}", NOW_2026)
                    else:
                        holds.capture_hold(
                            session,
                            target,
                            f"c-{seed}-{n}",
                            NOW_2026,
                            provider_id=world.provider_id,
                        )
                    session.commit()
                except Exception as exc:
                    session.rollback()
                    with tally.lock:
                        tally.unexpected.append(f"resolve {type(exc).__name__}: {exc}")


def _run(url: str, *, workers: int, attempts_each: int, enterprises: int) -> tuple[Tally, float]:
    world = _build_world(url, enterprises)
    engine = create_engine(url)
    tally = Tally()
    barrier = threading.Barrier(workers)
    threads = [
        threading.Thread(target=_worker, args=(engine, world, seed, attempts_each, barrier, tally))
        for seed in range(workers)
    ]
    started = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        duration = time.perf_counter() - started
        with Session(engine) as session:
            _assert_no_breach(session, tally)
    finally:
        engine.dispose()
    return tally, duration


def _assert_no_breach(session: Session, tally: Tally) -> None:
    assert tally.unexpected == []
    for quota in session.scalars(sa.select(Quota)):
        assert quota.used_fen + quota.held_fen <= quota.cap_fen
    for voucher in session.scalars(sa.select(Voucher)):
        assert voucher.balance_fen >= 0
        assert (
            voucher.balance_fen + voucher.held_fen + voucher.used_fen + voucher.returned_fen
            == voucher.face_value_fen
        )
    holds_in_db = list(session.scalars(sa.select(Hold)))
    assert len(holds_in_db) == tally.held
    assert sum(h.amount_fen for h in holds_in_db) == tally.held_fen
    assert all(
        h.status is HoldStatus.OPEN or h.captured_fen + h.released_fen == h.amount_fen
        for h in holds_in_db
    )
    report = verify_ledger(session)
    assert report.ok, [(c.name, c.breaches) for c in report.checks if not c.ok]


@pytest.mark.slow
def test_many_workers_never_breach_caps_or_balances(database, backend):
    # PostgreSQL: 8 workers × 64 = 512 attempts; SQLite (serialised anyway): 4 × 40.
    workers, each = (8, 64) if backend == "postgresql" else (4, 40)
    tally, duration = _run(
        database.fresh("holds_race"), workers=workers, attempts_each=each, enterprises=6
    )
    assert tally.attempts == workers * each
    # Both bounds were contended: caps used up and balances run dry.
    assert tally.outcomes["cap_exceeded"] > 0
    assert tally.outcomes["voucher_exhausted"] > 0
    assert tally.held > 0
    print(
        f"\n[{backend}] concurrency: {workers} workers, {tally.attempts} hold attempts, "
        f"{tally.held} held (¥{tally.held_fen / 100:,.2f}), refusals {dict(tally.outcomes - Counter(held=tally.held))}, "
        f"{duration:.2f}s, ledger verify: ok"
    )


def _contend(
    engine: sa.Engine,
    voucher_id: int,
    tag: str,
    barrier: threading.Barrier,
    lock: threading.Lock,
    outcome: Counter[str],
) -> None:
    """Ask for the last yuan (100 fen) at the same moment as the other contender."""
    with Session(engine) as session:
        barrier.wait()
        try:
            holds.place_hold(session, voucher_id, tag, 100, 200, tag, NOW_2026)
            session.commit()
            result = "won"
        except DomainError as exc:
            session.rollback()
            result = exc.code
    with lock:
        outcome[result] += 1


def _race_for_last_yuan(url: str, rounds: int) -> list[Counter[str]]:
    world = _build_world(url, rounds * 2)
    engine = create_engine(url)
    results = []
    try:
        # Only the even enterprises hold a full cap on each of their two vouchers.
        for enterprise_id, (older, newer) in list(world.vouchers.items())[::2]:
            # Use the cap up to its last yuan (100 fen) with a captured hold.
            with Session(engine) as session:
                hold = holds.place_hold(
                    session,
                    older,
                    f"fill-{enterprise_id}",
                    CAP - 100,
                    CAP * 2,
                    f"fill-{enterprise_id}",
                    NOW_2026,
                )
                holds.capture_hold(
                    session,
                    hold,
                    f"fill-c-{enterprise_id}",
                    NOW_2026,
                    provider_id=world.provider_id,
                )
                session.commit()
            barrier = threading.Barrier(2)
            outcome: Counter[str] = Counter()
            lock = threading.Lock()
            threads = [
                threading.Thread(
                    target=_contend,
                    args=(engine, voucher_id, f"{tag}-{enterprise_id}", barrier, lock, outcome),
                )
                for voucher_id, tag in ((older, "a"), (newer, "b"))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            results.append(outcome)
        with Session(engine) as session:
            assert verify_ledger(session).ok
    finally:
        engine.dispose()
    return results


@pytest.mark.slow
def test_two_holds_racing_for_the_last_yuan_exactly_one_wins(database, backend):
    rounds = 12 if backend == "postgresql" else 4
    results = _race_for_last_yuan(database.fresh("last_yuan"), rounds)
    assert len(results) == rounds
    for outcome in results:
        assert outcome == Counter({"won": 1, "cap_exceeded": 1})


def _approve(
    engine: sa.Engine, application_id: int, barrier: threading.Barrier, outcomes: list[str]
) -> None:
    with Session(engine) as session:
        barrier.wait()
        try:
            applications.approve(session, application_id, actor_id=None, now=NOW_2026)
            session.commit()
            outcome = "approved"
        except DomainError as exc:
            session.rollback()
            outcome = exc.code
    outcomes.append(outcome)


@pytest.mark.slow
def test_concurrent_approvals_never_commit_more_than_the_budget(database, backend):
    url = database.fresh("approvals")
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            programme = Programme(
                kind=ProgrammeKind.INNOVATION,
                year=2026,
                name="小预算券种",
                funding_body=FundingBody.PROVINCIAL,
                total_budget_fen=5_000_000,
                eligible_categories=[c.value for c in ServiceCategory],
                eligible_size_classes=[s.value for s in SizeClass],
                region_prefix="53",
                applications_open_on=date(2026, 1, 1),
                applications_close_on=date(2026, 12, 31),
                use_by=date(2026, 12, 31),
                claim_deadline=date(2027, 3, 31),
            )
            session.add(programme)
            session.flush()
            programmes.ensure_funded(session, programme)
            ids = []
            for i in range(12):
                code = unique_credit_code()
                enterprise = Enterprise(
                    name=f"审批并发企业{i}",
                    credit_code=code,
                    region_code=code[2:8],
                    size_class=SizeClass.SMALL,
                    contact_name="联系人",
                    contact_phone="13800000000",
                    contact_email=f"a{i}@test.example.cn",
                    verification_status=VerificationStatus.VERIFIED,
                )
                session.add(enterprise)
                session.flush()
                ids.append(
                    applications.apply(
                        session,
                        enterprise.id,
                        programme.id,
                        ApplicationInput(
                            1_000_000, ["testing"], "检测服务计划，用于审批并发测试。"
                        ),
                        actor_id=None,
                        now=NOW_2026,
                    ).id
                )
            session.commit()
        # 12 different applications plus one approved twice at once, 8 at a time.
        work = [*ids, ids[0]]
        results: list[str] = []
        for start in range(0, len(work), 8):
            chunk = work[start : start + 8]
            barrier = threading.Barrier(len(chunk))
            outcomes: list[str] = []
            threads = [
                threading.Thread(target=_approve, args=(engine, app_id, barrier, outcomes))
                for app_id in chunk
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            results.extend(outcomes)
        counts = Counter(results)
        assert counts["approved"] == 5
        assert counts["approved"] + counts["budget_exceeded"] + counts["invalid_transition"] == 13
        with Session(engine) as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Voucher)) == 5
            assert verify_ledger(session).ok
    finally:
        engine.dispose()
