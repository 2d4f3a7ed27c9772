"""A centre's peak on the served product, over HTTP, with several processes.

Starts Kefu as a centre runs it — on PostgreSQL `gunicorn web.wsgi:app` with N workers and
two `kefu worker`s; on SQLite `kefu serve` alone (waitress, its timer worker in process) —
then replays a peak on 127.0.0.1 only: many signed-in sessions of the demo centre's
people watching their inboxes as the page's script does (it asks `/inbox/version` every
few seconds, and reloads the page when its lists changed and once a minute), agents
registering complaints, the others doing their steps from their inboxes (claiming what is
only offered), while the installation's clock (a clock file, setting `clock_file`) runs
fast so that deadlines fall due and escalations (C9, hours set short) fire. Reports
steps/s, p50/p95/p99 of a step, of an inbox page and of an inbox poll (as the driver and
as the server timed them), and checks afterwards: no 5xx, no lost or doubled step (every
step the server confirmed is in the case's history once), `kefu audit verify` clean,
every deadline due fired once, no "database is locked" or traceback in the servers' logs.

    .venv/bin/python -m tests.benchmarks.load [--quick] [--db sqlite|postgres|both]
                                              [--web 1,2] [--out results.json]

Why a small asyncio + httpx driver and not Locust: the run has to start and stop the
servers, move their clock, and read the database and `kefu audit verify` afterwards, in
one command bounded in time and requests; Locust would add gevent and its own runner for
what is here a few coroutines, and httpx is already the end-to-end tests' client
(tests/served/driver.py, whose form handling this reuses).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from lxml import html
from sqlalchemy import create_engine, func, select, text

from engine.persistence.deadline_models import Deadline
from tests.served.conftest import START, installation
from tests.served.driver import (
    COMPLAINT_INTAKE,
    COMPLAINT_STEPS,
    KEFU,
    PASSWORD,
    ROOT,
    ClockFile,
    _hidden_fields,
    environment,
)
from web.views import inbox as inbox_view

#: The demo centre's people (engine/demo/organisation.yaml) by what they do in the peak.
AGENTS = [f"agent{n:02d}" for n in range(1, 11)]
HANDLERS = ["duty01", "bill01", "bill02", "billhead", "leader01", "leader02", "manager01"]
POLLING = AGENTS + HANDLERS + ["vip01", "vip02", "qa01", "net01", "nethead", "mkt01",
                               "mkthead", "leader03", "leader04", "cshead", "director"]
#: Form data per task title: the steps of a complaint (tests/served/driver.py).
STEP_DATA = {title: data for _, title, data in COMPLAINT_STEPS}
#: The installation's hours for C9's escalations in the peak, and its timer re-check.
SHORT_TIMERS = {"KEFU_ESCALATION_FIRST_HOURS": "1", "KEFU_ESCALATION_SECOND_HOURS": "1",
                "KEFU_TIMER_RECHECK_SECONDS": "1",
                # Sessions last as long in real time as they would at the peak: at ten
                # minutes a second, 120 minutes idle was 12 s and a poll's gap signed out.
                "KEFU_SESSION_IDLE_MINUTES": "100000", "KEFU_SESSION_ABSOLUTE_HOURS": "10000"}


@dataclass(frozen=True)
class Peak:
    sessions: int  # signed-in sessions polling their inbox, spread over POLLING's people
    poll_s: float  # each session's inbox poll, on average
    register_s: float  # each agent registers a complaint this often, on average
    seconds: float  # length of the peak
    max_requests: int  # the peak also stops after this many requests
    clock_minutes_per_s: float  # the installation's time runs this fast

    def scaled(self, share: float) -> Peak:
        """This peak as the share of a centre one server takes: the issue's SQLite target
        is the two-process PostgreSQL peak scaled to one process (half the sessions and
        half the registrations; the handlers do what comes)."""
        return replace(self, sessions=round(self.sessions * share),
                       register_s=self.register_s / share,
                       max_requests=round(self.max_requests * share))


FULL = Peak(sessions=240, poll_s=8.0, register_s=6.0, seconds=60, max_requests=40_000,
            clock_minutes_per_s=10.0)
QUICK = Peak(sessions=40, poll_s=4.0, register_s=5.0, seconds=20, max_requests=8_000,
             clock_minutes_per_s=10.0)
#: A request unanswered this long counts as failed (and bounds the run's end).
TIMEOUT_S = 10.0
#: Threads of each gunicorn process (the README's command).
THREADS = os.environ.get("KEFU_LOAD_THREADS", "8")
#: gunicorn's access log as `kefu serve` writes its own (web.server.serving.AccessLog):
#: method, path, status, milliseconds in the server.
ACCESS_FORMAT = "%(m)s %(U)s %(s)s %(M)s ms"
#: The requests timed in the server as the driver times them.
SERVER_KINDS = {"step": re.compile(r"POST /(tasks/[^/ ]+|start/complaint) "),
                "inbox": re.compile(r"GET /inbox "), "poll": re.compile(r"GET /inbox/version ")}


def _server_ms(folder: Path) -> dict[str, dict[str, float]]:
    """p50/p95/p99 of each kind of request as the server timed it, from its access log:
    the rest of what the driver measured is the connection, the queue before a thread
    took the request, and the driver's own loop."""
    times: dict[str, list[float]] = defaultdict(list)
    for name in ("access.log", "web.log"):
        path = folder / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            found = re.search(r"((?:GET|POST) \S+ )\d{3} (\d+) ms$", line)
            if not found:
                continue
            for kind, pattern in SERVER_KINDS.items():
                if pattern.match(found.group(1)):
                    times[kind].append(int(found.group(2)) / 1000)
    return {kind: _percentiles(values) for kind, values in times.items()}


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    #: (case number, task title) of every step the server confirmed, intake included.
    confirmed: list[tuple[str, str]] = field(default_factory=list)
    conflicts: int = 0
    failures: list[str] = field(default_factory=list)
    requests: int = 0


