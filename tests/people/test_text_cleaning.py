"""Names and free text refuse NUL and lose the characters that make text display as
something else (issue 13): in form data, where every task's data is validated
(engine.definitions.forms), and in the organisation file's names; and a CSV cell that a spreadsheet
would run as a formula after leading blanks is quoted."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.persistence.models import Department, Person
from tests.complaints import INTAKE
from tests.rules.test_leave_process import data_of
from web.views.audit import _cell


def _start(kefu, people, **changes):
    with kefu.session() as s:
        return engine.start_case(kefu, s, "complaint", people["agent01"],
                                 {**INTAKE, **changes}).number


def test_display_spoofing_characters_are_removed_from_form_data(deployed, people) -> None:
    number = _start(deployed, people, complainant_name="A\u202egnp.exe",
                    content="退\u200b费\u2066请求\u2069\ufeff")
    data = data_of(deployed, number)
    assert data["complainant_name"] == "Agnp.exe"
    assert data["content"] == "退费请求"


def test_a_nul_character_in_form_data_is_refused_naming_the_field(deployed, people) -> None:
    with pytest.raises(engine.FormValidationError) as refused:
        _start(deployed, people, content="多扣了\x0030 元")
    assert refused.value.field_errors == {
        "content": ["不能包含 NUL 字符 / must not contain a NUL character"]}
    with deployed.session() as s:
        assert engine.search_cases(s, phone=INTAKE["complainant_phone"]) == []


def test_organisation_names_are_cleaned_and_a_nul_refused(kefu, tmp_path: Path) -> None:
    org = tmp_path / "org.yaml"
    org.write_text('departments:\n  - {code: qc, name: "质\u200d检部"}\npeople:\n'
                   '  - {username: qa09, name: "孙\u202e浩", staff_no: "2009", roles: [qa]}\n',
                   encoding="utf-8")
    with kefu.session() as s:
        engine.load_organisation(s, org, with_passwords=False)
        assert s.get(Department, "qc").name == "质检部"
        assert s.query(Person).filter_by(username="qa09").one().name == "孙浩"
    org.write_text('people:\n  - {username: qa10, name: "孙\\0浩", staff_no: "2010", '
                   'roles: [qa]}\n', encoding="utf-8")
    with pytest.raises(engine.KefuError, match=r"org.yaml: people\[1\]: field 'name': "
                                               "不能包含 NUL"), kefu.session() as s:
        engine.load_organisation(s, org, with_passwords=False)


@pytest.mark.parametrize("value", [" =1+1", "\n=HYPERLINK(\"http://x\")", "\t@SUM(A1)",
                                   "  +1", "\r\n-2", "\u3000=cmd"])
def test_a_formula_after_leading_blanks_is_quoted_in_csv(value) -> None:
    assert _cell(value) == "'" + value


def test_text_that_is_not_a_formula_is_left_as_it_is() -> None:
    assert _cell("退还 30 元 = 补偿") == "退还 30 元 = 补偿"
    assert _cell(" 普通文本") == " 普通文本"
