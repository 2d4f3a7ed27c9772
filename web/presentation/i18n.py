"""Languages: Simplified Chinese by default, English on request (kept in the session).

Process files carry their own names as `中文 / English`; `bi` shows the half that matches
the reader's language, so process owners translate in the modeler, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from functools import lru_cache
from typing import Any

from babel import Locale
from flask import Flask, g, has_request_context, session
from flask_babel import Babel, get_locale, get_timezone, get_translations

from engine.text import cjk_share, in_language

DEFAULT_LOCALE = "zh_Hans_CN"
LANGUAGES = {"zh_Hans_CN": "中文", "en": "English"}


def select_locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LOCALE


@dataclass(frozen=True)
class Reader:
    """The reader's language and the centre's zone, looked up once a request: a list page
    formats thousands of values, and each lookup through Flask-Babel's context cost more
    than formatting the value."""
    chinese: bool
    locale: Locale | None
    zone: tzinfo


def reader() -> Reader:
    if has_request_context():
        found = g.get("kefu_reader")
        if found is None:
            found = g.kefu_reader = _reader()
        return found
    return _reader()


def _reader() -> Reader:
    locale = get_locale()
    return Reader(locale is None or locale.language == "zh", locale, get_timezone())


def is_chinese() -> bool:
    return reader().chinese


def bi(text: object) -> str:
    """The reader's half of a `中文 / English` text; other texts unchanged."""
    if text is None:
        return ""
    value = str(text)
    halves = _halves(value)
    if halves is None:
        return value
    return halves[0] if is_chinese() else halves[1]


@lru_cache(maxsize=8192)
def _halves(value: str) -> tuple[str, str] | None:
    """(Chinese, English) of a two-language text, or None; kept, since the same process,
    task and category names are split on every row of every list."""
    if " / " in value:
        left, right = value.split(" / ", 1)
    elif value.count("\n") == 1:  # form descriptions: a Chinese line, then an English one
        left, right = value.split("\n")
    else:
        return None
    share_left, share_right = cjk_share(left), cjk_share(right)
    if (share_left > 0.2) == (share_right > 0.2):  # an English half may quote a 中文 word
        return None
    return (left, right) if share_left > share_right else (right, left)


def one_language(text: object) -> str:
    """The reader's half of an engine message (`中文 / English`, e.g. a deploy problem,
    whose names and quoted errors make `bi`'s one-split guess unsafe)."""
    return in_language("" if text is None else str(text), "zh" if is_chinese() else "en")


def _translations() -> Any:
    if not g:  # no application context: Flask-Babel's answer (no translations)
        return get_translations()
    found = g.get("kefu_translations")
    if found is None:
        found = g.kefu_translations = get_translations()
    return found


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    # Flask-Babel's own template callables look up the request's translations on every
    # call, through several context lookups: a list page's hundred words were 4 ms of it.
    # Kept on `g` once a request instead (Kefu never switches locale within a request).
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n), newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n))
    from web.presentation import display

    display.init_app(app)
    app.jinja_env.filters["bi"] = display.text  # rule ids and ISO times handled too
    app.jinja_env.filters["one_language"] = one_language
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_locale=select_locale)
