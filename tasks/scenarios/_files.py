"""User scenario files (Parquet or CSV): the one loader, for the pipeline and for notebooks.

A file holds one numeric column per risk driver and optionally a probability column and a
date/index column. Driver columns hold ``"simple"`` or ``"log"`` returns, or ``"prices"`` (levels;
the log-returns between consecutive rows are used). The rows' period is ``frequency`` (see
:mod:`tasks.scenarios._calendar`) or inferred from the dates; a horizon spanning k > 1 periods
sums k consecutive log-returns into one non-overlapping scenario (the most recent rows kept).
Without a frequency or dates each row is one return over the horizon.

Nothing is unpickled: Parquet is read with pyarrow, CSV with pandas. Every problem raises
:class:`tasks.errors.ScenarioFileError`, whose ``field`` says which setting it concerns
(``"source"``, ``"returns"``, ``"probability_column"``, ``"date_column"``, ``"frequency"`` or
``"horizon"``) so a caller can point at its own key (the pipeline adds ``scenarios.``). Bad cells
are listed for every column at once, with 1-based row numbers (row 1 = the first data row).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from tasks.errors import ScenarioFileError
from tasks.scenarios._calendar import (
    describe_frequency,
    format_rows,
    horizon_periods,
    infer_periods_per_year,
    parse_dates,
    periods_per_year,
)
from tasks.scenarios._drivers import DriverScenarios
from tasks.scenarios._history import (
    Prior,
    ReturnKind,
    aggregate_periods,
    frame_values,
    price_log_returns,
    prior_probabilities,
)

__all__ = ["read_scenario_file", "scenario_file_columns", "load_scenario_file", "load_history_file", "HistoryFile",
           "MIN_AGGREGATED_SCENARIOS"]

_SUFFIXES = (".parquet", ".csv")
#: fewest non-overlapping horizon windows a history aggregated to the horizon may leave
MIN_AGGREGATED_SCENARIOS = 10


def _check_path(path: Path) -> None:
    if not path.is_file():
        raise ScenarioFileError("source", f"file not found: {path}")
    if path.suffix.lower() not in _SUFFIXES:
        raise ScenarioFileError("source", f"unsupported file type {path.suffix!r} (use .parquet or .csv)")


def scenario_file_columns(path: str | Path) -> list[str]:
    """Column names of a scenario file, reading its header only (Parquet schema / CSV first line)."""
    path = Path(path)
    _check_path(path)
    try:
        if path.suffix.lower() == ".parquet":
            return [str(c) for c in pq.read_schema(path).names if not str(c).startswith("__index_level_")]
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except Exception as exc:  # unreadable / corrupt file
        raise ScenarioFileError("source", f"cannot read {path.name}: {exc}") from None


def _read_frame(path: Path) -> pd.DataFrame:
    """The file as stored: every Parquet column (a named pandas index included, as a column; an
    unnamed one dropped, as :func:`scenario_file_columns` does), or the CSV."""
    try:
        if path.suffix.lower() == ".parquet":
            df = pq.read_table(path).to_pandas(ignore_metadata=True)
            return df[[c for c in df.columns if not str(c).startswith("__index_level_")]]
        return pd.read_csv(path)
    except Exception as exc:  # unreadable / corrupt file
        raise ScenarioFileError("source", f"cannot read {path.name}: {exc}") from None


def _looks_like_dates(values: pd.Series) -> bool:
    """True when no cell of a text column is a number and every one is a date."""
    head = values.dropna().astype(str).head(50)
    if head.empty or pd.to_numeric(head, errors="coerce").notna().any():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it parses element by element
        try:
            return bool(pd.to_datetime(head, errors="coerce").notna().all())
        except (ValueError, TypeError, OverflowError):
            return False


def _cell_problem(name: str, values: pd.Series) -> str | None:
    """What is wrong with the cells of one numeric column (1-based rows), or None."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        x = values.to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(x))
        return None if bad.size == 0 else f"column {name!r} has {bad.size} NaN/inf values at {format_rows(bad + 1)}"
    if pd.api.types.is_datetime64_any_dtype(values) or _looks_like_dates(values):
        return f"column {name!r} is not numeric: it holds dates (set scenarios.date_column: {name})"
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    text = np.flatnonzero(np.isnan(num) & values.notna().to_numpy())
    if text.size == 0 and pd.api.types.is_bool_dtype(values):
        return f"column {name!r} is not numeric: it holds true/false values"
    parts = [f"column {name!r} is not numeric at {format_rows(text + 1, values.iloc[text].astype(str))}"]
    blank = np.flatnonzero(values.isna().to_numpy() | np.isinf(num))
    if blank.size:
        parts.append(f"has {blank.size} NaN/inf values at {format_rows(blank + 1)}")
    return ", ".join(parts)


