"""The engine modules the pages read through: diagram drawing, masking, tokens, catalog."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import engine
from engine.definitions.diagram import CasePath, _lines, render_svg
from engine.records.disclosure import mask, mask_data, sensitive_fields
from tests.complaints import register

BPMN_WITHOUT_LAYOUT = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""


def test_C12_masking_keeps_the_first_three_and_last_four_characters() -> None:
    assert mask("13800138000") == "138****8000"
    assert mask("110101199003071234") == "110***********1234"
    assert mask("1234") == "**34" and mask(True) is True
    data = {"complainant_phone": "13800138000", "nested": [{"id_number": "110101199003071234"}],
            "content": "13800138000 said"}
    assert mask_data(data) == {"complainant_phone": "138****8000",
                               "nested": [{"id_number": "110***********1234"}],
                               "content": "13800138000 said"}
    assert sensitive_fields(data) == ["complainant_phone", "nested/0/id_number"]


def test_A2_diagram_is_drawn_from_the_files_own_layout(deployed) -> None:
    with deployed.session() as s:
        version = engine.definitions.catalog.newest_version(s, "complaint")
        svg = engine.records.casefile.diagram_svg(s, version, CasePath(
            done={"intake": 1, "contact": 2}, ready=frozenset({"judge"})))
    assert svg.startswith("<svg") and 'viewBox="' in svg
    assert 'class="node activity userTask done" data-id="intake"' in svg
    assert 'class="node activity userTask ready" data-id="judge"' in svg
    assert "×2" in svg.split('data-id="contact"')[1].split("</g>")[0]
    assert "<script" not in svg


def test_a_bpmn_file_without_layout_cannot_be_drawn() -> None:
    with pytest.raises(engine.KefuError, match="no diagram layout"):
        render_svg(BPMN_WITHOUT_LAYOUT)


def test_diagram_labels_wrap_by_width_keeping_latin_words_whole() -> None:
    assert _lines("受理投诉 / Register complaint", 8) == ["受理投诉 /", "Register", "complaint"]
    assert _lines("部门负责人审批", 4) == ["部门负责", "人审批"]


def test_tokens_act_as_their_person_until_revoked(deployed) -> None:
    now = deployed.clock.now()
    with deployed.session() as s:
        token = engine.create_token(s, "agent01", now)
        assert engine.actor_for_token(s, token, now + timedelta(hours=1)).username == "agent01"
        assert engine.revoke_tokens(s, "agent01", now) == 1
        with pytest.raises(engine.PermissionDenied, match="revoked"):
            engine.actor_for_token(s, token, now)
        with pytest.raises(engine.NotFound):
            engine.create_token(s, "ghost", now)


def test_catalog_counts_running_cases_per_version(deployed, people) -> None:
    register(deployed, people["agent01"])
    with deployed.session() as s:
        [complaint] = [p for p in engine.definitions.catalog.processes(deployed, s)
                       if p.process_id == "complaint"]
        startable = [v.process_id for v, _first in engine.definitions.catalog.startable(
            deployed, s, people["agent01"])]
    assert complaint.versions[0].running == 1 and complaint.first_task.role == "agent"
    assert "complaint" in startable
    assert isinstance(complaint.versions[0].deployed_at, datetime)
