"""Scripts and conditions from process files run in a sandbox (issue 2)."""

from __future__ import annotations

import pytest

from engine.errors import ScriptError
from engine.scripting.sandbox import SandboxEnvironment, check_source

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
    """End to end: a deployed process whose script calls open() is stopped at run time
    (built without the deploy check's dry run, which refuses it: the run-time sandbox
    must hold on its own)."""
    from pathlib import Path

    from sqlalchemy import func, select

    import engine
    from engine.persistence.models import Case

    data = Path(__file__).resolve().parents[1] / "data"
    built = engine.build({"sandbox_escape.bpmn": (data / "sandbox_escape.bpmn").read_text()},
                         {"note.json": (data / "note.json").read_text()}, walk=False)
    with kefu.session() as s:
        engine.deploy(s, built, "owner01", kefu.clock.now())
    with pytest.raises(ScriptError, match="open"), kefu.session() as s:
        engine.start_case(kefu, s, "sandbox_escape", people["agent01"], {"path": "/etc/passwd"})
    with kefu.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def _postscript_process(script: str) -> tuple[dict[str, str], dict[str, str]]:
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data"
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
    """A post-script runs when a person completes the task: in the sandbox, like any other
    (built without the dry run, which refuses it at deploy)."""
    from sqlalchemy import func, select

    import engine
    from engine.persistence.models import Case

    with kefu.session() as s:
        engine.deploy(s, engine.build(*_postscript_process("secret = open(path).read()"),
                                      walk=False), "owner01", kefu.clock.now())
    with pytest.raises(ScriptError, match="open"), kefu.session() as s:
        engine.start_case(kefu, s, "sandbox_postscript", people["agent01"],
                          {"path": "/etc/passwd"})
    with kefu.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


# --- issue 13: a sandbox that holds ---------------------------------------------------------
# The generator-frame escape that ran OS commands on the hand-written filter: a running
# generator's frame leads, through f_back, to a frame whose globals hold the real builtins.
FRAME_ESCAPE = """
def peek():
    yield runner.gi_frame.f_back
runner = peek()
frame = [f for f in runner][0]
while 'open' not in frame.f_globals['__builtins__']:
    frame = frame.f_back
pid = frame.f_globals['__builtins__']['__import__']('os').getpid()
"""
#: The same, as one expression (a condition, a timer, a DMN cell, a service parameter).
FRAME_EXPRESSION = ("(g := (lambda: (yield g.gi_frame.f_back))()) and [f.f_back.f_back"
                    ".f_globals['__builtins__']['__import__']('os') for f in g][0].getpid()")

ESCAPE_CORPUS = {
    "generator frame (script)": FRAME_ESCAPE,
    "generator frame (expression)": f"x = {FRAME_EXPRESSION}",
    "coroutine frame": "async def c():\n    pass\nx = c().cr_frame.f_globals",
    "async generator frame": "x = (lambda: (yield))().ag_frame",
    "f_globals": "x = now.f_globals",
    "f_builtins": "def f():\n    yield 1\nx = [g.gi_frame.f_builtins for g in [f()]]",
    "tb_frame": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    x = e.tb_frame",
    "func_globals": "x = now.func_globals",
    "subclasses": "x = ().__class__.__bases__[0].__subclasses__()",
    "subclasses via mro": "x = str.mro()[-1]",
    "str.format walk": "x = '{0.__class__}'.format(1)",
    "str.format_map walk": "x = '{x.__class__}'.format_map({'x': 1})",
    "unbound str.format": "x = str.format('{0.__class__.__base__}', 1)",
    "f-string walk": "x = f'{now.__globals__}'",
    "f-string computed spec": "w = 10\nx = f'{1:{w}}'",
    "__reduce__": "x = [].__reduce_ex__(2)",
    "__reduce_ex__ by name": "x = (1).__reduce__()",
    "lambda default argument": "f = lambda g=now: g.__globals__\nx = f()",
    "default argument frame": "def f(g=(lambda: (yield))()):\n    return g.gi_frame\nx = f()",
    "decorator": "def grab(fn):\n    return fn.__globals__\n@grab\ndef f():\n    pass",
    "decorator frame": "@lambda fn: fn().gi_frame\ndef f():\n    yield 1",
    "comprehension scope": "x = [g.gi_frame.f_back for g in [(y for y in [1])]]",
    "walrus": "x = [(g := (lambda: (yield g.gi_code))())]",
    "getattr by string": "x = getattr(now, '__glo' + 'bals__')",
    "__builtins__ by name": "x = __builtins__['__import__']('os')",
    "__builtins__ by subscript": "d = {'__builtins__': 1}\nx = d['__builtins__']",
    "type walk": "x = type(now)",
    "object walk": "x = object",
    "vars": "x = vars(now)",
    "globals": "x = globals()",
    "import": "import os",
    "class body": "class A:\n    pass",
    "print": "print(1)",
}


