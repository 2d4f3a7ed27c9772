"""The deployed processes as people see them: what they may start, which versions exist and
how many cases run on each, and deploying files a process owner uploads.

An upload is checked together with every file of the newest deployed versions, so a process
owner can change one form or one decision table without re-sending the whole set; the usual
all-or-nothing validation (file, line, element) applies to the combination.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.cases.serializer import load_spec
from engine.config import Settings
from engine.definitions.specs import (
    FORM_PROPERTY,
    BuiltProcess,
    build,
    check,
    deploy,
    files_hash,
    task_title,
)
from engine.definitions.timerstarts import start_timer_in
from engine.definitions.versiondiff import Diff, describe, diff, label_warnings
from engine.errors import DeploymentError, NotFound, Problem
from engine.kefu import Kefu
from engine.people.organisation import directory
from engine.people.roles import ANYONE, CANDIDATE_USER, OFFER_DEPARTMENT, OFFER_USERS, Actor
from engine.persistence.models import Case, ProcessVersion
from engine.persistence.queries import newest_version_id

UPLOAD_SUFFIXES = (".bpmn", ".dmn", ".json")


@dataclass(frozen=True)
class FirstTask:
    """The intake step of a process: who may start a case, and with which form."""

    spec_name: str
    title: str
    role: str
    form: str
    #: The process offers the first task to whoever starts the case (`candidateUser`, e.g.
    #: `started_by`: anyone may ask for leave or file a report); else to the lane's role.
    for_starter: bool = False
    #: A department the file names (anyone in it, or the role in it), and people it names.
    department: str | None = None
    users: tuple[str, ...] = ()

    def may_start(self, actor: Actor) -> bool:
        if "auditor" in actor.roles:  # auditors read everything and change nothing (A2)
            return False
        if self.for_starter or actor.username in self.users:
            return True
        if self.users:
            return False
        if self.role == ANYONE:
            return self.department is not None and self.department == actor.department
        return self.role in actor.roles and self.department in (None, actor.department)


@dataclass(frozen=True)
class VersionInfo:
    id: int
    version: int
    content_hash: str
    deployed_at: Any
    deployed_by: str
    running: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class ProcessInfo:
    process_id: str
    name: str
    newest: int
    first_task: FirstTask | None
    versions: tuple[VersionInfo, ...]


def first_user_task(spec: Any) -> Any | None:
    """The first user task reached from the start event (breadth-first), or None."""
    seen: set[str] = set()
    queue = deque([spec.start])
    while queue:
        task_spec = queue.popleft()
        if task_spec.name in seen:
            continue
        seen.add(task_spec.name)
        if isinstance(task_spec, UserTask):
            return task_spec
        queue.extend(task_spec.outputs)
    return None


def _first_task(kefu: Kefu, session: Session, version_id: int) -> FirstTask | None:
    spec = first_user_task(kefu.version(session, version_id).spec)
    if spec is None:
        return None
    properties = spec.extensions.get("properties", {})
    return FirstTask(spec_name=spec.bpmn_id, title=task_title(spec),
                     role=spec.lane or "", form=properties.get(FORM_PROPERTY, ""),
                     for_starter=bool(properties.get(CANDIDATE_USER)),
                     department=properties.get(OFFER_DEPARTMENT),
                     users=tuple(filter(None, properties.get(OFFER_USERS, "").split(","))))


def newest_versions(session: Session) -> list[ProcessVersion]:
    newest = (select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("v"))
              .group_by(ProcessVersion.process_id).subquery())
    return list(session.scalars(select(ProcessVersion).join(
        newest, (ProcessVersion.process_id == newest.c.process_id)
        & (ProcessVersion.version == newest.c.v)).order_by(ProcessVersion.process_id)))


def newest_names(session: Session) -> dict[str, str]:
    """process id -> its newest version's name: the names alone, since a version row
    carries its spec and source files (most of a page's time when read whole). Kept per
    database until a version is deployed: versions are only ever added, each with a
    larger id, so the largest id (one index lookup) says whether the names still hold,
    whichever process or command deployed it. Kept from read-only units only, which see
    committed versions alone (a rolled-back deployment's id may be given again)."""
    stamp = session.scalar(select(func.max(ProcessVersion.id)))
    # The Database this unit of work belongs to (engine.persistence.db).
    key = session.info.get("kefu_database") if session.info.get("kefu_read_only") else None
    kept = _NAMES.get(key) if key is not None else None
    if kept is not None and kept[0] == stamp:
        return dict(kept[1])
    newest = (select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("v"))
              .group_by(ProcessVersion.process_id).subquery())
    names = dict(session.execute(select(ProcessVersion.process_id, ProcessVersion.name).join(
        newest, (ProcessVersion.process_id == newest.c.process_id)
        & (ProcessVersion.version == newest.c.v)).order_by(ProcessVersion.process_id)).all())
    if key is not None:
        _NAMES[key] = (stamp, names)
    return dict(names)


#: Database -> (largest version id, names) for `newest_names`; gone with its Database.
_NAMES: weakref.WeakKeyDictionary[Any, tuple[int | None, dict[str, str]]] = \
    weakref.WeakKeyDictionary()


def newest_version(session: Session, process_id: str) -> ProcessVersion:
    row = session.get(ProcessVersion, newest_version_id(session, process_id))
    assert row is not None  # the id was just read
    return row


def startable(kefu: Kefu, session: Session, actor: Actor) -> list[tuple[ProcessVersion,
                                                                        FirstTask]]:
    """Every deployed process the actor may start (see FirstTask.may_start)."""
    out = []
    for version in newest_versions(session):
        first = _first_task(kefu, session, version.id)
        if first is not None and first.may_start(actor):
            out.append((version, first))
    return out


def first_task_of(kefu: Kefu, session: Session, process_id: str) -> tuple[ProcessVersion,
                                                                        FirstTask]:
    version = newest_version(session, process_id)
    first = _first_task(kefu, session, version.id)
    if first is None:
        raise NotFound(f"process {process_id!r} has no user task to start with")
    return version, first


def processes(kefu: Kefu, session: Session) -> list[ProcessInfo]:
    """Each deployed process with all its versions, newest first, and their running cases."""
    running = dict(session.execute(
        select(Case.process_version_id, func.count()).where(Case.state == "running")
        .group_by(Case.process_version_id)).all())
    rows = session.execute(select(
        ProcessVersion.id, ProcessVersion.process_id, ProcessVersion.version,
        ProcessVersion.name, ProcessVersion.content_hash, ProcessVersion.deployed_at,
        ProcessVersion.deployed_by, ProcessVersion.sources,
    ).order_by(ProcessVersion.process_id, ProcessVersion.version.desc())).all()
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.process_id, []).append(row)
    out = []
    for process_id, versions in grouped.items():
        newest = versions[0]
        out.append(ProcessInfo(
            process_id=process_id, name=newest.name, newest=newest.version,
            first_task=_first_task(kefu, session, newest.id),
            versions=tuple(VersionInfo(
                id=v.id, version=v.version, content_hash=v.content_hash,
                deployed_at=v.deployed_at, deployed_by=v.deployed_by,
                running=running.get(v.id, 0), files=tuple(sorted(v.sources)),
            ) for v in versions)))
    return out


