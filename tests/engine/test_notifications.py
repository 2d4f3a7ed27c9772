"""Notifications (issue 15 item 5): a new task, a reminder, an overdue notice and each
escalation level reach the person in the app, by e-mail (a real SMTP server) and through
a group robot (a real HTTP server); sending is recorded, retried and never part of a step."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

import engine
from engine.messages import notifications
from engine.persistence.models import Person
from engine.persistence.notice_models import Notification
from tests.complaints import CONTACT, INTAKE, JUSTIFIED, do, open_tasks, register
from tests.notify_servers import Mailbox, Robot, free_port, robot, smtp  # noqa: F401
from tests.rules.test_deadlines import fire


@pytest.fixture
def settings(settings, smtp, robot):  # noqa: F811 - the servers' addresses into the settings
    return replace(settings, notify_channels="inapp,email,webhook", smtp_port=smtp.port,
                   webhook_url=robot.url, notify_retry_seconds=60, notify_max_attempts=3,
                   public_url="https://kefu.example.cn")


@pytest.fixture
def mailed(deployed):
    """Everyone has an address at the centre."""
    with deployed.session() as s:
        s.execute(update(Person).values(email=Person.username + "@kefu.example.cn"))
    return deployed


def rows(kefu, **where) -> list[Notification]:
    with kefu.session() as s:
        query = select(Notification).order_by(Notification.id)
        for key, value in where.items():
            query = query.where(getattr(Notification, key) == value)
        return list(s.scalars(query))


def mail_to(box: Mailbox, address: str) -> list[str]:
    return [m["Subject"] for m in box.messages if m["To"] == address]


def test_C9_new_task_reaches_its_holder_in_app_by_email_and_robot(
        mailed, people, smtp: Mailbox, robot: Robot) -> None:  # noqa: F811
    number = register(mailed, people["agent01"])
    # C3: the contact task is offered to the duty supervisors; each one is told
    inapp = rows(mailed, channel="inapp", kind="task")
    assert {r.recipient for r in inapp} == {"duty01"}
    assert inapp[0].subject == f"新任务：联系投诉人（案件 {number}）"
    assert rows(mailed, channel="email", state="pending")  # written, not sent, by the step
    assert smtp.messages == [] and robot.received == []
    result = notifications.deliver_due(mailed)
    assert result.sent == 2 and result.failed == 0
    [mail] = smtp.messages
    assert mail["To"] == "duty01@kefu.example.cn"
    assert mail["Subject"] == f"新任务：联系投诉人（案件 {number}）"
    assert "https://kefu.example.cn/tasks/" in mail.get_content()
    [message] = robot.received
    assert message["msgtype"] == "text"
    content = message["text"]["content"]
    assert content.startswith(f"王志强（8101）：新任务：联系投诉人（案件 {number}）")
    assert {r.state for r in rows(mailed)} == {"sent"}


def test_C9_reminder_overdue_and_each_escalation_level_reach_the_person(
        mailed, people, clock, smtp: Mailbox) -> None:  # noqa: F811
    number = register(mailed, people["agent01"])
    do(mailed, number, "contact", people["duty01"], CONTACT)
    do(mailed, number, "judge", people["duty01"], JUSTIFIED)
    fire(mailed, clock, hours=23, minutes=59)  # 80 % of the proposal's 24 h: the reminder
    fire(mailed, clock, hours=24)  # due (C5), and C9 level 1: the shift leader
    fire(mailed, clock, hours=48)  # C9 level 2: the department manager
    notifications.deliver_due(mailed)
    handler = mail_to(smtp, "bill01@kefu.example.cn")
    assert any(s.startswith("提醒：部门处理方案 将于 11月24日 09:00 ") for s in handler), handler
    assert any(s.startswith("已超时：部门处理方案 已于 11月24日 09:00 ") for s in handler), handler
    assert any(s.startswith("催单：") for s in handler), handler
    leader = mail_to(smtp, "leader01@kefu.example.cn")
    assert any(s.startswith(f"案件升级至第 1 级：案件 {number} 已转班长") for s in leader), leader
    manager = [s for m in ("manager01",) for s in mail_to(smtp, f"{m}@kefu.example.cn")]
    assert any(s.startswith(f"案件升级至第 2 级：案件 {number} 已转部门经理") for s in manager), \
        manager
    with mailed.session() as s:
        assert notifications.unread_count(s, "leader01") >= 2  # level 1 and its opinion task


def test_C9_a_failing_channel_never_blocks_a_step_is_retried_then_shown_as_failed(
        mailed, people, clock, robot: Robot) -> None:  # noqa: F811
    broken = replace(mailed.settings, smtp_port=free_port())  # nobody listens there
    mailed.settings = broken
    robot.answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
    number = register(mailed, people["agent01"])  # the step does not wait for the channels
    assert [t.spec_name for t in open_tasks(mailed, number)] == ["contact"]
    first = notifications.deliver_due(mailed)
    assert (first.sent, first.retrying, first.failed) == (0, 2, 0)
    [mail] = rows(mailed, channel="email")
    assert mail.state == "pending" and mail.attempts == 1
    assert "ConnectionRefusedError" in mail.last_error
    assert mail.next_attempt_at == clock.now() + timedelta(seconds=60)
    assert notifications.deliver_due(mailed).sent == 0  # not yet due again: nothing tried
    assert rows(mailed, channel="email")[0].attempts == 1
    clock.advance(seconds=60)
    notifications.deliver_due(mailed)
    assert rows(mailed, channel="email")[0].next_attempt_at == clock.now() + timedelta(
        seconds=120)  # backoff doubles
    clock.advance(seconds=120)
    last = notifications.deliver_due(mailed)
    assert last.failed == 2  # the third attempt was the last (notify_max_attempts)
    with mailed.session() as s:
        health = {h.channel: h for h in notifications.channel_health(s)}
        assert health["email"].failed == 1 and "ConnectionRefused" in health["email"].last_error
        assert "93000" in health["webhook"].last_error
        assert notifications.failing_count(s) == 2


def test_dingtalk_robot_gets_its_own_text_shape(mailed, people, robot: Robot) -> None:  # noqa: F811
    mailed.settings = replace(mailed.settings, webhook_kind="dingtalk", notify_channels="webhook")
    number = register(mailed, people["agent01"])
    notifications.deliver_due(mailed)
    [message] = robot.received
    assert message["msgtype"] == "text" and message["at"] == {"atUserIds": [], "isAtAll": False}
    assert number in message["text"]["content"]


def test_dingtalk_robot_with_a_secret_gets_a_signed_url(mailed, people, robot: Robot) -> None:  # noqa: F811
    mailed.settings = replace(mailed.settings, webhook_kind="dingtalk", notify_channels="webhook",
                              webhook_secret="SECtest")
    register(mailed, people["agent01"])
    notifications.deliver_due(mailed)
    [path] = robot.paths
    query = parse_qs(urlsplit(path).query)
    millis = query["timestamp"][0]
    digest = hmac.new(b"SECtest", f"{millis}\nSECtest".encode(), hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(digest).decode()]  # as 钉钉's docs compute it
    assert query["key"] == ["test"]  # the configured URL's own query is kept


def test_a_person_without_an_address_fails_at_once_without_retries(
        deployed, people, smtp: Mailbox) -> None:  # noqa: F811
    register(deployed, people["agent01"])
    result = notifications.deliver_due(deployed)
    assert result.failed == 1 and smtp.messages == []
    [mail] = rows(deployed, channel="email")
    assert mail.state == "failed" and mail.attempts == 1 and "no e-mail address" in mail.last_error


def test_unknown_channel_in_the_settings_is_refused() -> None:
    with pytest.raises(ValueError, match="notify_channels"):
        engine.Settings(notify_channels="inapp,sms")


def test_the_sender_is_woken_only_after_the_step_commits(deployed, people, smtp) -> None:  # noqa: F811
    deployed.settings = replace(deployed.settings, notify_channels="inapp,email")
    woken: list[str] = []

    def wake() -> None:
        woken.append("after commit")
    notifications.on_enqueued(deployed.db, wake)
    try:
        with pytest.raises(RuntimeError), deployed.session() as s:
            engine.start_case(deployed, s, "complaint", people["agent01"], dict(INTAKE))
            assert woken == []  # rows written, nothing sent while the step is open
            raise RuntimeError("the step fails after its rows were written")
        assert woken == [] and rows(deployed) == []  # rolled back: nothing to send
        register(deployed, people["agent01"])
        assert woken == ["after commit"]
    finally:
        notifications.remove_listener(deployed.db, wake)


def test_the_timer_worker_sends_a_new_tasks_mail_once_the_step_has_committed(
        mailed, people, smtp: Mailbox) -> None:  # noqa: F811
    """`kefu serve` and `kefu worker`: the worker's scheduler thread does the sending."""
    mailed.settings = replace(mailed.settings, notify_channels="inapp,email")
    worker = engine.TimerWorker(mailed, name="notify-test", listen=False)
    worker.start()
    try:
        number = register(mailed, people["agent01"])
        assert smtp.arrived.wait(timeout=20), "the worker sent nothing"
    finally:
        worker.stop()
    [mail] = smtp.messages
    assert mail["To"] == "duty01@kefu.example.cn" and number in mail["Subject"]
    assert [r.state for r in rows(mailed, channel="email")] == ["sent"]


