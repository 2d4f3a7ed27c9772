"""SMS segments and pluggable gateways (C7, issue 2)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import Kefu, KefuError
from engine.messages.replies import ReplyWriter, load_sender, sms_segments
from engine.persistence.models import Case, SmsMessage
from tests.complaints import run_to_archive


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2),
                                                  (135, 3), (201, 3), (202, 4)])
def test_C7_chinese_sms_segments_are_70_then_67_characters(length: int, segments: int) -> None:
    assert sms_segments("投" * length) == segments


@pytest.mark.parametrize(("length", "segments"), [(160, 1), (161, 2), (306, 2), (307, 3)])
def test_plain_ascii_sms_segments_are_160_then_153(length: int, segments: int) -> None:
    assert sms_segments("a" * length) == segments


class RecordingGateway:
    sent: list[tuple[str, str]] = []

    def send(self, phone: str, body: str, sms_id: int) -> str:
        self.sent.append((phone, body))
        return "sent"


def test_C7_real_gateway_plugs_in_by_configuration(deployed, people, database) -> None:
    gateway = load_sender("tests.rules.test_replies:RecordingGateway")
    kefu = Kefu(deployed.settings, clock=deployed.clock, database=database, sender=gateway)
    RecordingGateway.sent.clear()
    run_to_archive(kefu, people)
    with kefu.session() as s:
        message = s.scalars(select(SmsMessage)).one()
    assert message.status == "sent"
    assert RecordingGateway.sent == [(message.phone, message.body)]


def test_unknown_gateway_is_refused_naming_the_setting() -> None:
    with pytest.raises(KefuError, match="sms_sender: cannot load 'nowhere:Gateway'"):
        load_sender("nowhere:Gateway")


def test_C7_a_template_dating_a_value_that_is_no_time_is_refused_naming_it(
        tmp_path, settings, clock) -> None:
    (tmp_path / "bad.letter.html").write_text("{{ data.accepted_at|day }}", encoding="utf-8")
    writer = ReplyWriter(tmp_path, load_sender(settings.sms_sender), clock.now().tzinfo)
    with pytest.raises(KefuError, match=r"bad.letter.html.*day: 'yesterday' is not an ISO time"):
        writer.send(None, Case(id=1, number="TS202612010000001"), "letter", "bad",
                    {"accepted_at": "yesterday"}, clock.now())
