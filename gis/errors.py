"""The errors of the grid layer (the generic ones are core/errors.py's)."""
from __future__ import annotations

from core.errors import Conflict, InvalidInput, Unknown


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
