"""Issue 15: a form field shown only when another has a value (`x-kefu-show-when`) is, when
it does not apply, neither required nor stored, whatever was sent; the browser hides it
(web/static/kefu.js), the engine decides (engine.definitions.forms.applicable)."""

from __future__ import annotations

import json

import pytest

from engine.definitions.forms import applicable, shown, validate
from engine.errors import FormValidationError

SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": ["sick", "personal"]},
        "certificate_from": {"type": "string", "format": "date",
                             "x-kefu-show-when": {"kind": ["sick"]}},
        "emergency": {"type": "boolean", "x-kefu-show-when": {"kind": ["sick"]}},
        "phoned_at": {"type": "string", "x-kefu-show-when": {"emergency": [True]}},
    },
    "required": ["kind", "certificate_from", "phoned_at"],
    "additionalProperties": False,
}


def test_a_field_that_does_not_apply_is_neither_required_nor_stored() -> None:
    sent = {"kind": "personal", "certificate_from": "2026-11-25", "emergency": True,
            "phoned_at": "07:20"}
    assert validate(SCHEMA, sent) == {"kind": "personal"}


def test_a_field_that_applies_is_required_as_the_schema_says() -> None:
    with pytest.raises(FormValidationError) as caught:
        validate(SCHEMA, {"kind": "sick", "emergency": True})
    assert caught.value.field_errors == {"certificate_from": ["必填 / required"],
                                         "phoned_at": ["必填 / required"]}


def test_a_field_depends_on_its_controller_applying_too() -> None:
    # emergency is true, but emergency itself applies only to sick leave
    assert not shown(SCHEMA, {"kind": "personal", "emergency": True}, "phoned_at")
    assert shown(SCHEMA, {"kind": "sick", "emergency": True}, "phoned_at")
    narrowed, data = applicable(SCHEMA, {"kind": "sick", "emergency": False})
    assert narrowed["required"] == ["kind", "certificate_from"] and data == {
        "kind": "sick", "emergency": False}


def test_the_demo_leave_form_shows_its_sick_leave_fields_only_for_sick_leave(
        settings) -> None:
    leave = json.loads((settings.forms_dir / "leave_request.json").read_text("utf-8"))
    sick_only = {name for name, prop in leave["properties"].items()
                 if prop.get("x-kefu-show-when") == {"kind": ["sick"]}}
    assert sick_only == {"certificate_file", "certificate_from", "certificate_to", "emergency"}
    assert leave["properties"]["phoned_at"]["x-kefu-show-when"] == {"emergency": [True]}


@pytest.mark.parametrize(("form", "answer", "stored", "dropped"), [
    ("complaint_approve", {"approved": True}, "instruction", "return_reasons"),
    ("complaint_approve", {"approved": False}, "return_reasons", "instruction"),
    ("report_handle", {"decision": "resolve"}, "instruction", "opinion"),
    ("report_handle", {"decision": "pass_up"}, "opinion", "instruction"),
])
def test_the_other_forms_keep_only_the_text_that_belongs_to_the_answer(
        settings, form, answer, stored, dropped) -> None:
    schema = json.loads((settings.forms_dir / f"{form}.json").read_text("utf-8"))
    sent = {**answer, "instruction": "按方案一办理。", "return_reasons": "材料不全。",
            "opinion": "超出本级权限。"}
    sent = {k: v for k, v in sent.items() if k in schema["properties"]}
    kept = validate(schema, sent)
    assert stored in kept and dropped not in kept
