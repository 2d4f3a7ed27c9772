"""The case history (A1): append-only, and tamper-evident through a keyed hash chain.

Each record's HMAC-SHA256 covers the previous record's and its own content, and the case
row keeps the count and the head, so an edited, deleted, reordered or truncated history
shows. The key is kept outside the database (engine.instance: a file in the installation's
directory or `KEFU_HISTORY_KEY`), so whoever can write to the database but does not hold
the key cannot recompute a chain that verifies. Records written before the chain was keyed
carry no key id; `kefu init` seals them once (engine.records.checkpoints.seal_unkeyed) after
checking their plain SHA-256 chain, and from then on an unkeyed record is a finding.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.persistence import batch
from engine.persistence.db import write_after
from engine.persistence.models import Case, HistoryRecord

GENESIS = "0" * 64
#: Where every session of a Kefu's database carries its key (`append`, `verify_all`).
KEY_INFO = "history_key"
_INSERT = insert(HistoryRecord.__table__)


def key_id(key: bytes) -> str:
    """A name for a key that reveals nothing of it: which key signed a record."""
    return hashlib.sha256(b"kefu history key id\0" + key).hexdigest()[:16]


def session_key(session: Session) -> bytes:
    key = session.info.get(KEY_INFO)
    if not key:
        raise RuntimeError("no history key: open sessions on a Kefu's database")
    return key


def digest(key: bytes | None, prev_hash: str, case_number: str, seq: int, at: datetime,
           actor: str, action: str, task_spec: str | None, data: dict[str, Any]) -> str:
    """HMAC-SHA256 with the key; plain SHA-256 (`key=None`) only for unkeyed old records."""
    payload = json.dumps(
        [case_number, seq, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, action,
         task_spec, data],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    message = (prev_hash + payload).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def record_digest(key: bytes | None, case_number: str, record: HistoryRecord,
                  prev_hash: str) -> str:
    return digest(key, prev_hash, case_number, record.seq, record.at, record.actor,
                  record.action, record.task_spec, record.data)


def append(session: Session, case: Case, *, at: datetime, actor: str, action: str,
           task_spec: str | None = None, task_title: str | None = None,
           data: dict[str, Any] | None = None) -> str:
    """Add one record and return its hash; must run in the same transaction as the change
    it records. The record is written without an ORM object or an autoflush
    (engine.persistence.batch: on PostgreSQL with the step's other writes): nothing in the
    transaction reads it back, every step writes one or more, and the case's new head is
    written with the case's own row."""
    key = session_key(session)
    data = json.loads(json.dumps(data or {}, default=str))
    seq = case.history_seq + 1
    prev = case.history_head or GENESIS
    signed = digest(key, prev, case.number, seq, at, actor, action, task_spec, data)
    batch.write(session, _INSERT, {
        "case_id": case.id, "seq": seq, "at": at, "actor": actor, "action": action,
        "task_spec": task_spec, "task_title": task_title, "data": data, "prev_hash": prev,
        "hash": signed, "key_id": key_id(key),
    })
    case.history_seq = seq
    case.history_head = signed
    return signed


def append_reading(session: Session, case: Case, *, at: datetime, actor: str, action: str,
                   data: dict[str, Any]) -> None:
    """Record that someone read the case (C12's full view, a caller lookup): in this unit
    of work if it writes, else in one of its own right after it commits (`write_after`).
    No step of the unit prepared this record, so it goes on the case's head as it stands,
    its row locked."""
    def write(writer: Session) -> None:
        append(writer, _locked_head(writer, case), at=at, actor=actor, action=action,
               data=data)
        writer.flush()
    write_after(session, write)


def _locked_head(session: Session, case: Case) -> Case:
    """The case as it stands now, its row locked until the commit: the page read it without
    a lock, and a step or a deadline of another unit of work may have moved its head since,
    so appending to what the page read would reuse a number. What this unit of work
    already wrote is flushed first, so the reload keeps it."""
    if case not in session:  # a unit of its own after a read-only one
        return session.get(Case, case.id, with_for_update=True)
    session.flush()
    session.refresh(case, with_for_update=True)
    return case


def purge_signature(key: bytes, case_number: str, history_count: int, history_head: str,
                    purged_at: datetime) -> str:
    message = json.dumps(["purge", case_number, history_count, history_head,
                          purged_at.astimezone(UTC).isoformat(timespec="microseconds")])
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Finding:
    case_number: str
    seq: int | None
    problem: str
    #: The same in Chinese, for the audit pages (web.presentation.display.finding); `{at}`
    #: stands for `at`, the checkpoint's time, which the page shows as local time.
    zh: str = ""
    at: str | None = None

    def __str__(self) -> str:
        where = f"#{self.seq}" if self.seq is not None else ""
        return f"{self.case_number}{where}: {self.problem}"


def case_records(session: Session, case: Case) -> list[HistoryRecord]:
    return list(session.scalars(
        select(HistoryRecord).where(HistoryRecord.case_id == case.id).order_by(HistoryRecord.id)
    ))


def verify_case(session: Session, case: Case, key: bytes | None = None) -> list[Finding]:
    key = key or session_key(session)
    own = key_id(key)
    records = case_records(session, case)
    findings = []
    prev = GENESIS
    for expected_seq, record in enumerate(records, start=1):
        if record.seq != expected_seq:
            findings.append(Finding(case.number, record.seq,
                                    f"out of order or missing: expected record {expected_seq}",
                                    f"顺序错乱或有缺失：此处应为第 {expected_seq} 条记录"))
        if record.prev_hash != prev:
            findings.append(Finding(case.number, record.seq,
                                    "chain broken: previous record was changed or removed",
                                    "哈希链断开：前一条记录被改动或删除"))
        if record.key_id is None:
            findings.append(Finding(case.number, record.seq,
                                    "not signed with the history key: recomputed without "
                                    "it, or written before keyed history and never sealed",
                                    "没有用历史密钥签名：可能是不用密钥重算的，或是启用密钥前"
                                    "写入且从未封存"))
        elif record.key_id != own:
            findings.append(Finding(case.number, record.seq,
                                    f"signed with another key ({record.key_id}), not this "
                                    "installation's",
                                    "用另一把密钥签名，不是本系统的历史密钥"))
        elif record_digest(key, case.number, record, record.prev_hash) != record.hash:
            findings.append(Finding(case.number, record.seq, "record content was edited",
                                    "记录内容被改动过"))
        prev = record.hash
    if len(records) != case.history_seq or prev != (case.history_head or GENESIS):
        findings.append(Finding(case.number, None,
                                f"history has {len(records)} records, the case expects "
                                f"{case.history_seq}: records were deleted or added",
                                f"历史有 {len(records)} 条记录，案件应有 {case.history_seq} 条："
                                "有记录被删除或添加"))
    return findings


def verify_all(session: Session, key: bytes | None = None) -> tuple[int, list[Finding]]:
    """Check every case; returns how many were checked and what was wrong."""
    key = key or session_key(session)
    count = 0
    findings: list[Finding] = []
    for case in session.scalars(select(Case).order_by(Case.id)).yield_per(500):
        count += 1
        findings.extend(verify_case(session, case, key))
    return count, findings
