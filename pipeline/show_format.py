"""Formatting helpers shared by the terminal and report views of a finished run's book
(:mod:`pipeline.show_book`, :mod:`pipeline.show_moves`): numbers as short strings, and lookups in
the run mapping of :func:`pipeline.read_run` (tables, the manifest's config, view-set order)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["is_nan", "pct", "nonneg_zero", "money", "num", "table_of", "config_of", "view_order", "driver_kinds"]


def is_nan(x: Any) -> bool:
    try:
        return x is None or bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def pct(x: Any, digits: int = 2) -> str:
    return "-" if is_nan(x) else nonneg_zero(f"{100.0 * float(x):.{digits}f}") + "%"


def nonneg_zero(txt: str) -> str:
    """``-0.00`` / ``+0bp`` -> ``0.00`` / ``0bp`` (a value that rounds to zero has no sign)."""
    return txt[1:] if txt[:1] in "-+" and not txt.strip("-+0.%bp") else txt


def money(x: Any) -> str:
    """Currency amount with thousands separators, no decimals (``-1,234,567``); NaN -> ``-``."""
    return "-" if is_nan(x) else f"{float(x):,.0f}"


def num(x: Any, digits: int = 4) -> str:
    return "-" if is_nan(x) else nonneg_zero(f"{float(x):.{digits}f}")


def table_of(run: Mapping[str, Any], name: str) -> pd.DataFrame | None:
    df = run.get(name)
    return df if isinstance(df, pd.DataFrame) else None


def config_of(run: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((run.get("manifest") or {}).get("config") or {})


def view_order(run: Mapping[str, Any], names: list[str]) -> list[str]:
    """``names`` in run order: prior first, then the views table's order, then the rest."""
    views = table_of(run, "views")
    known = [str(v) for v in views["view_set"]] if views is not None and "view_set" in views else []
    order = ["prior"] + [v for v in known if v != "prior"]
    return [v for v in order if v in names] + [v for v in dict.fromkeys(names) if v not in order]


def driver_kinds(run: Mapping[str, Any]) -> dict[str, str]:
    drivers = ((config_of(run).get("scenarios") or {}).get("drivers") or [])
    return {str(d.get("name")): str(d.get("kind", "spot")) for d in drivers if isinstance(d, dict)}