def _sorted_by(df: pd.DataFrame, column: str, file: str) -> pd.DataFrame:
    """``df`` indexed by its parsed date/index ``column``, rows sorted by it; duplicates refused."""
    try:
        idx = parse_dates(df[column], column)
    except ValueError as exc:
        raise ScenarioFileError("date_column", f"{file}: {exc}") from None
    dup = idx.duplicated(keep=False)
    if dup.any():
        groups = pd.Series(np.arange(1, len(idx) + 1)[dup]).groupby(np.asarray(idx[dup])).agg(list)
        shown = "; ".join(f"{_label(v)} at {format_rows(r)}" for v, r in list(groups.items())[:5])
        raise ScenarioFileError("date_column", f"{file}: column {column!r} has duplicate values, one row each is "
                                               f"allowed: {shown}{'; ...' if len(groups) > 5 else ''}")
    order = np.argsort(np.asarray(idx), kind="stable")
    out = df.drop(columns=[column]).iloc[order]
    out.index = idx[order]
    out.index.name = column
    return out


def _label(value: object) -> str:
    """A date as ``2024-01-02``, another index value as is."""
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return f"{pd.Timestamp(value):%Y-%m-%d}"
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def read_scenario_file(path: str | Path, date_column: str | None = None) -> pd.DataFrame:
    """The whole file as a DataFrame (rows = observations), checked.

    Every column but ``date_column`` must be numeric and finite: all bad cells of all columns are
    reported at once, with 1-based row numbers. With ``date_column`` the rows are sorted by it
    (dates, ``yyyymmdd`` integers or other numbers; duplicates refused) and it becomes the index.
    """
    path = Path(path)
    _check_path(path)
    df = _read_frame(path)
    if df.shape[0] == 0:
        raise ScenarioFileError("source", f"{path.name} has no rows")
    if date_column is not None and date_column not in df.columns:
        raise ScenarioFileError("date_column", f"column {date_column!r} not in {path.name} "
                                               f"(columns: {', '.join(map(str, df.columns))})")
    problems = [p for c in df.columns if c != date_column and (p := _cell_problem(str(c), df[c])) is not None]
    if problems:
        raise ScenarioFileError("source", f"bad cells in {path.name} (row 1 = the first data row): "
                                          + "; ".join(problems))
    return df if date_column is None else _sorted_by(df, date_column, path.name)


def _check_probabilities(df: pd.DataFrame, column: str, file: str) -> None:
    if column not in df.columns:
        raise ScenarioFileError("probability_column", f"column {column!r} not in {file}")
    p = df[column].to_numpy(dtype=float)
    if (p < 0).any():
        raise ScenarioFileError("probability_column", f"probabilities must be >= 0 ({_where(df.index, p < 0)})")
    if abs(p.sum() - 1.0) > 1e-6:
        raise ScenarioFileError("probability_column", f"probabilities sum to {p.sum():.8g}, not 1")


def _where(index: pd.Index, mask: np.ndarray) -> str:
    """Where ``mask`` holds: dates, values of an index column, or 1-based rows of a plain file."""
    hits = np.flatnonzero(mask)
    if isinstance(index, pd.RangeIndex):
        return f"at {format_rows(hits + 1)}"
    shown = ", ".join(_label(v) for v in index[hits[:8]])
    return f"at {index.name} {shown}{f' and {hits.size - 8} more' if hits.size > 8 else ''}"


@dataclass(frozen=True)
class HistoryFile:
    """A scenario file read and turned into horizon scenarios.

    Attributes
    ----------
    scenarios : DriverScenarios with (S, D) log-returns over the horizon.
    p : (S,) prior probabilities.
    periods_per_year : the rows' frequency (None: each row is one horizon).
    periods_per_scenario : k, rows summed into one scenario (1: none).
    summary : one line saying what was read and how it became the scenarios.
    """

    scenarios: DriverScenarios
    p: np.ndarray
    periods_per_year: float | None
    periods_per_scenario: int
    summary: str


