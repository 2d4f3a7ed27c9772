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


#: The languages a message of two halves (`中文 / English`) can be shown in.
LANGUAGES = ("zh", "en")
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\uff60]")


def in_language(text: str, lang: str) -> str:
    """The `lang` half of a `中文 / English` message; a text that is not two such halves
    is returned whole, as it is the only one there is. A name inside may hold ` / ` too
    (`wait「1 小时后 / After 1 hour」`): the halves are split where the Chinese most
    clearly ends."""
    parts = text.split(" / ")
    best, split = 0.0, 0
    for i in range(1, len(parts)):
        left, right = " / ".join(parts[:i]), " / ".join(parts[i:])
        if not _CJK.search(left):
            continue
        gap = cjk_share(left) - cjk_share(right)
        if gap > best:
            best, split = gap, i
    if not split:
        return text
    return " / ".join(parts[:split] if lang == "zh" else parts[split:])


def cjk_share(text: str) -> float:
    """How much of a text's letters are Chinese: which half of `中文 / English` is which."""
    letters = [c for c in text if c.isalpha()]
    return sum(bool(_CJK.match(c)) for c in letters) / len(letters) if letters else 0.0
