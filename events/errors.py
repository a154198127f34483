"""Errors of the events package."""
from __future__ import annotations

from core.errors import InvalidInput, NotFound, Unknown


class UnknownCategory(Unknown):
    """A category code that is not in the category tree."""


class CaseNotFound(NotFound):
    """No case with that id."""


class CategoryFileError(InvalidInput):
    """A category file that cannot be loaded."""
