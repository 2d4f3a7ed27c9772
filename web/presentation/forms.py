"""One generic form renderer for every task: fields come from the task's JSON Schema.

The schema decides the widget (text, textarea, number, yes/no, choice, one-per-line list,
read-only text, a colleague picked by name or 工号, one of the roster's shifts) and when a
field is shown (`x-kefu-show-when`); the engine validates on the server, including `if/then`
rules, the people and shifts named (engine.people.pickers), and its per-field errors are
shown beside the fields with the typed values kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from engine.definitions.forms import SHOW_WHEN
from engine.messages import attachments
from engine.people import pickers
from web.presentation.i18n import bi

LONG_TEXT = 200
RADIO_LIMIT = 4


@dataclass
class Field:
    name: str
    title: str
    #: text | textarea | integer | number | yesno | checkbox | radios | select | lines | readonly
    #: | date | datetime | file | files (attachments, web.views.attachments)
    #: | person (a colleague by name or 工号) | shift (one of the roster's shifts)
    kind: str
    required: bool = False
    description: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    errors: list[str] = field(default_factory=list)
    max_length: int | None = None
    zone: ZoneInfo | None = None
    #: field -> the values (as the controls send them) that show this field
    show_when: dict[str, list[str]] = field(default_factory=dict)
    #: what a shift picker fills: start | end | date (and the kind field beside it)
    shift_value: str = ""
    #: the field naming whose shifts a shift picker offers
    shift_of: str = ""
    #: when a conditional field applies, in words (for a page shown without its script)
    condition: str = ""

    @property
    def text(self) -> str:
        """The value as a form control shows it."""
        if self.value is None:
            return ""
        if isinstance(self.value, list):  # one per line, editable or read-only context
            return "\n".join(str(v) for v in self.value)
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if self.kind == "datetime" and isinstance(self.value, str):
            return local_input(self.value, self.zone)
        return str(self.value)


def _options(prop: Mapping[str, Any]) -> list[tuple[str, str]]:
    if prop.get("type") == "array" and attachments.is_attachment(prop.get("items") or {}):
        prop = prop["items"]
    if attachments.is_attachment(prop):  # the media types a file field accepts
        return [(t, t) for t in prop.get("x-kefu-accept", [])]
    choices = prop.get("oneOf") or prop.get("anyOf") or []
    if choices and all(isinstance(c, dict) and "const" in c for c in choices):
        return [(_json_text(c["const"]), bi(c.get("title", c["const"]))) for c in choices]
    if isinstance(prop.get("enum"), list):
        return [(_json_text(v), str(v)) for v in prop["enum"]]
    return []


def _json_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _kind(prop: Mapping[str, Any], required: bool) -> str:
    if prop.get("readOnly"):
        return "readonly"
    if attachments.is_attachment(prop):
        return "file"
    if prop.get("type") == "array" and attachments.is_attachment(prop.get("items") or {}):
        return "files"
    options = _options(prop)
    if options:
        return "radios" if len(options) <= RADIO_LIMIT else "select"
    kind = prop.get("type")
    if kind == "boolean":
        return "yesno" if required else "checkbox"
    if kind == "array":
        return "lines"
    if kind in ("integer", "number"):
        return kind
    if prop.get("format") == "date":
        return "date"
    if prop.get("format") == "date-time":
        return "datetime"
    if prop.get("maxLength", 0) > LONG_TEXT or prop.get("format") == "textarea":
        return "textarea"
    return "text"


@dataclass
class Choices:
    """What the pickers of one form offer, read from the roster by the view
    (web.views.roster.choices): per person field its colleagues as `(label, label)`, per
    shift field its shifts as `(value sent, label)`, and the label of each chosen person."""

    people: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    shifts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def _show_when(prop: Mapping[str, Any]) -> dict[str, list[str]]:
    when = prop.get(SHOW_WHEN)
    if not isinstance(when, dict):
        return {}
    return {other: [_json_text(v) for v in allowed] for other, allowed in when.items()
            if isinstance(allowed, list)}


def show_hint(schema: Mapping[str, Any], when: Mapping[str, list[str]]) -> str:
    """`仅当“请假类别”为“病假”时填写`: said beside a conditional field, for a page shown
    without its script (which hides the field instead)."""
    properties = schema.get("properties", {})
    parts = []
    for other, allowed in when.items():
        prop = properties.get(other, {})
        titles = dict(_options(prop)) if _options(prop) else {}
        if prop.get("type") == "boolean":
            titles = {"true": _("Yes"), "false": _("No")}
        words = [titles.get(v, v) for v in allowed]
        parts.append(_("%(field)s is %(values)s", field=bi(prop.get("title", other)),
                       values=_(" or ").join(words)))
    return _("Only when %(conditions)s.", conditions=_(" and ").join(parts)) if parts else ""


def _shift_text(prop: Mapping[str, Any], name: str, values: Mapping[str, Any]) -> Any:
    """A shift picker's value as its option sends it (date and kind together)."""
    value = values.get(name)
    kind_field = prop.get("x-kefu-shift-kind-field")
    if prop.get("x-kefu-shift-value", "date") == "date" and kind_field and value \
            and " " not in str(value) and values.get(kind_field):
        return f"{value} {values[kind_field]}"
    return value


