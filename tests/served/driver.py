"""Kefu as its people reach it: the shipped commands started as processes, and staff who
sign in and fill in forms over HTTP, each step timed. Used by the end-to-end tests and by
`python -m tests.benchmarks.served_steps`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from lxml import html

ROOT = Path(__file__).resolve().parents[2]
KEFU = str(Path(sys.executable).with_name("kefu"))
PASSWORD = "kefu123"  # the demo centre's (engine/demo/organisation.yaml)
#: A step that takes longer than this is a bug (a lock waited out), not a slow machine.
STEP_LIMIT_S = 2.0
START_LIMIT_S = 60.0


class ClockFile:
    """The time of the served processes (setting `clock_file`): tests move it by writing."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self.set(start)

    def now(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text(encoding="utf-8").strip())

    def set(self, moment: datetime) -> None:
        temporary = self.path.with_suffix(".new")
        temporary.write_text(moment.isoformat(), encoding="utf-8")
        os.replace(temporary, self.path)  # readers see the old time or the new, never half

    def advance(self, **delta: float) -> datetime:
        moment = self.now() + timedelta(**delta)
        self.set(moment)
        return moment


@dataclass
class Served:
    """A `kefu serve` process and what a test needs to reach it."""

    base: str
    process: subprocess.Popen[str]
    log: Path
    env: dict[str, str]
    clock: ClockFile

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kefu(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another `kefu` command against the same installation (e.g. `audit verify`)."""
        return subprocess.run([KEFU, *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)


def environment(folder: Path, database_url: str, clock: ClockFile,
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(KEFU_DATABASE_URL=database_url, KEFU_CLOCK_FILE=str(clock.path),
               KEFU_INSTANCE_DIR=str(folder), PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def initialised(folder: Path, database_url: str, start: datetime,
                extra: Mapping[str, str] | None = None) -> tuple[ClockFile, dict[str, str]]:
    """`kefu init --demo` for a new installation in `folder`; its clock and environment."""
    clock = ClockFile(folder / "clock.txt", start)
    env = environment(folder, database_url, clock, extra)
    init = subprocess.run([KEFU, "init", "--demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert init.returncode == 0, init.stdout + init.stderr
    return clock, env


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path,
            ready: str) -> Iterator[tuple[subprocess.Popen[str], re.Match[str]]]:
    """A process of the product, stopped as an operator would (SIGTERM) at the end; yields
    once its log matches `ready`."""
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, text=True)
    try:
        yield process, _wait_for(process, log, ready)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def served(folder: Path, database_url: str, start: datetime,
           extra: Mapping[str, str] | None = None,
           serve_args: tuple[str, ...] = ()) -> Iterator[Served]:
    """`kefu init --demo`, then `kefu serve --port 0`, as the README says, in `folder`."""
    clock, env = initialised(folder, database_url, start, extra)
    log = folder / "serve.log"
    with running([KEFU, "serve", "--port", "0", *serve_args], env, log,
                 r"serving on (http://\S+)") as (process, found):
        yield Served(found.group(1), process, log, env, clock)


def _wait_for(process: subprocess.Popen[str], log: Path, ready: str) -> re.Match[str]:
    deadline = time.monotonic() + START_LIMIT_S
    while time.monotonic() < deadline:
        found = re.search(ready, log.read_text(encoding="utf-8"))
        if found:
            return found
        if process.poll() is not None:
            raise AssertionError(f"{process.args} exited: {log.read_text(encoding='utf-8')}")
        time.sleep(0.05)  # waiting for a process to start, not timing behaviour
    raise AssertionError(f"{process.args} did not start: {log.read_text(encoding='utf-8')}")


@dataclass
class Step:
    who: str
    what: str
    seconds: float


@dataclass
class Desk:
    """One person's browser session, over plain HTTP."""

    base: str
    username: str
    steps: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base, follow_redirects=True, timeout=60)

    def close(self) -> None:
        self.http.close()

    def search(self, **criteria: str) -> httpx.Response:
        """The auditors' search, posted as its form is (a phone never goes in a URL)."""
        return self.send("search", "/audit/", {**_hidden_fields(self.page("/audit/")),
                                               **criteria})

    def page(self, path: str) -> httpx.Response:
        response = self.http.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response

    def login(self) -> None:
        token = _csrf(self.page("/login"))
        response = self.http.post("/login", data={"csrf_token": token,
                                                  "username": self.username,
                                                  "password": PASSWORD})
        assert response.url.path == "/inbox", (response.url, response.text[:300])

    def post(self, what: str, path: str, data: Mapping[str, Any], form_page: str | None = None,
             expect: int = 200) -> httpx.Response:
        """Submit a form as the browser would (its CSRF token and hidden fields), timed."""
        return self.send(what, path, {**_hidden_fields(self.page(form_page or path)), **data},
                         expect)

    def send(self, what: str, path: str, data: Mapping[str, Any],
             expect: int = 200) -> httpx.Response:
        started = time.perf_counter()
        response = self.http.post(path, data=data)
        self.steps.append(Step(self.username, what, time.perf_counter() - started))
        assert response.status_code == expect, (what, response.status_code,
                                                _flash_or_errors(response))
        return response

    def start(self, process_id: str, data: Mapping[str, Any]) -> str:
        response = self.post(f"start {process_id}", f"/start/{process_id}", data)
        found = re.search(r"/cases/([A-Z]{2}\d+)", str(response.url))
        assert found, (response.url, _flash_or_errors(response))
        return found.group(1)

    def task_id(self, number: str, title: str) -> str:
        """The task of case `number` titled `title` in this person's inbox, claimed if it
        is only offered."""
        tree = html.fromstring(self.page("/inbox").text)
        for section in ("mine", "offered"):
            for row in tree.xpath(f'//section[@id="{section}"]//tbody/tr'):
                if number in row.text_content() and title in row.text_content():
                    task_id = row.xpath('.//a[starts-with(@href, "/tasks/")]/@href')[0] \
                        .split("/")[2]
                    if section == "offered":
                        self.post(f"claim {title}", f"/tasks/{task_id}/claim", {},
                                  form_page="/inbox")
                    return task_id
        raise AssertionError(f"{self.username} has no task {title!r} of {number}")

    def complete(self, number: str, title: str, data: Mapping[str, Any]) -> httpx.Response:
        path = f"/tasks/{self.task_id(number, title)}"
        response = self.post(title, path, data)
        if response.url.path == path and "reply_digest" in _hidden_fields(response):
            # C7: a reply is shown as the customer will get it; confirming sends that text.
            response = self.send(f"{title}: confirm", path,
                                 {**_hidden_fields(response), **data})
        assert response.url.path == "/inbox", (title, _flash_or_errors(response))
        return response


