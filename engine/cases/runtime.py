"""Start a case, complete its tasks, and save it: every change in one transaction with its
history record. The caller owns the transaction (`with kefu.session() as s:`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, insert, inspect, select, update
from sqlalchemy.orm import Session, defer, lazyload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from engine.cases.frontier import Frontier, frontier
from engine.cases.serializer import dump_workflow, load_workflow
from engine.cases.steps import apply_submission
from engine.cases.workflows import KefuWorkflow
from engine.clock import FixedClock
from engine.definitions.forms import readonly_fields
from engine.definitions.operators import OperatorContext, operator
from engine.definitions.specs import FORM_PROPERTY, task_title
from engine.errors import KefuError, PermissionDenied, ScriptError, TaskConflict
from engine.kefu import Kefu, LoadedVersion
from engine.messages import attachments, notifications
from engine.people import pickers
from engine.people.roles import Actor, candidates, may_act, offer_for
from engine.persistence import batch
from engine.persistence.models import Case, Person, TaskItem
from engine.persistence.queries import newest_version_id
from engine.records import history
from engine.scripting.sandbox import KefuScriptEngine
from engine.scripting.script_limits import Limits
from engine.timing import deadlines, escalation  # noqa: F401 - escalation registers operators

#: What SpiffWorkflow raises when a process's data does not fit its diagram: its own
#: exceptions, and the Python errors some of its steps let out unwrapped (a multi-instance
#: task whose input collection is missing raises TypeError; a correlation expression's
#: unknown name raises NameError). Each becomes a ScriptError for the person, never a 500.
_ENGINE_FAILURES = (SpiffWorkflowException, TypeError, NameError, KeyError, ValueError,
                    AttributeError, IndexError)
CASE_PREFIXES = {"complaint": "TS", "leave": "QJ", "shift_swap": "HB", "request_report": "BG"}
#: Case columns copied from the case data so that search never opens a workflow.
SEARCH_FIELDS = ("category", "complainant_phone", "department", "title")
#: Case data searched by its words (a complaint's content, a leave's reason, names).
SEARCH_TEXT_FIELDS = ("title", "complainant_name", "content", "reason", "description",
                      "employee_name", "reporter_name")


def start_case(kefu: Kefu, session: Session, process_id: str, actor: Actor,
               data: dict[str, Any] | None = None) -> Case:
    """Open a case on the newest version; with `data`, the actor completes its intake too."""
    version_id = newest_version_id(session, process_id)
    loaded = kefu.version(session, version_id)
    now = kefu.clock.now()
    case = Case(number=f"new-{uuid4().hex}", process_id=process_id,
                process_version_id=version_id, state="running", created_at=now,
                created_by=actor.username, workflow_state="")
    session.add(case)
    session.flush()
    local = now.astimezone(ZoneInfo(kefu.settings.timezone))  # the centre's day, not UTC's
    case.number = f"{CASE_PREFIXES.get(process_id, process_id[:2].upper())}" \
                  f"{local.strftime('%Y%m%d')}{case.id:07d}"
    workflow = KefuWorkflow(loaded.spec, loaded.subprocess_specs,
                            script_engine=_script_engine(kefu, session, case))
    for task in workflow.get_tasks(state=TaskState.READY):
        # started_by: a process drawn without lanes offers its tasks to this person.
        task.data.update(case_number=case.number, process=process_id,
                         started_by=actor.username)
    history.append(session, case, at=now, actor=actor.username, action="started",
                   data={"process": process_id, "version": loaded.version})
    _run(kefu, workflow)
    if data is None:
        _save(kefu, session, case, workflow, loaded, now)
        return case
    ready = workflow.get_tasks(state=TaskState.READY, manual=True)
    if not ready:
        raise KefuError(f"process {process_id!r} has no first task to take the data")
    first = ready[0]
    offer = offer_for(first.task_spec, first.data)
    if not may_act(actor, offer.role, offer.department, offer.candidate_user, None):
        raise PermissionDenied(f"{actor.username} may not do task {task_title(first.task_spec)!r}")
    return _complete(kefu, session, case, workflow, loaded, first, actor, data, ((), ()))


def complete_task(kefu: Kefu, session: Session, task_id: str, actor: Actor,
                  data: dict[str, Any]) -> Case:
    """Validate the form data, complete the task and run the engine to the next wait."""
    # A worker that keeps no workflows live reads the state with the lock; the case's task
    # and deadline rows come in the same round trip, each read after the lock is held.
    case, items, deadline_rows = _lock_with_rows(session, task_id,
                                                 with_state=kefu.live.size == 0)
    item = next((i for i in items if i.id == task_id), None)
    if item is None:
        raise _gone(task_id)
    if not may_act(actor, item.role, item.department, item.candidate_user, item.assignee):
        raise PermissionDenied(f"{actor.username} may not do task {item.title!r}")
    loaded = kefu.version(session, case.process_version_id)
    workflow = _workflow_to_run(kefu, session, case, loaded)
    task = workflow.get_task_from_id(UUID(task_id))
    if task is None or task.state != TaskState.READY:
        raise TaskConflict(f"task {item.title!r} is no longer ready")
    return _complete(kefu, session, case, workflow, loaded, task, actor, data,
                     (items, deadline_rows))


def _complete(kefu: Kefu, session: Session, case: Case, workflow: BpmnWorkflow,
              loaded: LoadedVersion, task: Any, actor: Actor, data: dict[str, Any],
              read: _Rows) -> Case:
    """Complete a ready user task the actor may do, on a workflow with its engine attached;
    `read`: the case's task and deadline rows as read under its lock."""
    schema = loaded.forms[task.task_spec.extensions["properties"][FORM_PROPERTY]]
    hidden = readonly_fields(schema)
    submitted = {k: v for k, v in data.items() if k not in hidden}
    # cleaned of hidden characters (engine.text), its people and shifts checked
    submitted = pickers.checked(session, schema, submitted, actor.username)

    now = kefu.clock.now()
    spec_name = task.task_spec.bpmn_id
    attachments.record(kefu, session, case, schema, submitted, spec_name, actor.username, now)
    apply_submission(task.data, schema, submitted)  # a field left empty is cleared
    task.data[f"{spec_name}_by"] = actor.username
    task.data[f"{spec_name}_at"] = now.isoformat()
    if case.owner is None:  # the first person to complete a task owns the case (C2)
        case.owner = actor.username
        task.data.update(owner=actor.username, owner_staff_no=actor.staff_no,
                         accepted_at=now.isoformat())
    history.append(session, case, at=now, actor=actor.username, action="completed",
                   task_spec=spec_name, task_title=task_title(task.task_spec), data=submitted)
    try:
        with deadlines.engine_clock(kefu.clock):
            task.run()
    except _ENGINE_FAILURES as exc:
        raise _engine_error(exc) from exc
    _run(kefu, workflow)
    _save(kefu, session, case, workflow, loaded, now, read)
    return case