def _combined(session: Session, uploads: Mapping[str, str]) -> tuple[dict[str, str],
                                                                    dict[str, str]]:
    problems = [Problem(file=name or "(no name)", reason="only .bpmn, .dmn and .json files "
                        "can be deployed, by their plain file name")
                for name in uploads
                if not name.endswith(UPLOAD_SUFFIXES) or "/" in name or "\\" in name
                or name.startswith(".")]
    if problems:
        raise DeploymentError(problems)
    process_files: dict[str, str] = {}
    form_files: dict[str, str] = {}
    for version in newest_versions(session):
        for name, text in version.sources.items():
            (form_files if name.endswith(".json") else process_files)[name] = text
    for name, text in uploads.items():
        (form_files if name.endswith(".json") else process_files)[name] = text
    return process_files, form_files


def check_upload(session: Session, uploads: Mapping[str, str],
                 settings: Settings | None = None) -> list[tuple[BuiltProcess, bool]]:
    """Validate uploaded files with the deployed ones; (process, would change) pairs.

    Raises DeploymentError naming each file, line and element that is wrong (the dry run
    with `settings`' helpers included).
    """
    # As deploy judges it: changed unless the newest version has exactly these files.
    built = build(*_combined(session, uploads), settings=settings,
                  organisation=directory(session))
    return [(b, number is not None) for b, number in check(session, built)]


def deploy_upload(session: Session, uploads: Mapping[str, str], actor: str,
                  now: Any, settings: Settings | None = None) -> list[tuple[ProcessVersion,
                                                                            bool]]:
    """Deploy uploaded files with the deployed ones: changed processes get a new version."""
    return deploy(session, build(*_combined(session, uploads), settings=settings,
                                 organisation=directory(session)), actor, now)


@dataclass(frozen=True)
class Change:
    """One process an upload would change: the version it becomes, what differs from the
    running version, and how many cases stay on the versions before it."""

    process: BuiltProcess
    version: int
    diff: Diff
    staying: int
    #: Timers whose label says another time than their value (Chinese / English), and
    #: what the deploy check's dry run found that might go wrong.
    warnings: tuple[str | Problem, ...] = ()


def changes(session: Session, uploads: Mapping[str, str],
            settings: Settings | None = None) -> list[Change]:
    """check_upload's changed processes, each with its diff against the newest version and
    the warnings of its timers' labels and of its dry run (with `settings`' helpers)."""
    out = []
    for built, changed in check_upload(session, uploads, settings):
        if not changed:
            continue
        newest = session.scalar(select(ProcessVersion).where(
            ProcessVersion.process_id == built.process_id)
            .order_by(ProcessVersion.version.desc()).limit(1))
        old = describe(newest.spec_json, newest.sources) if newest is not None else set()
        staying = session.scalar(select(func.count()).select_from(Case).where(
            Case.process_id == built.process_id, Case.state == "running")) or 0
        out.append(Change(built, (newest.version if newest else 0) + 1,
                          diff(old, describe(built.spec_json, built.sources)), staying,
                          (*label_warnings(built.spec_json), *built.warnings)))
    return out


def version_row(session: Session, process_id: str, version: int) -> ProcessVersion:
    row = session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id,
                                                      ProcessVersion.version == version))
    if row is None:
        raise NotFound(f"process {process_id!r} has no version {version}")
    return row


def roll_back(session: Session, process_id: str, version: int, actor: str,
              now: Any) -> ProcessVersion:
    """Deploy an earlier version again as the newest, exactly as it ran (its stored spec,
    not a re-parse): new cases start on it, running ones stay where they are."""
    row = version_row(session, process_id, version)
    built = BuiltProcess(process_id=row.process_id, name=row.name, spec_json=row.spec_json,
                         sources=dict(row.sources), content_hash=files_hash(row.sources),
                         start_timer=start_timer_in(load_spec(row.spec_json)[0]))
    [(deployed, created)] = deploy(session, [built], actor, now)
    if not created:
        raise DeploymentError([Problem(file=process_id, reason=(
            f"第 {version} 版与正在运行的最新版相同，无需回滚 / version {version} is the same "
            "as the newest version: nothing to roll back"))])
    return deployed
