"""Errors of the study package (defined with the others in :mod:`edgespace._errors`)."""

from __future__ import annotations

from edgespace._errors import SearchError

__all__ = ["SearchError"]
