"""Issue 13, point 8: the long commands — bulk issuance from a file, the pages' exports,
``audit verify`` (the backfills share the command loop's bar) — show click's progress bar,
which draws on a terminal only (piped or logged, click prints the label once).

The runner is not a terminal, so the test records the bars the commands open — their label,
their length and how far they were moved — rather than their drawing: a bar whose length is
the work's size and that reaches it.
"""

from __future__ import annotations

import csv
import hashlib
import io

import click
import pytest
import sqlalchemy as sa

from marketplace import clock
from marketplace.audit.models import AuditEvent
from marketplace.audit.services import record
from marketplace.db import utcnow
from marketplace.enums import Role
from vouchers import issuance
from vouchers.models import IssuanceBatch, Voucher

YEAR = clock.local_date(utcnow()).year


@pytest.fixture
def bars(monkeypatch):
    """Every progress bar the command opened: [label, length, total of its updates]."""
    opened: list[list[object]] = []
    real = click.progressbar

    def recording(*args, **kwargs):
        bar = real(*args, **kwargs)
        entry = [kwargs.get("label"), bar.length, 0]
        opened.append(entry)
        update = bar.update

        def counted(steps, current_item=None):
            entry[2] += steps
            entry[1] = bar.length
            return update(steps, current_item)

        bar.update = counted
        return bar

    monkeypatch.setattr(click, "progressbar", recording)
    return opened


def test_bulk_issue_from_a_file_with_a_progress_bar(
    app, session, tmp_path, funded_programme, create_enterprise, create_user, bars
):
    programme = funded_programme(year=YEAR)
    reviewer = create_user(Role.REVIEWER)
    good, blacklisted = (
        create_enterprise(),
        create_enterprise(blacklisted=True, blacklist_reason="x"),
    )
    path = tmp_path / "issue.csv"
    path.write_text(
        f"credit_code,amount_yuan\n{good.credit_code},3000\n{blacklisted.credit_code},2000\n",
        encoding="utf-8",
    )
    runner = app.test_cli_runner()
    args = ["vouchers", "bulk-issue", str(programme.id), str(path), "--actor", reviewer.email]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert (
        "line 2: issued" in result.output
        and "line 3: refused enterprise_blacklisted" in result.output
    )
    assert "1 issued (¥3,000.00), 1 refused" in result.output
    assert bars == [["issuing", 2, 2]]
    assert session.scalars(sa.select(Voucher)).one().enterprise_id == good.id
    again = runner.invoke(args=args)  # the same file: nothing issued twice, and it says so
    assert again.exit_code == 0 and "already issued" in again.output  # idempotent re-run
    assert session.scalar(sa.select(sa.func.count()).select_from(IssuanceBatch)) == 1

    nobody = runner.invoke(args=[*args[:4], "--actor", "nobody@example.cn"])
    assert nobody.exit_code == 1 and "not a reviewer" in nobody.output


def test_exports_run_writes_the_pages_file_as_a_user(
    app, session, tmp_path, funded_programme, create_enterprise, create_user, bars
):
    programme = funded_programme(year=YEAR)
    reviewer = create_user(Role.REVIEWER)
    path = tmp_path / "issue.csv"
    path.write_text(
        f"credit_code,amount_yuan\n{create_enterprise().credit_code},3000\n", encoding="utf-8"
    )
    runner = app.test_cli_runner()
    issued = runner.invoke(
        args=["vouchers", "bulk-issue", str(programme.id), str(path), "--actor", reviewer.email]
    )
    assert issued.exit_code == 0, issued.output
    auditor = create_user(Role.AUDITOR)
    output = tmp_path / "audit.csv"
    result = runner.invoke(
        args=[
            "exports",
            "run",
            "/admin/audit.csv?action=vouchers.",
            str(output),
            "--as",
            auditor.email,
        ]
    )
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(io.StringIO(output.read_text(encoding="utf-8").lstrip("\ufeff"))))
    assert lines[0][0] == "编号" and len(lines) > 1
    assert all(line[6].startswith("vouchers.") for line in lines[1:])
    assert f"{len(lines) - 1} row(s) written" in result.output
    assert bars[-1] == ["audit-trail.csv", len(lines) - 1, len(lines) - 1]

    sme = create_user(Role.ENTERPRISE)
    refused = runner.invoke(
        args=["exports", "run", "/admin/audit.csv", str(tmp_path / "x.csv"), "--as", sme.email]
    )
    assert refused.exit_code == 1 and not (tmp_path / "x.csv").exists()


def test_audit_verify_shows_its_progress(app, session, bars):
    with app.app_context():
        for n in range(3):
            record(session, "user.updated", actor_id=None, subject_type="user", subject_id=n + 1)
        session.flush()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert bars == [["checking the audit trail", 3, 3]]


def test_a_bulk_issuance_stopped_half_way_is_taken_up_where_it_stopped(
    app, session, tmp_path, funded_programme, create_enterprise, create_user
):
    """A worker that died after its first chunk left the batch with some rows reported and no
    audit record; the same file again issues the rest (never the reported rows twice) and
    closes the batch once."""
    programme = funded_programme(year=YEAR)
    reviewer = create_user(Role.REVIEWER)
    first, second = create_enterprise(), create_enterprise()
    data = f"credit_code,amount_yuan\n{first.credit_code},3000\n{second.credit_code},2000\n"
    path = tmp_path / "issue.csv"
    path.write_bytes(data.encode())
    rows = issuance.parse_upload(data.encode(), "issue.csv")
    with app.app_context():
        batch, replayed = issuance.open_batch(
            session,
            programme.id,
            filename="issue.csv",
            digest=hashlib.sha256(data.encode()).hexdigest(),
            actor_id=reviewer.id,
        )
        issuance.issue_rows(session, batch, rows, 0, 1)  # the first chunk only
        session.flush()
    assert not replayed and batch.issued_count == 1

    result = app.test_cli_runner().invoke(
        args=["vouchers", "bulk-issue", str(programme.id), str(path), "--actor", reviewer.email]
    )
    assert result.exit_code == 0, result.output
    assert "line 3: issued" in result.output and "already issued" not in result.output
    session.refresh(batch)
    assert (batch.issued_count, batch.refused_count) == (2, 0)
    assert [v.enterprise_id for v in session.scalars(sa.select(Voucher).order_by(Voucher.id))] == [
        first.id,
        second.id,
    ]
    closed = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "vouchers.bulk_issued")
    ).all()
    assert len(closed) == 1 and closed[0].detail["issued"] == 2
