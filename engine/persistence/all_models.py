"""Imports every module that defines tables, so metadata and migrations see them all."""

from engine.persistence import models  # noqa: F401
