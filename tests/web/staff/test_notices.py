"""Notifications in the web: the unread count in the header, the list, and the sending
channels' page where an administrator sees a failing channel (issue 15 item 5)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import update

from engine.messages import notifications
from engine.persistence.models import Person
from tests.complaints import register
from tests.notify_servers import Mailbox, Robot, free_port, robot, smtp  # noqa: F401
from tests.web.conftest import text_of


def test_C9_new_task_shows_as_a_count_in_the_header_and_in_the_list(client, auth, deployed,
                                                                    people) -> None:
    number = register(deployed, people["agent01"])
    auth.as_user("duty01")
    html = client.get("/inbox").get_data(as_text=True)
    assert '<span class="count" id="unread-count">1</span>' in html
    page = text_of(client.get("/notifications"))
    assert f"新任务：联系投诉人（案件 {number}）" in page
    auth.post("/notifications/read")
    assert 'id="unread-count"' not in client.get("/inbox").get_data(as_text=True)
    auth.as_user("agent02")  # not offered the task: told nothing
    assert "联系投诉人" not in text_of(client.get("/notifications"))


def test_a_failing_email_channel_is_shown_to_the_administrator(client, auth, deployed,
                                                                people) -> None:
    deployed.settings = replace(deployed.settings, notify_channels="inapp,email",
                                smtp_port=free_port())
    register(deployed, people["agent01"])
    notifications.deliver_due(deployed)  # duty01 has no address: fails at once
    auth.as_user("owner01")
    html = client.get("/inbox").get_data(as_text=True)
    assert 'id="failing-count">1</span>' in html
    page = text_of(client.get("/admin/outbox"))
    assert "no e-mail address" in page or "没有电子邮件地址" in page
    auth.as_user("agent01")
    assert client.get("/admin/outbox").status_code == 403


def test_C9_a_person_chooses_per_kind_which_channels_reach_them(
        client, auth, deployed, people, smtp: Mailbox, robot: Robot) -> None:  # noqa: F811
    deployed.settings = replace(deployed.settings, notify_channels="inapp,email,webhook",
                                smtp_port=smtp.port, webhook_url=robot.url)
    with deployed.session() as s:
        s.execute(update(Person).where(Person.username == "duty01")
                  .values(email="duty01@kefu.example.cn", mobile="13800000101"))
    auth.as_user("duty01")
    assert "我的通知方式" in text_of(client.get("/notifications"))
    html = client.get("/notifications/preferences").get_data(as_text=True)
    page = text_of(client.get("/notifications/preferences"))
    for kind in ("新任务", "到期提醒", "超时", "催单", "升级"):
        assert kind in page
    assert "系统内" in page and "电子邮件" in page and "群机器人 @" in page
    assert html.count('type="checkbox" name="on"') == 10  # 5 kinds × e-mail, robot
    assert html.count(" checked>") == 10  # the centre's channels, on by default
    assert html.count("checked disabled>") == 5  # in the app: always
    assert "按您的手机号 @ 您" in page
    everything = [f"{k}:{c}" for k in notifications.KINDS for c in ("email", "webhook")]
    response = auth.post("/notifications/preferences",
                         {"on": [v for v in everything if v != "task:email"] + ["x", "a:b"]},
                         follow_redirects=True)
    assert "您的通知方式已保存。" in text_of(response)
    html = response.get_data(as_text=True)
    assert 'value="task:email">' in html and 'value="task:webhook" checked>' in html
    number = register(deployed, people["agent01"])
    notifications.deliver_due(deployed)
    assert smtp.messages == []  # no e-mail about a new task, as chosen
    [message] = robot.received
    assert message["text"]["mentioned_mobile_list"] == ["13800000101"]
    assert f"新任务：联系投诉人（案件 {number}）" in text_of(client.get("/notifications"))


def test_with_in_app_only_the_preferences_page_says_so(client, auth, deployed) -> None:
    auth.as_user("agent01")
    page = text_of(client.get("/notifications/preferences"))
    assert "本中心只在系统内发送通知。" in page
