"""Kefu's engine: the public API that the web layer and the command line use.

Nothing outside `engine` imports deeper than this module, so the inside can change.
"""

# casefile, catalog, disclosure: reads for the web (issue 5); roster: leave, swaps, reports
# (issue 4); attachments, notifications: files in forms, telling people (issue 15);
# engine.rules registers the rule operators.
from engine.cases import events, steps
from engine.cases.runtime import (
    case_data,
    claim_task,
    complete_task,
    load_case_workflow,
    reassign_task,
    release_task,
    start_case,
)
from engine.clock import Clock, FixedClock, SystemClock
from engine.config import Settings, settings_from_env
from engine.definitions import catalog
from engine.definitions.dryrun import dry_run
from engine.definitions.specs import (
    build,
    check,
    deploy,
    deploy_directories,
    read_files,
    read_paths,
)
from engine.definitions.versiondiff import label_warnings
from engine.demo.roster import load_demo_roster
from engine.errors import (
    DeploymentError,
    FormValidationError,
    KefuError,
    NotFound,
    PermissionDenied,
    Problem,
    RetentionError,
    TaskConflict,
)
from engine.kefu import Kefu
from engine.messages import attachments, notifications, reply_preview
from engine.people import roster, signin
from engine.people.organisation import actor_for, find_actor, load_organisation, team_of
from engine.people.passwords import check_password, hash_password
from engine.people.roles import ANYONE, ROLES, Actor, candidates
from engine.people.roster import shift_leader_on_duty
from engine.people.tokens import actor_for_token, create_token, revoke_tokens
from engine.persistence import models
from engine.persistence.queries import (
    case_by_number,
    case_history,
    claimable_tasks,
    my_tasks,
    search_cases,
)
from engine.records import access, casefile, checkpoints, disclosure
from engine.records.history import verify_all, verify_case
from engine.records.lookup import record_lookup
from engine.rules import Breach, RuleViolation
from engine.scheduler.firing import fire_due
from engine.scheduler.worker import TimerWorker
from engine.timing import calendar_store
from engine.timing.calendar_store import calendar_coverage
from engine.timing.deadlines import escalation_level, reminders_for, task_timing

__all__ = [
    "Actor", "Clock", "DeploymentError", "FixedClock", "FormValidationError", "Kefu",
    "KefuError", "NotFound", "PermissionDenied", "Problem", "ROLES", "ANYONE", "candidates",
    "RetentionError",
    "Settings", "SystemClock", "TaskConflict", "actor_for", "build", "case_by_number",
    "case_data", "case_history", "claim_task", "claimable_tasks", "complete_task", "deploy",
    "deploy_directories", "find_actor", "load_case_workflow", "load_organisation", "models",
    "my_tasks", "read_files", "reassign_task", "release_task", "search_cases",
    "settings_from_env", "start_case", "team_of", "verify_all", "verify_case",
    "actor_for_token", "create_token", "revoke_tokens", "casefile", "catalog", "disclosure",
    "check_password", "hash_password", "reply_preview", "steps", "access", "checkpoints",
    "signin",
    "Breach", "RuleViolation", "load_demo_roster", "roster", "shift_leader_on_duty",
    "TimerWorker", "escalation_level", "fire_due", "reminders_for", "task_timing", "record_lookup",
    "attachments", "notifications",
    "calendar_coverage", "calendar_store",
    "check", "read_paths", "events", "label_warnings", "dry_run",
]
