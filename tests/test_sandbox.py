"""Scripts and conditions from process files run in a sandbox (issue 2)."""

from __future__ import annotations

import pytest

from engine.errors import ScriptError
from engine.sandbox import SandboxEnvironment, check_source

ESCAPES = [
    "import os",
    "from os import system",
    "__import__('os').system('true')",
    "open('/etc/passwd').read()",
    "().__class__.__bases__[0].__subclasses__()",
    "eval('1+1')",
    "exec('x = 1')",
    "compile('1', 'x', 'eval')",
    "getattr(1, 'real')",
    "globals()",
    "x = '{0.__class__.__base__}'.format(1)",
    "x = '{0.__class__}'.format_map({})",
    "x = f'{now.__globals__}'",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_script_cannot_import_or_reach_files_or_builtins(source: str) -> None:
    env = SandboxEnvironment({})
    with pytest.raises((ScriptError, NameError)):
        env.execute(source, {})


def test_script_can_compute_with_case_data_and_helpers() -> None:
    env = SandboxEnvironment({"add_one": lambda x: x + 1})
    data = {"hours": 24, "items": [3, 1, 2]}
    env.execute("total = add_one(hours) + len(sorted(items))", data)
    assert data["total"] == 28
    assert "add_one" not in data and "__builtins__" not in data


def test_condition_is_evaluated_in_the_sandbox() -> None:
    env = SandboxEnvironment({})
    assert env.evaluate("justified == True and len(department) > 0",
                        {"justified": True, "department": "billing"}) is True
    with pytest.raises(ScriptError, match="__import__"):
        env.evaluate("__import__('os')", {})


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(ScriptError, match="line 2"):
        check_source("a = 1\nb = (")


def test_process_script_reading_a_file_fails_and_saves_nothing(kefu, people) -> None:
    """End to end: a deployed process whose script calls open() is stopped at run time."""
    from pathlib import Path

    from sqlalchemy import func, select

    import engine
    from engine.persistence.models import Case

    data = Path(__file__).resolve().parent / "data"
    built = engine.build({"sandbox_escape.bpmn": (data / "sandbox_escape.bpmn").read_text()},
                         {"note.json": (data / "note.json").read_text()})
    with kefu.session() as s:
        engine.deploy(s, built, "owner01", kefu.clock.now())
    with pytest.raises(ScriptError, match="open"), kefu.session() as s:
        engine.start_case(kefu, s, "sandbox_escape", people["agent01"], {"path": "/etc/passwd"})
    with kefu.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def _postscript_process(script: str) -> tuple[dict[str, str], dict[str, str]]:
    from pathlib import Path

    data = Path(__file__).resolve().parent / "data"
    bpmn = (data / "sandbox_postscript.bpmn").read_text().replace(
        "secret = open(path).read()", script)
    return {"sandbox_postscript.bpmn": bpmn}, {"note.json": (data / "note.json").read_text()}


def test_user_task_post_script_leaving_the_sandbox_is_refused_at_deployment() -> None:
    import engine
    from engine.errors import DeploymentError

    with pytest.raises(DeploymentError) as caught:
        engine.build(*_postscript_process("x = ().__class__.__base__.__subclasses__()"))
    [problem] = caught.value.problems
    assert problem.element == "fill" and "postscript" in problem.reason
    assert "__subclasses__' is not allowed" in problem.reason


def test_user_task_post_script_runs_in_the_sandbox_and_saves_nothing(kefu, people) -> None:
    """A post-script runs when a person completes the task: in the sandbox, like any other."""
    from sqlalchemy import func, select

    import engine
    from engine.persistence.models import Case

    with kefu.session() as s:
        engine.deploy(s, engine.build(*_postscript_process("secret = open(path).read()")),
                      "owner01", kefu.clock.now())
    with pytest.raises(ScriptError, match="open"), kefu.session() as s:
        engine.start_case(kefu, s, "sandbox_postscript", people["agent01"],
                          {"path": "/etc/passwd"})
    with kefu.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
