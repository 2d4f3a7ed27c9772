"""Notifications in the web: the unread count in the header, the list, and the sending
channels' page where an administrator sees a failing channel (issue 15 item 5)."""

from __future__ import annotations

from dataclasses import replace

from engine.messages import notifications
from tests.complaints import register
from tests.notify_servers import free_port
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
