"""Errors a user of Kefu can see; each says what was wrong and where."""

from __future__ import annotations

from dataclasses import dataclass

from engine.text import in_language


class KefuError(Exception):
    """Base class: anything Kefu refuses on purpose."""

    code = "error"


@dataclass(frozen=True)
class Problem:
    """One reason a deployment was refused, located as precisely as the file allows."""

    file: str
    reason: str
    line: int | None = None
    element: str | None = None
    #: How to fix it, Chinese first, and the guide's section that explains it.
    fix: str | None = None
    guide: str | None = None

    def __str__(self) -> str:
        return self.text()

    def text(self, lang: str | None = None) -> str:
        """The problem as `kefu deploy` prints it: both languages, or only `lang` ("zh",
        "en")."""
        def say(both: str) -> str:
            return both if lang is None else in_language(both, lang)

        where = self.file + (f":{self.line}" if self.line else "")
        element = f" [{self.element}]" if self.element else ""
        fix = f"\n    {say('改法 / fix')}: {say(self.fix)}" if self.fix else ""
        guide = f"\n    {say('说明 / guide')}: {self.guide}" if self.guide else ""
        return f"{where}{element}: {say(self.reason)}{fix}{guide}"


class DeploymentError(KefuError):
    code = "deployment_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class FormValidationError(KefuError):
    """Submitted data broke the form's schema: one message per field, nothing saved."""

    code = "form_invalid"

    def __init__(self, field_errors: dict[str, list[str]]) -> None:
        self.field_errors = field_errors
        text = "; ".join(f"{k}: {', '.join(v)}" for k, v in field_errors.items())
        super().__init__(f"invalid form data: {text}")


class NotFound(KefuError):
    code = "not_found"


class PermissionDenied(KefuError):
    code = "forbidden"


class TaskConflict(KefuError):
    """Someone else changed the task first; the caller's data was not saved."""

    code = "conflict"


class RetentionError(KefuError):
    code = "retention"


class ScriptError(KefuError):
    code = "script_error"
