"""Web fixtures in the manner of Flask's tutorial: `app`, `client`, and `auth` to log in.

The app runs on the same Kefu (database, frozen clock, deployed processes) as the engine
tests. Only the people a test logs in as get a password hash (hashing is slow): they all
share one hash of PASSWORD, made once per run.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Kefu, hash_password
from engine.people import signin
from engine.persistence.models import Person
from web import create_app

PASSWORD = "kefu123"
_HASH: list[str] = []


def set_password(kefu: Kefu, *usernames: str) -> None:
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    with kefu.session() as s:
        for person in s.scalars(select(Person).where(Person.username.in_(usernames))):
            person.password_hash = _HASH[0]


@pytest.fixture
def app(deployed: Kefu) -> Flask:
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, kefu=deployed)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Auth:
    """Log in through the real form (password check included) or, for the role matrix,
    straight into the session."""

    def __init__(self, client: FlaskClient, kefu: Kefu) -> None:
        self.client = client
        self.kefu = kefu

    def csrf(self) -> str:
        with self.client.session_transaction() as session:
            if "csrf" not in session:
                session["csrf"] = "test-csrf-token"
            return session["csrf"]

    def login(self, username: str, password: str = PASSWORD) -> Any:
        set_password(self.kefu, username)
        self.client.get("/login")
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": self.csrf()})

    def as_user(self, username: str) -> None:
        """Be `username` without the (slow) password check: for tests about other things."""
        with self.kefu.session() as s:
            person = s.scalars(select(Person).where(Person.username == username)).one()
            sid = signin.open_session(s, person, "127.0.0.1", self.kefu.clock.now())
        with self.client.session_transaction() as session:
            session.clear()
            session["sid"] = sid
            session["csrf"] = "test-csrf-token"
            session.permanent = True

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf()}, **kwargs)

    def logout(self) -> Any:
        return self.post("/logout")


@pytest.fixture
def auth(client: FlaskClient, deployed: Kefu) -> Auth:
    return Auth(client, deployed)


def text_of(response: Any) -> str:
    """The page as a person reads it: tags removed, whitespace collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def form(data: dict[str, Any]) -> dict[str, str]:
    """Engine-shaped data as a browser would post it (yes/no as true/false, lists by line)."""
    def one(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return str(value)
    return {key: one(value) for key, value in data.items()}


def reply_digest(html: str) -> str | None:
    """The digest of the reply a reply step's preview shows, if it shows one."""
    found = re.search(r'name="reply_digest" value="([0-9a-f]+)"', html)
    return found.group(1) if found else None


def submit_task(auth: Auth, task_id: str, data: dict[str, Any]) -> Any:
    """Complete a task as a person does: a reply step (C7) shows what would be sent, and
    is sent when the person confirms that text."""
    response = auth.post(f"/tasks/{task_id}", form(data))
    digest = reply_digest(response.get_data(as_text=True)) if response.status_code == 200 \
        else None
    if digest is None:
        return response
    return auth.post(f"/tasks/{task_id}", {**form(data), "reply_digest": digest})
