"""The tamper-evident trail: the database refuses edits, and `audit verify` names every record
changed, deleted or inserted through raw SQL (with the triggers out of the way, as an intruder
with the database owner's rights would do), on SQLite and PostgreSQL; checkpoints and copies."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from marketplace.audit import chain
from marketplace.audit.models import AuditCheckpoint, AuditEvent
from marketplace.audit.services import pseudonym, record
from marketplace.clock import today
from marketplace.enums import Role

AUDIT_TRIGGERS = {
    "sqlite": ("audit_events_no_update", "audit_events_no_delete"),
    "postgresql": ("audit_events_append_only",),
}


def _record_some(session, n=5):
    events = [
        record(
            session,
            "test.moved",
            actor_id=None,
            subject_type="thing",
            subject_id=i,
            from_status="a",
            to_status="b",
            amount_fen=100 * i,
        )
        for i in range(n)
    ]
    session.flush()
    return events


def _tamper(session, statement, params=None):
    """Run ``statement`` with the audit triggers disabled (an intruder owning the database)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        session.execute(sa.text(statement), params or {})
        session.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        return
    saved = {
        name: session.scalar(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"),
            {"n": name},
        )
        for name in AUDIT_TRIGGERS["sqlite"]
    }
    for name in saved:
        session.execute(sa.text(f"DROP TRIGGER {name}"))
    session.execute(sa.text(statement), params or {})
    for sql in saved.values():
        session.execute(sa.text(sql))


def _verify(session):
    session.expire_all()
    return chain.verify(session)


def test_a_sealed_trail_verifies(session):
    _record_some(session)
    assert chain.seal(session) >= 5
    assert chain.seal(session) == 0
    report = _verify(session)
    assert report.ok, report.problems
    seqs = session.scalars(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'edited'",
        "UPDATE audit_events SET seq = seq + 1000",
        "DELETE FROM audit_events",
    ],
)
def test_the_database_refuses_edits_and_deletes(session, statement):
    _record_some(session)
    chain.seal(session)
    with pytest.raises(DBAPIError) as info, session.begin_nested():
        session.execute(sa.text(statement))
    assert "append-only" in str(info.value)


def test_the_database_refuses_editing_content_while_sealing(session):
    (event, *_) = _record_some(session, 1)
    with pytest.raises(DBAPIError), session.begin_nested():
        session.execute(
            sa.text(
                "UPDATE audit_events SET seq = 999999, prev_hash = :h, hash = :h,"
                " action = 'forged' WHERE id = :id"
            ),
            {"h": "0" * 64, "id": event.id},
        )


def test_checkpoints_cannot_be_edited(session):
    _record_some(session, 2)
    chain.checkpoint(session, today())
    with pytest.raises(DBAPIError), session.begin_nested():
        session.execute(sa.text("UPDATE audit_checkpoints SET seq = 0"))
    with pytest.raises(DBAPIError), session.begin_nested():
        session.execute(sa.text("DELETE FROM audit_checkpoints"))


def test_verify_names_a_changed_record(session):
    events = _record_some(session)
    chain.seal(session)
    victim = events[2]
    _tamper(
        session,
        "UPDATE audit_events SET detail = :d WHERE id = :id",
        {"d": json.dumps({"amount_fen": 1}), "id": victim.id},
    )
    report = _verify(session)
    assert not report.ok
    assert report.problems[0].startswith(f"record #{victim.id} ")
    assert "changed" in report.problems[0]


def test_verify_names_a_record_whose_seal_was_rewritten(session):
    events = _record_some(session)
    chain.seal(session)
    victim = events[1]
    _tamper(
        session,
        "UPDATE audit_events SET hash = :h WHERE id = :id",
        {"h": "f" * 64, "id": victim.id},
    )
    report = _verify(session)
    assert f"record #{victim.id} " in report.problems[0] and "changed" in report.problems[0]


