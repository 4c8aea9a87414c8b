"""The audit trail's hash chain: sealing, verification, daily signed checkpoints, copies.

Three keyed proofs, all HMAC-SHA256 under ``AUDIT_SIGNING_KEY`` (domain-separated):

* a record's **MAC**, computed by :func:`marketplace.audit.services.record` inside the
  transaction that writes it: only the application can produce it, so a row inserted (or
  edited) through SQL is caught even before it is sealed;
* its **chain hash**, given by :func:`seal` shortly after the commit: it covers the record's
  content, its MAC, its position ``seq`` and its predecessor's hash, so a deletion, a
  re-ordering or an edit anywhere breaks the chain from that point on;
* a **checkpoint** per Beijing day: the head (position and hash) signed, exported with a copy of
  the trail so an inspector can check the copy without our database.

**Key rotation.** Each checkpoint records the id of the key that signed it (:func:`key_id`, a
fingerprint that reveals nothing of the key). Retired keys (``AUDIT_SIGNING_OLD_KEYS``) never
sign; verification accepts them for what they signed: checkpoints carrying their id, and
records up to the first checkpoint signed with a later key (after it the application no
longer used them, so a record made later with a leaked retired key is caught).

Why seal after the commit rather than chain at insert: chaining at insert needs the previous
record's hash, i.e. one global lock held by every transaction that records anything until it
commits (a voucher hold would wait for an unrelated claim's commit). Sealing takes the lock
once per batch in its own short transaction, and the hold path pays for a MAC only.

Chain order is commit order as the sealer saw it (``seq``), not id order: on PostgreSQL a
lower id can commit after a higher one, and is simply sealed in a later batch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import IO, Any, TypeVar, cast

import sqlalchemy as sa
from flask import has_app_context
from sqlalchemy.orm import Session

from marketplace.audit.models import CONTENT_COLUMNS, AuditCheckpoint, AuditEvent
from marketplace.clock import local_date
from marketplace.config import DEVELOPMENT_AUDIT_SIGNING_KEY, current_settings
from marketplace.db import utcnow

#: The predecessor of the first record.
GENESIS = "0" * 64
#: PostgreSQL advisory lock taken by the sealer (SQLite's BEGIN IMMEDIATE already serialises).
SEAL_LOCK_ID = 0x41554449  # "AUDI"
#: Rows sealed per round trip; the sealer loops until nothing is left.
SEAL_BATCH = 2_000
#: A verify report lists this many problems at most (the first one is what matters).
MAX_LISTED = 20
COPY_FORMAT = "innovation-voucher-audit-copy/1"


# --------------------------------------------------------------------------- keys and canonical form


def signing_key() -> bytes:
    """The application's audit key; the development key outside an application (unit tests)."""
    if has_app_context():
        return current_settings().audit_signing_key.encode()
    return DEVELOPMENT_AUDIT_SIGNING_KEY.encode()


def key_id(key: bytes) -> str:
    """The public name of a key, stored with what it signs: 16 hex digits of a keyed hash."""
    return _keyed(key, "audit-key-id", b"")[:16]


@dataclass(frozen=True)
class Keyring:
    """The key that signs now, and the retired keys (newest first) that still verify."""

    current: bytes
    retired: tuple[bytes, ...] = ()

    @property
    def keys(self) -> tuple[bytes, ...]:
        return (self.current, *self.retired)

    def by_id(self, kid: str) -> bytes | None:
        return next((k for k in self.keys if hmac.compare_digest(key_id(k), kid)), None)


def keyring() -> Keyring:
    """The application's keyring (the development key alone outside an application)."""
    if has_app_context():
        settings = current_settings()
        return Keyring(
            settings.audit_signing_key.encode(),
            tuple(k.encode() for k in settings.audit_signing_old_keys),
        )
    return Keyring(DEVELOPMENT_AUDIT_SIGNING_KEY.encode())


def _keyed(key: bytes, purpose: str, message: bytes) -> str:
    return hmac.new(key, purpose.encode() + b"\x00" + message, hashlib.sha256).hexdigest()


