"""The deploy check's dry run (issue 14): every path walked with data drawn from the forms,
DMN rules hit, operators stubbed, timers fired; what surely breaks a live case refused with
file, line, element and fix (Chinese first), what might be fine a warning with its reason."""

from __future__ import annotations

import json

import pytest

import engine
from engine.definitions import dryrun

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" '
        'targetNamespace="http://bpmn.io/schema/bpmn">\n')


def _bpmn(process_id: str, body: str) -> str:
    return (f'{HEAD}<bpmn:process id="{process_id}" name="试 / Try" isExecutable="true">\n'
            f'{body}\n</bpmn:process>\n</bpmn:definitions>\n')


def _flow(fid: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>'
    return (f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
            '</bpmn:conditionExpression></bpmn:sequenceFlow>')


def _task(tid: str, name: str, form: str = "form.json") -> str:
    return (f'<bpmn:userTask id="{tid}" name="{name}" camunda:formKey="{form}" '
            'camunda:candidateGroups="agent"/>')


FORM = json.dumps({
    "type": "object", "required": ["category", "amount"],
    "properties": {
        "category": {"type": "string", "enum": ["fee", "network", "service"],
                     "title": "类别 / Category"},
        "amount": {"type": "integer", "minimum": 0, "maximum": 5000, "title": "金额 / Amount"},
        "urgent": {"type": "boolean", "title": "紧急 / Urgent"},
        "note": {"type": "string", "title": "备注 / Note"},
    }})


def _branch(condition: str, then_script: str, process_id: str = "branch") -> str:
    """start → intake (FORM) → gateway: condition → script, default → end."""
    return _bpmn(process_id, "\n".join([
        '<bpmn:startEvent id="start"/>', _task("intake", "登记 / Register"),
        '<bpmn:exclusiveGateway id="which" name="哪一类？ / Which?" default="other"/>',
        f'<bpmn:scriptTask id="compute" name="计算 / Compute"><bpmn:script>{then_script}'
        '</bpmn:script></bpmn:scriptTask>',
        '<bpmn:endEvent id="end"/>',
        _flow("f1", "start", "intake"), _flow("f2", "intake", "which"),
        _flow("chosen", "which", "compute", condition), _flow("other", "which", "end"),
        _flow("f3", "compute", "end")]))


def _refused(bpmn: str, forms: dict[str, str] | None = None,
             name: str = "try.bpmn") -> list[engine.Problem]:
    with pytest.raises(engine.DeploymentError) as caught:
        engine.build({name: bpmn}, {"form.json": FORM, **(forms or {})})
    return caught.value.problems


def _built(bpmn: str, forms: dict[str, str] | None = None) -> engine.BuiltProcess:
    [built] = engine.build({"try.bpmn": bpmn}, {"form.json": FORM, **(forms or {})})
    return built


def test_script_error_on_a_branch_only_one_enum_option_takes_is_refused_at_its_line() -> None:
    """The first walk takes `fee`; the error waits behind `network`, the second option."""
    [problem] = _refused(_branch('category == "network"', "x = missing_name + 1"))
    assert (problem.file, problem.element) == ("try.bpmn", "compute")
    assert problem.line == 7
    assert problem.reason.startswith("「计算」的脚本或表达式出错（试运行数据")
    assert '"category": "network"' in problem.reason
    assert "name 'missing_name' is not defined" in problem.reason
    assert " / the script or expression of “Compute” fails" in problem.reason
    assert problem.fix.startswith("只用表单字段") and problem.guide.endswith("#testing")


def test_division_by_a_number_at_its_minimum_is_refused() -> None:
    """amount's boundary 0 (its schema's minimum) is one of the drawn values."""
    [problem] = _refused(_branch("amount &gt;= 0", "share = 100 / amount"))
    assert problem.element == "compute" and "division by zero" in problem.reason
    assert '"amount": 0' in problem.reason


def test_optional_field_left_empty_breaks_a_condition_and_is_refused() -> None:
    [problem] = _refused(_branch("len(note) &gt; 3", "x = 1"))
    assert problem.element == "which"
    assert problem.reason.startswith("网关「哪一类？」的条件出错")
    assert "NoneType" in problem.reason and problem.guide.endswith("#conditions")


def test_every_gateway_flow_taken_by_drawn_data_deploys_without_warnings() -> None:
    built = _built(_branch('category == "service" and urgent == True', "x = amount * 2"))
    assert built.warnings == ()


def test_flow_no_drawn_data_takes_is_a_warning_naming_the_flow_not_a_refusal() -> None:
    built = _built(_branch("amount &gt; 9999", "x = 1"))
    [warning] = built.warnings
    assert (warning.file, warning.element, warning.line) == ("try.bpmn", "chosen", 11)
    assert "网关「哪一类？」的流向 chosen（条件 amount &gt; 9999）" not in warning.reason
    assert "网关「哪一类？」的流向 chosen（条件 amount > 9999）在" in warning.reason
    assert "never taken" in warning.reason


def test_timer_whose_expression_gives_no_time_is_refused_at_the_timer() -> None:
    form = json.dumps({"type": "object", "required": ["wait"], "properties": {
        "wait": {"type": "string", "enum": ["PT1H", "soon"], "title": "等待 / Wait"}}})
    bpmn = _bpmn("waits", "\n".join([
        '<bpmn:startEvent id="start"/>', _task("intake", "登记 / Register", "wait.json"),
        '<bpmn:intermediateCatchEvent id="pause" name="等一会 / Pause">'
        '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
        'wait</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
        '<bpmn:endEvent id="end"/>', _flow("f1", "start", "intake"),
        _flow("f2", "intake", "pause"), _flow("f3", "pause", "end")]))
    [problem] = _refused(bpmn, {"wait.json": form})
    assert problem.element == "pause"
    assert problem.reason.startswith("定时器「等一会」的值算不出时间")
    assert '"wait": "soon"' in problem.reason and problem.guide.endswith("#deadlines")


def _service(operator: str, condition: str, script: str) -> str:
    return _bpmn("served", "\n".join([
        '<bpmn:startEvent id="start"/>',
        '<bpmn:serviceTask id="flag" name="标记 / Flag"><bpmn:extensionElements>'
        f'<spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="flag_result">'
        '<spiffworkflow:parameters/></spiffworkflow:serviceTaskOperator>'
        '</bpmn:extensionElements></bpmn:serviceTask>',
        '<bpmn:exclusiveGateway id="flagged_yet" default="no"/>',
        f'<bpmn:scriptTask id="use" name="用结果 / Use"><bpmn:script>{script}</bpmn:script>'
        '</bpmn:scriptTask>', _task("look", "查看 / Look"), '<bpmn:endEvent id="end"/>',
        _flow("f1", "start", "flag"), _flow("f2", "flag", "flagged_yet"),
        _flow("yes", "flagged_yet", "use", condition), _flow("no", "flagged_yet", "look"),
        _flow("f3", "use", "end"), _flow("f4", "look", "end")]))


def test_service_task_is_answered_with_each_outcome_its_operator_documents() -> None:
    """kefu.flag_unanswered_leave documents {"flagged": False} and a flagged outcome with
    its note: both branches are walked, and nothing outside is touched."""
    built = _built(_service("kefu.flag_unanswered_leave", "flagged == True",
                            "told = note + '!'"))
    assert built.warnings == ()
    [problem] = _refused(_service("kefu.flag_unanswered_leave", "flagged == False",
                                  "told = note + '!'"))
    assert problem.element == "use" and "name 'note' is not defined" in problem.reason


def test_error_after_an_operator_that_documents_nothing_is_only_a_warning() -> None:
    @engine.definitions.operators.operator("test.undocumented")
    def undocumented(_context, _task, _params):  # noqa: ANN001, ANN202 - a test double
        return {}

    try:
        built = _built(_service("test.undocumented", "True", "told = note + '!'"))
    finally:
        del engine.definitions.operators.REGISTRY["test.undocumented"]
    reasons = [w.reason for w in built.warnings]
    assert any("name 'note' is not defined" in r and "documents no result" in r
               for r in reasons), reasons


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d"
             namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="route" name="分流 / Route">
    <decisionTable id="route_table">
      <input id="in_amount" label="金额"><inputExpression id="e1" typeRef="integer">
        <text>amount</text></inputExpression></input>
      <output id="out_team" name="team" typeRef="string"/>
      <rule id="small"><inputEntry id="small_in"><text>&lt; 100</text></inputEntry>
        <outputEntry id="small_out"><text>"front"</text></outputEntry></rule>
      <rule id="large"><inputEntry id="large_in"><text>&gt;= 100</text></inputEntry>
        <outputEntry id="large_out"><text>"back"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_decision_table_is_walked_with_inputs_hitting_each_rule_and_with_the_data_as_is(
) -> None:
    bpmn = _bpmn("decides", "\n".join([
        '<bpmn:startEvent id="start"/>',
        '<bpmn:businessRuleTask id="decide" name="分流 / Route" camunda:decisionRef="route"/>',
        '<bpmn:exclusiveGateway id="team_of" default="to_front"/>',
        '<bpmn:scriptTask id="back_office" name="后台 / Back office"><bpmn:script>'
        'x = backlog + 1</bpmn:script></bpmn:scriptTask>', '<bpmn:endEvent id="end"/>',
        _flow("f1", "start", "decide"), _flow("f2", "decide", "team_of"),
        _flow("to_back", "team_of", "back_office", 'team == "back"'),
        _flow("to_front", "team_of", "end"), _flow("f3", "back_office", "end")]))
    with pytest.raises(engine.DeploymentError) as caught:
        engine.build({"decides.bpmn": bpmn, "route.dmn": DMN}, {})
    problems = {p.element: p.reason for p in caught.value.problems}
    # The rule `>= 100` sends the case to the back office, whose script fails; and with the
    # data as it is (no form sets amount) the table itself fails: both are refused.
    assert set(problems) == {"back_office", "decide"}
    assert "name 'backlog' is not defined" in problems["back_office"]
    assert "name 'amount' is not defined" in problems["decide"]


def test_a_wait_for_a_message_is_not_a_problem() -> None:
    bpmn = _bpmn("waits_outside", "\n".join([
        '<bpmn:startEvent id="start"/>',
        '<bpmn:intermediateCatchEvent id="reply" name="客户回复 / Reply">'
        '<bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>',
        '<bpmn:scriptTask id="after" name="之后 / After"><bpmn:script>x = never_set'
        '</bpmn:script></bpmn:scriptTask>', '<bpmn:endEvent id="end"/>',
        _flow("f1", "start", "reply"), _flow("f2", "reply", "after"),
        _flow("f3", "after", "end")])).replace(
        "</bpmn:definitions>", '<bpmn:message id="m" name="customer_reply"/></bpmn:definitions>')
    assert _built(bpmn).warnings == ()


def test_loop_with_no_person_and_no_timer_is_a_warning_at_the_step_cap() -> None:
    bpmn = _bpmn("spins", "\n".join([
        '<bpmn:startEvent id="start"/>',
        '<bpmn:scriptTask id="count" name="计数 / Count"><bpmn:script>n = 1</bpmn:script>'
        '</bpmn:scriptTask>', '<bpmn:exclusiveGateway id="again" default="back"/>',
        '<bpmn:endEvent id="end"/>', _flow("f1", "start", "count"),
        _flow("f2", "count", "again"), _flow("done", "again", "end", "n &gt; 5"),
        _flow("back", "again", "count")]))
    reasons = [w.reason for w in _built(bpmn).warnings]
    assert any(f"{dryrun.MAX_STEPS} 步还没停下" in r for r in reasons), reasons


def test_at_the_run_cap_the_walk_stops_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dryrun, "MAX_RUNS", 1)
    built = _built(_branch('category == "service"', "x = 1", "capped"))
    reasons = [w.reason for w in built.warnings]
    assert any("试运行在 1 次后停止（上限）" in r for r in reasons), reasons
    assert any("chosen" in r and "never taken in 1 dry runs" in r for r in reasons), reasons