def _mobiles(kefu, **numbers: str) -> None:
    with kefu.session() as s:
        for username, mobile in numbers.items():
            s.execute(update(Person).where(Person.username == username).values(mobile=mobile))


def test_C9_wecom_robot_mentions_the_named_person_by_mobile(
        mailed, people, robot: Robot) -> None:  # noqa: F811
    mailed.settings = replace(mailed.settings, notify_channels="webhook")
    _mobiles(mailed, duty01="13800000101")
    number = register(mailed, people["agent01"])
    notifications.deliver_due(mailed)
    [message] = robot.received
    assert message["text"]["mentioned_mobile_list"] == ["13800000101"]
    assert message["text"]["content"].startswith(
        f"王志强（8101）：新任务：联系投诉人（案件 {number}）")


def test_C9_dingtalk_robot_mentions_everyone_it_names_who_has_a_mobile(
        mailed, people, robot: Robot) -> None:  # noqa: F811
    mailed.settings = replace(mailed.settings, webhook_kind="dingtalk", notify_channels="webhook")
    _mobiles(mailed, bill01="13800000201")  # bill02 has no mobile: named, not mentioned
    number = register(mailed, people["agent01"])
    with mailed.session() as s:
        case = engine.case_by_number(s, number)
        notifications.notify(mailed, s, case, notifications.URGE,
                             {"role": "dept_handler", "department": "billing"},
                             "部门处理方案 / Department proposal")
    notifications.deliver_due(mailed)
    [message] = [m for m in robot.received if "催单" in m["text"]["content"]]
    assert message["text"]["content"].startswith("马超（3001）、朱红（3002）：催单")
    assert message["at"] == {"atUserIds": [], "isAtAll": False, "atMobiles": ["13800000201"]}
    assert message["text"]["content"].endswith("@13800000201")  # 钉钉 shows it only so