def timestamp(value: datetime) -> str:
    """One spelling of an instant (UTC, microseconds), the same on both databases and in copies."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalised_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """``detail`` as the database will hand it back (JSON round trip: tuples become lists…)."""
    result: dict[str, Any] = json.loads(json.dumps(dict(detail), default=str))
    return result


def content(fields: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a record's content (the MAC's message)."""
    values = {name: fields[name] for name in CONTENT_COLUMNS}
    if isinstance(values["occurred_at"], datetime):
        values["occurred_at"] = timestamp(values["occurred_at"])
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def mac_of(key: bytes, fields: Mapping[str, Any]) -> str:
    return _keyed(key, "audit-record", content(fields))


def link_hash(key: bytes, prev_hash: str, seq: int, record_id: int, mac: str, body: bytes) -> str:
    """The chain hash of a record: its content, MAC, id and position, after ``prev_hash``."""
    head = f"{prev_hash}|{seq}|{record_id}|{mac}|".encode()
    return _keyed(key, "audit-chain", head + body)


def checkpoint_signature(key: bytes, day: date, seq: int, head_hash: str) -> str:
    return _keyed(key, "audit-checkpoint", f"{day.isoformat()}|{seq}|{head_hash}".encode())


def keyed_hash(key: bytes, value: str) -> str:
    """A pseudonym for personal data in a record (a phone, an ID number): equal inputs give
    equal hashes, so an auditor can match records, but the value itself is not kept."""
    return _keyed(key, "personal-data", value.strip().encode())


def fields_of(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in CONTENT_COLUMNS}


# --------------------------------------------------------------------------- sealing


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": SEAL_LOCK_ID})


def head(session: Session) -> tuple[int, str]:
    """(position, hash) of the last sealed record; (0, GENESIS) for an empty chain."""
    row = session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.seq.is_not(None))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    if row is None or row[0] is None:
        return 0, GENESIS
    return int(row[0]), str(row[1])


def seal(session: Session) -> int:
    """Give every committed, unsealed record its place in the chain (id order within a batch).

    Takes the sealer's lock for this transaction (PostgreSQL: an advisory lock; SQLite: the
    write lock every transaction starts with); flushes, never commits. Returns the number of
    records sealed. The database lets the three seal columns be set once, from NULL only.
    """
    _lock(session)
    key = signing_key()
    seq, prev = head(session)
    sealed = 0
    table = cast(sa.Table, AuditEvent.__table__)
    update = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"), table.c.seq.is_(None))
        .values(
            seq=sa.bindparam("new_seq"),
            prev_hash=sa.bindparam("new_prev"),
            hash=sa.bindparam("new_hash"),
        )
    )
    while True:
        batch = session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.seq.is_(None))
            .order_by(AuditEvent.id)
            .limit(SEAL_BATCH)
            .execution_options(populate_existing=True)
        ).all()
        if not batch:
            break
        params = []
        for event in batch:
            seq += 1
            digest = link_hash(key, prev, seq, event.id, event.mac, content(fields_of(event)))
            params.append(
                {"row_id": event.id, "new_seq": seq, "new_prev": prev, "new_hash": digest}
            )
            prev = digest
        # One executemany. Only the seal columns change, which the triggers allow once (we
        # hold the sealer's lock, so no one else sealed them meanwhile).
        session.connection().execute(update, params)
        for event in batch:
            session.expire(event)
        sealed += len(batch)
    return sealed


def seal_job(session: Session) -> None:
    """The job queued after commits that recorded something: seal, and sign today's head."""
    seal(session)
    checkpoint(session, local_date(utcnow()), seal_first=False)


def checkpoint(session: Session, day: date, *, seal_first: bool = True) -> AuditCheckpoint:
    """The signed checkpoint of ``day`` (Beijing calendar), made now if there is none yet."""
    existing = session.scalar(sa.select(AuditCheckpoint).where(AuditCheckpoint.day == day))
    if existing is not None:
        return existing
    if seal_first:
        seal(session)
    seq, head_hash = head(session)
    key = signing_key()
    row = AuditCheckpoint(
        day=day,
        seq=seq,
        head_hash=head_hash,
        signed_at=utcnow(),
        signature=checkpoint_signature(key, day, seq, head_hash),
        key_id=key_id(key),
    )
    session.add(row)
    session.flush()
    return row