def fields_for(schema: Mapping[str, Any], values: Mapping[str, Any] | None = None,
               errors: Mapping[str, list[str]] | None = None,
               zone: ZoneInfo | None = None, choices: Choices | None = None) -> list[Field]:
    required = set(schema.get("required", []))
    values = values or {}
    choices = choices or Choices()
    grouped = group_errors(errors or {}, schema)
    picked = {str(prop.get("x-kefu-shift-kind-field")): name
              for name, prop in pickers.fields_of(schema, pickers.SHIFT).items()
              if choices.shifts.get(name) and prop.get("x-kefu-shift-kind-field")}
    out = []
    for name, prop in schema.get("properties", {}).items():
        if not isinstance(prop, dict) or name in picked:
            continue
        value = values.get(name, prop.get("default"))
        kind = _kind(prop, name in required)
        options = _options(prop)
        own_errors = list(grouped.get(name, []))
        widget = pickers.widget(prop)
        if widget == pickers.PERSON:
            kind, options = "person", choices.people.get(name, [])
            value = choices.labels.get(name, value)
        elif widget == pickers.SHIFT and choices.shifts.get(name):
            kind, options = "shift", choices.shifts[name]
            value = _shift_text(prop, name, values)
            kind_field = prop.get("x-kefu-shift-kind-field")
            own_errors += grouped.get(str(kind_field), []) if kind_field else []
        when = _show_when(prop)
        description = bi(prop.get("description", ""))
        if kind == "shift":
            description = ""  # the typed-time example is for someone not on the roster
        out.append(Field(
            name=name, title=bi(prop.get("title", name)), kind=kind,
            required=name in required, description=description,
            condition=show_hint(schema, when),
            options=options, value=value, errors=own_errors,
            max_length=prop.get("maxLength"), zone=zone, show_when=when,
            shift_value=str(prop.get("x-kefu-shift-value", "")),
            shift_of=str(prop.get("x-kefu-shift-of", "")),
        ))
    return out


def form_errors(errors: Mapping[str, list[str]], schema: Mapping[str, Any]) -> list[str]:
    """Errors that belong to no field of the form (shown at its top)."""
    return group_errors(errors, schema).get("(form)", [])


def group_errors(errors: Mapping[str, list[str]], schema: Mapping[str, Any]) -> dict[str,
                                                                                 list[str]]:
    """The engine's errors keyed by JSON path (`solutions/1`) grouped by top-level field."""
    properties = schema.get("properties", {})
    grouped: dict[str, list[str]] = {}
    for path, messages in errors.items():
        top, _sep, rest = path.partition("/")
        key = top if top in properties else "(form)"
        for message in messages:
            text = explain(message, properties.get(top, {}))
            if rest and key != "(form)":
                text = _("Line %(n)s: %(message)s", n=_line_number(rest), message=text)
            elif key == "(form)" and top and top != "(form)":
                text = f"{top}: {text}"
            grouped.setdefault(key, []).append(text)
    return grouped


def _line_number(rest: str) -> str:
    head = rest.split("/")[0]
    return str(int(head) + 1) if head.isdigit() else head


def _type_message(kind: str) -> str:
    return {"integer": _("Enter a whole number."), "number": _("Enter a number."),
            "boolean": _("Choose yes or no."), "array": _("Enter one item per line."),
            "string": _("Enter text.")}.get(kind, _("Invalid value."))


