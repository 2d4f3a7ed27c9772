"""The inbox: my tasks and those I may claim, due time and time left at a glance, filters and
sorting, claim and release, and a leader handing a task on within the team (issue 5)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

import engine
from engine.persistence.models import HistoryRecord, TaskItem
from tests.complaints import APPROVE, CONTACT, JUSTIFIED, PROPOSAL, do, open_tasks, register
from tests.web.conftest import text_of

ROOT = Path(__file__).resolve().parents[3]


def _section(html: str, section: str) -> str:
    return html.split(f'<section id="{section}">')[1].split("</section>")[0]


def _set_due(kefu, number: str, due) -> None:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        for item in s.scalars(select(TaskItem).where(TaskItem.case_id == case.id)):
            item.due_at = due


def test_C3_offered_task_is_claimed_then_released(client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    auth.as_user("duty01")
    html = client.get("/inbox").get_data(as_text=True)
    assert number in _section(html, "offered") and number not in _section(html, "mine")
    task_id = open_tasks(deployed, number)[0].id
    assert auth.post(f"/tasks/{task_id}/claim").status_code == 302
    html = client.get("/inbox").get_data(as_text=True)
    assert number in _section(html, "mine") and number not in _section(html, "offered")
    assert "退回任务池" in _section(html, "mine")
    assert auth.post(f"/tasks/{task_id}/release").status_code == 302
    assert number in _section(client.get("/inbox").get_data(as_text=True), "offered")


def test_C3_due_time_left_and_overdue_at_a_glance(client, auth, deployed, people, clock) -> None:
    late = register(deployed, people["agent01"])
    soon = register(deployed, people["agent02"])
    later = register(deployed, people["agent03"])
    _set_due(deployed, late, clock.now() - timedelta(minutes=90))
    _set_due(deployed, soon, clock.now() + timedelta(minutes=45))
    _set_due(deployed, later, clock.now() + timedelta(days=2, hours=3))
    auth.as_user("duty01")
    page = text_of(client.get("/inbox"))
    assert "1 项已超时" in page
    assert "已超时 1小时30分" in page and "剩余 45分钟" in page and "剩余 2天3小时" in page
    assert page.index(late) < page.index(soon) < page.index(later)  # most urgent first
    html = client.get("/inbox?due=overdue").get_data(as_text=True)
    assert late in html and soon not in html and later not in html
    assert 'class="due-overdue"' in html


def test_inbox_filters_by_process_and_category_and_sorts(client, auth, deployed, people,
                                                          clock) -> None:
    fee = register(deployed, people["agent01"])
    clock.advance(minutes=5)
    network = register(deployed, people["agent01"], category="network")
    auth.as_user("duty01")
    html = client.get("/inbox?category=network").get_data(as_text=True)
    assert network in html and fee not in html
    assert "网络质量" in text_of(client.get("/inbox"))  # the category's title, not its code
    html = client.get("/inbox?process=complaint&sort=created").get_data(as_text=True)
    assert html.index(network) < html.index(fee)
    assert fee not in client.get("/inbox?process=leave").get_data(as_text=True)


def _to_reply(kefu, people, owner: str) -> str:
    number = register(kefu, people[owner])
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE)]:
        do(kefu, number, step, people[who], data)
    return number


def test_C6_head_hands_a_claimed_department_task_on_within_the_team(
        client, auth, deployed, people) -> None:
    number = register(deployed, people["agent01"])
    do(deployed, number, "contact", people["duty01"], CONTACT)
    do(deployed, number, "judge", people["duty01"], JUSTIFIED)
    [task] = open_tasks(deployed, number)
    with deployed.session() as s:
        engine.claim_task(deployed, s, task.id, people["bill01"])
    auth.as_user("billhead")
    team = _section(client.get("/inbox").get_data(as_text=True), "team")
    assert number in team and 'value="bill02"' in team and 'value="net01"' not in team
    assert auth.post(f"/tasks/{task.id}/reassign", {"to": "net01"}).status_code == 403
    assert auth.post(f"/tasks/{task.id}/reassign", {"to": "bill02"}).status_code == 302
    with deployed.session() as s:
        assert [t.spec_name for t in engine.my_tasks(s, people["bill02"])] == ["propose"]
        assert engine.my_tasks(s, people["bill01"]) == []
        record = s.scalars(select(HistoryRecord).order_by(HistoryRecord.id.desc())).first()
    assert (record.action, record.actor, record.data) == ("reassigned", "billhead",
                                                          {"to": "bill02"})
    auth.as_user("nethead")  # another department's head: not their team's task
    assert auth.post(f"/tasks/{task.id}/reassign", {"to": "net01"}).status_code == 403


def test_C2_the_owners_reply_is_not_handed_to_another_agent(client, auth, deployed,
                                                           people) -> None:
    """C2: the agent who accepted the complaint follows it to the end; no kicking the ball."""
    number = _to_reply(deployed, people, "agent01")
    task_id = open_tasks(deployed, number)[0].id
    auth.as_user("leader01")
    assert number not in client.get("/inbox").get_data(as_text=True)
    assert auth.post(f"/tasks/{task_id}/reassign", {"to": "agent02"}).status_code == 403
    with deployed.session() as s:
        assert engine.my_tasks(s, people["agent02"]) == []
        assert [t.spec_name for t in engine.my_tasks(s, people["agent01"])] == ["reply"]


def test_C2_someone_without_a_team_cannot_hand_tasks_on(client, auth, deployed, people) -> None:
    number = _to_reply(deployed, people, "agent01")
    task_id = open_tasks(deployed, number)[0].id
    auth.as_user("agent03")
    assert 'id="team"' not in client.get("/inbox").get_data(as_text=True)
    assert auth.post(f"/tasks/{task_id}/reassign", {"to": "agent03"}).status_code == 403


def test_inbox_search_finds_tasks_by_case_number_phone_digits_name_and_words(
        client, auth, deployed, people) -> None:
    fee = register(deployed, people["agent01"], complainant_name="孙女士",
                   complainant_phone="13912345678")
    network = register(deployed, people["agent02"], category="network",
                       content="家里宽带每晚断线")
    auth.as_user("duty01")
    for words, found, not_found in [(fee, fee, network), ("5678", fee, network),
                                    ("孙女士", fee, network), ("宽带", network, fee),
                                    (network.lower(), network, fee)]:
        html = client.get("/inbox", query_string={"q": words}).get_data(as_text=True)
        offered = _section(html, "offered")
        assert found in offered and not_found not in offered, words
        assert f"按“{words}”找到 1 项任务" in html
        assert f'value="{words}"' in html  # the box keeps what was searched
    nothing = text_of(client.get("/inbox?q=没有这个词"))
    assert "找到 0 项任务" in nothing and fee not in nothing and network not in nothing


def test_inbox_pages_hundreds_of_tasks_and_keeps_the_filters(client, auth, deployed, people,
                                                             clock, monkeypatch) -> None:
    monkeypatch.setattr("web.views.inbox.PAGE", 2)
    numbers = []
    for _ in range(5):
        numbers.append(register(deployed, people["agent01"]))
        clock.advance(minutes=1)
    other = register(deployed, people["agent01"], category="network")
    auth.as_user("duty01")
    html = client.get("/inbox?category=fee&sort=created").get_data(as_text=True)
    offered = _section(html, "offered")
    assert "第 1 页，共 3 页" in offered and "共 5 项" in offered
    assert numbers[4] in offered and numbers[3] in offered and numbers[2] not in offered
    assert other not in offered
    following = re.search(r'<a href="([^"]+)" rel="next">', offered).group(1).replace("&amp;", "&")
    assert "category=fee" in following and "sort=created" in following
    second = _section(client.get(following).get_data(as_text=True), "offered")
    assert "第 2 页，共 3 页" in second and numbers[2] in second and numbers[1] in second
    assert numbers[4] not in second and 'rel="prev"' in second
    last = _section(client.get("/inbox?category=fee&sort=created&offered_page=99")
                    .get_data(as_text=True), "offered")
    assert "第 3 页，共 3 页" in last and numbers[0] in last  # past the end: the last page


def test_inbox_refreshes_itself_at_its_own_url_and_says_when_it_was_made(
        client, auth, deployed, people, clock) -> None:
    register(deployed, people["agent01"])
    auth.as_user("duty01")
    html = client.get("/inbox?due=overdue&q=5678").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html  # a reload would drop choices not yet applied
    assert 'data-refresh="60"' in html
    assert 'data-refresh-url="/inbox?due=overdue&amp;q=5678"' in html
    local = clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"更新于 {local.month}月{local.day}日 {local:%H:%M}" in text_of(
        client.get("/inbox?due=overdue&q=5678"))


def test_a_search_looks_beyond_the_most_urgent_tasks_the_inbox_lists(
        client, auth, deployed, people, clock, monkeypatch) -> None:
    monkeypatch.setattr("web.views.inbox.LIMIT", 3)
    numbers = []
    for n in range(4):
        numbers.append(register(deployed, people["agent01"], complainant_phone=f"1390000{n:04d}"))
        clock.advance(minutes=1)  # the last one is due last: beyond the first three
    auth.as_user("duty01")
    offered = _section(client.get("/inbox").get_data(as_text=True), "offered")
    assert numbers[3] not in offered and "只列出了最紧急的 3 项任务" in offered
    found = _section(client.get("/inbox?q=0003").get_data(as_text=True), "offered")
    assert numbers[3] in found and "只列出了" not in found


def test_inbox_names_a_process_as_its_newest_deployment_does(
        client, auth, deployed, people, tmp_path) -> None:
    register(deployed, people["agent01"])
    auth.as_user("duty01")
    assert "投诉处理" in text_of(client.get("/inbox"))
    processes = tmp_path / "processes"
    processes.mkdir()
    for dmn in (ROOT / "processes").glob("complaint*.dmn"):  # its decision tables, as they are
        (processes / dmn.name).write_text(dmn.read_text(encoding="utf-8"), encoding="utf-8")
    source = (ROOT / "processes" / "complaint.bpmn").read_text(encoding="utf-8")
    (processes / "complaint.bpmn").write_text(source.replace(
        'name="投诉处理 / Complaint handling"', 'name="客户投诉 / Customer complaints"'),
        encoding="utf-8")
    with deployed.session() as s:
        engine.deploy_directories(s, processes, ROOT / "forms", "owner01",
                                  deployed.clock.now())
    page = text_of(client.get("/inbox"))
    assert "客户投诉" in page and "投诉处理" not in page


def _version(client) -> str:
    answer = client.get("/inbox/version")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    return answer.get_json()["version"]


def test_C3_an_open_inbox_is_told_when_its_lists_change_and_only_then(
        client, auth, deployed, people, clock) -> None:
    """What the page's script polls (/inbox/version): the page's own digest while nothing it
    lists changed, a new one when a task is offered or claimed; someone else's work leaves
    it as it was."""
    auth.as_user("agent02")
    bystander = _version(client)
    auth.as_user("duty01")
    page = client.get("/inbox").get_data(as_text=True)
    shown = re.search(r'data-version="([0-9a-f]+)"', page).group(1)
    assert _version(client) == shown
    clock.advance(minutes=1)
    assert _version(client) == shown  # time passing alone: the minute reload's job
    number = register(deployed, people["agent01"])
    offered = _version(client)
    assert offered != shown
    page = client.get("/inbox").get_data(as_text=True)
    assert re.search(r'data-version="([0-9a-f]+)"', page).group(1) == offered
    assert number in _section(page, "offered")
    with deployed.session() as s:
        engine.claim_task(deployed, s, open_tasks(deployed, number)[0].id, people["duty01"])
    assert _version(client) not in (offered, shown)  # from "to claim" to "mine"
    assert client.get("/inbox/version").get_json()["updated"].startswith("更新于 ")
    auth.as_user("agent02")
    assert _version(client) == bystander  # agent01's complaint is not in agent02's inbox


def test_C3_the_inbox_poll_falls_overdue_with_the_task(client, auth, deployed, people,
                                                      clock) -> None:
    number = register(deployed, people["agent01"])
    _set_due(deployed, number, clock.now() + timedelta(minutes=30))
    auth.as_user("duty01")
    before = _version(client)
    clock.advance(minutes=10)
    assert _version(client) == before
    clock.advance(minutes=25)  # now past its due time: the page would show it overdue
    assert _version(client) != before


def test_inbox_poll_asks_for_a_sign_in_and_tells_nothing_without_one(client) -> None:
    answer = client.get("/inbox/version")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert b"data-version" not in answer.data and answer.is_json is False