def test_drawn_values_try_each_option_boundary_and_leave_optional_fields_empty() -> None:
    found = dryrun.field_values(json.loads(FORM))
    assert found["category"] == ["fee", "network", "service"]  # required: never empty
    assert found["amount"][:2] == [0, 5000]
    assert found["urgent"] == [True, False, None]
    assert found["note"][-1] is None


@pytest.mark.parametrize("process_file", ["complaint", "leave", "request_report",
                                          "shift_swap"])
def test_every_flow_of_the_repositorys_processes_is_taken_by_the_dry_run(
        process_file: str) -> None:
    from tests.definitions.test_deploy import FORMS, PROCESSES

    built = {b.process_id: b for b in engine.build(PROCESSES, FORMS)}[process_file]
    report = dryrun.explore(engine.Settings(), built)
    assert report.refusals == [] and report.warnings == [] and not report.capped


def test_multi_instance_over_an_optional_list_left_empty_is_refused() -> None:
    """tests/data/modeler/multi_instance.bpmn loops over `phones`, which its form lets a
    person leave empty: every such case would fail at the loop, so it is refused now."""
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data" / "modeler"
    with pytest.raises(engine.DeploymentError) as caught:
        engine.build({"multi_instance.bpmn": (data / "multi_instance.bpmn").read_text("utf-8")},
                     {"phones.json": (data / "phones.json").read_text("utf-8")})
    [problem] = caught.value.problems
    assert (problem.file, problem.element) == ("multi_instance.bpmn", "each_item")
    assert "'NoneType' object is not iterable" in problem.reason


def test_gateway_none_of_the_drawn_data_can_leave_is_refused() -> None:
    bpmn = _bpmn("stuck", "\n".join([
        '<bpmn:startEvent id="start"/>', _task("intake", "登记 / Register"),
        '<bpmn:inclusiveGateway id="only_big" name="大额？ / Large?"/>',
        '<bpmn:endEvent id="end"/>', _flow("f1", "start", "intake"),
        _flow("f2", "intake", "only_big"), _flow("big", "only_big", "end", "amount &gt; 9999")]))
    [problem] = _refused(bpmn)
    assert problem.element == "only_big"
    assert problem.reason.startswith("网关「大额？」：试运行的所有数据都走不出去")
    assert "mark one outgoing flow as the default" in problem.fix