def explain(message: str, prop: Mapping[str, Any]) -> str:
    """The engine's validation message in the reader's language."""
    if " / " in message:
        return bi(message)
    if message.endswith("is too long") or "is expected to be empty" in message:
        limit = prop.get("maxLength") or prop.get("maxItems") or (prop.get("items") or {}).get(
            "maxLength")
        return _("Too long: at most %(n)s.", n=limit) if limit else _("Too long.")
    if message.endswith("is too short") or "should be non-empty" in message:
        return _("Must not be empty.")
    if "does not match" in message:
        return _("Not in the expected format.")
    found = re.search(r"is not of type '(\w+)'", message)
    if found:
        return _type_message(found.group(1))
    if "is not valid under any of the given schemas" in message or "is not one of" in message:
        return _("Choose one of the options.")
    if "less than the minimum" in message or "greater than the maximum" in message:
        return _("Out of the allowed range.")
    if "Additional properties are not allowed" in message:
        return _("The form contains a field it does not have.")
    return message


def local_input(value: str, zone: ZoneInfo | None) -> str:
    """An ISO time as a datetime-local control shows it: in the centre's zone, no offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None and zone is not None:
        moment = moment.astimezone(zone)
    return moment.strftime("%Y-%m-%dT%H:%M")


def _with_zone(raw: str, zone: ZoneInfo | None) -> str:
    """A datetime-local value (no offset) as ISO time in the centre's zone."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if moment.tzinfo is None and zone is not None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def parse(schema: Mapping[str, Any], form: Any, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """The submitted values of the schema's own fields, typed as the schema says.

    Empty fields are left out (the engine reports a required one as missing); a value that
    cannot be converted is passed on as typed, so the engine names the field in its error.
    """
    data: dict[str, Any] = {}
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        if not isinstance(prop, dict) or prop.get("readOnly"):
            continue
        kind = _kind(prop, name in required)
        if kind in ("file", "files"):  # the uploads: web.views.attachments.receive
            continue
        if kind == "checkbox":
            data[name] = form.get(name) == "true"
            continue
        if kind == "lines":
            lines = [line.strip() for line in form.get(name, "").splitlines()]
            items = [line for line in lines if line]
            if items:
                data[name] = [_convert(prop.get("items", {}), line) for line in items]
            continue
        raw = form.get(name)
        if raw is None or raw.strip() == "":
            continue
        if pickers.widget(prop) == pickers.SHIFT:
            parts = pickers.split_value(prop, raw)
            if parts:  # the picker sent date and kind together
                data.update({k or name: v for k, v in parts.items()})
                continue
        if kind == "datetime":
            data[name] = _with_zone(raw.strip(), zone)
            continue
        data[name] = _convert(prop, raw if kind in ("textarea",) else raw.strip())
    return data


def _convert(prop: Mapping[str, Any], raw: str) -> Any:
    kind = prop.get("type")
    options = _options(prop)
    if options and kind is None:
        kind = _const_type(prop)
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    return raw


def _const_type(prop: Mapping[str, Any]) -> str | None:
    consts = [c["const"] for c in prop.get("oneOf", []) if isinstance(c, dict) and "const" in c]
    if consts and all(isinstance(c, bool) for c in consts):
        return "boolean"
    if consts and all(isinstance(c, int) and not isinstance(c, bool) for c in consts):
        return "integer"
    return None


def option_titles(forms: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """field -> stored value -> title, from all forms of a version (to show `fee` as 资费)."""
    out: dict[str, dict[str, str]] = {}
    for schema in forms.values():
        for name, prop in schema.get("properties", {}).items():
            if isinstance(prop, dict):
                for value, title in _options(prop):
                    out.setdefault(name, {}).setdefault(value, title)
    return out


def show_value(value: Any, titles: Mapping[str, str] | None = None) -> str:
    """A stored value as a person reads it: yes/no, choice titles, lists one per line."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, dict) and "sha256" in value:  # an attachment
        return f"{value.get('name', '')} · SHA-256 {str(value['sha256'])[:12]}…"
    if isinstance(value, list):
        return "\n".join(show_value(v, titles) for v in value)
    if value is None:
        return ""
    text = _json_text(value)
    if titles and text in titles:
        return titles[text]
    return bi(text)
