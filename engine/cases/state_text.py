"""Read a stored workflow state and, with it, the text of each of its tasks.

`engine.cases.serializer` writes a state as compact JSON whose `tasks` objects hold one member per
task. Reading it here gives what `json.loads` gives plus each task member's text, so the
first save after a restore reuses the text of every task that has not changed instead of
converting and encoding the case's whole past again. Values are decoded by the json
module's own scanner; any text not in that compact layout (whitespace, another writer) is
read by `json.loads` with no task texts.
"""

from __future__ import annotations

import json
from json.decoder import scanstring
from json.scanner import make_scanner
from typing import Any

#: Per workflow (None: the top one; else its subprocess key): task key → `"key":{...}`.
TaskTexts = dict[str | None, dict[str, str]]

_scan = make_scanner(json.JSONDecoder())


class _NotCompact(ValueError):
    pass


def read_state(text: str) -> tuple[dict[str, Any], TaskTexts]:
    try:
        texts: TaskTexts = {}
        value, end = _workflow(text, 0, texts, None)
        if end != len(text):
            raise _NotCompact
        return value, texts
    except (_NotCompact, IndexError, StopIteration, json.JSONDecodeError):
        return json.loads(text), {}


def _members(text: str, idx: int, each: Any) -> tuple[dict[str, Any], int]:
    """The object at `idx`, each member's value read by `each(key, key_start, value_start)`."""
    if text[idx] != "{":
        raise _NotCompact
    out: dict[str, Any] = {}
    idx += 1
    if text[idx] == "}":
        return out, idx + 1
    while True:
        if text[idx] != '"':
            raise _NotCompact
        start = idx
        key, idx = scanstring(text, idx + 1)
        if text[idx] != ":":
            raise _NotCompact
        out[key], idx = each(key, start, idx + 1)
        if text[idx] == "}":
            return out, idx + 1
        if text[idx] != ",":
            raise _NotCompact
        idx += 1


def _workflow(text: str, idx: int, texts: TaskTexts, sub: str | None) -> tuple[Any, int]:
    def member(key: str, _start: int, at: int) -> tuple[Any, int]:
        if key == "tasks":
            return _tasks(text, at, texts.setdefault(sub, {}))
        if key == "subprocesses" and sub is None:
            return _members(text, at, lambda k, _s, a: _workflow(text, a, texts, k))
        return _scan(text, at)
    return _members(text, idx, member)


def _tasks(text: str, idx: int, out: dict[str, str]) -> tuple[dict[str, Any], int]:
    def task(key: str, start: int, at: int) -> tuple[Any, int]:
        value, end = _scan(text, at)
        out[key] = text[start:end]
        return value, end
    return _members(text, idx, task)


def read_members(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The members of an object written without its braces (a case's settled past,
    engine.cases.serializer), and each member's text."""
    out: dict[str, str] = {}
    value, _end = _tasks(f"{{{text}}}", 0, out)
    return value, out


def read_value(text: str, idx: int) -> tuple[Any, int]:
    """The compact JSON value at `idx`, and where it ends."""
    return _scan(text, idx)
