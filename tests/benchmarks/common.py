"""What every benchmark section shares: the machine's description, percentiles, a fresh
database with the demo centre and the repository's processes, and the complaint paths.

Nothing here is collected by pytest (setup.cfg: `norecursedirs = tests/benchmarks`).
"""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

import engine
from engine import Actor, Kefu, Settings
from engine.clock import Clock
from engine.people.organisation import DEMO_FILE
from engine.persistence import all_models  # noqa: F401 - every table into Base.metadata
from engine.persistence.db import Database
from engine.persistence.models import Base, Person, TaskItem
from tests.complaints import (
    APPROVE,
    CONTACT,
    INTAKE,
    JUSTIFIED,
    PROPOSAL,
    REPLY_SMS,
    RETURN,
    SATISFIED,
)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

#: The shortest justified path after intake: (task, who does it, form data).
Step = tuple[str, str, dict[str, Any]]
SHORT_PATH: list[Step] = [
    ("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
    ("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE),
    ("reply", "agent01", REPLY_SMS), ("callback", "agent01", SATISFIED),
]


def long_path(returns: int) -> list[Step]:
    """The head returns the proposal `returns` times before approving it."""
    loop: list[Step] = [("propose", "bill01", PROPOSAL), ("approve", "billhead", RETURN)]
    return [*SHORT_PATH[:2], *loop * returns, *SHORT_PATH[2:]]


# --- figures -----------------------------------------------------------------------------

def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100), as numpy's default computes it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Median, p95, p99 and max of durations, in milliseconds, rounded for the table."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 3),
            "p95_ms": round(percentile(ms, 95), 3), "p99_ms": round(percentile(ms, 99), 3),
            "max_ms": round(max(ms), 3)}


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- the machine -------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    """What the figures were measured on; recorded with them (the issue's rule)."""
    memory_kb = 0
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo
                        if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(), "cpu": cpu, "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(), "python": platform.python_version(),
        "SpiffWorkflow": version("SpiffWorkflow"), "SQLAlchemy": version("SQLAlchemy"),
        "psycopg": version("psycopg"), "sqlite": sqlite3.sqlite_version,
    }


def server_version(db: Database) -> str:
    if db.is_sqlite:
        return sqlite3.sqlite_version
    with db.engine.connect() as conn:
        return str(conn.execute(text("SHOW server_version")).scalar())


# --- databases ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """One database to measure: `sqlite` (a temporary file) or `postgres` (a URL)."""

    name: str
    url: str


def targets(names: Sequence[str], pg_url: str) -> list[Target]:
    out = []
    for name in names:
        if name == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="kefu-bench-"))
            out.append(Target("sqlite", f"sqlite:///{folder / 'bench.sqlite3'}"))
        elif name == "postgres":
            out.append(Target("postgres", pg_url))
        else:
            raise SystemExit(f"--db: unknown database {name!r} (sqlite, postgres)")
    return out


def fresh_database(url: str) -> Database:
    """The schema from the models (drop, then create): each section starts empty."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = Database(url)
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    return db


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, processes_dir=ROOT / "processes", forms_dir=ROOT / "forms")


def complaint_files(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """Only the complaint process's files: what is measured, whatever else is in progress."""
    processes, forms = engine.read_files(settings.processes_dir, settings.forms_dir)
    return ({n: t for n, t in processes.items() if n.startswith("complaint")},
            {n: t for n, t in forms.items() if n.startswith("complaint_")})


def open_kefu(db: Database, clock: Clock | None = None, *, deploy: bool = True,
              organisation: bool = True) -> Kefu:
    """A Kefu on `db` with the demo centre's people and (by default) the complaint deployed."""
    kefu = Kefu(settings_for(db.url), clock=clock, database=db)
    with kefu.session() as session:
        if organisation:
            engine.load_organisation(session, DEMO_FILE, with_passwords=False)
        if deploy:
            engine.deploy(session, engine.build(*complaint_files(kefu.settings)), "owner01",
                          kefu.clock.now())
    return kefu


def people(kefu: Kefu) -> dict[str, Actor]:
    with kefu.session() as session:
        return {p.username: engine.actor_for(p) for p in session.scalars(select(Person))}


# --- driving cases through the API -------------------------------------------------------

def start(kefu: Kefu, agent: Actor, **changes: Any) -> int:
    """Intake through the API (start_case with the intake form); returns the case id."""
    with kefu.session() as session:
        return engine.start_case(kefu, session, "complaint", agent, {**INTAKE, **changes}).id


def step(kefu: Kefu, case_id: int, spec_name: str, actor: Actor, data: dict[str, Any]) -> None:
    """One unit of work, as a web request does it: find the case's ready task, complete it."""
    with kefu.session() as session:
        task_id = session.scalar(select(TaskItem.id).where(TaskItem.case_id == case_id,
                                                           TaskItem.spec_name == spec_name))
        if task_id is None:
            raise RuntimeError(f"case {case_id}: task {spec_name!r} is not ready")
        engine.complete_task(kefu, session, task_id, actor, data)


def run_case(kefu: Kefu, who: dict[str, Actor], path: Sequence[Step] = SHORT_PATH) -> int:
    case_id = start(kefu, who["agent01"])
    for spec_name, username, data in path:
        step(kefu, case_id, spec_name, who[username], data)
    return case_id


@contextmanager
def phase(label: str, log: Callable[[str], None]) -> Iterator[None]:
    begun = time.perf_counter()
    log(f"  {label} …")
    yield
    log(f"  {label}: {time.perf_counter() - begun:.1f} s")