def _runs(source: str) -> dict:
    data: dict = {}
    SandboxEnvironment({"now": lambda: "2026-01-01T00:00:00+08:00"}).execute(source, data)
    return data


@pytest.mark.parametrize("source", ESCAPE_CORPUS.values(), ids=ESCAPE_CORPUS.keys())
def test_known_escape_is_refused_or_stopped(source: str) -> None:
    """Refused when compiled (at deploy) or, if it gets past the compiler, stopped by a
    guard when it runs; either way the script never finishes."""
    with pytest.raises(Exception) as caught:  # noqa: PT011 - each escape fails its own way
        _runs(source)
    assert isinstance(caught.value, ScriptError | AttributeError | KeyError | NameError)


def test_generator_frame_escape_is_refused_when_compiled() -> None:
    with pytest.raises(ScriptError, match="'gi_frame' is not allowed"):
        check_source(FRAME_ESCAPE)
    with pytest.raises(ScriptError, match="'gi_frame' is not allowed"):
        check_source(FRAME_EXPRESSION, "eval")


def test_scripts_still_compute_with_loops_comprehensions_and_helpers() -> None:
    data = _runs("items = sorted([3, 1, 2], key=lambda v: -v)\ntotal = 0\n"
                 "for i in range(4):\n    total += i\nlabel = f'{total:>4}' + '%02d' % 7\n"
                 "squares = {n: n ** 2 for n in items}\nwhile total > 3:\n    total -= 1\n"
                 "try:\n    1 / 0\nexcept ZeroDivisionError:\n    failed = True\n"
                 "stamp = now()")
    assert data == {"items": [3, 2, 1], "total": 3, "i": 3, "label": "   607",
                    "squares": {3: 9, 2: 4, 1: 1}, "failed": True,
                    "stamp": "2026-01-01T00:00:00+08:00"}


def test_a_script_stopped_half_way_leaves_the_task_data_as_it_was() -> None:
    data = {"kept": 1}
    with pytest.raises(ZeroDivisionError):
        SandboxEnvironment({}).execute("kept = 2\nadded = 3\nx = 1 / 0", data)
    assert data == {"kept": 1}


# --- limits -----------------------------------------------------------------------------------

HOGS = {
    "endless loop": "while True:\n    pass",
    "endless loop that catches": "while True:\n    try:\n        while True:\n            pass\n"
                                 "    except Exception:\n        pass",
    "endless recursion through a generator": "def g():\n    while True:\n        yield 1\n"
                                             "x = sum(g())",
    "nested comprehension": "x = len([0 for i in range(10**6) for j in range(10**6)])",
    "sorted with a slow key": "x = sorted(range(10**6), key=lambda v: [w for w in range(10**6)])",
}
BIG = {
    "power tower": "x = 10**10**10",
    "string repeat": "x = 'a' * 10**10",
    "list repeat": "x = [0] * 10**10",
    "shift": "x = 1 << 10**10",
    "big range list": "x = list(range(10**10))",
    "repeat in a loop": "s = 'ab'\nfor i in range(64):\n    s += s",
    "concatenation in a loop": "s = 'ab'\nwhile True:\n    s = s + s",
    "extend in a loop": "x = [1]\nfor i in range(64):\n    x.extend(x)",
    "join": "x = 'a' * 1000\ny = x.join([x] * 1000)",
    "replace": "x = 'a' * 2000\ny = x.replace('a', x)",
    "padding": "x = 'a'.ljust(10**9)",
    "% width": "x = '%999999999d' % 1",
    "% computed width": "x = '%*d' % (10**9, 1)",
    "f-string width": "x = f'{1:>999999999}'",
    "named % width": "x = '%(a)999999999s' % {'a': 1}",
    "bytes padding": "x = 'a'.encode().ljust(10**9)",
    "int to bytes": "x = (1).to_bytes(10**9, 'big')",
    "unbound method on the type": "x = str.ljust('a', 10**9)",
    "many large values in a loop": "kept = []\nfor i in range(10**6):\n"
                                   "    kept.append([0] * 10**5)",
}


