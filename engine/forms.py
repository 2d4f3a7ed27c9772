"""Server-side validation of submitted form data against the task's JSON Schema."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from jsonschema import Draft202012Validator

from engine.errors import FormValidationError
from engine.text import clean_data


def validate(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    """Return the data, cleaned (engine.text), if valid; otherwise raise with one list of
    messages per field.

    A field's name is its JSON path (`solutions/0`); errors about the whole form (a
    missing required field is reported against that field) go under its own name.
    """
    if not isinstance(data, dict):
        raise FormValidationError({"(form)": ["the form data must be an object"]})
    errors: dict[str, list[str]] = defaultdict(list)
    data = clean_data(data, errors=errors)
    for error in Draft202012Validator(schema).iter_errors(data):
        path = "/".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            name = f"{path}/{missing}" if path else missing
            errors[name or "(form)"].append("必填 / required")
        else:
            errors[path or "(form)"].append(error.message)
    if errors:
        raise FormValidationError(dict(errors))
    return data


def readonly_fields(schema: dict[str, Any]) -> set[str]:
    """Fields the form shows but a person may not submit (e.g. the head's reasons)."""
    return {k for k, v in schema.get("properties", {}).items() if v.get("readOnly")}
