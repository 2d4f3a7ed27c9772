"""Languages: Simplified Chinese by default, English on request (kept in the session).

Process files carry their own names as `中文 / English`; `bi` shows the half that matches
the reader's language, so process owners translate in the modeler, not here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, current_app, session
from flask_babel import Babel, get_locale
from flask_babel import gettext as _

from engine import ROLES

DEFAULT_LOCALE = "zh_Hans_CN"
LANGUAGES = {"zh_Hans_CN": "中文", "en": "English"}
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]")


def select_locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LOCALE


def is_chinese() -> bool:
    locale = get_locale()
    return locale is None or locale.language == "zh"


def bi(text: object) -> str:
    """The reader's half of a `中文 / English` text; other texts unchanged."""
    if text is None:
        return ""
    value = str(text)
    if " / " in value:
        left, right = value.split(" / ", 1)
    elif value.count("\n") == 1:  # form descriptions: a Chinese line, then an English one
        left, right = value.split("\n")
    else:
        return value
    if bool(_CJK.search(left)) == bool(_CJK.search(right)):
        return value
    chinese, english = (left, right) if _CJK.search(left) else (right, left)
    return chinese if is_chinese() else english


def role_name(role: str) -> str:
    names = ROLES.get(role)
    if names is None:
        return role
    return names[0] if is_chinese() else names[1]


def local(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return moment.astimezone(zone)


def when(moment: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the centre's time zone; ISO strings from case data too."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
        if moment.tzinfo is None:
            return moment.strftime(fmt)
    shown = local(moment)
    return shown.strftime(fmt) if shown else ""


def duration(delta: timedelta) -> str:
    """2天3小时 / 2 d 3 h: the two largest units, enough to see at a glance."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h", d=days, h=hours)
    if hours:
        return _("%(h)d h %(m)d min", h=hours, m=mins)
    return _("%(m)d min", m=mins)


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(bi=bi, when=when, role_name=role_name, duration=duration)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_locale=select_locale)