def refresh_timers(kefu: Kefu, session: Session, case: Case, due: datetime) -> None:
    """Let the case's timers that were due by `due` fire and run the engine on; the caller
    (the timer worker) holds the case's row lock, so a person acting at the same time waits.

    SpiffWorkflow judges its timers by `due`, not by the late moment a restarted worker
    gets to them, so timers fire one by one in due order and the ones a fired path starts
    count from when it should have fired."""
    loaded = kefu.version(session, case.process_version_id)
    workflow = _workflow_to_run(kefu, session, case, loaded)
    try:
        # SpiffWorkflow fires a timer only once its time is strictly in the past.
        with deadlines.engine_clock(FixedClock(due + timedelta(microseconds=1))):
            workflow.refresh_timers()
            workflow.do_engine_steps()
    except _ENGINE_FAILURES as exc:
        raise _engine_error(exc) from exc
    _save(kefu, session, case, workflow, loaded, kefu.clock.now())


def catch_event(kefu: Kefu, session: Session, case: Case, event: Any,
                caught: Callable[[BpmnWorkflow], None]) -> bool:
    """Deliver a message or signal (a SpiffWorkflow BpmnEvent) from outside to a case whose
    row lock the caller holds; if it takes it, call `caught` with the workflow (to record
    it and hand over its payload), run the engine on and save. False if the case was not
    waiting for it: nothing is saved then. Used by engine.cases.events."""
    loaded = kefu.version(session, case.process_version_id)
    workflow = _workflow_to_run(kefu, session, case, loaded)
    try:
        with deadlines.engine_clock(kefu.clock):
            if workflow.event_manager.catch(event, internal=False) == 0:
                return False
            caught(workflow)
            workflow.do_engine_steps()
    except _ENGINE_FAILURES as exc:
        raise _engine_error(exc) from exc
    _save(kefu, session, case, workflow, loaded, kefu.clock.now())
    return True