def _csrf(response: httpx.Response) -> str:
    return _hidden_fields(response)["csrf_token"]


def _hidden_fields(response: httpx.Response) -> dict[str, str]:
    """What the page's forms send as they stand: hidden fields, and what is filled in or
    chosen already (a browser sends a pre-filled field as it is)."""
    fields: dict[str, str] = {}
    for form in html.fromstring(response.text).forms:
        if (form.method or "").upper() == "POST":
            for name, value in form.form_values():
                fields.setdefault(name, value)
    return fields


def _flash_or_errors(response: httpx.Response) -> str:
    tree = html.fromstring(response.text or "<p></p>")
    parts = tree.xpath('//*[contains(@class, "flash") or contains(@class, "error")]//text()')
    return " ".join(p.strip() for p in parts if p.strip())[:500] or response.text[:300]


#: A whole complaint by the demo centre's people (C1-C10), one (who, task, form) a step.
COMPLAINT_INTAKE = {"complainant_name": "陈先生", "complainant_phone": "13800138000",
                    "channel": "hotline", "category": "fee",
                    "content": "本月话费多扣了 30 元，要求退还。"}
COMPLAINT_STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("duty01", "联系投诉人", {"reached": "true", "contact_notes": "已电话联系，客户确认多扣费。"}),
    ("duty01", "投诉判断", {"justified": "true", "judgement_notes": "计费错误，投诉成立。",
                         "department": "billing"}),
    ("bill01", "部门处理方案", {"cause": "计费系统重复扣费", "solutions": "退还 30 元",
                           "compensation": "退还 30 元"}),
    ("billhead", "部门负责人审批", {"approved": "true", "chosen_solution": "退还 30 元",
                               "instruction": "同意退费并致歉。"}),
    ("agent01", "答复客户", {"reply_channel": "sms", "cause": "计费系统重复扣费",
                         "solution": "已退还 30 元",
                         "follow_up": "下月账单将再次核对"}),
    ("agent01", "回访", {"reached": "true", "satisfied": "true", "satisfaction": "5"}),
]


def whole_complaint(base: str, clock: ClockFile | None = None) -> tuple[str, list[Step]]:
    """One complaint from intake to archive over HTTP; returns its number and the steps."""
    desks: dict[str, Desk] = {}
    steps: list[Step] = []
    try:
        for username in ("agent01", *(who for who, _, _ in COMPLAINT_STEPS)):
            if username not in desks:
                desks[username] = Desk(base, username)
                desks[username].login()
        number = desks["agent01"].start("complaint", COMPLAINT_INTAKE)
        for who, title, data in COMPLAINT_STEPS:
            if clock is not None:
                clock.advance(minutes=20)
            desks[who].complete(number, title, data)
        for desk in desks.values():
            steps.extend(desk.steps)
    finally:
        for desk in desks.values():
            desk.close()
    return number, steps
