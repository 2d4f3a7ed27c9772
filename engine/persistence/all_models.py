"""Imports every module that defines tables, so metadata and migrations see them all."""

from engine.persistence import (  # noqa: F401
    calendar_models,
    deadline_models,
    models,
    notice_models,
    roster_models,
    signin_models,
    submission_models,
    token_models,
)
