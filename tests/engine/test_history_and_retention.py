"""Tamper-evident history (A1) and retention (C10, A3) (issue 2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

import engine
from engine.persistence.models import Case, HistoryRecord, PurgeRecord
from engine.records.retention import delete_case, purge_expired
from tests.complaints import register, run_to_archive


def _records(kefu, number: str) -> list[HistoryRecord]:
    with kefu.session() as s:
        return list(engine.case_history(s, engine.case_by_number(s, number)))


def _verify(kefu) -> list[str]:
    with kefu.session() as s:
        return [str(f) for f in engine.verify_all(s)[1]]


def test_A1_untouched_history_verifies(deployed, people) -> None:
    run_to_archive(deployed, people)
    register(deployed, people["agent02"])
    assert _verify(deployed) == []


def test_A1_edited_record_is_reported(deployed, people) -> None:
    number = run_to_archive(deployed, people)
    judge = next(r for r in _records(deployed, number) if r.task_spec == "judge")
    with deployed.db.engine.begin() as conn:
        conn.execute(text("UPDATE history_record SET actor = 'agent06' WHERE id = :id"),
                     {"id": judge.id})
    assert _verify(deployed) == [f"{number}#{judge.seq}: record content was edited"]


def test_A1_deleted_record_is_reported(deployed, people) -> None:
    number = run_to_archive(deployed, people)
    victim = _records(deployed, number)[3]
    with deployed.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM history_record WHERE id = :id"), {"id": victim.id})
    findings = _verify(deployed)
    assert any("chain broken" in f for f in findings)
    assert any("records were deleted or added" in f for f in findings)


def test_A1_deleting_the_newest_record_is_reported(deployed, people) -> None:
    number = run_to_archive(deployed, people)
    last = _records(deployed, number)[-1]
    with deployed.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM history_record WHERE id = :id"), {"id": last.id})
    assert any("records were deleted" in f for f in _verify(deployed))


def test_A1_reordered_records_are_reported(deployed, people) -> None:
    number = run_to_archive(deployed, people)
    a, b = _records(deployed, number)[2:4]
    with deployed.db.engine.begin() as conn:
        conn.execute(text("UPDATE history_record SET seq = -1 WHERE id = :id"), {"id": a.id})
        conn.execute(text("UPDATE history_record SET seq = :s WHERE id = :id"),
                     {"s": a.seq, "id": b.id})
        conn.execute(text("UPDATE history_record SET seq = :s WHERE id = :id"),
                     {"s": b.seq, "id": a.id})
    findings = _verify(deployed)
    assert any("out of order" in f for f in findings)


def test_C10_A3_unexpired_case_cannot_be_deleted(deployed, people) -> None:
    number = run_to_archive(deployed, people)
    two_years_later = deployed.clock.now() + timedelta(days=730)
    with pytest.raises(engine.RetentionError, match="must be kept until 2029-11-23"), \
            deployed.session() as s:
        delete_case(s, engine.case_by_number(s, number), two_years_later, "admin")
    with deployed.session() as s:
        assert purge_expired(s, two_years_later, "admin") == []
        assert engine.case_by_number(s, number) is not None


def test_C10_A3_open_case_cannot_be_deleted_at_all(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    with pytest.raises(engine.RetentionError, match="still open"), deployed.session() as s:
        delete_case(s, engine.case_by_number(s, number), deployed.clock.now()
                    + timedelta(days=5000), "admin")


def test_A3_purge_removes_only_expired_cases_and_leaves_a_record(deployed, people) -> None:
    old = run_to_archive(deployed, people)
    still_open = register(deployed, people["agent02"])
    later = deployed.clock.now() + timedelta(days=3 * 366)
    with deployed.session() as s:
        head = engine.case_by_number(s, old).history_head
        purged = purge_expired(s, later, "admin")
    assert [p.case_number for p in purged] == [old]
    with deployed.session() as s:
        assert engine.case_by_number(s, old) is None
        assert engine.case_by_number(s, still_open) is not None
        record = s.scalars(select(PurgeRecord)).one()
        assert (record.case_number, record.purged_by, record.history_head) == (old, "admin", head)
        assert s.scalars(select(Case)).one().number == still_open
