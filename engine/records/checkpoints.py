"""Signed checkpoints of every case's chain head, and sealing unkeyed old histories (A1, A3).

The keyed chain (engine.records.history) stops someone who can write to the database from
rewriting a record; it cannot show that a whole case was deleted, or that the database was
put back to an older copy, because then everything left is consistent. A checkpoint is
the list of every case's record count and head at one moment, signed with the history key,
that an auditor keeps away from the server (docs/security.md); verifying against it shows
a case that is gone without a purge record, a history shorter than it was (rolled back)
and one that was rewritten since.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.persistence.models import Case, HistoryRecord, PurgeRecord
from engine.records.history import (
    GENESIS,
    Finding,
    case_records,
    key_id,
    purge_signature,
    record_digest,
)

FORMAT = "kefu-checkpoint/1"
_WHERE = "checkpoint"


def _signature(key: bytes, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def make_checkpoint(session: Session, key: bytes, now: datetime) -> dict[str, Any]:
    """Every case's count and head now, signed; a JSON-ready document."""
    cases = {number: {"seq": seq, "head": head} for number, seq, head in session.execute(
        select(Case.number, Case.history_seq, Case.history_head).order_by(Case.id))}
    latest = session.scalar(select(func.max(HistoryRecord.at)))
    body = {"format": FORMAT, "created_at": now.isoformat(), "key_id": key_id(key),
            "latest_record_at": latest.isoformat() if latest else None, "cases": cases}
    return {**body, "signature": _signature(key, body)}


def verify_checkpoint(session: Session, key: bytes, doc: Any) -> list[Finding]:
    """What the database lost or rewrote since the checkpoint `doc` was made."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return [Finding(_WHERE, None, f"not a Kefu checkpoint (expected format {FORMAT})",
                        "这不是客服系统的检查点文件")]
    body = {k: v for k, v in doc.items() if k != "signature"}
    if not hmac.compare_digest(str(doc.get("signature", "")).encode("utf-8"),
                               _signature(key, body).encode("ascii")):
        return [Finding(_WHERE, None, "signature does not match: the checkpoint was edited "
                                      "or made with another history key",
                        "签名不符：检查点被改动过，或是用另一把历史密钥生成的")]
    made = doc["created_at"]
    findings: list[Finding] = []
    rows = {number: (case_id, seq, head) for case_id, number, seq, head in session.execute(
        select(Case.id, Case.number, Case.history_seq, Case.history_head))}
    purged = {r.case_number: r for r in session.scalars(select(PurgeRecord))}
    for number, mark in doc["cases"].items():
        if number not in rows:
            record = purged.get(number)
            if record is None or record.history_count < mark["seq"] \
                    or not _signed_purge(key, record):
                findings.append(Finding(number, None, f"case deleted since the checkpoint of "
                                                      f"{made}, with no signed purge record",
                                        "自 {at} 的检查点以来案件被删除，且没有签名的清除记录",
                                        made))
            continue
        case_id, seq, head = rows[number]
        if seq < mark["seq"]:
            findings.append(Finding(number, None, f"rolled back: the database has {seq} "
                                                  f"records, the checkpoint of {made} had "
                                                  f"{mark['seq']}",
                                    f"被回退：数据库里有 {seq} 条记录，{{at}} 的检查点里有 "
                                    f"{mark['seq']} 条", made))
            continue
        then = head if seq == mark["seq"] else session.scalar(select(HistoryRecord.hash).where(
            HistoryRecord.case_id == case_id, HistoryRecord.seq == mark["seq"]))
        if then != mark["head"]:
            findings.append(Finding(number, mark["seq"], f"rewritten since the checkpoint of "
                                                         f"{made}",
                                    "自 {at} 的检查点以来被改写", made))
    latest = max(filter(None, (session.scalar(select(func.max(HistoryRecord.at))),
                               session.scalar(select(func.max(PurgeRecord.purged_at))))),
                 default=None)  # a purge since is news too, not a rollback
    if doc.get("latest_record_at") and (latest is None
                                        or latest < datetime.fromisoformat(
                                            doc["latest_record_at"])):
        findings.append(Finding(_WHERE, None, f"the database's newest record is older than "
                                              f"the checkpoint of {made}: it was rolled back",
                                "数据库最新的记录早于 {at} 的检查点：数据库被回退了", made))
    return findings


def _signed_purge(key: bytes, record: PurgeRecord) -> bool:
    expected = purge_signature(key, record.case_number, record.history_count,
                               record.history_head, record.purged_at)
    return hmac.compare_digest(record.signature or "", expected)


def seal_unkeyed(session: Session, key: bytes) -> tuple[int, list[str]]:
    """Re-sign the histories written before the chain was keyed, once (`kefu init`).

    Only a case whose every record is unkeyed and whose plain SHA-256 chain is intact is
    sealed; a broken one is left as it is for `kefu audit verify` to report. Returns how
    many cases were sealed and the numbers of those refused.
    """
    unkeyed = select(HistoryRecord.case_id).where(HistoryRecord.key_id.is_(None)).distinct()
    sealed, refused = 0, []
    own = key_id(key)
    for case in session.scalars(select(Case).where(Case.id.in_(unkeyed)).order_by(Case.id)):
        records = case_records(session, case)
        if not _intact_unkeyed(case, records):
            refused.append(case.number)
            continue
        prev = GENESIS
        for record in records:
            record.prev_hash = prev
            record.hash = prev = record_digest(key, case.number, record, prev)
            record.key_id = own
        case.history_head = prev
        sealed += 1
    session.flush()
    return sealed, refused


def _intact_unkeyed(case: Case, records: list[HistoryRecord]) -> bool:
    prev = GENESIS
    for seq, record in enumerate(records, start=1):
        if (record.key_id is not None or record.seq != seq or record.prev_hash != prev
                or record_digest(None, case.number, record, prev) != record.hash):
            return False
        prev = record.hash
    return len(records) == case.history_seq and prev == (case.history_head or GENESIS)