# --------------------------------------------------------------------------- verifying


@dataclass
class ChainReport:
    """What :func:`verify` found: problems in chain order, the first one first."""

    checked: int = 0
    sealed: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)
        elif len(self.problems) == MAX_LISTED:
            self.problems.append("… (further problems not listed)")


@dataclass(frozen=True)
class _Row:
    id: int
    seq: int | None
    prev_hash: str | None
    hash: str | None
    mac: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class _Checkpoint:
    day: date
    seq: int
    head_hash: str
    signature: str
    key_id: str | None  # None: signed before checkpoints named their key


class _Keys:
    """Which key a record's proof may be under: the current key at any position, a retired
    key up to its limit (:func:`_limits`). The key that matched last is tried first, so a
    trail under one key costs one HMAC per proof."""

    def __init__(self, ring: Keyring, limits: Mapping[bytes, int | None]) -> None:
        self._ring = ring
        self._limits = limits
        self._last = ring.current

    def match(self, seq: int | None, claimed: str, proof: Callable[[bytes], str]) -> bool:
        """Whether ``claimed`` is ``proof(key)`` for a key allowed at position ``seq``
        (None: not sealed yet, after every checkpoint)."""
        for key in (self._last, *(k for k in self._ring.keys if k != self._last)):
            limit = self._limits.get(key)
            if limit is not None and (seq is None or seq > limit):
                continue
            if hmac.compare_digest(proof(key), claimed):
                self._last = key
                return True
        return False


def _limits(ring: Keyring, checkpoints: Iterable[_Checkpoint]) -> dict[bytes, int | None]:
    """The last chain position each retired key may cover: that of the first checkpoint
    signed with another key after the last one it signed itself (no such checkpoint yet: no
    limit). Checkpoints in day order."""
    ordered = list(checkpoints)
    limits: dict[bytes, int | None] = {}
    for key in ring.retired:
        kid = key_id(key)
        own = [i for i, cp in enumerate(ordered) if cp.key_id == kid]
        after = ordered[own[-1] + 1 :] if own else ordered
        limits[key] = next((cp.seq for cp in after if cp.key_id not in (None, kid)), None)
    return limits


def _walk(
    keys: _Keys, rows: Iterable[_Row], report: ChainReport, wanted: set[int]
) -> tuple[int, str, dict[int, str]]:
    """Check sealed rows in chain order; returns the head and the hashes at ``wanted``
    positions (the checkpoints'; keeping every hash would cost memory per record)."""
    expected_seq, prev, prev_id = 1, GENESIS, None
    hashes: dict[int, str] = {0: GENESIS}
    for row in rows:
        assert row.seq is not None
        report.checked += 1
        after = f"after record #{prev_id}" if prev_id is not None else "at the start"
        if row.seq != expected_seq:
            gap = (
                f"position {expected_seq}"
                if row.seq == expected_seq + 1
                else f"positions {expected_seq}–{row.seq - 1}"
            )
            report.add(f"record(s) deleted: chain {gap} missing {after}, before record #{row.id}")
        elif row.prev_hash != prev:
            report.add(
                f"record #{row.id} (position {row.seq}) does not follow its predecessor: "
                f"a record {after} was deleted, replaced or inserted"
            )
        body = content(row.fields)
        mac_ok = keys.match(row.seq, row.mac, partial(mac_of, fields=row.fields))
        hash_ok = keys.match(
            row.seq,
            row.hash or "",
            partial(
                link_hash,
                prev_hash=row.prev_hash or "",
                seq=row.seq,
                record_id=row.id,
                mac=row.mac,
                body=body,
            ),
        )
        if not hash_ok:
            report.add(f"record #{row.id} (position {row.seq}) was changed after it was sealed")
        elif not mac_ok:
            report.add(
                f"record #{row.id} (position {row.seq}) was inserted behind the application's "
                "back: its MAC does not match (the application never wrote this content)"
            )
        prev, prev_id, expected_seq = row.hash or "", row.id, row.seq + 1
        if row.seq in wanted:
            hashes[row.seq] = prev
    return expected_seq - 1, prev, hashes


