"""Issue 15: the roster page (my shifts, my team's month, who leads each shift) and the
leave and swap forms that pick colleagues and shifts from it, with the sick-leave fields
only where they apply.

The demo roster at the test clock (23 Nov 2026): agent01 (刘洋, leader01's team) works the
days of 25 and 26 Nov and the nights of 27 and 28; agent07 (曹宇, leader03's team) the
nights of 23 and 24 and the days of 29 and 30.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from engine.persistence.models import Case
from tests.rules.test_leave_process import at
from tests.web.conftest import form, text_of

SWAP = {"my_shift_date": "2026-11-26 day", "their_shift_date": "2026-11-30 day",
        "reason": "家中有事"}



def _started_data(kefu, process_id: str) -> dict:
    from engine.records import history

    with kefu.session() as s:
        case = s.scalars(select(Case).where(Case.process_id == process_id)).one()
        [started] = [r for r in history.case_records(s, case) if r.action == "completed"][:1]
        return dict(started.data)


def test_the_roster_shows_my_shifts_my_teams_month_and_who_leads_each_shift(
        client, auth, rostered) -> None:
    auth.as_user("agent01")
    page = client.get("/roster")
    assert page.status_code == 200
    text = text_of(page)
    assert "排班表" in text and "2026年11月" in text
    mine = text.split("我的班次", 1)[1].split("张建国（工号 8001）的班组", 1)[0]
    assert "11月25日 白班 08:00–20:00" in mine and "11月27日 夜班 20:00–08:00" in mine
    assert "11月29日" not in mine  # a day off is no shift of mine
    assert "张建国（工号 8001）" in mine  # who leads the shift
    grid = text.split("张建国（工号 8001）的班组", 1)[1]
    assert "陈静 工号 1002" in grid and "赵敏" not in grid  # my team only
    row = re.search(r"11月25日周三 (.*?) 11月26日", grid).group(1)
    assert row.startswith("张建国（工号 8001） 冯淑华（工号 8004）")  # day and night leaders
    assert "白班 · 带班" in row and "白班" in row
    assert "休息" in re.search(r"11月23日周一 (.*?) 11月24日", grid).group(1)


def test_a_leader_sees_their_team_and_the_cs_head_every_team(client, auth, rostered) -> None:
    auth.as_user("leader02")
    text = text_of(client.get("/roster?month=2026-12"))
    assert "2026年12月" in text and "李秀英（工号 8002）的班组" in text
    assert "赵敏" in text and "刘洋" not in text
    auth.as_user("cshead")
    text = text_of(client.get("/roster"))
    assert all(f"{name}的班组" in text for name in (
        "张建国（工号 8001）", "李秀英（工号 8002）", "钱永刚（工号 8003）", "冯淑华（工号 8004）"))
    assert "您本月没有班次" in text


def test_the_swap_form_picks_my_shift_and_the_colleague_by_name(client, auth,
                                                                rostered) -> None:
    auth.as_user("agent01")
    page = client.get("/start/shift_swap").get_data(as_text=True)
    mine = re.search(r'<select id="in-my_shift_date".*?</select>', page, re.S).group(0)
    assert '<option value="2026-11-26 day">11月26日 白班 08:00–20:00</option>' in mine
    assert "11月29日" not in mine  # not a shift of agent01's
    assert '<option value="曹宇（工号 1007）">' in page  # the colleague picker's list
    assert 'name="my_shift_kind"' not in page  # the shift picker says the kind too
    sent = auth.post("/start/shift_swap", form({**SWAP, "counterpart": "曹宇"}))
    assert sent.status_code == 302, text_of(sent)
    data = _started_data(rostered, "shift_swap")
    assert (data["counterpart"], data["my_shift_date"], data["my_shift_kind"],
            data["their_shift_date"], data["their_shift_kind"]) == (
        "agent07", "2026-11-26", "day", "2026-11-30", "day")


def test_a_colleague_may_be_named_by_staff_number_or_the_pickers_label(client, auth,
                                                                       rostered) -> None:
    auth.as_user("agent01")
    for named in ("1007", "曹宇（工号 1007）"):
        page = auth.post("/start/shift_swap", form({**SWAP, "counterpart": named,
                                                    "reason": ""}))
        assert page.status_code == 422  # refused for the empty reason only
        text = text_of(page)
        assert "没有此人" not in text and 'value="曹宇（工号 1007）"' in page.get_data(
            as_text=True)


def test_an_unknown_colleague_or_a_shift_not_held_is_refused_naming_the_field(
        client, auth, rostered) -> None:
    auth.as_user("agent01")
    page = auth.post("/start/shift_swap", form({
        **SWAP, "my_shift_date": "2026-11-29 day", "counterpart": "王小明"}))
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    counterpart = html.split('id="field-counterpart"', 1)[1].split('id="field-', 1)[0]
    assert "没有此人" in counterpart
    mine = html.split('id="field-my_shift_date"', 1)[1].split('id="field-', 1)[0]
    assert "刘洋（1001）没有排这个班" in mine
    assert _cases(rostered, "shift_swap") == 0


def test_a_colleague_outside_the_pickers_filter_is_refused(client, auth, rostered) -> None:
    auth.as_user("agent01")
    page = auth.post("/start/shift_swap", form({**SWAP, "counterpart": "梁洁"}))  # not rostered
    field = page.get_data(as_text=True).split('id="field-counterpart"', 1)[1].split(
        'id="field-', 1)[0]
    assert page.status_code == 422 and "梁洁（工号 9101）不能选在这里" in field


def _cases(kefu, process_id: str) -> int:
    with kefu.session() as s:
        return len(s.scalars(select(Case).where(Case.process_id == process_id)).all())


def test_the_leave_form_picks_shifts_and_shows_the_sick_leave_fields_only_for_sick_leave(
        client, auth, rostered) -> None:
    auth.as_user("agent01")
    html = client.get("/start/leave").get_data(as_text=True)
    start = re.search(r'<select id="in-start".*?</select>', html, re.S).group(0)
    assert "11月25日 白班 08:00–20:00" in start and "11月27日 夜班 20:00–08:00" in start
    certificate = html.split('id="field-certificate_from"', 1)[1].split('id="field-', 1)[0]
    assert """data-show-when='{"kind": ["sick"]}'""" in certificate
    assert "仅当“请假类别”为“病假”时填写" in text_of(type("R", (), {
        "get_data": lambda self, as_text: certificate})())
    phoned = html.split('id="field-phoned_at"', 1)[1].split('id="field-', 1)[0]
    assert """data-show-when='{"emergency": ["true"]}'""" in phoned


def test_sick_leave_fields_sent_with_a_personal_leave_are_neither_required_nor_stored(
        client, auth, rostered) -> None:
    auth.as_user("agent01")
    personal = {"kind": "general_personal", "start": at(26, 8), "end": at(26, 20),
                "reason": "家中有事", "certificate_from": "2026-11-26", "emergency": "true"}
    sent = auth.post("/start/leave", form(personal))
    assert sent.status_code == 302, text_of(sent)  # no "only sick leave is an emergency"
    data = _started_data(rostered, "leave")
    assert "certificate_from" not in data and "emergency" not in data
    assert data["kind"] == "general_personal"


def test_a_phoned_emergency_needs_its_time_only_when_it_is_one(client, auth,
                                                               rostered) -> None:
    auth.as_user("leader01")
    sick = {"kind": "sick", "employee": "刘洋", "emergency": "true", "start": at(25, 8),
            "end": at(25, 20), "reason": "发烧"}
    page = auth.post("/start/leave", form(sick))
    assert page.status_code == 422
    phoned = page.get_data(as_text=True).split('id="field-phoned_at"', 1)[1].split(
        'id="field-', 1)[0]
    assert "必填" in phoned