def test_verify_names_a_deleted_record(session):
    events = _record_some(session)
    chain.seal(session)
    session.expire_all()
    victim, follower = events[2], events[3]
    victim_id, victim_seq, follower_id = victim.id, victim.seq, follower.id
    _tamper(session, "DELETE FROM audit_events WHERE id = :id", {"id": victim_id})
    report = _verify(session)
    assert not report.ok
    first = report.problems[0]
    assert first.startswith("record(s) deleted") and f"before record #{follower_id}" in first
    assert f"position {victim_seq} missing" in first


def test_verify_catches_the_newest_records_deleted_after_a_checkpoint(session):
    events = _record_some(session)
    chain.checkpoint(session, today())
    session.expire_all()
    _tamper(session, "DELETE FROM audit_events WHERE id = :id", {"id": events[-1].id})
    report = _verify(session)
    assert any("record(s) deleted: the checkpoint" in p for p in report.problems)


def _insert_behind_the_back(session):
    dialect = session.get_bind().dialect.name
    when = "2026-12-01 08:00:00.000000" if dialect == "sqlite" else "2026-12-01 08:00:00+00"
    session.execute(
        sa.text(
            "INSERT INTO audit_events (occurred_at, action, subject_type, subject_id, detail,"
            " nonce, mac) VALUES (:t, 'voucher.issued', 'voucher', 1, :d, :n, :m)"
        ),
        {"t": when, "d": json.dumps({"amount_fen": 5_000_000}), "n": "1" * 32, "m": "e" * 64},
    )
    return session.scalar(sa.select(sa.func.max(AuditEvent.id)))


def test_verify_names_an_inserted_record_before_and_after_sealing(session):
    _record_some(session)
    chain.seal(session)
    forged = _insert_behind_the_back(session)
    report = _verify(session)
    assert report.problems[0].startswith(f"record #{forged} (not yet sealed)")
    assert "inserted" in report.problems[0]
    # The sealer seals whatever is there; the MAC still gives the intruder away.
    chain.seal(session)
    report = _verify(session)
    assert report.problems[0].startswith(f"record #{forged} ")
    assert "inserted behind the application's back" in report.problems[0]


def test_verify_names_a_forged_sealed_record_appended_to_the_chain(session):
    _record_some(session)
    chain.seal(session)
    seq, head = chain.head(session)
    dialect = session.get_bind().dialect.name
    when = "2026-12-01 08:00:00.000000" if dialect == "sqlite" else "2026-12-01 08:00:00+00"
    session.execute(
        sa.text(
            "INSERT INTO audit_events (occurred_at, action, subject_type, detail, nonce, mac,"
            " seq, prev_hash, hash) VALUES (:t, 'x', 'y', '{}', :n, :m, :s, :p, :h)"
        ),
        {"t": when, "n": "2" * 32, "m": "d" * 64, "s": seq + 1, "p": head, "h": "c" * 64},
    )
    forged = session.scalar(sa.select(sa.func.max(AuditEvent.id)))
    report = _verify(session)
    assert report.problems[0].startswith(f"record #{forged} ")


def test_checkpoint_is_signed_once_a_day_and_a_forgery_is_caught(session):
    _record_some(session, 3)
    first = chain.checkpoint(session, today())
    assert first.seq >= 3 and (first.seq, first.head_hash) == chain.head(session)
    _record_some(session, 2)
    assert chain.checkpoint(session, today()).id == first.id
    _tamper_checkpoint(session)
    report = _verify(session)
    assert any("wrong signature" in p for p in report.problems)


