"""The restricted Python that BPMN scripts, conditions, timer expressions, DMN cells and
service-task parameters run in.

Process files come from process owners, not programmers we vet, so a script may read and
write case data and call Kefu's helpers, but not import, open files, reach the network or
climb out of the sandbox. It is built on RestrictedPython (Zope's, maintained since 1999
and the sandbox SpiffArena, SpiffWorkflow's own platform, runs BPMN scripts in): its
compiler rewrites every attribute read, subscript, iteration and write into calls of guard
functions and refuses names and attributes that start with `_` and the `inspect` attributes
of frames, code, generators, coroutines and tracebacks. A hand-written AST filter missed
`gi_frame.f_back.f_globals` (issue 13); a library whose whole job is this closes that
family and follows new Python syntax (it refuses AST nodes it does not know).

Kefu's policy on top (`_KefuPolicy`, `_getattr`): no `type`/`object`/`getattr`/`vars`/
`globals` and the like, not even as names; no `str.format`/`format_map`, `mro` or frame
attributes under other spellings; no computed or huge f-string format specs; no classes,
imports, `global`, async code, bare `except:` or `break`/`continue`/`return` in `finally`
(either would swallow the time limit); no subscript keys that start with `_`. Limits on
time and size: engine.scripting.script_limits; every run but a plain comparison happens in a
worker process, killed at the limit (engine.scripting.workers). Every source is compiled
(and so checked) once at deploy, once in the server to learn the names it uses, and once in
each worker process that runs it; the code object is cached per source.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from copy import deepcopy
from types import CodeType
from typing import Any

from RestrictedPython import (
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
    safe_builtins,
)
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.transformer import INSPECT_ATTRIBUTES
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.errors import ScriptError
from engine.scripting import workers
from engine.scripting.script_limits import (
    Deadline,
    Limits,
    OutOfTime,
    Refusal,
    current_run,
    guards,
    out_of_time,
    width_problem,
)

#: RestrictedPython's safe builtins, less the ones that reach types, ids or the process's
#: exit, plus the collection builtins process scripts use.
_DROPPED = {"__build_class__", "setattr", "delattr", "id", "hash", "issubclass", "pow",
            "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit", "_getattr_",
            "range"}
_ADDED = ("all", "any", "dict", "enumerate", "filter", "list", "map", "max", "min",
          "reversed", "set", "sorted", "sum", "tuple", "zip", "frozenset")
SAFE_BUILTINS: dict[str, Any] = {
    **{k: v for k, v in safe_builtins.items() if k not in _DROPPED},
    **{name: getattr(builtins, name) for name in _ADDED},
}
#: Names a script may not even mention: each is a way to a type, a scope or the interpreter.
_REFUSED_NAMES = frozenset({
    "type", "object", "getattr", "setattr", "delattr", "hasattr", "vars", "globals",
    "locals", "dir", "eval", "exec", "compile", "breakpoint", "input", "help",
    "memoryview", "super", "classmethod", "staticmethod", "property", "id", "print",
    "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit",
})
#: Attributes refused besides `_*`: frames, code, generators and coroutines (RestrictedPython's
#: list and Python 2's spellings), format walks and the method resolution order.
_REFUSED_ATTRIBUTES = INSPECT_ATTRIBUTES | frozenset({
    "f_locals", "f_trace", "f_code", "co_code", "tb_next", "gi_yieldfrom", "cr_await",
    "cr_origin", "ag_await", "func_globals", "func_code", "func_closure", "func_defaults",
    "im_func", "im_self", "im_class", "cell_contents", "mro", "format", "format_map",
})
_FILENAME = "<process script>"
#: Methods that can multiply a value's size, guarded on values (engine.scripting.script_limits) and
#: so refused on the types themselves.
_SIZED_TYPES = (str, bytes, list, int)
_SIZED_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace",
                            "join", "extend", "to_bytes"})


def _placed(new: Any, old: ast.AST) -> Any:
    """A node the policy made, at the place of the one it stands for."""
    return ast.fix_missing_locations(ast.copy_location(new, old))


def _tick() -> ast.Expr:
    return ast.Expr(ast.Call(func=ast.Name("_tick_", ast.Load()), args=[], keywords=[]))


def _guard_call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])


_GUARDED_OPS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_",
                ast.Add: "_add_", ast.Mod: "_mod_"}


class _KefuPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy with Kefu's refusals and the limit calls added."""

    def error(self, node: ast.AST, info: str) -> None:
        self.errors.append(f"line {getattr(node, 'lineno', '?')}: {info}")

    def _refuse_statement(self, node: ast.AST) -> None:
        self.error(node, f"{type(node).__name__} is not allowed in scripts")

    visit_Import = visit_ImportFrom = visit_Global = visit_Nonlocal = _refuse_statement
    visit_ClassDef = visit_AsyncFunctionDef = visit_Await = _refuse_statement
    visit_AsyncFor = visit_AsyncWith = _refuse_statement

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id.startswith("_") or node.id in _REFUSED_NAMES:
            self.error(node, f"name {node.id!r} is not allowed")
            return node
        return super().visit_Name(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_") or node.attr in _REFUSED_ATTRIBUTES:
            self.node_contents_visit(node)  # an inner refusal is reported first
            self.error(node, f"attribute {node.attr!r} is not allowed")
            return node
        return super().visit_Attribute(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        if node.type is None:
            self.error(node, "a bare except: is not allowed; name the exceptions to catch")
        return super().visit_ExceptHandler(node)

    def visit_Try(self, node: ast.Try) -> Any:
        for statement in node.finalbody:
            for inner in ast.walk(statement):
                if isinstance(inner, ast.Return | ast.Break | ast.Continue):
                    self.error(inner, f"{type(inner).__name__} inside finally is not allowed")
        return super().visit_Try(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        spec = node.format_spec
        if spec is not None:
            parts = getattr(spec, "values", [spec])
            if not all(isinstance(p, ast.Constant) for p in parts):
                self.error(node, "a computed format spec is not allowed")
            else:
                problem = width_problem("".join(str(p.value) for p in parts))
                if problem:
                    self.error(node, problem)
        return super().visit_FormattedValue(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = super().visit_BinOp(node)
        guard = _GUARDED_OPS.get(type(node.op))
        if guard is None:
            return node
        return _placed(_guard_call(guard, node.left, node.right), node)

    def visit_While(self, node: ast.While) -> Any:
        node = super().visit_While(node)
        node.body.insert(0, _placed(_tick(), node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _placed(_tick(), node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        node = super().visit_Lambda(node)
        ticked = ast.BoolOp(op=ast.Or(), values=[_guard_call("_tick_"), node.body])
        node.body = _placed(ticked, node.body)
        return node


@functools.lru_cache(maxsize=4096)
def check_source(source: str, mode: str = "exec") -> CodeType:
    """Compile a script ("exec") or an expression ("eval") in the sandbox; raises ScriptError
    naming the line of each refusal. The code is cached: a process's scripts are the same
    strings at every step (a refusal is not remembered: it raises every time)."""
    try:
        ast.parse(source, _FILENAME, mode)
    except SyntaxError as exc:
        raise ScriptError(f"line {exc.lineno}: syntax error: {exc.msg}") from exc
    compile_mode = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    result = compile_mode(source, _FILENAME, policy=_KefuPolicy)
    if result.errors:
        raise ScriptError("; ".join(dict.fromkeys(result.errors)))
    return result.code


def _guarded_getitem(obj: Any, key: Any) -> Any:
    if isinstance(key, str) and key.startswith("_"):
        raise KeyError(f"key {key!r} is not allowed")
    return default_guarded_getitem(obj, key)


@functools.cache
def _sandbox_globals(max_size: int) -> dict[str, Any]:
    """What the compiled code calls, besides per-run ticks, for one size limit."""
    size_guards = dict(guards(max_size))
    sized = size_guards.pop("sized")
    guarded_range = size_guards.pop("range")

    def getattr_(obj: Any, name: str, default: Any = None) -> Any:
        if name.startswith("_") or name in _REFUSED_ATTRIBUTES:
            raise AttributeError(f"attribute {name!r} is not allowed")
        if isinstance(obj, type) and obj in _SIZED_TYPES and name in _SIZED_METHODS:
            raise AttributeError(f"{obj.__name__}.{name} is not allowed; call it on a value")
        if isinstance(obj, str | bytes | list | int):
            stand_in = sized(obj, name)
            if stand_in is not None:
                return stand_in
        return safer_getattr(obj, name, default)

    return {
        "__builtins__": {**SAFE_BUILTINS, "range": guarded_range},
        "_getattr_": getattr_, "_getitem_": _guarded_getitem, "_write_": full_write_guard,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        **size_guards,
    }


@functools.lru_cache(maxsize=4096)
def names_in(source: str, mode: str) -> frozenset[str]:
    """Every global name the code (and the functions and comprehensions in it) reads,
    writes or deletes: the task data and helpers a worker is sent, nothing else."""
    names: set[str] = set()
    todo = [check_source(source, mode)]
    while todo:
        code = todo.pop()
        names.update(code.co_names)
        todo.extend(c for c in code.co_consts if isinstance(c, CodeType))
    return frozenset(names)


#: What a condition may be built of to be evaluated in the request thread (`approved ==
#: True and level != "cs_head"`): no call, subscript, attribute, arithmetic, comprehension
#: or `in`, so it makes no value and only compares case data, whose unfolded size is
#: bounded on every way in (a request's size for forms, workers.bounded for scripts).
_PLAIN_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not,
                ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is,
                ast.IsNot, ast.Name, ast.Load, ast.Constant)


@functools.lru_cache(maxsize=4096)
def is_plain_comparison(source: str) -> bool:
    """Whether an expression only compares names and constants (see _PLAIN_NODES): the
    one kind not worth a worker's round trip, since nothing in it can run long."""
    try:
        tree = ast.parse(source, _FILENAME, "eval")
    except SyntaxError:
        return False
    return all(isinstance(node, _PLAIN_NODES) for node in ast.walk(tree))


def run_here(job: workers.Job, helpers: Mapping[str, Callable[..., Any]]) -> Any:
    """Run a job in this process: in a worker (engine.scripting.workers), or, for a plain
    comparison only, in the request thread. An expression's value, or what a script
    changed as an Executed."""
    limits = job.limits
    code = check_source(job.source, job.mode)
    guarded = _sandbox_globals(limits.max_size)
    deadline = Deadline(limits.timeout_seconds)
    scope = {**helpers, **job.external, **job.data, **guarded,
             "_tick_": deadline.tick, "_getiter_": deadline.getiter}
    token = current_run.set(deadline)
    try:
        if job.mode == "eval":
            return eval(code, scope)  # noqa: S307
        exec(code, scope)  # noqa: S102
    except OutOfTime:
        raise out_of_time(limits.timeout_seconds) from None
    finally:
        current_run.reset(token)
    hidden = helpers.keys() | job.external.keys() | guarded.keys()
    return workers.Executed(
        {name: value for name, value in scope.items()
         if name not in hidden and not name.startswith("_") and not callable(value)},
        tuple(name for name in job.data if name not in scope))


class SandboxEnvironment(TaskDataEnvironment):
    """Task data as globals, with only safe builtins and Kefu's helpers beside it, run in
    a worker process (engine.scripting.workers).

    A script runs in a scope of its own; the task data takes its results only when it
    finishes, so a script stopped half way changes nothing."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]],
                 limits: Limits | None = None) -> None:
        super().__init__(dict(helpers))
        self.limits = limits or Limits()

    def _job(self, mode: str, source: str, context: Mapping[str, Any],
             external: Mapping[str, Any] | None) -> workers.Job:
        names = names_in(source, mode)
        external = external or {}
        return workers.Job(
            mode, source, {k: v for k, v in context.items() if k in names},
            {k: v for k, v in external.items() if k in names and k not in context},
            tuple(name for name in self.globals if name in names
                  and name not in context and name not in external), self.limits)

    def evaluate(self, expression: str, context: dict,
                 external_context: dict | None = None) -> Any:
        job = self._job("eval", expression, context, external_context)
        if is_plain_comparison(expression):
            return run_here(job, self.globals)
        return workers.run(job, self.globals)

    def execute(self, script: str, context: dict,
                external_context: dict | None = None) -> bool:
        job = self._job("exec", script, context, external_context)
        self.check_for_overwrite(context, external_context or {})
        done: workers.Executed = workers.run(job, self.globals)
        for name in done.deleted:
            del context[name]  # the script deleted it
        context.update(done.values)
        return True


Operator = Callable[[Any, dict[str, Any]], dict[str, Any]]


class KefuScriptEngine(PythonScriptEngine):
    """Runs scripts in the sandbox and dispatches service tasks to Kefu's operators; a
    sandbox refusal names the BPMN element it happened in."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]],
                 operators: Mapping[str, Operator], limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        super().__init__(environment=SandboxEnvironment(helpers, self.limits))
        self.operators = operators

    def evaluate(self, task: Any, expression: str, external_context: dict | None = None) -> Any:
        with _naming_element(task, "expression"):
            return super().evaluate(task, expression, external_context)

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> bool:
        """A script runs on its own copies of the data's lists and mappings: SpiffWorkflow
        copies a task's data from its parent one level deep, so `lane_owners["x"].remove(y)`
        (SpiffArena's idiom) changed the list the finished tasks before it hold too, and
        with it their past (what their stored text and a restored case say)."""
        task.data = {k: deepcopy(v) if isinstance(v, dict | list | set) else v
                     for k, v in task.data.items()}
        with _naming_element(task, "script"):
            return super().execute(task, script, external_context)

    def call_service(self, task: Any, operation_name: str, operation_params: dict,
                     **_: Any) -> str:
        operator = self.operators.get(operation_name)
        if operator is None:
            raise ScriptError(f"unknown service operator {operation_name!r}")
        params = {name: spec["value"] for name, spec in operation_params.items()}
        return json.dumps(operator(task, params))


@contextmanager
def _naming_element(task: Any, what: str) -> Iterator[None]:
    """Re-raise a sandbox refusal met in the block as one that names the element."""
    try:
        yield
    except Exception as exc:
        located = _located(exc, task, what)
        if located is exc:
            raise
        raise located from exc


def _located(exc: Exception, task: Any, what: str) -> Exception:
    """The sandbox's own refusal (a ScriptError from the environment: a refused source, a
    limit), reworded to name the element, Chinese first; anything else (a script's bug)
    as it was."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ScriptError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return exc
    spec = task.task_spec
    title = spec.bpmn_name or ""
    title_zh, _, title_en = title.partition(" / ")
    name_zh = spec.bpmn_id + (f"（{title_zh}）" if title_zh else "")
    name_en = spec.bpmn_id + (f" ({title_en or title_zh})" if title else "")
    if isinstance(cause, Refusal):
        zh, en = cause.zh, cause.en
    else:  # the compiler's refusal: "line N: what it refused; line M: …"
        lines = "、".join(dict.fromkeys(re.findall(r"line (\d+)", str(cause)))) or "?"
        zh, en = f"代码第 {lines} 行有沙箱不允许的写法", str(cause)
    return Refusal(f"{_WHAT_ZH[what]}「{name_zh}」已被停止：{zh}",
                   f"the {what} of {name_en} was stopped: {en}")


_WHAT_ZH = {"script": "流程元素的脚本", "expression": "流程元素的表达式"}