def _limited(timeout: float = 0.2) -> SandboxEnvironment:
    from engine.scripting.script_limits import Limits

    return SandboxEnvironment({}, Limits(timeout_seconds=timeout))


@pytest.mark.parametrize("source", HOGS.values(), ids=HOGS.keys())
def test_script_running_too_long_is_stopped_at_the_time_limit(source: str) -> None:
    import time

    began = time.monotonic()
    with pytest.raises(ScriptError, match="ran longer than the limit of 0.2 s"):
        _limited().execute(source, {})
    assert time.monotonic() - began < 5  # a generous bound: what matters is that it ends


@pytest.mark.parametrize("source", BIG.values(), ids=BIG.keys())
def test_script_making_too_large_a_value_is_stopped_before_it_is_made(source: str) -> None:
    with pytest.raises((ScriptError, AttributeError),
                       match="would make a value|format width|computed|in all|not allowed"):
        _limited(timeout=60).execute(source, {})  # the size guard, not the clock, stops it


def test_expression_running_too_long_is_stopped_too() -> None:
    with pytest.raises(ScriptError, match="ran longer than the limit of 0.2 s"):
        _limited().evaluate("len([0 for i in range(10**6) for j in range(10**6)]) > 0", {})


def test_a_script_stopped_at_its_limit_does_not_hold_up_other_work() -> None:
    """While one request's script loops, another thread's expressions still run, and the
    looping one gives its thread back at the limit."""
    import threading

    outcome: list[BaseException] = []

    def loop() -> None:
        try:
            _limited(timeout=2).execute("while True:\n    pass", {})
        except ScriptError as exc:
            outcome.append(exc)

    looping = threading.Thread(target=loop)
    looping.start()
    answers = [_limited().evaluate("n * 2", {"n": n}) for n in range(20)]
    still_looping = looping.is_alive()
    looping.join(timeout=30)
    assert answers == [n * 2 for n in range(20)] and still_looping
    assert not looping.is_alive() and "ran longer than the limit of 2 s" in str(outcome[0])


