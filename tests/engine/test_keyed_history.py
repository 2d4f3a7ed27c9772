"""History that proves itself without trusting the database (A1, A3): the chain is an
HMAC with a key kept outside the database, and signed checkpoints kept by an auditor show a
deleted case and a rolled-back database.

Each attack is made the way someone who can write to the database but holds neither the
key nor the auditor's checkpoint would make it: with plain SQL, recomputing every hash they
can. On the unkeyed chain before this change the first two verified with 0 problems.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

import engine
from engine.persistence.models import Case, HistoryRecord, PurgeRecord
from engine.records import checkpoints, disclosure, history, lookup
from engine.records.retention import CASE_CHILD_TABLES, purge_expired
from tests.complaints import CONTACT, do, register, run_to_archive


def _problems(kefu, checkpoint: dict | None = None) -> list[str]:
    with kefu.session() as s:
        found = engine.verify_all(s)[1]
        if checkpoint is not None:
            found += checkpoints.verify_checkpoint(s, kefu.history_key, checkpoint)
        return [str(f) for f in found]


def _checkpoint(kefu) -> dict:
    with kefu.session() as s:
        return checkpoints.make_checkpoint(s, kefu.history_key, kefu.clock.now())


def _rewrite(kefu, number: str, key: bytes | None, key_id: str | None, **change) -> None:
    """Edit the case's second record and recompute its whole chain and head, as an
    attacker with database access would: with no key, or with a key of their own."""
    with kefu.db.session() as s:  # nothing of Kefu's code: plain rows and hashes
        case = s.scalars(select(Case).where(Case.number == number)).one()
        records = s.scalars(select(HistoryRecord).where(HistoryRecord.case_id == case.id)
                            .order_by(HistoryRecord.seq)).all()
        for name, value in change.items():
            setattr(records[1], name, value)
        prev = history.GENESIS
        for record in records:
            record.prev_hash = prev
            record.hash = prev = history.record_digest(key, number, record, prev)
            record.key_id = key_id
        case.history_head = prev


def test_A1_an_edited_record_with_its_chain_recomputed_without_the_key_is_found(
        deployed, people) -> None:
    number = run_to_archive(deployed, people)
    assert _problems(deployed) == []
    _rewrite(deployed, number, None, None, actor="agent06")
    problems = _problems(deployed)
    assert problems and all(p.startswith(number) for p in problems)
    assert f"{number}#2: not signed with the history key" in problems[1]


def test_A1_a_chain_recomputed_with_another_key_is_found(deployed, people) -> None:
    number = run_to_archive(deployed, people)
    guess = b"a key the attacker chose"
    _rewrite(deployed, number, guess, history.key_id(guess), data={"justified": False})
    assert any("signed with another key" in p for p in _problems(deployed))
    # ... and claiming the installation's key id does not help without the key itself
    _rewrite(deployed, number, guess, history.key_id(deployed.history_key), actor="x")
    assert f"{number}#1: record content was edited" in _problems(deployed)


def test_A3_a_deleted_case_is_found_against_the_auditors_checkpoint(deployed, people) -> None:
    kept = register(deployed, people["agent02"])
    gone = run_to_archive(deployed, people)
    saved = _checkpoint(deployed)
    with deployed.db.session() as s:
        case_id = s.scalar(select(Case.id).where(Case.number == gone))
        for table in CASE_CHILD_TABLES:
            s.execute(delete(table).where(table.case_id == case_id))
        s.execute(delete(Case).where(Case.id == case_id))
    assert _problems(deployed) == []  # what is left is consistent: only the checkpoint knows
    assert _problems(deployed, saved) == [
        f"{gone}: case deleted since the checkpoint of {saved['created_at']}, with no signed "
        "purge record"]
    assert kept not in " ".join(_problems(deployed, saved))


def test_A3_a_purged_case_is_not_a_deleted_one_but_a_made_up_purge_is(
        deployed, people) -> None:
    old = run_to_archive(deployed, people)
    gone = register(deployed, people["agent02"])
    saved = _checkpoint(deployed)
    with deployed.session() as s:
        assert [p.case_number for p in purge_expired(
            s, deployed.clock.now() + timedelta(days=3 * 366), "admin")] == [old]
    assert _problems(deployed, saved) == []
    with deployed.db.session() as s:  # delete a case and copy the real purge record's look
        real = s.scalars(select(PurgeRecord)).one()
        case = s.scalars(select(Case).where(Case.number == gone)).one()
        s.add(PurgeRecord(case_number=gone, retain_until=real.retain_until,
                          purged_at=real.purged_at, purged_by="admin",
                          history_count=case.history_seq, history_head=case.history_head,
                          signature=real.signature))
        for table in CASE_CHILD_TABLES:
            s.execute(delete(table).where(table.case_id == case.id))
        s.delete(case)
    assert _problems(deployed, saved) == [
        f"{gone}: case deleted since the checkpoint of {saved['created_at']}, with no signed "
        "purge record"]


def test_A3_a_rolled_back_database_is_found_against_a_newer_checkpoint(
        deployed, people, clock) -> None:
    number = register(deployed, people["agent01"])
    with deployed.session() as s:
        case = engine.case_by_number(s, number)
        backup = (case.history_seq, case.history_head)
    clock.advance(hours=1)
    do(deployed, number, "contact", people["duty01"], CONTACT)
    saved = _checkpoint(deployed)
    with deployed.db.session() as s:  # the database put back to the earlier copy
        case_id = s.scalar(select(Case.id).where(Case.number == number))
        s.execute(delete(HistoryRecord).where(HistoryRecord.case_id == case_id,
                                              HistoryRecord.seq > backup[0]))
        s.execute(update(Case).where(Case.id == case_id)
                  .values(history_seq=backup[0], history_head=backup[1]))
    assert _problems(deployed) == []
    problems = _problems(deployed, saved)
    assert f"{number}: rolled back: the database has {backup[0]} records" in problems[0]
    assert "newest record is older than the checkpoint" in problems[-1]


def test_A3_a_checkpoint_edited_or_made_with_another_key_is_refused(deployed, people) -> None:
    number = register(deployed, people["agent01"])
    saved = _checkpoint(deployed)
    forged = {**saved, "cases": {number: {"seq": 1, "head": "0" * 64}}}
    assert _problems(deployed, forged) == [
        "checkpoint: signature does not match: the checkpoint was edited or made with "
        "another history key"]
    assert _problems(deployed, {"cases": {}})[0].startswith("checkpoint: not a Kefu checkpoint")


def test_A3_history_written_since_the_checkpoint_is_fine_but_a_rewrite_is_not(
        deployed, people) -> None:
    number = register(deployed, people["agent01"])
    saved = _checkpoint(deployed)
    do(deployed, number, "contact", people["duty01"], CONTACT)
    assert _problems(deployed, saved) == []
    with deployed.db.session() as s:  # rewritten from record 1, with a stolen key
        s.execute(update(HistoryRecord).where(HistoryRecord.seq == 1)
                  .values(data={"process": "complaint", "version": 99}))
    with deployed.session() as s:
        case = engine.case_by_number(s, number)
        records = history.case_records(s, case)
        prev = history.GENESIS
        for record in records:
            record.prev_hash = prev
            record.hash = prev = history.record_digest(deployed.history_key, number, record,
                                                       prev)
        case.history_head = prev
    seq = saved["cases"][number]["seq"]  # the checkpoint's head is no longer in the chain
    assert _problems(deployed, saved) == [f"{number}#{seq}: rewritten since the checkpoint "
                                          f"of {saved['created_at']}"]


def test_A1_histories_from_before_the_key_are_sealed_once_if_intact(deployed, people) -> None:
    intact = run_to_archive(deployed, people)
    broken = register(deployed, people["agent02"])
    for number in (intact, broken):  # as the unkeyed chain before this change wrote them
        _rewrite(deployed, number, None, None)
    with deployed.db.session() as s:
        s.execute(update(HistoryRecord).where(HistoryRecord.seq == 1,
                                              HistoryRecord.actor == "agent02")
                  .values(actor="agent03"))
    assert any("not signed with the history key" in p for p in _problems(deployed))
    with deployed.session() as s:
        assert checkpoints.seal_unkeyed(s, deployed.history_key) == (1, [broken])
    problems = _problems(deployed)
    assert problems and all(p.startswith(broken) for p in problems)


def _full_view(session, case, actor, now) -> None:
    disclosure.disclose(session, case, actor, now, {}, "task")


def _lookup(session, case, actor, now) -> None:
    lookup.record_lookup(session, case, actor, now, "number")


@pytest.mark.parametrize("record", [_full_view, _lookup], ids=["full view", "lookup"])
def test_C12_A1_a_view_recorded_by_a_writing_request_follows_a_head_moved_meanwhile(
        record, database, deployed, people) -> None:
    """The load test's 500 (issue 17): the C7 preview, a POST that shows the task again,
    recorded its full view on the case as it had read it, while a timer worker wrote the
    case's reminder; both records took the same number. The view is now appended to the
    case's head as it stands, locked."""
    if not database.is_postgres:
        pytest.skip("on SQLite a writing unit of work holds the write lock from its start, "
                    "so no other unit of work can move the head meanwhile")
    number = register(deployed, people["agent01"])
    with deployed.session() as request:  # the POST: it read the case without a lock
        case = request.scalars(select(Case).where(Case.number == number)).one()
        with deployed.session() as timer:  # meanwhile a deadline of the case fires
            fired = timer.get(Case, case.id, with_for_update=True)
            history.append(timer, fired, at=deployed.clock.now(), actor="system",
                           action="urged", data={})
        record(request, case, people["duty01"], deployed.clock.now())  # offered the contact
    with deployed.session() as s:
        actions = s.scalars(select(HistoryRecord.action).where(HistoryRecord.case_id == case.id)
                            .order_by(HistoryRecord.seq)).all()
    assert actions[-2:] == ["urged", disclosure.VIEW_ACTION if record is _full_view
                            else lookup.LOOKUP_ACTION]
    assert _problems(deployed) == []