class Desk:
    """One signed-in browser session."""

    def __init__(self, base: str, username: str, tally: Tally) -> None:
        self.username, self.tally = username, tally
        self.version, self.page_at = "", 0.0  # of the inbox page last seen
        # Idle connections are dropped before the servers' keep-alive (gunicorn's 2 s)
        # closes them, so that a poll never races a closing connection.
        self.http = httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S, follow_redirects=False,
                                      limits=httpx.Limits(keepalive_expiry=1.0))

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a GET whose kept-alive connection the server closed at that moment
        is sent again, as a browser does. A request that gets no answer counts as 599."""
        for attempt in (1, 2):
            try:
                return await self.http.request(method, path, **kwargs)
            except httpx.RemoteProtocolError:
                if method != "GET" or attempt == 2:
                    break
                self.tally.statuses["GET resent"] += 1
            except httpx.TransportError:
                break
        self.tally.failures.append(f"{method} {path}: no answer")
        return httpx.Response(599, text="")

    async def request(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A timed request, counted as `kind` (a step's C7 preview as "preview")."""
        started = time.perf_counter()
        response = await self.send(method, path, **kwargs)
        if kind == "step" and _is_preview(response):
            kind = "preview"
        self.tally.latencies[kind].append(time.perf_counter() - started)
        self.tally.statuses[f"{kind} {response.status_code}"] += 1
        self.tally.requests += 1
        if 500 <= response.status_code < 599:
            self.tally.failures.append(f"{method} {path}: {response.status_code}")
        return response

    async def login(self) -> None:
        for _ in range(3):
            page = await self.send("GET", "/login")
            if page.status_code != 200:
                continue
            response = await self.send("POST", "/login", data={
                **_hidden_fields(page), "username": self.username, "password": PASSWORD})
            if response.status_code == 302:
                return
        raise RuntimeError(f"{self.username} could not sign in")

    async def changed(self) -> bool:
        """What the open page's script asks every few seconds: whether its lists changed
        (web/static/kefu.js); it reloads when they did, and every `REFRESH_SECONDS`."""
        if time.monotonic() - self.page_at >= inbox_view.REFRESH_SECONDS:
            return True
        response = await self.request("poll", "GET", "/inbox/version")
        if response.status_code != 200:
            return True
        return response.json().get("version") != self.version

    async def inbox(self, kind: str = "inbox") -> list[tuple[str, str, str, bool]]:
        """(task id, case number, title, only offered) of each task in the inbox."""
        response = await self.request(kind, "GET", "/inbox")
        self.page_at = time.monotonic()
        if response.status_code != 200:
            return []
        tree = html.fromstring(response.text)
        self.version = "".join(tree.xpath('//*[@id="updated"]/@data-version'))
        rows = []
        for section in ("mine", "offered"):
            for row in tree.xpath(f'//section[@id="{section}"]//tbody/tr'):
                links = row.xpath('.//a[starts-with(@href, "/tasks/")]/@href')
                number = re.search(r"[A-Z]{2}\d{15}", row.text_content())
                title = next((t for t in STEP_DATA if t in row.text_content()), None)
                if links and number and title:
                    rows.append((links[0].split("/")[2], number.group(0), title,
                                 section == "offered"))
        return rows

    async def post_form(self, kind: str, path: str, form_page: str,
                        data: dict[str, Any]) -> bool:
        """Submit a form as the browser would; True if the server confirmed it."""
        page = await self.send("GET", form_page)
        if page.status_code != 200:
            return False  # the task went meanwhile (another desk did it)
        response = await self.request(kind, "POST", path, data={**_hidden_fields(page), **data})
        if _is_preview(response):
            # C7: the reply is shown as the customer will get it; the agent confirms it,
            # and the confirmation is the step.
            response = await self.request(kind, "POST", path,
                                          data={**_hidden_fields(response), **data})
        if response.status_code != 302:
            return False
        landed = await self.send("GET", response.headers["location"])
        return 'class="flash success"' in landed.text

    async def close(self) -> None:
        await self.http.aclose()


