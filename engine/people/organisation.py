"""The organisation file: departments, people, their roles and staff numbers.

It is data a centre maintains (YAML), loaded idempotently: loading the same file twice
changes nothing, and a bad entry is refused naming the entry and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import KefuError, NotFound
from engine.people.passwords import hash_password
from engine.people.roles import KNOWN_ROLES, Actor
from engine.persistence.models import Department, Person, PersonRole
from engine.text import clean

DEMO_FILE = Path(__file__).resolve().parent.parent / "demo" / "organisation.yaml"
_REQUIRED = ("username", "name", "staff_no", "roles")


def load_organisation(session: Session, path: Path, *, with_passwords: bool = True) -> int:
    """Create or update every department and person in the file; returns people loaded.

    Tests pass `with_passwords=False`: hashing is deliberately slow.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise KefuError(f"{path.name}{where}: not valid YAML: {exc}") from exc
    for index, entry in enumerate(doc.get("departments", []), start=1):
        if not isinstance(entry, dict) or not entry.get("code") or not entry.get("name"):
            raise KefuError(f"{path.name}: departments[{index}]: needs code and name")
        session.merge(Department(code=_clean(f"{path.name}: departments[{index}]", "code",
                                             entry["code"]),
                                 name=_clean(f"{path.name}: departments[{index}]", "name",
                                             entry["name"])))
    session.flush()
    people = doc.get("people", [])
    by_username: dict[str, Person] = {}
    for index, entry in enumerate(people, start=1):
        by_username[entry.get("username", f"#{index}")] = _upsert_person(
            session, path.name, index, entry, with_passwords)
    session.flush()
    for entry in people:
        leader = entry.get("shift_leader")
        if leader:
            if leader not in by_username:
                raise KefuError(f"{path.name}: {entry['username']}: shift_leader "
                                f"{leader!r} is not in the file")
            by_username[entry["username"]].shift_leader_id = by_username[leader].id
    session.flush()
    return len(people)


def _upsert_person(session: Session, file: str, index: int, entry: Any,
                   with_passwords: bool) -> Person:
    where = f"{file}: people[{index}]"
    if not isinstance(entry, dict):
        raise KefuError(f"{where}: must be a mapping")
    for key in _REQUIRED:
        if not entry.get(key):
            raise KefuError(f"{where}: field {key!r} is required")
    unknown = set(entry["roles"]) - KNOWN_ROLES
    if unknown:
        raise KefuError(f"{where} ({entry['username']}): field 'roles': unknown role(s) "
                        f"{', '.join(sorted(unknown))}")
    username = _clean(where, "username", entry["username"])
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None:
        person = Person(username=username)
        session.add(person)
    person.name = _clean(where, "name", entry["name"])
    person.staff_no = _clean(where, "staff_no", entry["staff_no"])
    person.department = entry.get("department")
    person.job_type = entry.get("job_type")
    person.skill_level = entry.get("skill_level")
    person.email = entry.get("email") or None
    person.mobile = _mobile(where, entry.get("mobile"))
    if with_passwords and entry.get("password") and not person.password_hash:
        person.password_hash = hash_password(str(entry["password"]))
    wanted = set(entry["roles"])
    person.roles = [r for r in person.roles if r.role in wanted] + [
        PersonRole(role=r) for r in sorted(wanted - person.role_names)]
    return person


def _mobile(where: str, value: Any) -> str | None:
    """A number a robot can @ (`13812345678`, `+86-13812345678`): digits, an optional
    leading + and country code with a dash."""
    if value in (None, ""):
        return None
    number = str(value).strip()
    if not _MOBILE.fullmatch(number):
        raise KefuError(f"{where}: field 'mobile': {number!r} is not a mobile number "
                        "(digits, e.g. 13812345678)")
    return number


_MOBILE = re.compile(r"(\+\d{1,4}-)?\d{5,15}")


def _clean(where: str, key: str, value: Any) -> str:
    """Names shown to everyone: no NUL, no characters that make them display otherwise."""
    try:
        return clean(str(value))
    except ValueError as exc:
        raise KefuError(f"{where}: field {key!r}: {exc}") from None


def actor_for(person: Person) -> Actor:
    return Actor(username=person.username, staff_no=person.staff_no,
                 roles=frozenset(person.role_names), department=person.department)


def find_actor(session: Session, username: str) -> Actor:
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None or not person.active:
        raise NotFound(f"no active person with username {username!r}")
    return actor_for(person)


def team_of(session: Session, leader: Person) -> set[str]:
    """Who a leader may hand tasks to: their shift's people, or their department's."""
    query = select(Person.username).where(Person.shift_leader_id == leader.id)
    team = set(session.scalars(query))
    if leader.department and ({"dept_head", "dept_manager"} & leader.role_names):
        team |= set(session.scalars(select(Person.username)
                                    .where(Person.department == leader.department)))
    return team


@dataclass(frozen=True)
class Directory:
    """The organisation as a process file may name it (issue 14): departments by code or
    name, people by username or staff number. Read once per deployment, so that a file
    naming a department or a person is checked against the centre it is deployed to."""

    #: Department code → name as the organisation file gives it (`计费部 Billing`).
    departments: dict[str, str] = field(default_factory=dict)
    #: Username and staff number → username, active people only.
    people: dict[str, str] = field(default_factory=dict)

    def department(self, name: str) -> str | None:
        """The code of the department `name` names: its code, its name, or the name's
        Chinese or English part (`计费部`, `Billing`), case-insensitive."""
        wanted = name.strip().casefold()
        for code, full in self.departments.items():
            if wanted in {code.casefold(), full.casefold(), *(p.casefold() for p in full.split())}:
                return code
        return None

    def person(self, name: str) -> str | None:
        return self.people.get(name.strip())


def directory(session: Session) -> Directory:
    departments = {d.code: d.name for d in session.scalars(select(Department))}
    people: dict[str, str] = {}
    for person in session.scalars(select(Person).where(Person.active.is_(True))):
        people[person.staff_no] = person.username
    for username in list(people.values()):
        people[username] = username  # a username wins over a staff number spelt the same
    return Directory(departments, people)