def _tamper_checkpoint(session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(sa.text("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER"))
        session.execute(sa.text("UPDATE audit_checkpoints SET seq = seq - 1"))
        session.execute(sa.text("ALTER TABLE audit_checkpoints ENABLE TRIGGER USER"))
        return
    sql = session.scalar(
        sa.text("SELECT sql FROM sqlite_master WHERE name = 'audit_checkpoints_no_update'")
    )
    session.execute(sa.text("DROP TRIGGER audit_checkpoints_no_update"))
    session.execute(sa.text("UPDATE audit_checkpoints SET seq = seq - 1"))
    session.execute(sa.text(sql))


def test_records_written_in_a_request_carry_role_and_address(app, session, create_user):
    auditor = create_user(Role.AUDITOR)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        event = record(
            session, "test.seen", actor_id=auditor.id, subject_type="user", subject_id=auditor.id
        )
    system = record(session, "test.job", actor_id=None, subject_type="thing", subject_id=1)
    session.flush()
    assert (event.actor_role, event.client_address) == ("auditor", "10.1.2.3")
    assert (system.actor_role, system.client_address) == ("system", None)


def test_personal_data_enters_only_as_a_keyed_hash(session):
    with pytest.raises(ValueError, match="personal data"):
        record(session, "x", actor_id=None, subject_type="y", subject_id=1, phone="13800000000")
    event = record(
        session, "x", actor_id=None, subject_type="y", subject_id=1, phone_hash=pseudonym("138")
    )
    assert event.detail["phone_hash"] == pseudonym("138") != pseudonym("139")
    assert "138" not in json.dumps(event.detail)


# --------------------------------------------------------------------------- the commands


def test_audit_verify_command_exits_non_zero_naming_the_record(app, session):
    events = _record_some(session)
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["audit", "verify"])
    assert clean.exit_code == 0, clean.output
    assert "[OK  ] audit chain" in clean.output and "ledger" in clean.output
    _tamper(
        session,
        "UPDATE audit_events SET action = 'voucher.revoked' WHERE id = :id",
        {"id": events[0].id},
    )
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"record #{events[0].id} " in broken.output and "changed" in broken.output


def test_an_inspector_verifies_an_exported_copy(app, session, tmp_path):
    events = _record_some(session, 4)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    copy = tmp_path / "trail.jsonl"
    exported = runner.invoke(args=["audit", "export-checkpoint", "--out", str(copy)])
    assert exported.exit_code == 0, exported.output
    good = runner.invoke(args=["audit", "verify", "--copy", str(copy)])
    assert good.exit_code == 0, good.output

    lines = copy.read_text(encoding="utf-8").splitlines()
    edited = [json.loads(line) for line in lines]
    target = next(i for i, r in enumerate(edited) if r.get("id") == events[1].id)
    edited[target]["detail"]["amount_fen"] = 1
    changed = tmp_path / "changed.jsonl"
    changed.write_text("\n".join(json.dumps(r) for r in edited), encoding="utf-8")
    result = runner.invoke(args=["audit", "verify", "--copy", str(changed)])
    assert result.exit_code == 1 and f"record #{events[1].id} " in result.output

    removed = tmp_path / "removed.jsonl"
    removed.write_text("\n".join(lines[:target] + lines[target + 1 :]), encoding="utf-8")
    result = runner.invoke(args=["audit", "verify", "--copy", str(removed)])
    assert result.exit_code == 1 and "deleted" in result.output

    # Another key (an inspector given the wrong one, or a forger) matches nothing.
    other = chain.Keyring(b"another-key-of-at-least-32-characters!!")
    report = chain.verify_copy(lines, other)
    assert not report.ok and any("is signed with key" in p for p in report.problems)
    # Nor does stripping the key's name from the checkpoint make any key do.
    header = json.loads(lines[0]) | {"key_id": None}
    report = chain.verify_copy([json.dumps(header), *lines[1:]], other)
    assert any("wrong signature" in p for p in report.problems)


def test_checkpoint_rows_are_one_per_day(session):
    chain.checkpoint(session, today())
    chain.checkpoint(session, today())
    count = session.scalar(sa.select(sa.func.count()).select_from(AuditCheckpoint))
    assert count == 1


# --------------------------------------------------------------------------- key rotation

OLD_KEY = "old-audit-key-retired-in-the-rotation-0123456789"
NEW_KEY = "new-audit-key-signing-after-the-rotation-987654321"
DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)


