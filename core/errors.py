"""The errors every layer shares: small classes with no HTTP in them; the web layer maps them to status codes.
The packages' own errors (gis/errors.py, events/errors.py, …) derive from these."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can cause; its message is meant for people."""


class InvalidInput(DomainError):
    """The input is malformed or refers to something that does not exist."""


class Unknown(InvalidInput):
    """The input names something that does not exist here (a code, an id, a day of the calendar)."""


class Inconsistent(InvalidInput):
    """Fields each valid on its own that do not fit together (until before since, a year and its days)."""


class NotFound(DomainError):
    """The thing asked for does not exist."""


class Conflict(DomainError):
    """The request clashes with the current state."""


class Forbidden(DomainError):
    """The actor's role or scope does not allow this."""