def _check_checkpoints(
    ring: Keyring,
    checkpoints: Iterable[_Checkpoint],
    head_seq: int,
    hashes: Mapping[int, str],
    report: ChainReport,
) -> None:
    for cp in checkpoints:
        report.checkpoints += 1
        if cp.key_id is None:
            candidates: tuple[bytes, ...] = ring.keys
        else:
            key = ring.by_id(cp.key_id)
            if key is None:
                report.add(
                    f"checkpoint of {cp.day} is signed with key {cp.key_id}, which is neither "
                    "AUDIT_SIGNING_KEY nor one of AUDIT_SIGNING_OLD_KEYS"
                )
                continue
            candidates = (key,)
        expected = [checkpoint_signature(k, cp.day, cp.seq, cp.head_hash) for k in candidates]
        if not any(hmac.compare_digest(e, cp.signature) for e in expected):
            report.add(f"checkpoint of {cp.day} has a wrong signature (forged or altered)")
        elif cp.seq > head_seq:
            report.add(
                f"record(s) deleted: the checkpoint of {cp.day} signed position {cp.seq}, "
                f"the chain ends at {head_seq}"
            )
        elif hashes.get(cp.seq) != cp.head_hash:
            report.add(
                f"the chain at position {cp.seq} differs from the checkpoint of {cp.day}: "
                "records up to it were rewritten"
            )


def _db_rows(session: Session) -> Iterator[_Row]:
    stmt = (
        sa.select(AuditEvent)
        .where(AuditEvent.seq.is_not(None))
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=SEAL_BATCH)
    )
    for event in session.scalars(stmt):
        yield _Row(event.id, event.seq, event.prev_hash, event.hash, event.mac, fields_of(event))
        session.expunge(event)


T = TypeVar("T")
#: Records checked between two calls of verify's ``progress``.
PROGRESS_STEP = 1_000


def _counting(rows: Iterable[T], progress: Callable[[int], None] | None) -> Iterator[T]:
    """``rows``, calling ``progress(n)`` after every PROGRESS_STEP of them (n: how many since
    the last call, as click's progress bar counts)."""
    if progress is None:
        yield from rows
        return
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if pending == PROGRESS_STEP:
            progress(pending)
            pending = 0
    if pending:
        progress(pending)


def verify(session: Session, progress: Callable[[int], None] | None = None) -> ChainReport:
    """Check the whole trail in the database: chain, MACs, unsealed rows, checkpoints;
    ``progress(n)`` is told as every n records have been checked (the command's bar).

    Read-only (seal first, in its own transaction, to cover the newest records). Never
    raises for a breach: the report lists them, the first changed, deleted or inserted first.
    """
    ring = keyring()
    report = ChainReport()
    checkpoints = [
        _Checkpoint(day, int(seq), str(head_hash), str(signature), kid)
        for day, seq, head_hash, signature, kid in session.execute(
            sa.select(
                AuditCheckpoint.day,
                AuditCheckpoint.seq,
                AuditCheckpoint.head_hash,
                AuditCheckpoint.signature,
                AuditCheckpoint.key_id,
            ).order_by(AuditCheckpoint.day)
        )
    ]
    keys = _Keys(ring, _limits(ring, checkpoints))
    wanted = {cp.seq for cp in checkpoints}
    head_seq, _, hashes = _walk(keys, _counting(_db_rows(session), progress), report, wanted)
    report.sealed = report.checked
    unsealed = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id)
    )
    for event in _counting(unsealed, progress):
        report.checked += 1
        if not keys.match(None, event.mac, partial(mac_of, fields=fields_of(event))):
            report.add(
                f"record #{event.id} (not yet sealed) was inserted or changed behind the "
                "application's back: its MAC does not match"
            )
    _repeated_macs(session, report)
    _check_checkpoints(ring, checkpoints, head_seq, hashes, report)
    return report