def test_limits_are_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.config import settings_from_env

    monkeypatch.setenv("KEFU_SCRIPT_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("KEFU_SCRIPT_MAX_SIZE", "1000")
    monkeypatch.setenv("KEFU_CALL_ACTIVITY_MAX_DEPTH", "3")
    settings = settings_from_env()
    assert (settings.script_timeout_seconds, settings.script_max_size,
            settings.call_activity_max_depth) == (0.5, 1000, 3)


# --- every place code runs: refused at deploy, stopped at run time ---------------------------

_PLACES = {"SCRIPT": "total = 1", "OPERATOR": "kefu.starter", "PARAMETER": "path",
           "TIMER": '"PT1H"', "CONDITION": 'path == "never"', "INPUT": "path",
           "INPUT_ENTRY": '"x"', "OUTPUT_ENTRY": '"matched"'}


def _places(**values: str) -> tuple[dict[str, str], dict[str, str]]:
    """tests/data/sandbox_places.bpmn and its decision, with code put in the places named."""
    from pathlib import Path
    from xml.sax.saxutils import escape

    data = Path(__file__).resolve().parents[1] / "data"
    texts = {name: (data / name).read_text(encoding="utf-8")
             for name in ("sandbox_places.bpmn", "sandbox_decision.dmn")}
    for key, value in {**_PLACES, **values}.items():
        texts = {n: t.replace(f"@{key}@", escape(value, {'"': "&quot;"}))
                 for n, t in texts.items()}
    return texts, {"note.json": (data / "note.json").read_text(encoding="utf-8")}


# place -> (file, element, line) the refusal must name
PLACES = {
    "SCRIPT": ("sandbox_places.bpmn", "compute", 27),
    "PARAMETER": ("sandbox_places.bpmn", "send", 30),
    "CONDITION": ("sandbox_places.bpmn", "gateway", 44),
    "TIMER": ("sandbox_places.bpmn", "wait", 45),
    "INPUT": ("sandbox_decision.dmn", "input_path", 5),
    "INPUT_ENTRY": ("sandbox_decision.dmn", "rule_match_path", 12),
    "OUTPUT_ENTRY": ("sandbox_decision.dmn", "rule_match_verdict", 15),
}


@pytest.mark.parametrize("place", PLACES)
def test_frame_escape_is_refused_at_deploy_wherever_code_runs(place: str) -> None:
    import engine
    from engine.errors import DeploymentError

    source = FRAME_ESCAPE if place == "SCRIPT" else FRAME_EXPRESSION
    with pytest.raises(DeploymentError) as caught:
        engine.build(*_places(**{place: source}))
    file, element, line = PLACES[place]
    problem = caught.value.problems[0]
    assert (problem.file, problem.element, problem.line) == (file, element, line)
    assert "'gi_frame' is not allowed" in problem.reason


def test_dmn_cells_are_checked_like_any_other_expression() -> None:
    import engine
    from engine.errors import DeploymentError

    with pytest.raises(DeploymentError) as caught:
        engine.build(*_places(INPUT_ENTRY="? < ().__class__", OUTPUT_ENTRY="type(1)"))
    assert [(p.file, p.line, p.element) for p in caught.value.problems] == [
        ("sandbox_decision.dmn", 12, "rule_match_path"),
        ("sandbox_decision.dmn", 15, "rule_match_verdict")]
    assert "'__class__' is not allowed" in caught.value.problems[0].reason
    assert "name 'type' is not allowed" in caught.value.problems[1].reason


def test_service_task_naming_an_operator_that_does_not_exist_is_refused_at_deploy() -> None:
    import engine
    from engine.errors import DeploymentError

    with pytest.raises(DeploymentError) as caught:
        engine.build(*_places(OPERATOR="kefu.run_shell"))
    [problem] = caught.value.problems
    assert (problem.file, problem.element, problem.line) == ("sandbox_places.bpmn", "send", 30)
    assert "operator 'kefu.run_shell', which does not exist" in problem.reason
    assert "kefu.starter" in problem.reason  # the known ones are listed


def _counts(kefu) -> tuple[int, int]:
    from sqlalchemy import func, select

    from engine.persistence.models import Case, HistoryRecord

    with kefu.session() as s:
        return (s.scalar(select(func.count()).select_from(Case)),
                s.scalar(select(func.count()).select_from(HistoryRecord)))


def _deploy_unchecked(kefu, monkeypatch: pytest.MonkeyPatch, files) -> None:
    """Store a version as one deployed before these checks existed would be stored: the
    run-time sandbox must hold on its own."""
    import engine
    from engine.definitions import specs

    monkeypatch.setattr(specs, "check_source", lambda source, mode="exec": None)
    monkeypatch.setattr(specs, "_check_call_cycles", lambda out: None, raising=False)
    built = engine.build(*files, walk=False)
    monkeypatch.undo()
    with kefu.session() as s:
        engine.deploy(s, built, "owner01", kefu.clock.now())


#: Forty lines of bytes that `str`, `==`, `hash` or `sorted` walk as 2**40 items, in one C call.
SELF_SHARING = "x = []\nfor i in range(40):\n    x = [x, x]\n"
SELF_SHARING_TWO = "x = []\ny = []\nfor i in range(40):\n    x = [x, x]\n    y = [y, y]\n"
SELF_SHARING_EXPRESSION = "(x := []) == [] and [(x := [x, x]) for i in range(40)]"

RUN_TIME = {
    "frame escape in a script": ({"SCRIPT": FRAME_ESCAPE}, "compute", "'gi_frame' is not allowed"),
    "frame escape in a condition": ({"CONDITION": FRAME_EXPRESSION}, "gateway", "'gi_frame'"),
    "frame escape in a timer": ({"TIMER": FRAME_EXPRESSION, "CONDITION": "True"}, "wait",
                                 "'gi_frame'"),
    "frame escape in a DMN cell": ({"OUTPUT_ENTRY": FRAME_EXPRESSION}, "decide", "'gi_frame'"),
    "frame escape in a parameter": ({"PARAMETER": FRAME_EXPRESSION}, "send", "'gi_frame'"),
    "endless loop in a script": ({"SCRIPT": "while True:\n    pass"}, "compute",
                                 "ran longer than the limit of 0.2 s"),
    "endless loop in a condition": ({"CONDITION": "len([0 for i in range(10**6) "
                                                  "for j in range(10**6)]) > 0"},
                                    "gateway", "ran longer than the limit of 0.2 s"),
    "huge string in a script": ({"SCRIPT": "x = 'a' * 10**10"}, "compute",
                                "would make a value of 10,000,000,000 items"),
    "power tower in a timer": ({"TIMER": "str(10**10**10)", "CONDITION": "True"}, "wait",
                               "would make a value"),
    "huge list in a DMN cell": ({"INPUT_ENTRY": "len([0] * 10**10) > 0"}, "decide",
                                "would make a value"),
    # One C call the ticks cannot interrupt: only killing the worker process stops these.
    "str of a self-sharing list in a script": ({"SCRIPT": SELF_SHARING + "text = str(x)"},
                                               "compute", "ran longer than the limit of 0.2 s"),
    "== of two self-sharing lists in a script": (
        {"SCRIPT": SELF_SHARING_TWO + "same = x == y"}, "compute",
        "ran longer than the limit of 0.2 s"),
    "str of a self-sharing list in a condition": (
        {"CONDITION": f"{SELF_SHARING_EXPRESSION} and str(x) == ''"}, "gateway",
        "ran longer than the limit of 0.2 s"),
    "== of two self-sharing lists in a condition": (
        {"CONDITION": f"{SELF_SHARING_EXPRESSION} and (y := []) == [] "
                      "and [(y := [y, y]) for i in range(40)] and x == y"}, "gateway",
        "ran longer than the limit of 0.2 s"),
    "a self-sharing list left in the case data": (
        {"SCRIPT": SELF_SHARING}, "compute", "would unfold to more than 10,000,000 items"),
}


@pytest.mark.parametrize("values, element, reason", RUN_TIME.values(), ids=RUN_TIME.keys())
def test_step_leaving_the_sandbox_is_refused_at_run_time_naming_the_element_and_saving_nothing(
        kefu, people, monkeypatch: pytest.MonkeyPatch, values, element, reason) -> None:
    import dataclasses

    import engine

    _deploy_unchecked(kefu, monkeypatch, _places(**values))
    kefu.settings = dataclasses.replace(kefu.settings, script_timeout_seconds=0.2)
    before = _counts(kefu)
    with pytest.raises(ScriptError) as caught, kefu.session() as s:
        engine.start_case(kefu, s, "sandbox_places", people["agent01"], {"path": "x"})
    assert element in str(caught.value) and reason in str(caught.value)
    assert _counts(kefu) == before


def test_a_case_waiting_at_a_task_keeps_its_state_when_a_step_is_stopped(
        kefu, people, monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit cuts the step off inside complete_task: the case and its history are as
    they were before the person pressed the button."""
    import dataclasses

    from sqlalchemy import select

    import engine
    from engine.persistence.models import Case

    _deploy_unchecked(kefu, monkeypatch, _places(SCRIPT="while True:\n    pass"))
    kefu.settings = dataclasses.replace(kefu.settings, script_timeout_seconds=0.2)
    with kefu.session() as s:
        case = engine.start_case(kefu, s, "sandbox_places", people["agent01"])
        number = case.number
    with kefu.session() as s:
        before = s.scalar(select(Case.workflow_state).where(Case.number == number))
        [task] = engine.my_tasks(s, people["agent01"]) or engine.claimable_tasks(
            s, people["agent01"])
    counts = _counts(kefu)
    with pytest.raises(ScriptError, match="compute.*ran longer"), kefu.session() as s:
        engine.complete_task(kefu, s, task.id, people["agent01"], {"path": "x"})
    with kefu.session() as s:
        assert s.scalar(select(Case.workflow_state).where(Case.number == number)) == before
    assert _counts(kefu) == counts


# --- call activities --------------------------------------------------------------------------

def _recursion(called: str) -> tuple[dict[str, str], dict[str, str]]:
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data"
    bpmn = (data / "sandbox_recursion.bpmn").read_text(encoding="utf-8")
    return ({"sandbox_recursion.bpmn": bpmn.replace("@CALLED@", called)},
            {"note.json": (data / "note.json").read_text(encoding="utf-8")})


@pytest.mark.parametrize("called", ["ping", "pong"], ids=["itself", "through another"])
def test_call_activity_that_calls_its_own_process_is_refused_at_deploy(called: str) -> None:
    import engine
    from engine.errors import DeploymentError

    with pytest.raises(DeploymentError) as caught:
        engine.build(*_recursion(called))
    first = caught.value.problems[0]
    assert (first.file, first.element, first.line) == ("sandbox_recursion.bpmn", "call_pong", 17)
    assert "a process may not call itself" in first.reason
    assert ("ping → ping" if called == "ping" else "ping → pong → ping") in first.reason


@pytest.mark.parametrize("called", ["ping", "pong"], ids=["itself", "through another"])
def test_call_activity_that_calls_itself_is_stopped_by_the_depth_limit(
        kefu, people, monkeypatch: pytest.MonkeyPatch, called: str) -> None:
    import dataclasses

    import engine

    _deploy_unchecked(kefu, monkeypatch, _recursion(called))
    kefu.settings = dataclasses.replace(kefu.settings, call_activity_max_depth=4)
    before = _counts(kefu)
    with pytest.raises(ScriptError, match=r"nest call activities 5 deep \(the limit is 4\)"), \
            kefu.session() as s:
        engine.start_case(kefu, s, "ping", people["agent01"])
    assert _counts(kefu) == before


# --- worker processes (issue 13): what no tick can interrupt --------------------------------

def test_a_step_stuck_in_one_c_call_does_not_hold_up_another_request(
        kefu, people, monkeypatch: pytest.MonkeyPatch) -> None:
    """While one start_case is stuck in `str(x)` of a self-sharing list, another request
    completes: on PostgreSQL a step of another case, on SQLite (whose one writer holds the
    lock until the stuck step is refused) a page's read. Then the stuck one is refused."""
    import dataclasses
    import threading

    import engine
    from engine.scripting import workers

    _deploy_unchecked(kefu, monkeypatch, _places(SCRIPT=SELF_SHARING + "text = str(x)"))
    kefu.settings = dataclasses.replace(kefu.settings, script_timeout_seconds=3)
    before = _counts(kefu)
    stuck, outcome = threading.Event(), []
    original = workers.run

    def run(job, helpers):
        if "str(x)" in job.source:
            stuck.set()
        return original(job, helpers)

    monkeypatch.setattr(workers, "run", run)

    def bomb() -> None:
        try:
            with kefu.session() as s:
                engine.start_case(kefu, s, "sandbox_places", people["agent01"], {"path": "x"})
        except ScriptError as exc:
            outcome.append(str(exc))

    first = threading.Thread(target=bomb)
    first.start()
    assert stuck.wait(30)
    if kefu.db.is_postgres:
        with kefu.session() as s:
            other = engine.start_case(kefu, s, "sandbox_places", people["agent01"])
            number = other.number
    else:
        with kefu.session(read_only=True) as s:
            number = len(engine.claimable_tasks(s, people["agent01"]))
    answered = _limited().evaluate("n * 2", {"n": 21})
    still_stuck = first.is_alive()
    first.join(timeout=60)
    assert still_stuck and answered == 42 and number is not None
    assert "compute" in outcome[0] and "ran longer than the limit of 3 s" in outcome[0]
    expected = (before[0] + 1, before[1] + 1) if kefu.db.is_postgres else before
    assert _counts(kefu) == expected  # the other case only: the stuck one saved nothing


MEMORY_BOMB = "x = [0] * 999999\ny = [list(x) for i in range(999)]"  # 8 GB, past every guard


def test_a_memory_bomb_past_the_size_guards_is_stopped_by_the_rlimit() -> None:
    from engine.scripting.script_limits import Limits

    env = SandboxEnvironment({}, Limits(timeout_seconds=120, memory_mb=64))
    with pytest.raises(ScriptError, match="more memory than the limit of 64 MB"):
        env.execute(MEMORY_BOMB, {})
    assert env.evaluate("1 + 1", {}) == 2  # a new worker takes over


def test_a_memory_bomb_in_a_script_task_is_refused_naming_it_and_saving_nothing(
        kefu, people, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import engine

    _deploy_unchecked(kefu, monkeypatch, _places(SCRIPT=MEMORY_BOMB))
    kefu.settings = dataclasses.replace(kefu.settings, script_timeout_seconds=120,
                                        script_memory_mb=64)
    before = _counts(kefu)
    with pytest.raises(ScriptError) as caught, kefu.session() as s:
        engine.start_case(kefu, s, "sandbox_places", people["agent01"], {"path": "x"})
    assert str(caught.value).startswith(
        "流程元素的脚本「compute（计算）」已被停止：它需要的内存超过了 64 MB")
    assert "the script of compute (Compute) was stopped: it needed more memory" in str(caught.value)
    assert _counts(kefu) == before


def test_helpers_run_in_the_request_thread_and_their_errors_come_back_as_they_were() -> None:
    """A helper is called back from the worker: it sees the caller's objects (a session,
    a test's clock), and a failure the script does not catch is the helper's own."""
    from engine.errors import KefuError

    seen: list[object] = []
    refusal = KefuError("L1: too late")

    def refuse(reason: str) -> str:
        seen.append(reason)
        raise refusal

    env = SandboxEnvironment({"clock": lambda: "2026-12-01T08:00:00+08:00", "refuse": refuse})
    data = {"reason": "late"}
    env.execute("stamp = clock()\ntry:\n    refuse('caught')\nexcept Exception:\n"
                "    caught = True\n", data)
    assert data == {"reason": "late", "stamp": "2026-12-01T08:00:00+08:00", "caught": True}
    with pytest.raises(KefuError) as caught:
        env.execute("refuse(reason)", data)
    assert caught.value is refusal and seen == ["caught", "late"]


def test_a_worker_is_sent_only_the_data_and_helpers_the_code_names(monkeypatch) -> None:
    from engine.scripting import workers

    sent = []
    original = workers.run
    monkeypatch.setattr(workers, "run", lambda job, helpers: (sent.append(job),
                                                              original(job, helpers))[1])
    env = SandboxEnvironment({"now": lambda: "t", "hours": lambda n: f"PT{n}H"})
    data = {"a": 1, "b": [2] * 1000, "c": {"big": "x" * 10_000}}
    env.execute("del a\nd = [v for v in b if v > 1][:2]\ne = now()", data)
    assert (sent[0].data.keys(), sent[0].helpers) == ({"a", "b"}, ("now",))
    assert data == {"b": [2] * 1000, "c": {"big": "x" * 10_000}, "d": [2, 2], "e": "t"}


def test_a_helper_argument_that_would_unfold_too_far_is_refused_before_the_helper_runs() -> None:
    called = []
    env = SandboxEnvironment({"keep": lambda value: called.append(1)})
    with pytest.raises(ScriptError, match="unfold to more than"):
        env.execute(SELF_SHARING + "keep(x)", {})
    assert called == []


def test_a_worker_that_died_while_idle_is_replaced_without_blaming_the_script() -> None:
    import os
    import signal

    from engine.scripting import workers

    env = SandboxEnvironment({})
    assert env.evaluate("1", {}) == 1
    idle = list(workers._POOL._idle)
    assert idle
    for worker in idle:  # e.g. the kernel's OOM killer, or an administrator
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join()
    assert [env.evaluate("n + 1", {"n": n}) for n in range(3)] == [1, 2, 3]


@pytest.mark.parametrize("source, plain", [
    ('approved == True and final_approver != "center_director"', True),
    ("not (a < b or c is None)", True),
    ("x == y", True),  # case data: its unfolded size is bounded on every way in
    ("str(x) == ''", False), ("x in y", False), ("x[0] == 1", False), ("x * 2 == y", False),
    ("x.real == 1", False), ("[a for a in x] == y", False), ("(y := x) == x", False),
    ("lambda: 1", False), ("a if b else c", False),
])
def test_only_plain_comparisons_are_evaluated_without_a_worker(source: str, plain: bool) -> None:
    """Measured (tests/benchmarks/sandbox.py): a worker's round trip costs a condition
    about 20 times its own time; a plain comparison cannot run long, so it stays here."""
    from engine.scripting.sandbox import is_plain_comparison

    assert is_plain_comparison(source) is plain
