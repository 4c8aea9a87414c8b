"""Funders' budgets under real concurrency: threads, each with its own connection, real commits.

A co-funded programme (the province 50 % / the SME's home prefecture 50 %) whose three
funders' budgets are small: Kunming's and Qujing's SMEs place holds at once, so every hold
races on the province's budget and on its own prefecture's. No funder ever gives more than it
granted, nobody deadlocks, the refused holds are refused with `funder_budget_exceeded`, and
`ledger verify` passes (the funders' parts add up for every order).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.db import create_engine
from marketplace.enums import ServiceCategory, SizeClass
from marketplace.errors import DomainError
from tests.integration.vouchers.test_concurrency import _programme
from tests.support.fixtures import unique_credit_code
from vouchers import applications, funders, holds
from vouchers.applications import ApplicationInput
from vouchers.enums import FunderLevel, ProgrammeKind, VerificationStatus
from vouchers.funder_models import HoldFunderPart
from vouchers.funders import FunderInput, ShareInput
from vouchers.models import Enterprise, Hold
from vouchers.verify import verify_ledger

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
BUDGETS = {"530000": 3_000_000, "530100": 1_200_000, "530300": 900_000}


@dataclass
class World:
    vouchers: list[int] = field(default_factory=list)
    funder_ids: dict[str, int] = field(default_factory=dict)


def _build(url: str, per_prefecture: int) -> World:
    engine = create_engine(url)
    world = World()
    try:
        with Session(engine) as session:
            programme = _programme(session, ProgrammeKind.INNOVATION, 2026)
            for code in BUDGETS:
                funder = funders.create_funder(
                    session, FunderInput(f"财政{code}", code), actor_id=None
                )
                world.funder_ids[code] = funder.id
            funders.set_shares(
                session,
                programme.id,
                [
                    ShareInput(5_000, funder_id=world.funder_ids["530000"]),
                    ShareInput(5_000, home_level=FunderLevel.PREFECTURE),
                ],
                expected_version=programme.version,
                actor_id=None,
            )
            for code, budget in BUDGETS.items():
                funders.set_budget(
                    session, programme.id, world.funder_ids[code], budget, actor_id=None
                )
            for i in range(per_prefecture * 2):
                division = "530102" if i % 2 == 0 else "530302"
                code = unique_credit_code(division)
                enterprise = Enterprise(
                    name=f"出资并发企业{i}",
                    credit_code=code,
                    region_code=code[2:8],
                    size_class=SizeClass.SMALL,
                    contact_name="联系人",
                    contact_phone="13800000000",
                    contact_email=f"f{i}@test.example.cn",
                    verification_status=VerificationStatus.VERIFIED,
                )
                session.add(enterprise)
                session.flush()
                application = applications.apply(
                    session,
                    enterprise.id,
                    programme.id,
                    ApplicationInput(
                        2_000_000, [ServiceCategory.TESTING.value], "检测服务计划，用于并发测试。"
                    ),
                    actor_id=None,
                    now=NOW,
                )
                world.vouchers.append(
                    applications.approve(session, application.id, actor_id=None, now=NOW).id
                )
            session.commit()
    finally:
        engine.dispose()
    return world


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _worker(
    engine: sa.Engine,
    world: World,
    seed: int,
    attempts: int,
    barrier: threading.Barrier,
    tally: Tally,
) -> None:
    rng = random.Random(seed)
    barrier.wait()
    for n in range(attempts):
        requested = rng.randint(50_000, 250_000)
        with Session(engine) as session:
            try:
                hold = holds.place_hold(
                    session,
                    rng.choice(world.vouchers),
                    f"order:{seed}-{n}",
                    requested,
                    requested * 2,
                    f"fh-{seed}-{n}",
                    NOW,
                )
                hold_id = hold.id
                session.commit()
                outcome = "held"
            except DomainError as exc:
                session.rollback()
                outcome, hold_id = exc.code, None
            except Exception as exc:  # deadlocks, lock timeouts: must never happen
                session.rollback()
                with tally.lock:
                    tally.unexpected.append(f"{type(exc).__name__}: {exc}")
                continue
        with tally.lock:
            tally.outcomes[outcome] += 1
        # Release some, so returning budget races with new holds too.
        if hold_id is not None and rng.random() < 0.25:
            with Session(engine) as session:
                try:
                    holds.release_hold(session, hold_id, f"fr-{seed}-{n}", NOW)
                    session.commit()
                except Exception as exc:
                    session.rollback()
                    with tally.lock:
                        tally.unexpected.append(f"release {type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_two_funders_budgets_raced_are_never_exceeded(database, backend):
    workers, each = (6, 30) if backend == "postgresql" else (3, 20)
    url = database.fresh("funders_race")
    world = _build(url, per_prefecture=4)
    engine = create_engine(url)
    tally = Tally()
    barrier = threading.Barrier(workers)
    threads = [
        threading.Thread(target=_worker, args=(engine, world, seed, each, barrier, tally))
        for seed in range(workers)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert tally.unexpected == []
        assert sum(tally.outcomes.values()) == workers * each
        # The budgets bound: holds were refused because a funder ran out.
        assert tally.outcomes["funder_budget_exceeded"] > 0 and tally.outcomes["held"] > 0
        with Session(engine) as session:
            used = dict(
                session.execute(
                    sa.select(
                        HoldFunderPart.funder_id,
                        sa.func.sum(HoldFunderPart.held_fen - HoldFunderPart.released_fen),
                    ).group_by(HoldFunderPart.funder_id)
                ).all()
            )
            for code, budget in BUDGETS.items():
                assert 0 < used.get(world.funder_ids[code], 0) <= budget, code
            # Every hold of the programme has its parts (ledger verify checks they add up).
            assert (
                session.scalar(sa.select(sa.func.count()).select_from(Hold))
                == (tally.outcomes["held"])
            )
            report = verify_ledger(session)
            assert report.ok, [(c.name, c.breaches) for c in report.checks if not c.ok]
    finally:
        engine.dispose()
