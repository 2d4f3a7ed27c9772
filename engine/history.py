"""The case history (A1): append-only, and tamper-evident through a hash chain.

Each record's hash covers the previous record's hash and its own content, and the case row
keeps the count and the head, so an edited, deleted, reordered or truncated history shows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.persistence.models import Case, HistoryRecord

GENESIS = "0" * 64
_INSERT = insert(HistoryRecord.__table__)


def _digest(prev_hash: str, case_number: str, seq: int, at: datetime, actor: str,
            action: str, task_spec: str | None, data: dict[str, Any]) -> str:
    payload = json.dumps(
        [case_number, seq, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, action,
         task_spec, data],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def append(session: Session, case: Case, *, at: datetime, actor: str, action: str,
           task_spec: str | None = None, task_title: str | None = None,
           data: dict[str, Any] | None = None) -> str:
    """Add one record and return its hash; must run in the same transaction as the change
    it records. The record is inserted at once on the session's connection, without an ORM
    object or an autoflush: nothing in the transaction reads it back, every step writes one
    or more, and the case's new head is written with the case's own row when it flushes."""
    data = json.loads(json.dumps(data or {}, default=str))
    seq = case.history_seq + 1
    prev = case.history_head or GENESIS
    digest = _digest(prev, case.number, seq, at, actor, action, task_spec, data)
    session.connection().execute(_INSERT, {
        "case_id": case.id, "seq": seq, "at": at, "actor": actor, "action": action,
        "task_spec": task_spec, "task_title": task_title, "data": data, "prev_hash": prev,
        "hash": digest,
    })
    case.history_seq = seq
    case.history_head = digest
    return digest


@dataclass(frozen=True)
class Finding:
    case_number: str
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"#{self.seq}" if self.seq is not None else ""
        return f"{self.case_number}{where}: {self.problem}"


def verify_case(session: Session, case: Case) -> list[Finding]:
    records = session.scalars(
        select(HistoryRecord).where(HistoryRecord.case_id == case.id).order_by(HistoryRecord.id)
    ).all()
    findings = []
    prev = GENESIS
    for expected_seq, record in enumerate(records, start=1):
        if record.seq != expected_seq:
            findings.append(Finding(case.number, record.seq,
                                    f"out of order or missing: expected record {expected_seq}"))
        if record.prev_hash != prev:
            findings.append(Finding(case.number, record.seq,
                                    "chain broken: previous record was changed or removed"))
        recomputed = _digest(record.prev_hash, case.number, record.seq, record.at,
                             record.actor, record.action, record.task_spec, record.data)
        if recomputed != record.hash:
            findings.append(Finding(case.number, record.seq, "record content was edited"))
        prev = record.hash
    if len(records) != case.history_seq or prev != (case.history_head or GENESIS):
        findings.append(Finding(case.number, None,
                                f"history has {len(records)} records, the case expects "
                                f"{case.history_seq}: records were deleted or added"))
    return findings


def verify_all(session: Session) -> tuple[int, list[Finding]]:
    """Check every case; returns how many were checked and what was wrong."""
    count = 0
    findings: list[Finding] = []
    for case in session.scalars(select(Case).order_by(Case.id)).yield_per(500):
        count += 1
        findings.extend(verify_case(session, case))
    return count, findings
