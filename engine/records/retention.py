"""Retention (C10, A3): no case leaves the database before its `retain_until`; a purge
removes only expired cases and leaves a record of what it removed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import RetentionError
from engine.messages.attachments import remove_after_commit
from engine.persistence.deadline_models import CaseEscalation, Deadline
from engine.persistence.models import (
    Case,
    HistoryRecord,
    Letter,
    PurgeRecord,
    SmsMessage,
    TaskItem,
)
from engine.persistence.notice_models import Attachment, Notification
from engine.persistence.roster_models import LeaveRecord, SwapRecord
from engine.records.history import purge_signature, session_key

#: Tables whose rows belong to one case; later features add theirs.
CASE_CHILD_TABLES: list[type] = [TaskItem, HistoryRecord, SmsMessage, Letter]
CASE_CHILD_TABLES += [Deadline, CaseEscalation]
CASE_CHILD_TABLES += [SwapRecord, LeaveRecord]  # roster records of leave and swap cases
CASE_CHILD_TABLES += [Notification, Attachment]


def check_deletable(case: Case, now: datetime) -> None:
    if case.state != "closed" or case.retain_until is None:
        raise RetentionError(f"case {case.number} is still open and cannot be deleted")
    if now < case.retain_until:
        raise RetentionError(f"case {case.number} must be kept until "
                             f"{case.retain_until:%Y-%m-%d} (C10: at least 3 years)")


def delete_case(session: Session, case: Case, now: datetime, actor: str, *,
                attachments_dir: Path | None = None) -> PurgeRecord:
    """Remove an expired case with everything that belongs to it; its attached files go
    too once this commits, unless another case holds the same file (`attachments_dir`:
    the installation's, engine.config.Settings; None leaves the files to a later purge)."""
    check_deletable(case, now)
    files = set(session.scalars(select(Attachment.sha256).where(Attachment.case_id == case.id)))
    record = PurgeRecord(case_number=case.number, retain_until=case.retain_until,
                         purged_at=now, purged_by=actor, history_count=case.history_seq,
                         history_head=case.history_head,
                         signature=purge_signature(session_key(session), case.number,
                                                   case.history_seq, case.history_head, now))
    session.add(record)
    for table in CASE_CHILD_TABLES:
        session.execute(delete(table).where(table.case_id == case.id))
    session.delete(case)
    session.flush()
    if attachments_dir is not None:
        remove_after_commit(attachments_dir, session, files)
    return record


def purge_expired(session: Session, now: datetime, actor: str, *,
                  attachments_dir: Path | None = None) -> list[PurgeRecord]:
    expired = session.scalars(select(Case).where(Case.state == "closed",
                                                 Case.retain_until <= now)).all()
    return [delete_case(session, case, now, actor, attachments_dir=attachments_dir)
            for case in expired]
