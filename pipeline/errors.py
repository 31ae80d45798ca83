"""Errors of the orchestration layer (no dependencies, so every pipeline module may raise them)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["ConfigError", "did_you_mean"]


class ConfigError(ValueError):
    """A configuration problem, with the key path where it was found (``instruments[3].strike``)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to a misspelt ``word`` (``strke`` -> ``strike``), or None if none is close.

    Parameters
    ----------
    word : the unknown name as written.
    choices : the names that are known at that place.

    Returns
    -------
    The best match with a similarity ratio of at least 0.6 (``difflib``), else None.
    """
    match = difflib.get_close_matches(word, [c for c in choices if c != word], n=1, cutoff=0.6)
    return match[0] if match else None
