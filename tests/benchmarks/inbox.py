"""Inbox latency on a full database: one person's tasks and one role's claimable tasks.

Each timing is what a web request pays: open a unit of work, run `engine.my_tasks` or
`engine.claimable_tasks` for a demo person, load the rows (with their cases), close it.
The plans the databases chose are recorded with EXPLAIN, to show the indexes are used.
"""

from __future__ import annotations

import gc
import os
import random
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

import engine
from engine import Actor, Kefu
from engine.persistence.db import Database
from engine.persistence.models import Base
from tests.benchmarks.common import people, summary_ms

TARGET_P95_MS = 20.0
#: Realistic actors (demo centre): an agent (cases they own), a handler (claimed proposals),
#: the duty supervisor (contact and judge for the whole centre), department people.
MY_TASKS = ["agent01", "bill01", "duty01"]
CLAIMABLE = ["duty01", "bill01", "billhead", "net01"]


def measure(kefu: Kefu, repeats: int) -> dict[str, Any]:
    """Time both inbox queries for each of their actors, interleaved, after a warm-up."""
    who = people(kefu)
    queries: dict[str, tuple[Callable[..., Any], list[str]]] = {
        "my_tasks": (engine.my_tasks, MY_TASKS),
        "claimable_tasks": (engine.claimable_tasks, CLAIMABLE),
    }
    result: dict[str, Any] = {"target_p95_ms": TARGET_P95_MS, "load_before": os.getloadavg()}
    # As `kefu serve` runs: what the process holds before serving (here: the seeding's and
    # the earlier sections' objects) is frozen, so a full collection does not walk it.
    gc.collect()
    gc.freeze()
    try:
        return _measure(kefu, who, queries, repeats, result)
    finally:
        gc.unfreeze()


def _measure(kefu: Kefu, who: dict[str, Actor],
             queries: dict[str, tuple[Callable[..., Any], list[str]]], repeats: int,
             result: dict[str, Any]) -> dict[str, Any]:
    order = random.Random(2)
    full_collections = _FullCollections()
    for name, (query, usernames) in queries.items():
        actors = [who[u] for u in usernames]
        rows = {a.username: len(_timed(kefu, query, a)[1]) for a in actors}
        for _ in range(10):  # warm-up: caches, compiled statements, the OS page cache
            for actor in actors:
                _timed(kefu, query, actor)
        times: dict[str, list[float]] = {a.username: [] for a in actors}
        with full_collections:
            for _ in range(repeats):
                # A fresh order each round: periodic pauses (Python's full garbage
                # collections) must not fall on the same person every time.
                for actor in order.sample(actors, len(actors)):
                    times[actor.username].append(_timed(kefu, query, actor)[0])
        everyone = [t for ts in times.values() for t in ts]
        by_actor = {u: {"rows": rows[u], **summary_ms(ts)} for u, ts in times.items()}
        result[name] = {
            **summary_ms(everyone),
            "worst_actor_p95_ms": max(a["p95_ms"] for a in by_actor.values()),
            "calls_with_full_gc": full_collections.take(),
            "by_actor": by_actor,
            "plans": [explain(kefu.db, kefu, query, a) for a in actors],
        }
    result["load_after"] = os.getloadavg()
    return result


class _FullCollections:
    """Counts Python's full (generation 2) garbage collections while active: each one
    pauses the process for tens of milliseconds, and explains the slowest calls."""

    def __init__(self) -> None:
        self.count = 0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info.get("generation") == 2:
            self.count += 1

    def __enter__(self) -> None:
        gc.callbacks.append(self._callback)

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def _timed(kefu: Kefu, query: Callable[..., Any], actor: Actor) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    with kefu.session() as session:
        rows = list(query(session, actor))
    return time.perf_counter() - started, rows


def explain(db: Database, kefu: Kefu, query: Callable[..., Any], actor: Actor) -> dict[str, Any]:
    return {"actor": actor.username,
            **explain_statement(db, kefu, lambda session: list(query(session, actor)))}


def explain_statement(db: Database, kefu: Kefu, read: Callable[[Any], Any]) -> dict[str, Any]:
    """Each statement `read(session)` sends, and the plan the database makes of it."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with kefu.session() as session:
            read(session)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    statements = []
    raw = db.engine.raw_connection()
    try:
        for statement, parameters in seen:
            cursor = raw.cursor()
            cursor.execute(prefix + statement, parameters)
            lines = [str(r[-1]) if db.is_sqlite else str(r[0]) for r in cursor.fetchall()]
            statements.append({"sql": " ".join(statement.split()), "plan": lines})
        raw.rollback()
    finally:
        raw.close()
    lines = [ln for s in statements for ln in s["plan"]]
    tables = set(Base.metadata.tables)
    # SQLite also says SCAN of a subquery's few rows (`SCAN anon_1`); only a table counts.
    full_scans = [ln.strip() for ln in lines
                  if (ln.startswith("SCAN ") and "INDEX" not in ln
                      and ln.split()[1] in tables) or "Seq Scan" in ln]
    return {"uses_index": not full_scans, "full_scans": full_scans, "statements": statements}