def _is_preview(response: httpx.Response) -> bool:
    return response.status_code == 200 and "reply_digest" in _hidden_fields(response)


async def _open_inbox(desk: Desk) -> None:
    """The page a signed-in person has open when the peak begins, opened at some moment of
    the minute before (its once-a-minute reload falls anywhere in the peak). These first
    pages are timed apart ("first page"): 240 of them in a few seconds is the shift's
    start, a storm of its own, not the peak's steady state."""
    await desk.inbox("first page")
    desk.page_at -= random.uniform(0, inbox_view.REFRESH_SECONDS)


async def _poll(desk: Desk, peak: Peak, until: float) -> None:
    pause = random.uniform(0, peak.poll_s)  # the open pages' first polls, spread
    while time.monotonic() + pause < until and desk.tally.requests < peak.max_requests:
        await asyncio.sleep(pause)
        pause = random.uniform(0.5, 1.5) * peak.poll_s
        if await desk.changed():
            await desk.inbox()


async def _work(desk: Desk, peak: Peak, until: float, registers: bool) -> None:
    """Do the steps in one's inbox; an agent also registers complaints between them."""
    next_register = time.monotonic() + random.uniform(0, peak.register_s)
    rows = await desk.inbox()
    while time.monotonic() < until and desk.tally.requests < peak.max_requests:
        for task_id, number, title, offered in rows:
            if offered and not await desk.post_form("claim", f"/tasks/{task_id}/claim",
                                                    "/inbox", {}):
                desk.tally.conflicts += 1
                continue
            if await desk.post_form("step", f"/tasks/{task_id}", f"/tasks/{task_id}",
                                    STEP_DATA[title]):
                desk.tally.confirmed.append((number, title))
            else:
                desk.tally.conflicts += 1
        if registers and time.monotonic() >= next_register:
            number = await _register(desk)
            if number:
                desk.tally.confirmed.append((number, "intake"))
            next_register = time.monotonic() + random.uniform(0.5, 1.5) * peak.register_s
        await asyncio.sleep(random.uniform(0.5, 1.5))
        rows = await desk.inbox() if await desk.changed() else []