def claim_task(kefu: Kefu, session: Session, task_id: str, actor: Actor) -> TaskItem:
    item, case = _lock_task(session, task_id)
    if item.assignee is not None and item.assignee != actor.username:
        raise TaskConflict(f"task {item.title!r} was already claimed by {item.assignee}")
    if not may_act(actor, item.role, item.department, item.candidate_user, None):
        raise PermissionDenied(f"{actor.username} may not claim task {item.title!r}")
    item.assignee = actor.username
    history.append(session, case, at=kefu.clock.now(), actor=actor.username, action="claimed",
                   task_spec=item.spec_name, task_title=item.title)
    _flush(session)
    return item


def release_task(kefu: Kefu, session: Session, task_id: str, actor: Actor) -> TaskItem:
    item, case = _lock_task(session, task_id)
    if item.assignee != actor.username:
        raise PermissionDenied(f"{actor.username} does not hold task {item.title!r}")
    item.assignee = None
    history.append(session, case, at=kefu.clock.now(), actor=actor.username, action="released",
                   task_spec=item.spec_name, task_title=item.title)
    _flush(session)
    return item


def reassign_task(kefu: Kefu, session: Session, task_id: str, leader: Actor,
                  to: Actor, team: set[str]) -> TaskItem:
    """A leader hands a task of their team to another member who could do it themselves.

    A task the process offers to one named person (the counterpart's consent, S1; the case
    owner's reply, C2; the shift leader on duty, L2) is theirs alone: handing it on would
    let someone else act in their place, so it is refused.
    """
    item, case = _lock_task(session, task_id)
    if item.candidate_user is not None:
        raise PermissionDenied(f"task {item.title!r} is offered by the process to "
                               f"{', '.join(candidates(item.candidate_user))} alone and "
                               "cannot be handed on")
    if item.assignee is not None and item.assignee not in team:
        raise PermissionDenied(f"task {item.title!r} is held by {item.assignee}, who is not "
                               f"in {leader.username}'s team")
    if to.username not in team:
        raise PermissionDenied(f"{to.username} is not in {leader.username}'s team")
    if not may_act(to, item.role, item.department, None, None):
        raise PermissionDenied(f"{to.username} does not hold role {item.role!r}")
    item.assignee = to.username
    history.append(session, case, at=kefu.clock.now(), actor=leader.username,
                   action="reassigned", task_spec=item.spec_name, task_title=item.title,
                   data={"to": to.username})
    notifications.notify(kefu, session, case, notifications.TASK, {"user": to.username},
                         item.title, task_id=item.id)
    _flush(session)
    return item


def _workflow_to_run(kefu: Kefu, session: Session, case: Case,
                     loaded: LoadedVersion) -> BpmnWorkflow:
    """The case's workflow, live if this worker saved it last, with the case's sandboxed
    engine attached before anything runs (a user task's pre- and post-scripts too)."""
    workflow = kefu.live.take(case)
    if workflow is None:
        # Read under the row lock (by the lock itself, or now): a copy loaded earlier in
        # this session may be stale.
        stored = case.workflow_state if inspect(case).info.get(_STATE_LOCKED) else \
            session.scalar(select(Case.workflow_state).where(Case.id == case.id))
        workflow = load_workflow(stored, loaded.spec, loaded.subprocess_specs)
    workflow.script_engine = _script_engine(kefu, session, case)
    return workflow


def load_case_workflow(kefu: Kefu, session: Session, case: Case) -> BpmnWorkflow:
    loaded = kefu.version(session, case.process_version_id)
    return load_workflow(case.workflow_state, loaded.spec, loaded.subprocess_specs)