def _repeated_macs(session: Session, report: ChainReport) -> None:
    """A MAC twice: a copy of a record inserted again. The UNIQUE constraint refuses it on
    one table; once the trail is partitioned by year it holds per partition only
    (:mod:`marketplace.ops.partitioning`), so across years this check is the guard."""
    repeated = session.execute(
        sa.select(AuditEvent.mac, sa.func.min(AuditEvent.id), sa.func.max(AuditEvent.id))
        .group_by(AuditEvent.mac)
        .having(sa.func.count() > 1)
        .order_by(sa.func.min(AuditEvent.id))
    )
    for _mac, first, copy in repeated:
        report.add(
            f"record #{copy} repeats record #{first} (the same MAC): a copy inserted behind "
            "the application's back"
        )


# --------------------------------------------------------------------------- copies


def _record_line(event: AuditEvent) -> dict[str, Any]:
    values = fields_of(event)
    values["occurred_at"] = timestamp(event.occurred_at)
    return {
        "id": event.id,
        "seq": event.seq,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "mac": event.mac,
        **values,
    }


def export_copy(session: Session, out: IO[str], day: date | None = None) -> AuditCheckpoint:
    """Write the checkpoint of ``day`` (default: the newest) and every record up to it as JSON
    lines, the checkpoint first. Streams: constant memory whatever the trail's length.

    Raises LookupError when there is no such checkpoint."""
    stmt = sa.select(AuditCheckpoint)
    stmt = (
        stmt.where(AuditCheckpoint.day == day)
        if day is not None
        else stmt.order_by(AuditCheckpoint.day.desc()).limit(1)
    )
    cp = session.scalar(stmt)
    if cp is None:
        raise LookupError(f"no audit checkpoint for {day}" if day else "no audit checkpoint yet")
    header = {
        "format": COPY_FORMAT,
        "day": cp.day.isoformat(),
        "seq": cp.seq,
        "head_hash": cp.head_hash,
        "signed_at": timestamp(cp.signed_at),
        "signature": cp.signature,
        "key_id": cp.key_id,
    }
    out.write(json.dumps(header, ensure_ascii=False, sort_keys=True) + "\n")
    events = session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.seq.is_not(None), AuditEvent.seq <= cp.seq)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=SEAL_BATCH)
    )
    for event in events:
        out.write(json.dumps(_record_line(event), ensure_ascii=False, sort_keys=True) + "\n")
        session.expunge(event)
    return cp


def _copy_rows(lines: Iterable[str], report: ChainReport) -> Iterator[_Row]:
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            row = _Row(
                id=int(data["id"]),
                seq=int(data["seq"]),
                prev_hash=str(data["prev_hash"]),
                hash=str(data["hash"]),
                mac=str(data["mac"]),
                fields={name: data[name] for name in CONTENT_COLUMNS},
            )
        except (ValueError, KeyError, TypeError):
            report.add(f"line {number} of the copy is not an audit record")
            continue
        yield row


def verify_copy(lines: Iterable[str], ring: Keyring | None = None) -> ChainReport:
    """Check an exported copy (JSON lines from :func:`export_copy`) against its checkpoint.

    Needs no database: an outside inspector runs it with the audit key (and the retired keys
    the trail was signed with, when the key was rotated)."""
    ring = ring or keyring()
    report = ChainReport()
    iterator = iter(lines)
    try:
        header = json.loads(next(iterator))
        if header.get("format") != COPY_FORMAT:
            raise ValueError(header.get("format"))
        day = date.fromisoformat(header["day"])
        kid = header.get("key_id")
        cp = _Checkpoint(
            day,
            int(header["seq"]),
            str(header["head_hash"]),
            str(header["signature"]),
            str(kid) if kid is not None else None,
        )
    except (StopIteration, ValueError, KeyError, TypeError, AttributeError):
        report.add("the copy does not start with an audit checkpoint")
        return report
    keys = _Keys(ring, _limits(ring, [cp]))
    head_seq, _, hashes = _walk(keys, _copy_rows(iterator, report), report, {cp.seq})
    report.sealed = report.checked
    _check_checkpoints(ring, [cp], head_seq, hashes, report)
    if head_seq > cp.seq:
        report.add(f"the copy holds records after the checkpoint's position {cp.seq}")
    return report
