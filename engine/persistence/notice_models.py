"""The notification outbox and the attachments of cases: rows that belong to one case and
are purged with it (engine.records.retention)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.persistence.models import Base

#: Room for the usernames a robot message names and @-mentions (about 100 of them).
RECIPIENTS_LENGTH = 1000


class Notification(Base):
    """One message to one person on one channel: written in the step's transaction, sent
    after it commits by engine.messages.notifications.deliver_due, retried with backoff."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_to_unread", "recipient", "channel", "read_at"),
        Index("ix_notification_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    #: A username; for a group robot's message, every username it names, comma-separated.
    recipient: Mapped[str] = mapped_column(String(RECIPIENTS_LENGTH))
    #: task | reminder | overdue | urge | escalation
    kind: Mapped[str] = mapped_column(String(20))
    #: inapp | email | webhook
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(String(36))
    #: pending (to send or retry) | sent | failed (gave up; an administrator sees it)
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]


class NoticePreference(Base):
    """A person's choice for one kind of notice on one channel, where it differs from the
    centre's setting (engine.messages.notifications.preferences): no row, the default."""

    __tablename__ = "notice_preference"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"),
                                           primary_key=True)
    #: task | reminder | overdue | urge | escalation
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: email | webhook (in-app is always on)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    enabled: Mapped[bool]


class Attachment(Base):
    """A file uploaded in a step's form; its content lives outside the database, named by
    its SHA-256 (engine.messages.attachments), which the step's history record also holds."""

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_sha256", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int]
    task_spec: Mapped[str | None] = mapped_column(String(120))
    uploaded_by: Mapped[str] = mapped_column(String(60))
    uploaded_at: Mapped[datetime]
