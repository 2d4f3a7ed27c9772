"""Sign-in attempts and web sessions (engine.people.signin): in the database, so every worker
process sees the same lockouts and a session ended in one is ended in all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.persistence.models import Base, Person


class LoginAttempt(Base):
    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    #: As typed (trimmed, at most 60 characters): failures for unknown names count too.
    username: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(64))
    #: ok | wrong (password or name) | locked (refused unchecked while locked out)
    outcome: Mapped[str] = mapped_column(String(20))


class WebSession(Base):
    """A signed-in browser; the cookie carries only `id`."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    address: Mapped[str] = mapped_column(String(64))
    #: Loaded with the session by `engine.people.signin.live_session` (every page asks).
    person: Mapped[Person] = relationship(lazy="raise_on_sql", viewonly=True)
