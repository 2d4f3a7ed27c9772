"""Bulk-seed a realistic centre: 100,000 complaint cases (20,000 open), ~1,000,000 history
records and the open cases' pending deadlines, in seconds rather than hours.

Real cases are first run through the engine API to each place a complaint can wait (and to
three kinds of archive); their rows, in every table that has a `case_id`, are the
templates. The seeded cases copy them with their own numbers, times, owners, departments
and claims, and go in with executemany on SQLite and COPY on PostgreSQL. Open cases carry
the real serialized workflow of their step (the inbox loads the case row with the task);
closed cases carry a short placeholder, because nothing measured reads a closed workflow.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Table, func, select

from engine import Kefu
from engine.persistence.db import Database
from engine.persistence.models import Base, Case
from tests.benchmarks.common import SHORT_PATH, Step, people, start, step
from tests.complaints import CONTACT, DISSATISFIED, NOT_JUSTIFIED

AGENTS = ["agent01", "agent02", "agent03", "agent04", "agent05", "agent06", "vip01", "vip02"]
HANDLERS = {"billing": ["bill01", "bill02"], "network": ["net01"], "marketing": ["mkt01"]}
#: Where the open cases wait, and their shares.
OPEN_MIX = {"contact": 0.15, "judge": 0.15, "propose": 0.25, "approve": 0.15, "reply": 0.10,
            "callback": 0.20}
#: Closed cases: the short path, not justified, reopened once after a dissatisfied callback.
CLOSED_MIX = {"short": 0.5, "explained": 0.2, "reopened": 0.3}
#: Who has claimed a share of the tasks waiting at a step (None: a handler of the department).
CLAIMED = {"contact": ("duty01", 0.2), "judge": ("duty01", 0.2), "propose": (None, 0.5)}
BATCH = 5000
UUID = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


@dataclass(frozen=True)
class Template:
    """One real case: its row and the rows of each table that refers to it."""

    case: dict[str, Any]
    children: dict[str, list[dict[str, Any]]]
    #: The serialized workflow cut at every task id (odd items are the ids), so that a copy
    #: with renewed ids is one join.
    state_parts: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, case: dict[str, Any], children: dict[str, list[dict[str, Any]]]) -> Template:
        # JSON columns as the text that goes in, once per template rather than per copy.
        children = {name: [{k: json.dumps(v) if isinstance(v, dict | list) else v
                            for k, v in row.items()} for row in rows]
                    for name, rows in children.items()}
        return cls(case, children, UUID.split(case["workflow_state"]))


def _paths() -> dict[str, list[Step]]:
    """The API path to each waiting place and each kind of archive."""
    open_at = {name: SHORT_PATH[:i] for i, (name, _, _) in enumerate(SHORT_PATH)}
    explained: list[Step] = [("contact", "duty01", CONTACT), ("judge", "duty01", NOT_JUSTIFIED),
                             ("explain", "agent01", {"reply_channel": "sms",
                                                     "explanation": NOT_JUSTIFIED["explanation"]})]
    reopened = [*SHORT_PATH[:-1], ("callback", "agent01", DISSATISFIED), *SHORT_PATH[1:]]
    return {**open_at, "short": SHORT_PATH, "explained": explained, "reopened": reopened}


def child_tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if "case_id" in t.columns]


def capture_templates(kefu: Kefu, kinds: Sequence[str] | None = None) -> dict[str, Template]:
    who = people(kefu)
    templates = {}
    for name, path in _paths().items():
        if kinds is not None and name not in kinds:
            continue
        case_id = start(kefu, who["agent01"])
        for spec_name, username, data in path:
            step(kefu, case_id, spec_name, who[username], data)
        with kefu.db.engine.connect() as conn:
            case = dict(conn.execute(select(Case.__table__).where(Case.id == case_id))
                        .mappings().one())
            children = {t.name: [dict(r) for r in conn.execute(
                select(t).where(t.c.case_id == case_id)).mappings()] for t in child_tables()}
        templates[name] = Template.of(case, children)
    return templates


@dataclass
class Seeded:
    cases: int
    open_cases: int
    case_ids: range
    rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    cases: int
    open_cases: int
    now: datetime
    #: Open cases' pending deadlines fall at least this long after `now` (timer benchmark).
    deadlines_after: timedelta | None = None


def seed(db: Database, templates: dict[str, Template], plan: Plan,
         rng: random.Random) -> Seeded:
    """Insert the cases of `plan` (copies of the templates) and every row they own."""
    with db.session() as session:
        first_id = (session.scalar(select(func.max(Case.id))) or 0) + 1
    kinds = _mix(OPEN_MIX, plan.open_cases) + _mix(CLOSED_MIX, plan.cases - plan.open_cases)
    rng.shuffle(kinds)
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    loader = _copy if db.is_postgres else _executemany
    counts = Seeded(plan.cases, plan.open_cases, range(first_id, first_id + len(kinds)))
    numbered = enumerate(kinds, start=first_id)
    while batch := list(islice(numbered, BATCH)):
        rows: dict[str, list[dict[str, Any]]] = {"case_record": []}
        for case_id, kind in batch:
            case, children = _clone(case_id, templates[kind], plan, rng)
            rows["case_record"].append(case)
            for name, child_rows in children.items():
                rows.setdefault(name, []).extend(child_rows)
        for name in ("case_record", *(t.name for t in child_tables())):
            loader(db, tables[name], rows.get(name, []))
            counts.rows[name] = counts.rows.get(name, 0) + len(rows.get(name, []))
    _after_load(db)
    return counts


def _mix(shares: dict[str, float], total: int) -> list[str]:
    out: list[str] = []
    for i, (kind, share) in enumerate(shares.items()):
        n = total - len(out) if i == len(shares) - 1 else round(total * share)
        out.extend([kind] * n)
    return out


_CLOSED_STATE = json.dumps({"seeded": "closed case: the workflow is not read after closing"})


def _clone(case_id: int, template: Template, plan: Plan, rng: random.Random) -> tuple[
        dict[str, Any], dict[str, list[dict[str, Any]]]]:
    row = dict(template.case)
    closed = row["state"] == "closed"
    age = timedelta(days=rng.uniform(4, 365)) if closed else timedelta(hours=rng.uniform(0, 72))
    created = plan.now - age
    shift = created - row["created_at"]
    department = rng.choice(list(HANDLERS)) if row["department"] else None
    owner = rng.choice(AGENTS)
    number = f"TS{created:%Y%m%d}{case_id:07d}"
    # Every SpiffWorkflow task id is renewed, so that each copy is a workflow of its own
    # that the engine can go on running (task_item and deadline rows name those ids).
    task_ids: dict[str, str] = {}
    state = _CLOSED_STATE
    if not closed:
        parts = list(template.state_parts)
        for i in range(1, len(parts), 2):
            old = parts[i]
            parts[i] = task_ids.get(old) or task_ids.setdefault(old, _new_id(rng))
        state = "".join(parts).replace(row["number"], number)
    row.update(
        id=case_id, number=number, created_at=created,
        created_by=owner, owner=owner, department=department,
        closed_at=row["closed_at"] and row["closed_at"] + shift,
        retain_until=row["retain_until"] and row["retain_until"] + shift,
        workflow_state=state, history_head=_hash(case_id, row["history_seq"]),
    )
    children: dict[str, list[dict[str, Any]]] = {}
    for name, rows in template.children.items():
        out = []
        times = [k for k, v in rows[0].items() if isinstance(v, datetime)] if rows else []
        for child in rows:
            copy = dict(child)
            for key in times:
                if copy[key] is not None:
                    copy[key] += shift
            copy["case_id"] = case_id
            if isinstance(copy.get("id"), int):
                copy["id"] = None
            if name == "task_item":
                _task(copy, task_ids, row, rng)
            elif name == "history_record":
                copy.update(prev_hash=_hash(case_id, copy["seq"] - 1),
                            hash=_hash(case_id, copy["seq"]),
                            actor=owner if copy["actor"] == "agent01" else copy["actor"])
            elif name == "deadline":
                copy["task_id"] = task_ids.get(copy["task_id"], copy["task_id"])
                if plan.deadlines_after is not None and copy["fired_at"] is None:
                    copy["due_at"] = plan.now + plan.deadlines_after + timedelta(
                        minutes=rng.uniform(1, 3 * 24 * 60))
            out.append(copy)
        children[name] = out
    return row, children


def _task(row: dict[str, Any], task_ids: dict[str, str], case: dict[str, Any],
          rng: random.Random) -> None:
    row["id"] = task_ids.get(row["id"]) or _new_id(rng)
    if row["department"]:
        row["department"] = case["department"]
    if row["candidate_user"]:
        row["candidate_user"] = case["owner"]
    holder, share = CLAIMED.get(row["spec_name"], (None, 0.0))
    if rng.random() < share:
        row["assignee"] = holder or rng.choice(HANDLERS[case["department"]])


def _new_id(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _hash(case_id: int, seq: int) -> str:
    """A stand-in for the chain's hash (the benchmarks never verify seeded history)."""
    return f"{case_id:032x}{seq:032x}" if seq else "0" * 64


