"""Clean text people type: the one place names and free text are checked for characters
that hide what they say.

A NUL byte is refused (PostgreSQL cannot store it, other tools cut the text there);
bidirectional overrides and isolates and zero-width characters are removed, because they
make text display as something else (`A\\u202egnp.exe` shows as `Aexe.png`) or make two
names that look the same differ.
"""

from __future__ import annotations

import re
from typing import Any

#: LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM ALM; ZWSP ZWNJ ZWJ, word joiner, BOM.
HIDDEN = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff]")
NUL_MESSAGE = "不能包含 NUL 字符 / must not contain a NUL character"


def clean(text: str) -> str:
    """`text` without the hidden characters; raises ValueError for a NUL."""
    if "\x00" in text:
        raise ValueError(NUL_MESSAGE)
    return HIDDEN.sub("", text)


def clean_data(data: Any, path: str = "", errors: dict[str, list[str]] | None = None) -> Any:
    """A copy of form data with every string cleaned at any depth; a field holding a NUL
    is added to `errors` under its JSON path (`solutions/0`)."""
    errors = {} if errors is None else errors
    if isinstance(data, str):
        try:
            return clean(data)
        except ValueError as exc:
            errors.setdefault(path or "(form)", []).append(str(exc))
            return data
    if isinstance(data, dict):
        return {clean_key: clean_data(value, f"{path}/{clean_key}" if path else clean_key,
                                      errors)
                for key, value in data.items() for clean_key in [HIDDEN.sub("", str(key))]}
    if isinstance(data, list):
        return [clean_data(value, f"{path}/{i}" if path else str(i), errors)
                for i, value in enumerate(data)]
    return data