def case_data(workflow: BpmnWorkflow, where: Frontier | None = None) -> dict[str, Any]:
    """The data as the case stands now: the newest ready or completed task's."""
    ready = (where or frontier(workflow)).ready
    if ready:
        return ready[0].data
    if workflow.last_task is not None:
        return workflow.last_task.data
    return {}


#: Built once, with bound values: building a statement cost more than running it.
_LOCK_CASE_WITH_STATE = (select(Case).join(TaskItem, TaskItem.case_id == Case.id)
                         .where(TaskItem.id == bindparam("task_id")).with_for_update(of=Case)
                         .execution_options(populate_existing=True))
_LOCK_CASE = _LOCK_CASE_WITH_STATE.options(
    defer(Case.workflow_state))  # read only without a live copy
_STATE_LOCKED = "kefu_state_read_with_lock"
_TASK_TABLE = TaskItem.__table__
_CASE_TASK_ROWS = select(_TASK_TABLE).where(_TASK_TABLE.c.case_id == bindparam("case_id"))
_DELETE_TASK = delete(_TASK_TABLE).where(_TASK_TABLE.c.id == bindparam("task_id"))
_MOVE_TASK = update(_TASK_TABLE).where(_TASK_TABLE.c.id == bindparam("task_id")) \
    .values(due_at=bindparam("new_due_at"))
_INSERT_TASKS = insert(_TASK_TABLE)


#: The same lock in Core, with the case's task and deadline rows: one round trip on
#: PostgreSQL (engine.persistence.batch). Each read has its own snapshot, taken after the
#: lock is held, so the rows are the ones the previous holder committed; the rows are
#: found by the task's case, so a task completed meanwhile finds none.
_CASE_COLUMNS = [c for c in Case.__table__.c]
_LOCK_ROW_WITH_STATE = (select(*_CASE_COLUMNS).join(TaskItem, TaskItem.case_id == Case.id)
                        .where(TaskItem.id == bindparam("task_id"))
                        .with_for_update(of=Case.__table__))
_LOCK_ROW = (select(*[c for c in _CASE_COLUMNS if c.key != "workflow_state"])
             .join(TaskItem, TaskItem.case_id == Case.id)
             .where(TaskItem.id == bindparam("task_id")).with_for_update(of=Case.__table__))
_TASKS_CASE = select(_TASK_TABLE.c.case_id).where(_TASK_TABLE.c.id == bindparam("task_id")) \
    .scalar_subquery()
_TASK_ROWS_BY_TASK = select(_TASK_TABLE).where(_TASK_TABLE.c.case_id == _TASKS_CASE)
_DEADLINE_ROWS_BY_TASK = deadlines.case_rows(_TASKS_CASE)
#: The case's task rows and deadline rows, as read under its lock (or none read yet).
_Rows = tuple[Sequence[Any], Sequence[Any]] | None


def _lock_with_rows(session: Session, task_id: str, with_state: bool) -> tuple[
        Case, Sequence[Any], Sequence[Any]]:
    params = {"task_id": task_id}
    found, items, rows = batch.read(
        session, (_LOCK_ROW_WITH_STATE if with_state else _LOCK_ROW, params),
        (_TASK_ROWS_BY_TASK, params), (_DEADLINE_ROWS_BY_TASK, params))
    if not found:
        raise _gone(task_id)
    values = found[0]._asdict()
    case = session.identity_map.get(session.identity_key(Case, values["id"]))
    if case is None:
        case = Case(**values)
        make_transient_to_detached(case)  # as if loaded: persistent once added, unchanged
        session.add(case)
    else:
        # The session's own copy (a page may have loaded it), overwritten as the ORM's
        # populate_existing would; without the state, an earlier copy of it is not trusted
        # (_workflow_to_run reads it again).
        for key, value in values.items():
            set_committed_value(case, key, value)
    inspect(case).info[_STATE_LOCKED] = with_state
    return case, items, rows


def _lock_case(session: Session, task_id: str, with_state: bool = False) -> Case:
    """Lock the task's case row; the second of two simultaneous actors waits here, and
    what it reads after this sees the first's result."""
    case = session.scalar(_LOCK_CASE_WITH_STATE if with_state else _LOCK_CASE,
                          {"task_id": task_id})
    if case is None:
        raise _gone(task_id)
    inspect(case).info[_STATE_LOCKED] = with_state
    return case


