"""The calendar of a history: its date/index column and the period of its rows.

Rows of a history are observations one *period* apart. A period is given as periods per year:
the names ``daily`` (252 business days), ``weekly`` (52), ``monthly`` (12), ``quarterly`` (4),
``semiannual`` (2) and ``annual`` (1), or any number (365 for a calendar-day series such as
crypto). Without a stated frequency it is inferred from the dates: the median spacing of
consecutive dates picks the period (1 day: daily, 252 a year, or 365 a year when more than 15 %
of the dates fall on weekends; 5-9 days weekly; 26-33 monthly; 85-95 quarterly; 178-188
semiannual; 360-370 annual).

A horizon of H years spans ``k = H * periods_per_year`` rows; :func:`horizon_periods` accepts it
when k is a whole number >= 1 within 0.02 of a period (``horizon: 0.0833`` is one month) and
otherwise says which horizons would be whole numbers. A date/index column parses to a
:class:`pandas.DatetimeIndex` (ISO or other ``pandas.to_datetime`` strings, datetime values,
or ``yyyymmdd`` integers) or, for other numbers, to an ordinal index (it orders the rows but
says nothing about their period).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "FREQUENCIES",
    "periods_per_year",
    "describe_frequency",
    "infer_periods_per_year",
    "horizon_periods",
    "parse_dates",
    "format_rows",
]

#: periods per year of the named frequencies
FREQUENCIES: dict[str, float] = {"daily": 252.0, "weekly": 52.0, "monthly": 12.0, "quarterly": 4.0,
                                 "semiannual": 2.0, "annual": 1.0}

# (lowest, highest median spacing in days, periods per year; None = daily, decided by weekends)
_SPACINGS: tuple[tuple[float, float, float | None], ...] = (
    (0.9, 1.5, None), (5.0, 9.0, 52.0), (26.0, 33.0, 12.0), (85.0, 95.0, 4.0), (178.0, 188.0, 2.0),
    (360.0, 370.0, 1.0))
_WEEKEND_SHARE = 0.15  # daily dates with more weekend days than this are calendar days (365 a year)
_TOLERANCE = 0.02  # periods a horizon may miss a whole number of periods by


def periods_per_year(frequency: str | float) -> float:
    """Periods per year of a ``frequency``: a name of :data:`FREQUENCIES` or a number > 0."""
    if isinstance(frequency, str):
        key = frequency.strip().lower()
        if key in FREQUENCIES:
            return FREQUENCIES[key]
        raise ValueError(f"unknown frequency {frequency!r}; expected one of {', '.join(FREQUENCIES)} "
                         "or the number of periods per year (e.g. 365)")
    f = float(frequency)
    if not (math.isfinite(f) and f > 0):
        raise ValueError(f"frequency must be a number of periods per year > 0, got {frequency!r}")
    return f


def describe_frequency(per_year: float) -> str:
    """``"daily"`` for 252 a year, ``"365-a-year"`` for an unnamed frequency."""
    for name, f in FREQUENCIES.items():
        if f == per_year:
            return name
    return f"{per_year:g}-a-year"


def infer_periods_per_year(dates: pd.DatetimeIndex) -> tuple[float | None, str]:
    """Periods per year of sorted, distinct ``dates`` from their median spacing.

    Returns
    -------
    (periods per year, or None when the spacing matches no frequency; what was seen, e.g.
    ``"median spacing 1 day, no weekends"``).
    """
    if len(dates) < 3:
        return None, f"only {len(dates)} dates"
    gaps = np.asarray((dates[1:] - dates[:-1]) / pd.Timedelta(days=1), dtype=float)
    median = float(np.median(gaps))
    seen = f"median spacing {median:g} day{'s' if median != 1 else ''}"
    for lo, hi, per_year in _SPACINGS:
        if lo <= median <= hi:
            if per_year is None:
                weekend = float(np.mean(np.asarray(dates.day_of_week) >= 5))
                per_year = 365.0 if weekend > _WEEKEND_SHARE else 252.0
                seen += f", {weekend:.0%} on weekends" if weekend else ", no weekends"
            return per_year, seen
    return None, seen


def horizon_periods(horizon: float, per_year: float, tolerance: float = _TOLERANCE) -> int:
    """Rows of ``per_year`` data that one horizon of ``horizon`` years spans, a whole number >= 1.

    Raises
    ------
    ValueError
        When ``horizon * per_year`` is below one period or not within ``tolerance`` of a whole
        number; the message names the horizons that would fit.
    """
    k = float(horizon) * float(per_year)
    n = round(k)
    if n >= 1 and abs(k - n) <= tolerance:
        return int(n)
    name = describe_frequency(per_year)
    if k < 1:
        raise ValueError(f"horizon {horizon:g} years is {k:.3g} of one {name} period of the data: a horizon "
                         f"cannot be shorter than the rows' period; use horizon: {1 / per_year:.6g} (one period) "
                         "or more, or data of a higher frequency")
    lo = max(1, math.floor(k))
    raise ValueError(f"horizon {horizon:g} years is {k:.4g} {name} periods of the data, not a whole number; use "
                     f"horizon: {lo / per_year:.6g} ({lo} periods) or {(lo + 1) / per_year:.6g} ({lo + 1})")


def format_rows(rows: Sequence[int] | np.ndarray, values: Sequence[object] | None = None, limit: int = 8) -> str:
    """``"rows 2, 5 ('abc', 'x')"`` for 1-based ``rows`` (the first ``limit`` of them, then a count)."""
    rows = [int(r) for r in rows]
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    text = f"row{'s' if len(rows) > 1 else ''} {shown}{more}"
    if values is not None:
        text += " (" + ", ".join(repr(v) if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v)
                                 for v in list(values)[:limit]) + (", ..." if more else "") + ")"
    return text


def _yyyymmdd(values: pd.Series) -> pd.DatetimeIndex | None:
    """Dates of an integer column written as ``yyyymmdd`` (e.g. 20240102), else None."""
    if not pd.api.types.is_integer_dtype(values):
        return None
    v = values.to_numpy()
    if v.size == 0 or v.min() < 1900_01_01 or v.max() > 2199_12_31:
        return None
    parsed = pd.to_datetime(pd.Series(v.astype(str)), format="%Y%m%d", errors="coerce")
    return None if parsed.isna().any() else pd.DatetimeIndex(parsed)


def parse_dates(values: pd.Series, name: str) -> pd.Index:
    """The date/index column ``name`` as dates (:class:`pandas.DatetimeIndex`) or, for other
    numbers, an ordinal index.

    Raises
    ------
    ValueError
        Listing every empty or unparseable cell with its 1-based row number.
    """
    values = values.reset_index(drop=True)
    missing = values.isna().to_numpy()
    if missing.any():
        raise ValueError(f"date column {name!r} is empty at {format_rows(np.flatnonzero(missing) + 1)}")
    if pd.api.types.is_datetime64_any_dtype(values):
        idx = pd.DatetimeIndex(values)
        return idx.tz_convert(None) if idx.tz is not None else idx
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        dates = _yyyymmdd(values)
        if dates is not None:
            return dates
        x = values.to_numpy(dtype=float)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"index column {name!r} has NaN/inf at {format_rows(np.flatnonzero(~np.isfinite(x)) + 1)}")
        return pd.Index(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it parses element by element
        parsed = pd.to_datetime(values.astype(str), errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"date column {name!r} is not a date at {format_rows(rows + 1, values[rows].astype(str))}")
    idx = pd.DatetimeIndex(parsed)
    return idx.tz_convert(None) if idx.tz is not None else idx
