"""Domain errors: small classes with no HTTP in them; the web layer maps them to status codes."""
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


class UnknownCRS(Unknown):
    """A coordinate reference system that cannot be used."""


class OutsideDistrict(InvalidInput):
    """A point that no grid of the active release covers."""


class NoActiveRelease(Conflict):
    """No grid release is active, so nothing can be located."""


class GridFileError(InvalidInput):
    """A grid or zone file that cannot be read or lacks a field."""


class GridValidationError(InvalidInput):
    """A layer that fails validation; `problems` lists every finding."""

    def __init__(self, summary: str, problems: list) -> None:
        self.problems = problems
        lines = [summary] + [f"  - {p.message}" for p in problems[:50]]
        if len(problems) > 50:
            lines.append(f"  … and {len(problems) - 50} more")
        super().__init__("\n".join(lines))


class Forbidden(DomainError):
    """The actor's role or scope does not allow this."""
