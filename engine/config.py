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
    #: `extra_working_days` (lists of "YYYY-MM-DD"), see
    #: engine.timing.calendar.calendar_from_settings.
    working_calendar: dict[str, Any] = field(default_factory=dict)
    #: The official holiday schedule must reach this many days ahead; the worker's log and
    #: the process owners' and leaders' pages warn when it does not (engine.timing.calendar_store).
    calendar_horizon_days: int = 60
    #: L2: the shift leader's endorsement of a leave is due this long before the shift
    #: starts (a reminder comes before); unanswered at the shift's start, it is flagged (L1).
    leave_endorse_before_hours: float = 2.0
    #: The timer worker re-reads the next due time this often in case a wake-up was missed
    #: (another process on SQLite); on PostgreSQL it is woken at once by NOTIFY.
    timer_recheck_seconds: float = 30.0
    #: Dotted path of an SMS sender class; the default keeps messages in the outbox table.
    sms_sender: str = "engine.messages.replies:OutboxSender"
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
    #: does not restore its JSON (engine.cases.live); 0 turns this off.
    live_workflows: int = 500
    #: Rehearsals and end-to-end tests only: read the time from this file (engine.clock).
    clock_file: str = ""
    #: The installation's directory (history key, session secret); by default the folder
    #: of the SQLite file, or ./instance/<backend-host-port-database> for another database.
    instance_dir: Path | None = None
    #: KEFU_HISTORY_KEY: the key of the history's HMAC chain, instead of the key file.
    history_key: str = field(default="", repr=False)
    #: KEFU_SECRET_KEY: the key that signs session cookies, instead of the secret file.
    secret_key: str = field(default="", repr=False)
    #: A web session ends after this long without a request, and this long after sign-in.
    session_idle_minutes: float = 120.0
    session_absolute_hours: float = 12.0
    #: Failed sign-ins: this many for one account, or from one address, within the window
    #: lock that account or address until the lockout has passed since the last failure.
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    login_window_minutes: float = 15.0
    login_lockout_minutes: float = 15.0
    #: Notifications (engine.messages.notifications): the channels new tasks, reminders, overdue
    #: notices and escalations go out on, comma-separated: inapp, email, webhook.
    notify_channels: str = "inapp"
    #: E-mail over SMTP; `smtp_user` empty: no login. STARTTLS when `smtp_starttls`.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "kefu@localhost"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    #: A group robot's URL: 企业微信 (`wecom`) or 钉钉 (`dingtalk`) text messages.
    webhook_url: str = ""
    webhook_kind: str = "wecom"
    #: 钉钉 robots with 加签 security: the robot's secret (SEC…); empty: not signed.
    webhook_secret: str = ""
    #: Seconds a channel may take to answer, before the attempt counts as failed.
    notify_timeout_seconds: float = 10.0
    #: A failed send is retried after this, doubling up to an hour, this many times in all.
    notify_retry_seconds: float = 60.0
    notify_max_attempts: int = 6
    #: Links in e-mails and robot messages start with this (e.g. https://kefu.example.cn).
    public_url: str = ""
    #: Attachments (engine.messages.attachments) are stored here, named by their SHA-256; by default
    #: in attachments/ of the installation's directory (engine.instance).
    attachments_dir: Path | None = None
    #: No single file may be larger than this, whatever a form allows.
    attachment_max_bytes: int = 10 * 1024 * 1024
    #: A script, condition, timer expression, DMN cell or service parameter running longer
    #: than this is stopped and its step refused (engine.scripting.script_limits).
    script_timeout_seconds: float = 1.0
    #: The largest value one operation in a script may make: characters of a string, items
    #: of a list, tuple or range, bits of an integer.
    script_max_size: int = 1_000_000
    #: How deep call activities may nest; a process that calls itself stops here.
    call_activity_max_depth: int = 10
    #: Scripts run in worker processes (engine.scripting.workers): each may use this much
    #: memory beyond what the worker started with, and this many are kept started.
    script_memory_mb: int = 256
    script_workers: int = 2
    #: Failed sign-ins (`login_attempt` rows) are deleted after this many days.
    login_attempt_days: int = 90
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
        for name in ("session_idle_minutes", "session_absolute_hours",
                     "login_failures_per_account", "login_failures_per_address",
                     "login_window_minutes", "login_lockout_minutes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be positive")
        unknown = set(self.channels) - {"inapp", "email", "webhook"}
        if unknown:
            raise ValueError(f"notify_channels: unknown channel(s) {', '.join(sorted(unknown))}")
        if self.webhook_kind not in ("wecom", "dingtalk"):
            raise ValueError("webhook_kind: must be wecom or dingtalk")
        if self.notify_max_attempts < 1:
            raise ValueError("notify_max_attempts: must be 1 or more")
        if self.script_timeout_seconds <= 0:
            raise ValueError("script_timeout_seconds: must be positive")
        if min(self.script_max_size, self.call_activity_max_depth, self.script_memory_mb,
               self.login_attempt_days) < 1 or self.script_workers < 0:
            raise ValueError("script_max_size, call_activity_max_depth, script_memory_mb, "
                             "login_attempt_days: must be 1 or more; script_workers: 0 or "
                             "more")

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in self.notify_channels.split(",") if c.strip())

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
            if isinstance(current, Path) or "Path" in str(known[key].type):
                value = Path(value) if value not in (None, "") else None
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