def _period(df: pd.DataFrame, frequency: str | float | None, file: str) -> tuple[float | None, str]:
    """(periods per year of the rows or None, how it is known)."""
    inferred, seen = (None, "")
    if isinstance(df.index, pd.DatetimeIndex):
        inferred, seen = infer_periods_per_year(df.index)
    if frequency is not None:
        try:
            f = periods_per_year(frequency)
        except ValueError as exc:
            raise ScenarioFileError("frequency", str(exc)) from None
        if inferred is not None and max(f, inferred) / min(f, inferred) >= 1.9:
            raise ScenarioFileError("frequency", f"frequency {frequency} does not match the dates of {file} ({seen}: "
                                                 f"{describe_frequency(inferred)}); use frequency: "
                                                 f"{describe_frequency(inferred)} or remove the key")
        return f, f"{describe_frequency(f)} (scenarios.frequency)"
    if isinstance(df.index, pd.DatetimeIndex):
        if inferred is None:
            raise ScenarioFileError("frequency", f"cannot infer the period of the rows of {file} from the dates "
                                                 f"({seen}): set scenarios.frequency (daily, weekly, monthly, "
                                                 "quarterly, semiannual, annual or periods per year)")
        return inferred, f"{describe_frequency(inferred)} (inferred from the dates: {seen})"
    return None, "each row one return over the horizon"


def _price_like(x: np.ndarray, returns: str, row_years: float) -> str | None:
    """Why the (T,) column ``x`` of ``returns`` looks like price levels or row numbers, or None."""
    if x.size >= 3 and x[0] in (0.0, 1.0) and np.array_equal(x, x[0] + np.arange(x.size)):
        return f"holds the row numbers {x[0]:g}, {x[0] + 1:g}, {x[0] + 2:g}, ... (an index column?)"
    simple = x if returns == "simple" else np.expm1(np.minimum(x, 700.0))
    big = np.abs(simple) > 1.0
    median = float(np.median(np.abs(simple)))
    if (row_years <= 1.0 and big.mean() > 0.5) or median > 10.0:
        return f"{int(big.sum())} of {x.size} rows beyond ±100 %, median |simple return| {median:.4g}"
    return None


def _check_returns(df: pd.DataFrame, columns: list[str], returns: str, row_years: float, file: str) -> None:
    """Refuse simple returns <= -1 and returns that look like prices (listing every column)."""
    if returns == "simple":
        for c in columns:
            x = df[c].to_numpy(dtype=float)
            if (x <= -1.0).any():
                raise ScenarioFileError("source", f"column {c!r} of {file}: simple returns must be > -1 (a loss "
                                                  f"of 100 % or more) {_where(df.index, x <= -1.0)}")
    if returns not in ("simple", "log"):
        return
    found = {c: why for c in columns if (why := _price_like(df[c].to_numpy(dtype=float), returns, row_years))}
    if found:
        detail = "; ".join(f"{c!r} {why}" for c, why in found.items())
        raise ScenarioFileError("returns", f"{file}: column{'s' if len(found) > 1 else ''} "
                                           f"{', '.join(map(repr, found))} look{'' if len(found) > 1 else 's'} "
                                           f"like prices or an index, not {returns} returns ({detail}): set "
                                           "scenarios.returns: prices, or scenarios.date_column for an index column")


def _prices(df: pd.DataFrame, columns: list[str], file: str) -> np.ndarray:
    """(T - 1, D) log-returns of the price columns (every price > 0)."""
    if len(df) < 2:
        raise ScenarioFileError("source", f"{file}: returns: prices needs at least 2 rows")
    for c in columns:
        x = df[c].to_numpy(dtype=float)
        if (x <= 0).any():
            raise ScenarioFileError("source", f"column {c!r} of {file}: prices must be > 0 "
                                              f"{_where(df.index, x <= 0)} (returns? set scenarios.returns: "
                                              "simple or log)")
    return price_log_returns(df[columns].to_numpy(dtype=float))


def _row_probabilities(df: pd.DataFrame, probability_column: str | None, prior: Prior, half_life: float | None,
                       n: int) -> np.ndarray:
    """(n,) probabilities of the last ``n`` rows (all rows, or all but the first for prices)."""
    if probability_column is None:
        return prior_probabilities(n, prior, half_life)
    p = df[probability_column].to_numpy(dtype=float)[len(df) - n:]
    if not p.sum() > 0:
        raise ScenarioFileError("probability_column", "the return rows have zero probability")
    return p / p.sum()


def _span(df: pd.DataFrame) -> str:
    if isinstance(df.index, pd.RangeIndex) or len(df) == 0:
        return ""
    return f" ({df.index.name} {_label(df.index[0])} to {_label(df.index[-1])})"


