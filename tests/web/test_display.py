"""Issue 15: every page the demo centre can show speaks the reader's language — no ISO
time, no Python repr, no raw code or username, no English inside the Chinese page — for
each demo role, each process and each state the demo reaches (tests/web/world.py)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

import engine
from engine.people.roles import ROLES
from engine.persistence.models import Department, Person, TaskItem
from tests.web import world as demo
from tests.web.conftest import text_of

DATA = Path(__file__).resolve().parents[1] / "data" / "modeler"
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
REPRS = ("['", "{'", "None", "[]", "{}")
ACTIONS = ("completed", "claimed", "reassigned", "reminded", "urged", "timer",
           "roster_swapped", "leave_recorded", "viewed_customer_data", "queued", "urge")
CODES = ("fee", "hotline", "sms", "general_personal", "major_error", "pass_up", "dept_handler")
#: Latin words a Chinese page may hold: the language switch, abbreviations people use.
ALLOWED_LATIN = {"English", "VIP", "SMS", "CSV", "ID", "GB",
                 "PDF", "Word", "Excel", "JPG", "PNG", "MB"}  # names of file kinds
USERS = ("agent01", "agent07", "duty01", "leader01", "leader04", "bill01", "billhead",
         "manager01", "cshead", "director", "qa01", "audit01", "owner01")


def readable(response) -> str:
    html = response.get_data(as_text=True)
    # chart tooltips, commands and file names (as typed, for process owners and auditors)
    html = re.sub(r"<(desc|title|code)\b[^>]*>.*?</\1>", " ", html, flags=re.S)
    return text_of(type("R", (), {"get_data": lambda self, as_text: html})())


def problems(text: str, known_codes: set[str]) -> list[str]:
    text = text.replace("kefu audit verify", "")  # a command, named as it is typed
    found = [f"ISO time {m}" for m in ISO.findall(text)]
    found += [f"repr {r!r}" for r in REPRS if r in text]
    words = set(re.findall(r"(?<![\w/.])[A-Za-z][A-Za-z0-9_]+(?![\w/.])", text))
    found += [f"code {w}" for w in sorted(words & known_codes)]
    found += [f"English {w}" for w in sorted(words - ALLOWED_LATIN - known_codes)
              if re.fullmatch(r"[A-Za-z]{3,}", w)]
    return found


@pytest.fixture
def built(rostered, people):
    return demo.build(rostered, people)


def test_every_page_of_the_demo_speaks_plain_chinese(client, auth, rostered, built):
    with rostered.session() as s:
        usernames = set(s.scalars(select(Person.username)))
        departments = set(s.scalars(select(Department.code)))
        tasks = list(s.scalars(select(TaskItem.id)))
    known = usernames | departments | set(ROLES) | set(ACTIONS) | set(CODES)
    pages = ["/", "/inbox", "/dashboard", "/work/cases?mine=started", "/work/cases?mine=done",
             "/work/cases?mine=team", "/work/cases?overdue=1", "/work/cases?q=资费",
             "/work/lookup?q=13800138004", "/audit/", "/audit/?all=1", "/audit/verify",
             "/processes/", "/inbox?q=资费", "/inbox?q=8004&due=overdue&page=2",
             "/work/cases?overdue=1&team=leader01", "/work/cases?overdue=1&unclaimed=1",
             "/notifications", "/notifications/preferences", "/roster",
             "/roster?month=2026-12", "/start/leave", "/start/shift_swap"]
    pages += [f"/cases/{n}" for n in built.cases] + [f"/tasks/{t}" for t in tasks]
    pages += [f"/cases/{n}/receipt" for n in built.complaints[:1]]
    seen, failures = 0, []
    for user in USERS:
        auth.as_user(user)
        for url in pages:
            response = client.get(url, follow_redirects=True)
            if response.status_code != 200:
                continue
            seen += 1
            for problem in problems(readable(response), known):
                failures.append(f"{user} {url}: {problem}")
    assert seen > 150
    assert not failures, "\n".join(sorted(set(failures))[:80])


def test_the_notification_choices_page_speaks_plain_chinese(client, auth, rostered, built):
    rostered.settings = replace(rostered.settings, notify_channels="inapp,email,webhook",
                                webhook_url="http://127.0.0.1:9/robot")
    with rostered.session() as s:
        usernames = set(s.scalars(select(Person.username)))
    for user in USERS:
        auth.as_user(user)
        page = readable(client.get("/notifications/preferences"))
        assert "电子邮件" in page and "催单" in page, user
        assert not problems(page, usernames | set(ROLES)), (user, problems(page, usernames))


def test_the_history_csv_holds_words_not_codes_or_json(client, auth, built):
    auth.as_user("audit01")
    csv = client.get(f"/audit/cases/{built.complaints[8]}/history.csv").get_data(as_text=True)
    assert "已完成" in csv and "刘洋（工号 1001）" in csv and "已结案" in csv
    for raw in ('"{', "completed", "agent01", "2026-11-23T"):
        assert raw not in csv


def test_tasks_offered_to_named_people_or_a_whole_department_read_as_people_and_department(
        client, auth, deployed, people):
    """Issue 14: a SpiffArena lane's owners and a lane named after a department, on the
    case page, as people (姓名（工号）) and the department's name, never codes."""
    from engine.people.organisation import directory
    from tests.complaints import open_tasks

    source = (DATA / "lane_owners.bpmn").read_text(encoding="utf-8")
    with deployed.session() as s:
        built = engine.build({"lane_owners.bpmn": source}, {}, organisation=directory(s))
        engine.deploy(s, built, "owner01", deployed.clock.now())
        number = engine.start_case(deployed, s, "lane_owners", people["agent01"], {}).number
    with deployed.session() as s:
        known = set(s.scalars(select(Person.username))) | set(ROLES) | {"billing"}
    auth.as_user("agent01")
    page = readable(client.get(f"/cases/{number}"))
    assert "马超（工号 3001）、胡伟（工号 3100）" in page
    assert not problems(page.replace("Finance Team", ""), known)  # the lane as drawn
    with deployed.session() as s:
        token = engine.create_token(s, "billhead", deployed.clock.now())
    [mine] = client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"}
                        ).get_json()["mine"]
    assert mine["candidate_users"] == ["bill01", "billhead"]
    for step, who in (("first_approval", "bill01"), ("second_approval", "billhead")):
        [item] = open_tasks(deployed, number)
        assert item.spec_name == step
        with deployed.session() as s:
            engine.complete_task(deployed, s, item.id, people[who], {})
    page = readable(client.get(f"/cases/{number}"))
    assert "计费部 · 任何人" in page
    assert not problems(page.replace("Finance Team", ""), known)


def test_checking_against_a_checkpoint_speaks_plain_chinese(client, auth, rostered, built):
    """The A3 page after an upload: findings and the checkpoint's time in words."""
    import io
    import json

    from sqlalchemy import update

    from engine.persistence.models import Case

    auth.as_user("audit01")
    saved = json.loads(client.get("/audit/checkpoint.json").get_data(as_text=True))
    with rostered.db.session() as s:  # one case rolled back by a record
        s.execute(update(Case).where(Case.number == built.complaints[8])
                  .values(history_seq=Case.history_seq - 1))
    response = auth.post("/audit/verify", {"checkpoint": (io.BytesIO(json.dumps(saved).encode()),
                                                          "checkpoint.json")},
                         content_type="multipart/form-data")
    with rostered.session() as s:
        known = set(s.scalars(select(Person.username))) | set(ROLES)
    text = readable(response)
    assert "被回退" in text
    assert problems(text, known) == []
