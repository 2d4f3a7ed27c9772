"""Server-side validation of submitted form data against the task's JSON Schema."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from engine.errors import FormValidationError
from engine.text import clean_data

SHOW_WHEN = "x-kefu-show-when"


def shown(schema: Mapping[str, Any], data: Mapping[str, Any], name: str,
          _seen: frozenset[str] = frozenset()) -> bool:
    """Whether a field applies to this data: its `x-kefu-show-when` (field -> the values
    that show it, e.g. `{"kind": ["sick"]}`) holds, and so does its controllers' own."""
    prop = schema.get("properties", {}).get(name)
    when = prop.get(SHOW_WHEN) if isinstance(prop, dict) else None
    if not isinstance(when, dict) or name in _seen:
        return True
    return all(shown(schema, data, other, _seen | {name}) and data.get(other) in allowed
               for other, allowed in when.items() if isinstance(allowed, list))


def condition_problems(schema: Mapping[str, Any]) -> list[str]:
    """Deployment refuses an `x-kefu-show-when` that names no field of the form or gives
    no list of values (the field would never show)."""
    properties = schema.get("properties", {})
    problems = []
    for name, prop in properties.items():
        when = prop.get(SHOW_WHEN) if isinstance(prop, dict) else None
        if when is None:
            continue
        if not isinstance(when, dict) or not when:
            problems.append(f"{name}: {SHOW_WHEN} must be {{field: [values]}}")
            continue
        for other, allowed in when.items():
            if other not in properties or other == name:
                problems.append(f"{name}: {SHOW_WHEN} names {other!r}, not another field "
                                f"of this form")
            if not isinstance(allowed, list) or not allowed:
                problems.append(f"{name}: {SHOW_WHEN} needs a list of values for {other!r}")
    return problems


def applicable(schema: dict[str, Any], data: dict[str, Any]) -> tuple[dict[str, Any],
                                                                     dict[str, Any]]:
    """The schema and data without the fields that do not apply (the sick-leave fields of a
    personal leave): such a field is neither required nor stored, whatever was sent."""
    hidden = {name for name in schema.get("properties", {}) if not shown(schema, data, name)}
    if not hidden:
        return schema, data
    narrowed = {**schema, "required": [r for r in schema.get("required", [])
                                       if r not in hidden]}
    return narrowed, {k: v for k, v in data.items() if k not in hidden}


def validate(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    """Return the data, cleaned (engine.text) and without the fields that do not apply
    (`applicable`), if valid; otherwise raise with one list of messages per field.

    A field's name is its JSON path (`solutions/0`); errors about the whole form (a
    missing required field is reported against that field) go under its own name.
    """
    if not isinstance(data, dict):
        raise FormValidationError({"(form)": ["the form data must be an object"]})
    schema, data = applicable(schema, data)
    errors: dict[str, list[str]] = defaultdict(list)
    data = clean_data(data, errors=errors)
    for error in _validator(schema).iter_errors(data):
        path = "/".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            name = f"{path}/{missing}" if path else missing
            errors[name or "(form)"].append("必填 / required")
        else:
            errors[path or "(form)"].append(error.message)
    for path in _unstorable_text(data):
        errors[path].append("含无效字符（孤立的代理项） / contains an invalid character "
                            "(a lone surrogate)")
    if errors:
        raise FormValidationError(dict(errors))
    return data


#: A validator per schema object: forms are loaded once per process version and kept.
_validators: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    entry = _validators.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_validators) > 1000:
            _validators.clear()
        entry = _validators[id(schema)] = (schema, Draft202012Validator(schema))
    return entry[1]


def _unstorable_text(value: Any, path: str = "") -> list[str]:
    """Paths of text no UTF-8 database can store: Python strings may hold lone surrogates
    (`"\\ud800"` from JSON), which would fail only at the commit."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return [path or "(form)"]
        return []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    found = []
    for key, child in items:
        found += _unstorable_text(child, f"{path}/{key}" if path else str(key))
    return found


def readonly_fields(schema: dict[str, Any]) -> set[str]:
    """Fields the form shows but a person may not submit (e.g. the head's reasons)."""
    return {k for k, v in schema.get("properties", {}).items() if v.get("readOnly")}