def _to_horizon(x: np.ndarray, p: np.ndarray, k: int, horizon: float, period: str,
                file: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(S, D) horizon scenarios and (S,) p from (T, D) per-period log-returns: k > 1 periods summed
    over non-overlapping windows (at least :data:`MIN_AGGREGATED_SCENARIOS` of them); the summary's tail."""
    if k == 1:
        return x, p, f" -> {x.shape[0]} scenarios of the {horizon:g}-year horizon"
    n, dropped = divmod(x.shape[0], k)
    if n < MIN_AGGREGATED_SCENARIOS:
        raise ScenarioFileError("horizon", f"a {horizon:g}-year horizon spans {k} periods of the data ({period}): "
                                           f"the {x.shape[0]} returns of {file} hold {n} non-overlapping horizon "
                                           f"window{'s' if n != 1 else ''}, at least {MIN_AGGREGATED_SCENARIOS} "
                                           "are needed; shorten the horizon or give a longer history")
    X, q = aggregate_periods(x, p, k)
    return X, q, (f", summed over non-overlapping windows of {k} periods -> {n} scenarios of the {horizon:g}-year "
                  "horizon" + (f" (the oldest {dropped} returns left out)" if dropped else ""))


def load_history_file(
    path: str | Path,
    horizon: float,
    *,
    returns: ReturnKind | str = "simple",
    probability_column: str | None = None,
    prior: Prior = "uniform",
    half_life: float | None = None,
    date_column: str | None = None,
    frequency: str | float | None = None,
) -> HistoryFile:
    """A scenario file as horizon scenarios (see the module docstring; :func:`load_scenario_file`)."""
    path, file = Path(path), Path(path).name
    if date_column is not None and date_column == probability_column:
        raise ScenarioFileError("date_column", "the date column cannot also be the probability column")
    df = read_scenario_file(path) if date_column is None else read_scenario_file(path, date_column=date_column)
    if probability_column is not None:
        _check_probabilities(df, probability_column, file)
    columns = [str(c) for c in df.columns if c != probability_column]
    if not columns:
        raise ScenarioFileError("source", f"{file} has no driver columns")
    per_year, how = _period(df, frequency, file)
    k = 1
    if per_year is not None:
        try:
            k = horizon_periods(horizon, per_year)
        except ValueError as exc:
            raise ScenarioFileError("horizon", f"{exc} (scenarios.source {file}: {how})") from None
    if returns == "prices":
        x = _prices(df, columns, file)
    else:
        _check_returns(df, columns, str(returns), horizon / k, file)
        x = frame_values(df, columns, returns)[1]  # type: ignore[arg-type]
    p = _row_probabilities(df, probability_column, prior, half_life, x.shape[0])
    summary = f"{file}: {len(df)} rows{_span(df)}, {how}" + (f", prices -> {x.shape[0]} log-returns"
                                                             if returns == "prices" else "")
    x, p, how_many = _to_horizon(x, p, k, horizon, how, file)
    summary += how_many
    return HistoryFile(DriverScenarios(columns, x, float(horizon)), p, per_year, k, summary)


def load_scenario_file(
    path: str | Path,
    horizon: float,
    *,
    returns: ReturnKind | str = "simple",
    probability_column: str | None = None,
    prior: Prior = "uniform",
    half_life: float | None = None,
    date_column: str | None = None,
    frequency: str | float | None = None,
) -> tuple[DriverScenarios, np.ndarray]:
    """Scenarios of a file's driver columns over ``horizon``.

    Parameters
    ----------
    path : ``.parquet`` or ``.csv`` file; one numeric column per driver (+ the probability and
        date/index columns).
    horizon : years one scenario spans.
    returns : ``"simple"`` (converted with ``log1p``; must be > -1), ``"log"``, or ``"prices"``
        (levels > 0; the rows become the T - 1 log-returns between consecutive rows). Simple or
        log returns of which more than half the rows exceed +-100 % (when a row spans <= 1 year)
        or whose median exceeds 1000 % are refused as "looking like prices".
    probability_column : column of row probabilities (>= 0, summing to 1 within 1e-6); without
        it the prior is ``prior`` (``"uniform"``, or ``"exponential"`` with ``half_life`` rows,
        the most recent row weighing most). With prices the first row's probability is dropped.
    date_column : a column of dates (or another sortable index): the rows are sorted by it,
        duplicates are refused, and the rows' frequency is inferred from the dates.
    frequency : the rows' period: ``daily`` (252 a year), ``weekly``, ``monthly``, ``quarterly``,
        ``semiannual``, ``annual`` or periods per year. With a frequency (given or inferred) a
        horizon of k periods sums k consecutive log-returns (compounded simple returns) into one
        non-overlapping scenario, the most recent ``(T // k) * k`` rows kept, probabilities summed
        per window; the horizon must be a whole number of periods and leave at least
        :data:`MIN_AGGREGATED_SCENARIOS` scenarios. Without both, each row is one horizon.

    Returns
    -------
    (DriverScenarios with (S, D) log-returns over ``horizon``, p (S,)).
    """
    h = load_history_file(path, horizon, returns=returns, probability_column=probability_column, prior=prior,
                          half_life=half_life, date_column=date_column, frequency=frequency)
    return h.scenarios, h.p
