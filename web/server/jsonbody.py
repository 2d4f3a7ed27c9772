"""Request bodies as JSON that the engine and the database can take: bounded nesting and
text that is valid Unicode. Python's `json` parses `[[[[…` by recursion (a RecursionError,
not a ValueError, so Flask would answer 500) and accepts a lone surrogate (`"\\ud800"`),
which no UTF-8 database can store; both are refused here as a 400 that says where."""

from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32


def check(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise ValueError naming the path of the first part the engine could not take."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _text(item, path)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise ValueError(f"嵌套超过 {max_depth} 层 / nested deeper than {max_depth} "
                             f"levels at {path or '(body)'}")
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            child_path = f"{path}/{key}" if path else str(key)
            if isinstance(key, str):
                _text(key, child_path)
            stack.append((child, child_path, depth + 1))


def _text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"含无效字符（孤立的代理项 {text[exc.start]!r}） / invalid character "
                         f"(a lone surrogate) at {path or '(body)'}") from None


class StrictJSONProvider(DefaultJSONProvider):
    """Flask turns the ValueError into `400 Failed to decode JSON object: <why>`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError(f"嵌套过深 / nested too deeply (at most {MAX_DEPTH} levels)") \
                from None
        check(value)
        return value
