"""Submitted forms' keys (engine.cases.submissions): which action each form already did."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from engine.persistence.models import Base


class FormSubmission(Base):
    __tablename__ = "form_submission"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    #: Where the action's result is shown (a page of Kefu's), set in the same transaction.
    result: Mapped[str | None] = mapped_column(String(300))