def _columns(table: Table, rows: Sequence[dict[str, Any]]) -> list[str]:
    """The table's columns, without an integer id the rows leave to the database."""
    return [c.name for c in table.columns
            if not (c.name == "id" and c.primary_key and rows[0].get("id") is None)]


def _executemany(db: Database, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    names = _columns(table, rows)
    sql = (f"INSERT INTO {table.name} ({', '.join(names)}) "
           f"VALUES ({', '.join('?' for _ in names)})")
    sample = {n: next((r.get(n) for r in rows if r.get(n) is not None), None) for n in names}
    convert = [(n, _sqlite_value if isinstance(sample[n], datetime | dict | list) else None)
               for n in names]
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN")
        cursor.executemany(sql, (tuple(f(r.get(n)) if f else r.get(n) for n, f in convert)
                                 for r in rows))
        cursor.execute("COMMIT")
    finally:
        raw.close()


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it on SQLite: naive UTC text times, JSON as text."""
    if isinstance(value, datetime):
        return str(value.astimezone(UTC).replace(tzinfo=None))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _copy(db: Database, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    names = _columns(table, rows)
    raw = db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cursor, cursor.copy(
                f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(tuple(_pg_value(r.get(n)) for n in names))
        conn.commit()
    finally:
        raw.close()


def _pg_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _after_load(db: Database) -> None:
    """PostgreSQL: sequences past the copied ids, and statistics as autovacuum would make
    them after a bulk load. (SQLite: nothing; Kefu never runs ANALYZE there.)"""
    if not db.is_postgres:
        return
    raw = db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        for table in Base.metadata.sorted_tables:
            column = table.columns.get("id")
            if column is None or not column.primary_key or not _is_integer(column):
                continue
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                         f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        conn.autocommit = False
    finally:
        raw.close()


def _is_integer(column: Any) -> bool:
    try:
        return column.type.python_type is int
    except NotImplementedError:
        return False


def iter_case_ids(db: Database, state: str) -> Iterator[int]:
    with db.session() as session:
        yield from session.scalars(select(Case.id).where(Case.state == state).order_by(Case.id))
