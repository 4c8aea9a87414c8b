"""Bank confirmations under real concurrency: threads, each with its own connection and
transaction, real commits.

Eight finance officers (or retries of one upload) import the same bank confirmation of one
sent batch at the same moment. On PostgreSQL they race for the batch's row lock; on SQLite
BEGIN IMMEDIATE serialises them. Either way exactly one import applies the payments, every
other one finds them unchanged (or is refused with a named error), the ledger posts each
payment once and verifies.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import create_app
from marketplace.db import create_engine
from marketplace.enums import Role
from marketplace.errors import DomainError
from marketplace.orders.enums import OrderAction
from marketplace.orders.enums import OrderStatus as S
from marketplace.orders.models import Order, OrderEvent
from marketplace.settlement import payout_files, payouts
from marketplace.settlement.enums import (
    ClaimAction,
    ClaimLineStatus,
    PayoutBatchStatus,
    PayoutLineStatus,
)
from marketplace.settlement.ledger_checks import verify_books
from marketplace.settlement.models import ClaimEvent, ClaimLine, PayoutBatch, PayoutLine
from tests.conftest import app_config
from tests.integration.orders.test_concurrency import _factories
from tests.support.order_fixtures import OrderWorld
from tests.support.settlement_fixtures import CLAIM_NOW, SettlementWorld
from vouchers import ledger
from vouchers.enums import AccountKind, TransactionKind
from vouchers.ledger_models import LedgerTransaction

WORKERS = 8


def _build(app: Any, engine: sa.Engine) -> dict[str, Any]:
    """Three confirmed orders of two providers, claimed, approved, in one sent batch."""
    with app.app_context(), Session(engine) as session:
        factories = _factories(session)
        orders = OrderWorld(session, app, **factories)
        world = SettlementWorld(session, orders, orders.create, factories["create_user"])
        a1 = world.order()
        a2 = world.order(provider=a1.provider, price_fen=300_000)
        b1 = world.order(price_fen=100_000)
        world.approved_claim(a1, a2)
        world.approved_claim(b1)
        batch = world.sent_batch()
        facts = {
            "batch": batch.id,
            "lines": sorted(line.id for line in batch.lines),
            "orders": [a1.id, a2.id, b1.id],
            "csv": world.confirmation_csv(batch),
            "failed_csv": world.confirmation_csv(
                batch, {line.id: "failed" for line in batch.lines}
            ),
            # Officers other than the batch's builder (four eyes).
            "finance": [world.second_finance.id]
            + [factories["create_user"](Role.FINANCE).id for _ in range(WORKERS - 1)],
            "programme": a1.voucher.programme_id,
            "providers": {a1.provider_id: 250_000, b1.provider_id: 50_000},
        }
        session.commit()
    return facts


def _import_at_once(
    app: Any, engine: sa.Engine, facts: dict[str, Any], files: list[str] | None = None
) -> list[Any]:
    """Every worker imports ``facts["csv"]`` (or its own of ``files``) at the same moment."""
    barrier = threading.Barrier(WORKERS)
    outcomes: list[Any] = [None] * WORKERS

    def run(index: int) -> None:
        rows = payout_files.parse_confirmation_csv(files[index] if files else facts["csv"])
        with app.app_context(), Session(engine) as session:
            barrier.wait()
            try:
                result = payouts.import_confirmation(
                    session,
                    facts["batch"],
                    rows,
                    actor_id=facts["finance"][index],
                    source="csv",
                    now=CLAIM_NOW + timedelta(days=1),
                )
                session.commit()
                outcomes[index] = ("ok", sorted(result.applied), sorted(result.unchanged))
            except DomainError as exc:
                session.rollback()
                outcomes[index] = ("refused", exc.code)
            except Exception as exc:  # deadlocks, serialisation or lock timeouts: never
                session.rollback()
                outcomes[index] = ("crashed", f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def test_one_confirmation_imported_eight_times_at_once_pays_once(database, backend, tmp_path: Path):
    url = database.fresh("payout_race")
    app = create_app(app_config(url, tmp_path))
    engine = create_engine(url)
    try:
        facts = _build(app, engine)
        lines = facts["lines"]
        outcomes = _import_at_once(app, engine, facts)

        assert not [o for o in outcomes if o[0] == "crashed"], outcomes
        applied = [o for o in outcomes if o[0] == "ok" and o[1]]
        assert applied == [("ok", lines, [])], outcomes
        others = [o for o in outcomes if o not in applied]
        # Everyone else saw the payments already recorded the same way (nothing to refuse:
        # the rows repeat the applied ones exactly).
        assert others == [("ok", [], lines)] * (WORKERS - 1), outcomes

        with Session(engine) as session:
            batch = session.get(PayoutBatch, facts["batch"])
            assert batch.status is PayoutBatchStatus.COMPLETED
            assert batch.version == 3  # built 1, sent 2, confirmed once 3
            assert {line.status for line in batch.lines} == {PayoutLineStatus.PAID}
            payouts_posted = session.scalars(
                sa.select(LedgerTransaction.idempotency_key).where(
                    LedgerTransaction.kind == TransactionKind.PAYOUT
                )
            ).all()
            assert sorted(payouts_posted) == sorted(
                f"payout:{line_id}:p{facts['programme']}" for line_id in lines
            )
            for provider_id, amount in facts["providers"].items():
                paid = ledger.get_account(
                    session,
                    AccountKind.PROVIDER_PAID,
                    programme_id=facts["programme"],
                    provider_id=provider_id,
                )
                payable = ledger.get_account(
                    session,
                    AccountKind.PROVIDER_PAYABLE,
                    programme_id=facts["programme"],
                    provider_id=provider_id,
                )
                assert (paid.balance_fen, payable.balance_fen) == (amount, 0)
            for order_id in facts["orders"]:
                assert session.get(Order, order_id).status is S.PAID_OUT
            pay_outs = session.scalars(
                sa.select(OrderEvent.order_id).where(OrderEvent.action == OrderAction.PAY_OUT)
            ).all()
            assert Counter(pay_outs) == Counter(facts["orders"])
            assert {cl.status for cl in session.scalars(sa.select(ClaimLine))} == {
                ClaimLineStatus.PAID
            }
            pays = session.scalars(
                sa.select(ClaimEvent.line_id).where(ClaimEvent.action == ClaimAction.PAY)
            ).all()
            assert len(pays) == len(set(pays)) == 3
            confirmed_by = session.scalars(sa.select(PayoutLine.confirmed_by_id)).all()
            assert len(set(confirmed_by)) == 1  # one import's officer recorded every line
            report = verify_books(session)
            assert report.ok, [(c.name, c.breaches) for c in report.checks if c.breaches]
        print(f"\n[{backend}] {WORKERS} concurrent imports: 1 applied, {WORKERS - 1} unchanged")
    finally:
        engine.dispose()
        app.extensions["db"].engine.dispose()


def test_contradicting_confirmations_at_once_one_wins_the_rest_are_refused(
    database, backend, tmp_path: Path
):
    """Half the workers say "paid", half "failed" (two different bank files for the same
    batch): the first to lock the batch decides; the same file again is unchanged, the other
    file is refused whole with ``confirmation_conflict``; the ledger follows the winner."""
    url = database.fresh("payout_conflict")
    app = create_app(app_config(url, tmp_path))
    engine = create_engine(url)
    try:
        facts = _build(app, engine)
        lines = facts["lines"]
        files = [facts["csv"], facts["failed_csv"]] * (WORKERS // 2)
        outcomes = _import_at_once(app, engine, facts, files)

        assert not [o for o in outcomes if o[0] == "crashed"], outcomes
        winners = [i for i, o in enumerate(outcomes) if o[0] == "ok" and o[1]]
        assert len(winners) == 1, outcomes
        won_paid = files[winners[0]] == facts["csv"]
        for index, outcome in enumerate(outcomes):
            if index == winners[0]:
                assert outcome == ("ok", lines, [])
            elif files[index] == files[winners[0]]:
                assert outcome == ("ok", [], lines), outcomes
            else:
                assert outcome == ("refused", "confirmation_conflict"), outcomes

        with Session(engine) as session:
            statuses = {line.status for line in session.get(PayoutBatch, facts["batch"]).lines}
            posted = session.scalar(
                sa.select(sa.func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.kind == TransactionKind.PAYOUT)
            )
            if won_paid:
                assert (statuses, posted) == ({PayoutLineStatus.PAID}, len(lines))
            else:
                assert (statuses, posted) == ({PayoutLineStatus.FAILED}, 0)
                # Failed: the claim lines are back in the payout queue, once each.
                queue = payouts.payout_queue(session)
                assert sorted(cl.order_id for cl in queue) == sorted(facts["orders"])
            report = verify_books(session)
            assert report.ok, [(c.name, c.breaches) for c in report.checks if c.breaches]
        print(f"\n[{backend}] contradicting imports: {'paid' if won_paid else 'failed'} won")
    finally:
        engine.dispose()
        app.extensions["db"].engine.dispose()
