"""The roster's tables: dated shifts, who works them, the swap register (换班登记表) and
approved leave.

The rules of leave (L6–L8) and swaps (S2–S7) are questions about this roster, so they
are answered from these rows at the moment a request is made and again when it is
approved; nothing about the roster is kept inside a case's workflow data.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.persistence.models import Base, Person

SHIFT_KINDS = ("day", "night")
#: How a person came to work a shift: rostered, or by a swap (L8: no leave on either).
ORIGINS = ("regular", "swapped", "returned")


class Shift(Base):
    """One dated shift of the centre, e.g. the night shift of 25 November."""

    __tablename__ = "shift"
    __table_args__ = (
        UniqueConstraint("day", "kind"),
        Index("ix_shift_starts", "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10))  # day | night
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    #: S7: a swap must not leave fewer staff than this on duty (leaders not counted).
    min_staff: Mapped[int]
    #: L7, S6: the shift touches an official public holiday (engine.timing.calendar).
    is_public_holiday: Mapped[bool] = mapped_column(default=False)
    holiday_name: Mapped[str | None] = mapped_column(String(60))

    assignments: Mapped[list[ShiftAssignment]] = relationship(
        back_populates="shift", lazy="selectin", cascade="all, delete-orphan")


class ShiftAssignment(Base):
    """A person rostered on a shift, as staff or as its shift leader."""

    __tablename__ = "shift_assignment"
    __table_args__ = (
        UniqueConstraint("shift_id", "person_id"),
        Index("ix_assignment_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shift.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    duty: Mapped[str] = mapped_column(String(20), default="staff")  # staff | leader
    origin: Mapped[str] = mapped_column(String(20), default="regular")
    swap_id: Mapped[int | None] = mapped_column(
        ForeignKey("swap_record.id", ondelete="SET NULL"))
    #: None, or "approved" once a leave covering this shift is approved.
    leave_status: Mapped[str | None] = mapped_column(String(20))
    leave_id: Mapped[int | None] = mapped_column(
        ForeignKey("leave_record.id", ondelete="SET NULL"))

    shift: Mapped[Shift] = relationship(back_populates="assignments", lazy="joined")
    person: Mapped[Person] = relationship(lazy="joined")

    @property
    def on_leave(self) -> bool:
        return self.leave_status == "approved"


class SwapRecord(Base):
    """换班登记表 (S1): one approved swap, who approved it and both parties' handover (S5)."""

    __tablename__ = "swap_record"
    __table_args__ = (
        Index("ix_swap_requester_month", "requester_id", "month"),
        Index("ix_swap_counterpart_month", "counterpart_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"), index=True)
    case_number: Mapped[str | None] = mapped_column(String(40))
    #: S2: "YYYY-MM" of the requester's shift; a swap counts once in that month for both.
    month: Mapped[str] = mapped_column(String(7))
    requester_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    counterpart_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    requester_shift_id: Mapped[int] = mapped_column(ForeignKey("shift.id"))
    counterpart_shift_id: Mapped[int] = mapped_column(ForeignKey("shift.id"))
    approved_at: Mapped[datetime]
    approved_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    requester_handover: Mapped[str | None] = mapped_column(Text)
    requester_handover_at: Mapped[datetime | None]
    counterpart_handover: Mapped[str | None] = mapped_column(Text)
    counterpart_handover_at: Mapped[datetime | None]


class LeaveRecord(Base):
    """An approved leave, as the roster and attendance see it."""

    __tablename__ = "leave_record"
    __table_args__ = (Index("ix_leave_person_start", "person_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"), index=True)
    case_number: Mapped[str | None] = mapped_column(String(40))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    kind: Mapped[str] = mapped_column(String(30))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    days: Mapped[float] = mapped_column(Float)
    requested_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(60))
    approved_at: Mapped[datetime]
    approved_by: Mapped[str] = mapped_column(String(200))
    #: L1: asked later than the notice period; valid because a manager approved it.
    late: Mapped[bool] = mapped_column(default=False)
    emergency: Mapped[bool] = mapped_column(default=False)
    #: L5: a medical certificate is owed by `certificate_due`.
    certificate_required: Mapped[bool] = mapped_column(default=False)
    certificate_due: Mapped[datetime | None]
    certificate_received_at: Mapped[datetime | None]


class RosterRequest(Base):
    """A leave or swap case's claim on one person's shift while the case runs: a second
    request for the same person and shift is refused while the first is pending."""

    __tablename__ = "roster_request"
    __table_args__ = (Index("ix_roster_request_person_shift", "person_id", "shift_id"),
                      Index("ix_roster_request_case", "case_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # leave | swap
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    shift_id: Mapped[int] = mapped_column(ForeignKey("shift.id", ondelete="CASCADE"))
