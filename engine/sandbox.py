"""The restricted Python that BPMN scripts and conditions run in.

Process files come from process owners, not programmers we vet, so a script may read and
write case data and call Kefu's helpers, but not import, open files, reach the network or
climb out through dunder attributes. Every script is checked when it is deployed and again
before it runs.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.errors import ScriptError

_ALLOWED_BUILTINS = (
    "abs", "all", "any", "bool", "dict", "enumerate", "filter", "float", "int", "isinstance",
    "len", "list", "map", "max", "min", "range", "reversed", "round", "set", "sorted", "str",
    "sum", "tuple", "zip", "ValueError", "KeyError", "Exception",
)
SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in _ALLOWED_BUILTINS}
#: str.format reads attributes named inside the string ("{0.__class__}"), out of the AST's
#: sight; f-strings are checked like any other expression.
_FORMAT_METHODS = frozenset({"format", "format_map"})
_FORBIDDEN_NODES = (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.AsyncFunctionDef,
                    ast.Await, ast.ClassDef)


@functools.lru_cache(maxsize=4096)
def check_source(source: str, mode: str = "exec") -> None:
    """Refuse anything outside the sandbox before it ever runs; raises ScriptError.

    A process's scripts and conditions are the same strings at every step, so a source
    that passed is not parsed again (a refusal is not remembered: it raises every time)."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise ScriptError(f"line {exc.lineno}: syntax error: {exc.msg}") from exc
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, _FORBIDDEN_NODES):
            raise ScriptError(f"line {line}: {type(node).__name__} is not allowed in scripts")
        if isinstance(node, ast.Attribute) and (node.attr.startswith("_")
                                                or node.attr in _FORMAT_METHODS):
            raise ScriptError(f"line {line}: attribute {node.attr!r} is not allowed")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise ScriptError(f"line {line}: name {node.id!r} is not allowed")


class SandboxEnvironment(TaskDataEnvironment):
    """Task data as globals, with only safe builtins and Kefu's helpers beside it."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]]) -> None:
        super().__init__({"__builtins__": SAFE_BUILTINS, **helpers})

    def evaluate(self, expression: str, context: dict,
                 external_context: dict | None = None) -> Any:
        check_source(expression, "eval")
        return super().evaluate(expression, context, external_context)

    def execute(self, script: str, context: dict,
                external_context: dict | None = None) -> bool:
        check_source(script)
        return super().execute(script, context, external_context)


Operator = Callable[[Any, dict[str, Any]], dict[str, Any]]


class KefuScriptEngine(PythonScriptEngine):
    """Runs scripts in the sandbox and dispatches service tasks to Kefu's operators."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]],
                 operators: Mapping[str, Operator]) -> None:
        super().__init__(environment=SandboxEnvironment(helpers))
        self.operators = operators

    def call_service(self, task: Any, operation_name: str, operation_params: dict,
                     **_: Any) -> str:
        operator = self.operators.get(operation_name)
        if operator is None:
            raise ScriptError(f"unknown service operator {operation_name!r}")
        params = {name: spec["value"] for name, spec in operation_params.items()}
        return json.dumps(operator(task, params))
