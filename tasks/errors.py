"""Exceptions raised by the numerical code (no dependencies, so every module may import them)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ViewsInfeasible", "ScenarioFileError"]


class ViewsInfeasible(ValueError):
    """The views admit no probability vector on the prior's support.

    Attributes
    ----------
    views : list[str]
        Names of the offending rows: the rows that individually cannot be met when
        there are such rows, otherwise the rows involved in the conflict found by the
        LP certificate (best effort; all rows when nothing narrower is known).
    """

    def __init__(self, message: str, views: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.views: list[str] = list(views)


class ScenarioFileError(ValueError):
    """A user scenario file cannot be used.

    Attributes
    ----------
    field : str
        The setting the problem concerns: ``"source"`` (the file, its columns or values) or
        ``"probability_column"``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