async def _register(desk: Desk) -> str | None:
    page = await desk.send("GET", "/start/complaint")
    if page.status_code != 200:
        return None
    response = await desk.request("step", "POST", "/start/complaint",
                                  data={**_hidden_fields(page), **COMPLAINT_INTAKE})
    found = re.search(r"/cases/([A-Z]{2}\d+)", response.headers.get("location", ""))
    return found.group(1) if response.status_code == 302 and found else None


async def _run_clock(clock: ClockFile, peak: Peak, until: float) -> None:
    while time.monotonic() < until:
        await asyncio.sleep(0.5)
        clock.advance(minutes=peak.clock_minutes_per_s * 0.5)


async def _peak(base: str, peak: Peak, clock: ClockFile) -> tuple[Tally, float]:
    tally = Tally()
    pollers = [Desk(base, POLLING[i % len(POLLING)], tally) for i in range(peak.sessions)]
    workers = [Desk(base, name, tally) for name in AGENTS + HANDLERS]
    desks = pollers + workers
    # Each session signs in itself, as each browser does: sessions that shared a cookie
    # also shared its row, whose "last seen" every request of theirs then waited to write.
    for batch in range(0, len(desks), 8):
        await asyncio.gather(*(d.login() for d in desks[batch:batch + 8]))
    for batch in range(0, len(pollers), 8):
        await asyncio.gather(*(_open_inbox(d) for d in pollers[batch:batch + 8]))
    began = time.monotonic()
    until = began + peak.seconds
    try:
        await asyncio.gather(
            _run_clock(clock, peak, until),
            *(_poll(d, peak, until) for d in pollers),
            *(_work(d, peak, until, d.username in AGENTS) for d in workers))
    finally:
        await asyncio.gather(*(d.close() for d in desks))
    return tally, time.monotonic() - began


# --- the served product ----------------------------------------------------------------

@dataclass
class Installation:
    base: str
    env: dict[str, str]
    clock: ClockFile
    logs: list[Path]


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.open("w", encoding="utf-8") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, text=True)