def test_C9_a_person_turns_off_email_for_new_tasks_and_the_robot_for_urging(
        mailed, people, smtp: Mailbox, robot: Robot) -> None:  # noqa: F811
    with mailed.session() as s:
        duty01 = s.scalar(select(Person).where(Person.username == "duty01"))
        before = notifications.preferences(s, mailed.settings, duty01.id)
        assert before[("task", "email")] and before[("reminder", "webhook")]  # the centre's
        assert ("task", "inapp") not in before  # always on: not a choice
        wanted = set(before) - {("task", "email"), ("urge", "webhook")}
        notifications.save_preferences(s, mailed.settings, duty01.id, wanted)
    with mailed.session() as s:
        after = notifications.preferences(s, mailed.settings, duty01.id)
        assert not after[("task", "email")] and not after[("urge", "webhook")]
        assert after[("overdue", "email")] and after[("task", "webhook")]
    number = register(mailed, people["agent01"])
    notifications.deliver_due(mailed)
    assert smtp.messages == []  # no e-mail for a new task
    assert len(robot.received) == 1
    assert {r.recipient for r in rows(mailed, channel="inapp")} == {"duty01"}
    with mailed.session() as s:
        case = engine.case_by_number(s, number)
        notifications.notify(mailed, s, case, notifications.URGE, {"user": "duty01"},
                             "联系投诉人 / Contact complainant")
    notifications.deliver_due(mailed)
    assert mail_to(smtp, "duty01@kefu.example.cn") == [
        f"催单：请尽快办理 联系投诉人（案件 {number}）"]
    assert len(robot.received) == 1  # the 催单 did not go to the group robot
    assert [r.kind for r in rows(mailed, channel="inapp")] == ["task", "urge"]  # always


def test_the_organisation_file_takes_a_mobile_and_refuses_a_bad_one(database, tmp_path
                                                                    ) -> None:
    good = tmp_path / "org.yaml"
    good.write_text("people:\n  - {username: a1, name: 甲, staff_no: '1', roles: [agent], "
                    "mobile: '13800000001'}\n", encoding="utf-8")
    with database.session() as s:
        engine.people.organisation.load_organisation(s, good, with_passwords=False)
    with database.session() as s:
        assert s.scalar(select(Person.mobile).where(Person.username == "a1")) == "13800000001"
    bad = tmp_path / "bad.yaml"
    bad.write_text("people:\n  - {username: a2, name: 乙, staff_no: '2', roles: [agent], "
                   "mobile: '138-abc'}\n", encoding="utf-8")
    with pytest.raises(engine.KefuError, match=r"bad.yaml: people\[1\]: field 'mobile'"), \
            database.session() as s:
        engine.people.organisation.load_organisation(s, bad, with_passwords=False)


def test_C9_a_robot_message_to_a_whole_role_names_and_mentions_every_holder(
        mailed, people, robot: Robot) -> None:  # noqa: F811
    mailed.settings = replace(mailed.settings, notify_channels="webhook")
    number = register(mailed, people["agent01"])
    notifications.deliver_due(mailed)
    with mailed.session() as s:
        agents = notifications.recipients(s, {"role": "agent"})
        assert len(",".join(agents)) > 60  # more than the column once held
        s.execute(update(Person).where(Person.username.in_(agents))
                  .values(mobile="139" + Person.staff_no))
        staff_nos = dict(s.execute(select(Person.username, Person.staff_no)
                                   .where(Person.username.in_(agents))).all())
        case = engine.case_by_number(s, number)
        notifications.notify(mailed, s, case, notifications.OVERDUE, {"role": "agent"},
                             "回复客户 / Reply to the customer")
    notifications.deliver_due(mailed)
    [message] = [m for m in robot.received if "已超时" in m["text"]["content"]]
    assert message["text"]["mentioned_mobile_list"] == [f"139{staff_nos[a]}" for a in agents]
    names = message["text"]["content"].split("：")[0]
    assert all(f"（{no}）" in names for no in staff_nos.values()), names
