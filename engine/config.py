"""Settings for one Kefu installation.

Numbers that SPEC.md leaves open are defaults here and can be changed per installation
(from a TOML/JSON-like mapping or environment variables), never hard-coded in a module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_SQLITE = "sqlite:///instance/kefu.sqlite3"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_SQLITE
    processes_dir: Path = Path("processes")
    forms_dir: Path = Path("forms")
    timezone: str = "Asia/Shanghai"
    #: C10/A3: cases are kept at least this many years after closure.
    retention_years: int = 3
    #: C11: monthly targets for complaints (shares of 1).
    target_resolution_rate: float = 0.99
    target_on_time_rate: float = 0.98
    target_satisfaction_rate: float = 0.95
    #: C9: hours from acceptance before each escalation level is reached.
    escalation_first_hours: float = 24.0
    escalation_second_hours: float = 24.0
    #: Reminders go to the holder of a task at this share of its allowed time.
    reminder_fraction: float = 0.8
    #: Working-time deadlines: `workday_start`/`workday_end` ("HH:MM"), `extra_days_off` and
    #: `extra_working_days` (lists of "YYYY-MM-DD"), see engine.calendar.calendar_from_settings.
    working_calendar: dict[str, Any] = field(default_factory=dict)
    #: The timer worker re-reads the next due time this often in case a wake-up was missed
    #: (another process on SQLite); on PostgreSQL it is woken at once by NOTIFY.
    timer_recheck_seconds: float = 30.0
    #: Dotted path of an SMS sender class; the default keeps messages in the outbox table.
    sms_sender: str = "engine.replies:OutboxSender"
    #: L1: notice before the first shift for general (1 day) and special (1 hour) personal
    #: leave; sick leave is asked before the shift starts. Later requests are flagged.
    leave_general_notice_hours: float = 24.0
    leave_special_notice_hours: float = 1.0
    leave_sick_notice_hours: float = 0.0
    #: L6: leave on a night shift must be asked before this hour of the shift's day.
    leave_night_cutoff_hour: float = 12.0
    #: L7: leave on a public-holiday shift must be asked this many days before it.
    leave_holiday_notice_days: float = 2.0
    #: S2: swaps per person per month.
    swap_max_per_month: int = 2
    #: S3: less rest than this between two shifts makes them back to back (连班).
    swap_min_rest_hours: float = 8.0
    #: S4: largest allowed difference of skill levels between the two parties.
    swap_max_skill_gap: int = 1
    #: Workflows each worker keeps live after saving them, so that a case's next step
    #: does not restore its JSON (engine.live); 0 turns this off.
    live_workflows: int = 500
    #: A script, condition, timer expression, DMN cell or service parameter running longer
    #: than this is stopped and its step refused (engine.script_limits).
    script_timeout_seconds: float = 1.0
    #: The largest value one operation in a script may make: characters of a string, items
    #: of a list, tuple or range, bits of an integer.
    script_max_size: int = 1_000_000
    #: How deep call activities may nest; a process that calls itself stops here.
    call_activity_max_depth: int = 10
    numbers: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.retention_years < 3:
            raise ValueError("retention_years: C10 requires at least 3 years")
        if not 0 < self.reminder_fraction < 1:
            raise ValueError("reminder_fraction: must be between 0 and 1")
        if self.timer_recheck_seconds <= 0:
            raise ValueError("timer_recheck_seconds: must be positive")
        if self.live_workflows < 0:
            raise ValueError("live_workflows: must be 0 or more")
        if self.script_timeout_seconds <= 0:
            raise ValueError("script_timeout_seconds: must be positive")
        if self.script_max_size < 1 or self.call_activity_max_depth < 1:
            raise ValueError("script_max_size, call_activity_max_depth: must be 1 or more")

    def number(self, name: str) -> float:
        """A configured number for process scripts (`setting("...")` in BPMN)."""
        if name in self.numbers:
            return self.numbers[name]
        value = getattr(self, name, None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise KeyError(f"setting {name!r} is not a configured number")

    def with_overrides(self, values: dict[str, Any]) -> Settings:
        """Apply a mapping of overrides, refusing unknown keys so a typo is not silent."""
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown setting {key!r}")
            current = getattr(self, key)
            if isinstance(current, Path):
                value = Path(value)
            elif isinstance(current, bool):
                value = str(value).lower() in {"1", "true", "yes"}
            elif isinstance(current, int | float) and isinstance(value, str):
                value = type(current)(value)
            clean[key] = value
        return replace(self, **clean)


def settings_from_env(base: Settings | None = None) -> Settings:
    """Read KEFU_<NAME> environment variables, the way a worker is configured in production."""
    base = base or Settings()
    overrides = {
        f.name: os.environ[f"KEFU_{f.name.upper()}"]
        for f in fields(base)
        if f"KEFU_{f.name.upper()}" in os.environ
        and f.name not in ("numbers", "working_calendar")
    }
    return base.with_overrides(overrides)