def _address(process: subprocess.Popen[str], log: Path, pattern: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(encoding="utf-8"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"{log.name}: exited\n{log.read_text(encoding='utf-8')}")
        time.sleep(0.1)  # waiting for a process to start
    raise RuntimeError(f"{log.name}: did not start\n{log.read_text(encoding='utf-8')}")


@contextmanager
def served(kind: str, web: int, folder: Path) -> Iterator[Installation]:
    """`kefu init --demo`, then the servers: SQLite `kefu serve`; PostgreSQL gunicorn with
    `web` workers and two `kefu worker`s."""
    with installation(kind, folder) as url:
        clock = ClockFile(folder / "clock.txt", START)
        env = environment(folder, url, clock, SHORT_TIMERS)
        init = subprocess.run([KEFU, "init", "--demo"], cwd=ROOT, env=env, text=True,
                              capture_output=True, timeout=300, check=False)
        if init.returncode != 0:
            raise RuntimeError(init.stdout + init.stderr)
        processes: list[subprocess.Popen[str]] = []
        logs = [folder / "web.log"]
        try:
            if kind == "sqlite":
                processes.append(_start([KEFU, "serve", "--port", "0"], env, logs[0]))
                base = _address(processes[0], logs[0], r"serving on (http://\S+)")
            else:
                gunicorn = str(Path(KEFU).with_name("gunicorn"))
                processes.append(_start(
                    [gunicorn, "--workers", str(web), "--threads", THREADS, "--bind",
                     "127.0.0.1:0", "--access-logfile", str(folder / "access.log"),
                     "--access-logformat", ACCESS_FORMAT, "web.wsgi:app"], env, logs[0]))
                base = _address(processes[0], logs[0], r"Listening at: (http://\S+)")
                for n in (1, 2):
                    logs.append(folder / f"worker{n}.log")
                    processes.append(_start([KEFU, "worker", "--name", f"w{n}"], env, logs[-1]))
            yield Installation(base, env, clock, logs)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def _late(moment: datetime) -> Any:
    """Pending deadlines due before `moment` (through the model's column type, which stores
    UTC on either database)."""
    return (select(Deadline.kind, func.count()).where(Deadline.fired_at.is_(None),
                                                      Deadline.due_at < moment)
            .group_by(Deadline.kind))


def _drain(inst: Installation, limit_s: float = 60.0) -> float | None:
    """Seconds after the peak until every deadline due (30 minutes of the installation's
    time before its last moment) has fired; None if not within `limit_s`."""
    engine = create_engine(inst.env["KEFU_DATABASE_URL"])
    began = time.monotonic()
    try:
        while time.monotonic() - began < limit_s:
            with engine.connect() as conn:
                if not conn.execute(_late(inst.clock.now() - timedelta(minutes=30))).all():
                    return round(time.monotonic() - began, 1)
            time.sleep(1)  # waiting for the timer workers, not timing them
        return None
    finally:
        engine.dispose()


def _checks(inst: Installation, tally: Tally) -> dict[str, Any]:
    """What must hold after the peak: each confirmed step recorded once, deadlines fired."""
    engine = create_engine(inst.env["KEFU_DATABASE_URL"])
    with engine.connect() as conn:
        recorded = Counter(
            (number, _step_of(title or spec)) for number, title, spec in conn.execute(text(
                "SELECT c.number, h.task_title, h.task_spec FROM history_record h "
                "JOIN case_record c ON c.id = h.case_id WHERE h.action = 'completed'")))
        late = dict(conn.execute(_late(inst.clock.now() - timedelta(minutes=30))).all())
        fired = conn.execute(text("SELECT count(*) FROM deadline WHERE fired_at IS NOT NULL "
                                  "AND kind <> 'urge'")).scalar()
        escalations = conn.execute(text(
            "SELECT count(*) FROM history_record WHERE action = 'escalated'")).scalar()
        doubled_escalations = conn.execute(text(
            "SELECT count(*) FROM (SELECT case_id, task_spec FROM history_record "
            "WHERE action = 'escalated' GROUP BY case_id, task_spec HAVING count(*) > 1) d"
        )).scalar()
    engine.dispose()
    confirmed = Counter(tally.confirmed)
    audit = subprocess.run([KEFU, "audit", "verify"], cwd=ROOT, env=inst.env, text=True,
                           capture_output=True, timeout=300, check=False)
    logs = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in inst.logs)
    return {
        "lost_steps": sum((confirmed - recorded).values()),
        "doubled_steps": sum(v - 1 for v in recorded.values() if v > 1),
        "unconfirmed_but_recorded": sum((recorded - confirmed).values()),
        "deadlines_fired": fired, "deadlines_due_not_fired": sum(late.values()),
        "due_not_fired_by_kind": late,
        "escalations": escalations, "doubled_escalations": doubled_escalations,
        "audit_verify_ok": audit.returncode == 0,
        "audit_verify": (audit.stdout + audit.stderr).strip().splitlines()[-1:],
        "database_is_locked": logs.count("database is locked"),
        "tracebacks": logs.count("Traceback"),
    }