def _rotate(make_app, session, before_rotation, after_rotation):
    """A trail signed under OLD_KEY (``before_rotation`` records, DAY1's checkpoint), then
    under NEW_KEY with OLD_KEY retired (``after_rotation`` more, DAY2's checkpoint).
    Returns the two apps and the checkpoints."""
    before = make_app(AUDIT_SIGNING_KEY=OLD_KEY)
    rotated = make_app(AUDIT_SIGNING_KEY=NEW_KEY, AUDIT_SIGNING_OLD_KEYS=OLD_KEY)
    with before.app_context():
        _record_some(session, before_rotation)
        first = chain.checkpoint(session, DAY1)
    with rotated.app_context():
        _record_some(session, after_rotation)
        second = chain.checkpoint(session, DAY2)
    return before, rotated, first, second


def test_a_rotated_key_still_verifies_what_it_signed(make_app, session):
    before = make_app(AUDIT_SIGNING_KEY=OLD_KEY)
    rotated = make_app(AUDIT_SIGNING_KEY=NEW_KEY, AUDIT_SIGNING_OLD_KEYS=OLD_KEY)
    forgotten = make_app(AUDIT_SIGNING_KEY=NEW_KEY)
    with before.app_context():
        _record_some(session, 3)
        first = chain.checkpoint(session, DAY1)
        # Written under the old key but sealed after the rotation (a process not yet restarted).
        late = _record_some(session, 1)[0]
    with rotated.app_context():
        _record_some(session, 2)
        second = chain.checkpoint(session, DAY2)
        assert (first.key_id, second.key_id) == (
            chain.key_id(OLD_KEY.encode()),
            chain.key_id(NEW_KEY.encode()),
        )
        assert first.key_id != second.key_id and OLD_KEY[:16] not in first.key_id
        report = _verify(session)
        assert report.ok, report.problems
        assert (report.checked, report.checkpoints) == (6, 2)
        assert session.get(AuditEvent, late.id).seq <= second.seq
    with forgotten.app_context():
        # Without the retired key, its checkpoint and records no longer verify, and say why.
        problems = _verify(session).problems
        assert any("checkpoint of 2026-03-01 is signed with key" in p for p in problems)
        assert any("changed after it was sealed" in p for p in problems)


def test_a_retired_key_cannot_add_records_after_the_rotation(make_app, session):
    before, rotated, _, _ = _rotate(make_app, session, 2, 2)
    # Someone holding the leaked retired key writes a record after the new key took over.
    with before.app_context():
        forged = _record_some(session, 1)[0]
    with rotated.app_context():
        session.expire_all()
        unsealed = chain.verify(session).problems
        assert unsealed == [
            f"record #{forged.id} (not yet sealed) was inserted or changed behind the "
            "application's back: its MAC does not match"
        ]
        chain.seal(session)
        problems = _verify(session).problems
        assert len(problems) == 1
        assert f"record #{forged.id} " in problems[0] and "inserted behind" in problems[0]


def test_an_inspector_verifies_copies_signed_before_and_after_a_rotation(
    make_app, session, tmp_path
):
    _, rotated, _, _ = _rotate(make_app, session, 3, 2)
    forgotten = make_app(AUDIT_SIGNING_KEY=NEW_KEY)
    for day, records in ((DAY1, 3), (DAY2, 5)):
        copy = tmp_path / f"trail-{day}.jsonl"
        exported = rotated.test_cli_runner().invoke(
            args=["audit", "export-checkpoint", "--out", str(copy), "--day", day.isoformat()]
        )
        assert exported.exit_code == 0, exported.output
        header = json.loads(copy.read_text(encoding="utf-8").splitlines()[0])
        assert header["key_id"] == chain.key_id((OLD_KEY if day == DAY1 else NEW_KEY).encode())
        good = rotated.test_cli_runner().invoke(args=["audit", "verify", "--copy", str(copy)])
        assert good.exit_code == 0, good.output
        assert f"{records} record(s) checked" in good.output
        bad = forgotten.test_cli_runner().invoke(args=["audit", "verify", "--copy", str(copy)])
        assert bad.exit_code == 1
    assert "is signed with key" in bad.output or "changed after it was sealed" in bad.output