def _gone(task_id: str) -> TaskConflict:
    return TaskConflict(f"task {task_id} is no longer open: someone completed it first")


def _lock_task(session: Session, task_id: str) -> tuple[TaskItem, Case]:
    """The task to claim, release or hand on, read after its case's lock."""
    case = _lock_case(session, task_id)
    item = session.get(TaskItem, task_id, options=[lazyload(TaskItem.case)],
                       populate_existing=True)
    if item is None:
        raise _gone(task_id)
    return item, case


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise TaskConflict("the case was changed by someone else at the same time") from exc


def _script_engine(kefu: Kefu, session: Session, case: Case) -> KefuScriptEngine:
    context = OperatorContext(kefu, session, case)
    operators = {name: partial(fn, context) for name, fn in kefu.operators.items()}
    helpers = {
        "now": lambda: kefu.clock.now().isoformat(),
        "add_hours": lambda iso, hours: _shift(iso, timedelta(hours=hours)),
        "add_days": lambda iso, days: _shift(iso, timedelta(days=days)),
        "setting": kefu.settings.number,
        **deadlines.script_helpers(kefu.settings, session, case, kefu.clock),
    }
    return KefuScriptEngine(helpers, operators, script_limits(kefu))


def script_limits(kefu: Kefu) -> Limits:
    settings = kefu.settings
    return Limits(settings.script_timeout_seconds, settings.script_max_size,
                  settings.call_activity_max_depth, settings.script_memory_mb)


@operator("kefu.send_reply", results=lambda params: [
    {"channel": "sms", "sms_id": 1, "segments": 1, "status": "queued"}
    if params.get("channel") != "letter" else {"channel": "letter", "letter_id": 1}])
def send_reply(context: OperatorContext, task: Any, params: dict[str, Any]) -> dict[str, Any]:
    """C7: the reply goes out by SMS or letter, and the case history says which."""
    now = context.kefu.clock.now()
    result = context.kefu.replies.send(context.session, context.case, params["channel"],
                                       params["template"], task.data, now)
    history.append(context.session, context.case, at=now, actor="system",
                   action="reply_sent", task_spec=task.task_spec.bpmn_id, data=result)
    return result


def _shift(iso: str, delta: timedelta) -> str:
    return (datetime.fromisoformat(iso) + delta).isoformat()


def _run(kefu: Kefu, workflow: BpmnWorkflow) -> None:
    """Run engine steps; the caller has attached this case's sandboxed script engine."""
    try:
        with deadlines.engine_clock(kefu.clock):
            workflow.do_engine_steps()
    except _ENGINE_FAILURES as exc:
        raise _engine_error(exc) from exc


def _engine_error(exc: BaseException) -> KefuError:
    """The KefuError a script or operator raised (a rule refusal), else a ScriptError."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KefuError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return ScriptError(f"the process failed at a script or service step: {exc}")


def _save(kefu: Kefu, session: Session, case: Case, workflow: BpmnWorkflow,
          loaded: LoadedVersion, now: datetime, read: _Rows = None) -> None:
    """Store the workflow and project it; `read`: the case's task and deadline rows if the
    caller read them under the case's lock (else they are read here)."""
    where = frontier(workflow)
    data = case_data(workflow, where)
    for name in SEARCH_FIELDS:
        if data.get(name) not in (None, ""):
            setattr(case, name, str(data[name])[:200])
    words = " ".join(str(data[n]) for n in SEARCH_TEXT_FIELDS if data.get(n) not in (None, ""))
    if words and words != case.search_text:
        case.search_text = words[:4000]
    # A ready or waiting task means not completed; only then walk the tree to be sure.
    if not where.ready and not where.waiting and workflow.is_completed() \
            and case.state == "running":
        case.state = "closed"
        case.closed_at = now
        case.retain_until = _years_later(now, kefu.settings.retention_years)
        history.append(session, case, at=now, actor="system", action="closed",
                       data={"retain_until": case.retain_until.isoformat()})
    case.workflow_state = dump_workflow(workflow)
    _write_case(session, case)
    _flush(session)  # what else the step changed through the ORM
    _project_tasks(kefu, session, case, where, loaded, now, read)
    for hook in kefu.save_hooks:
        hook(kefu, session, case, workflow)
    _flush(session)
    if case.state == "running":  # a closed case takes no more steps
        kefu.live.keep_after_commit(session, case, workflow)