def _step_of(title: str) -> str:
    """A history record's task title (Chinese / English) as the driver names the step."""
    return next((t for t in STEP_DATA if title.startswith(t)),
                "intake" if title.startswith("受理投诉") else title)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)
    return {"n": len(ordered), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


def measure(kind: str, web: int, peak: Peak, keep: Path | None = None) -> dict[str, Any]:
    name = f"{kind}-{web}-{peak.sessions}"
    with _folder(keep, name) as folder, served(kind, web, folder) as inst:
        tally, elapsed = asyncio.run(_peak(inst.base, peak, inst.clock))
        drained = _drain(inst)
        checks = _checks(inst, tally)
        server = _server_ms(folder)
    return {
        "db": kind, "web_processes": web if kind == "postgres" else 1,
        "timer_workers": 2 if kind == "postgres" else "in process",
        "sessions": peak.sessions, "register_s": peak.register_s,
        "seconds": round(elapsed, 1), "requests": tally.requests,
        "steps": len(tally.confirmed), "steps_per_s": round(len(tally.confirmed) / elapsed, 2),
        "step_ms": _percentiles(tally.latencies["step"]),
        "inbox_ms": _percentiles(tally.latencies["inbox"]),
        "poll_ms": _percentiles(tally.latencies["poll"]),
        "in_server_ms": server,
        "first_page_ms": _percentiles(tally.latencies["first page"]),
        "claim_ms": _percentiles(tally.latencies["claim"]),
        "preview_ms": _percentiles(tally.latencies["preview"]),
        "server_errors": sum(not f.endswith("no answer") for f in tally.failures),
        "no_answer": sum(f.endswith("no answer") for f in tally.failures),
        "conflicts": tally.conflicts,
        "timer_backlog_drained_s": drained,
        "statuses": dict(tally.statuses), **checks,
    }


@contextmanager
def _folder(keep: Path | None, name: str) -> Iterator[Path]:
    """A new folder for an installation: kept under `keep` (its logs and SQLite file) if
    given, else removed afterwards. A kept PostgreSQL database is dropped all the same."""
    if keep is None:
        with tempfile.TemporaryDirectory() as folder:
            yield Path(folder)
        return
    folder = keep / name
    folder.mkdir(parents=True, exist_ok=False)
    yield folder


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| database | web processes | sessions, an agent registers every | steps/s | "
             "step p50 / p95 / p99 (ms) | "
             "inbox page p50 / p95 / p99 (ms) | inbox poll p50 / p95 / p99 (ms) | "
             "5xx / no answer | lost / doubled | deadlines fired (late) | escalations | "
             "audit | locked |",
             "| --- " * 13 + "|"]
    for r in results:
        s, i, p = r["step_ms"], r["inbox_ms"], r["poll_ms"]
        lines.append(
            f"| {r['db']} | {r['web_processes']} | {r['sessions']}, "
            f"{r['register_s']:g} s | {r['steps_per_s']} | "
            f"{s.get('p50')} / {s.get('p95')} / {s.get('p99')} | "
            f"{i.get('p50')} / {i.get('p95')} / {i.get('p99')} | "
            f"{p.get('p50')} / {p.get('p95')} / {p.get('p99')} | "
            f"{r['server_errors']} / {r['no_answer']} | "
            f"{r['lost_steps']} / {r['doubled_steps']} | {r['deadlines_fired']} "
            f"({r['deadlines_due_not_fired']}) | {r['escalations']} | "
            f"{'clean' if r['audit_verify_ok'] else 'FAILED'} | {r['database_is_locked']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, 20-second peak")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--web", default="1,2", help="PostgreSQL web processes to compare")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep each installation's logs (and SQLite file) here")
    args = parser.parse_args(argv)
    peak = QUICK if args.quick else FULL
    # SQLite's one process: the peak scaled to it (the target), then the whole peak.
    runs = ([("sqlite", 1, peak.scaled(0.5)), ("sqlite", 1, peak)]
            if args.db in ("sqlite", "both") else []) + \
        ([("postgres", int(n), peak) for n in args.web.split(",")]
         if args.db in ("postgres", "both") else [])
    results = []
    for kind, web, run_peak in runs:
        results.append(measure(kind, web, run_peak, args.keep))
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    if not args.quick and args.db == "both":
        _update_readme(table(results), peak)
    return results


README = ROOT / "README.md"
README_START, README_END = "<!-- load:start -->", "<!-- load:end -->"


def _update_readme(rows: str, peak: Peak) -> None:
    """Put a full run's table between the README's load-test markers (if it has them)."""
    text = README.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        return
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    when = datetime.now().astimezone().isoformat(timespec="seconds")
    note = (f"\nThe peak: {peak.sessions} sessions asking for their inbox's version every "
            f"~{peak.poll_s:g} s, {len(AGENTS)} agents registering every "
            f"~{peak.register_s:g} s, {len(HANDLERS)} handlers, {peak.seconds:g} s; SQLite's "
            "first row is it scaled to one process (half the sessions, half the "
            f"registrations), the issue's target; run {when}.\n")
    README.write_text(f"{head}{README_START}\n{rows}\n{note}{README_END}{tail}",
                      encoding="utf-8")


if __name__ == "__main__":
    main()
