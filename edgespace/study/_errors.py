"""Errors of the search package."""

from __future__ import annotations

from edgespace._errors import EdgespaceError

__all__ = ["SearchError"]


class SearchError(EdgespaceError, ValueError):
    """A search was given a bad space, objective, constraint, sampler or storage, or a stored
    study does not match the search asked for."""