def _write_case(session: Session, case: Case) -> None:
    """The case row's changed columns in one Core update, checked against the row version
    it was read at (as the ORM's version counter checks), then marked saved in the ORM so
    that no flush writes them again. Written by engine.persistence.batch: on PostgreSQL
    with the step's other writes and its COMMIT."""
    state = inspect(case)
    # The attributes set since the row was read or last written (SQLAlchemy's own record).
    changed = {key: state.dict[key] for key in state.committed_state}
    if not changed:
        return
    version = case.row_version
    changed["row_version"] = version + 1
    batch.write(session, _case_update(tuple(sorted(changed))),
                {**{f"new_{k}": v for k, v in changed.items()}, "case_id": case.id,
                 "old_version": version},
                one_row=TaskConflict("the case was changed by someone else at the same time"))
    case.row_version = version + 1
    # What a flush does once it has written them (SQLAlchemy has no public call for it).
    state._commit_all(state.dict, session.identity_map)


@lru_cache(maxsize=64)
def _case_update(columns: tuple[str, ...]) -> Any:
    table = Case.__table__
    return (update(table)
            .where(table.c.id == bindparam("case_id"),
                   table.c.row_version == bindparam("old_version"))
            .values({table.c[name]: bindparam(f"new_{name}") for name in columns}))


def _years_later(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def _check_lane_owners(session: Session, task: Any, usernames: Sequence[str]) -> None:
    """A task `lane_owners` offers to no one who works here would wait for ever: refused,
    naming them (SpiffArena lists people by e-mail address; Kefu by username)."""
    known = set(session.scalars(select(Person.username).where(
        Person.username.in_(usernames), Person.active.is_(True))))
    unknown = [u for u in usernames if u not in known]
    if unknown:
        raise KefuError(f"lane_owners[{task.task_spec.lane!r}]: {', '.join(unknown)} 不是在职人员的"
                        f"用户名 / {', '.join(unknown)} is not the username of an active person")


def _project_tasks(kefu: Kefu, session: Session, case: Case, where: Frontier,
                   loaded: LoadedVersion, now: datetime, read: _Rows) -> None:
    """Make `task_item` hold exactly the case's ready user tasks with their due times, and
    `deadline` their pending moments. Core statements (engine.persistence.batch), not ORM
    objects: every step writes these rows, and the ORM's unit of work cost more than the
    statements."""
    ready = {str(t.id): t for t in where.ready_manual}
    if read is None:
        open_items: Sequence[Any] = batch.read(session, (_CASE_TASK_ROWS,
                                                         {"case_id": case.id}))[0]
        deadline_rows = None
    else:
        open_items, deadline_rows = read
    existing = {row.id: row for row in open_items}
    opened = {task_id: existing[task_id].created_at if task_id in existing else now
              for task_id in ready}
    dues = deadlines.project(kefu, session, case, where, opened, now, deadline_rows)
    batch.write(session, _DELETE_TASK, [{"task_id": t} for t in sorted(existing.keys()
                                                                       - ready.keys())])
    added = []
    for task_id, task in ready.items():
        if task_id in existing:
            if existing[task_id].due_at != dues.get(task_id):
                batch.write(session, _MOVE_TASK, {"task_id": task_id,
                                                  "new_due_at": dues.get(task_id)})
            continue
        offer = offer_for(task.task_spec, task.data)
        if offer.lane_owners:
            _check_lane_owners(session, task, offer.lane_owners)
        added.append({
            "id": task_id, "case_id": case.id, "process_id": loaded.process_id,
            "spec_name": task.task_spec.bpmn_id, "title": task_title(task.task_spec),
            "form": task.task_spec.extensions["properties"][FORM_PROPERTY],
            "role": offer.role, "department": offer.department,
            "candidate_user": offer.candidate_user, "assignee": None, "created_at": now,
            "due_at": dues.get(task_id),
        })
    if added:
        batch.write(session, _INSERT_TASKS, added)
        notifications.new_tasks(kefu, session, case, added)
