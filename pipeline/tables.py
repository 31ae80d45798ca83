"""The run's output tables, built from plan pieces and task results (one function per table)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.plan import BookPlan, RunPlan, ViewSetPlan
from pipeline.stages import BOOK_VARIABLE, ScenarioSet, ViewOutcome
from tasks.views import moment
from tasks.vocabulary import GREEKS, PortfolioKind

__all__ = ["views_row", "frontier_table", "empty_frontier", "FRONTIER_COLUMNS",
           "greeks_table", "instrument_table", "scenario_block", "IDENTITY",
           "viewed_variables", "marginal_table", "empty_marginals", "MARGINAL_BINS", "MARGINAL_COLUMNS",
           "moment_tables", "MOMENT_COLUMNS", "CORRELATION_COLUMNS"]

#: columns that identify a portfolio in frontier, stress and greeks tables
IDENTITY = ["portfolio", "view_set", "risk_measure", "constraint_set", "kind", "point"]
#: equal-width bins per variable in ``marginals.parquet``, spanning every scenario's value
MARGINAL_BINS = 400
#: columns of ``marginals.parquet``
MARGINAL_COLUMNS = ["view_set", "variable", "bin", "lower", "upper", "probability", "mean", "std"]
#: the four moments of ``moments.parquet``, each beside its prior value (``prior_<moment>``)
MOMENTS = ("mean", "vol", "skew", "kurt")
#: columns of ``moments.parquet``
MOMENT_COLUMNS = ["view_set", "status", "variable", "kind", *MOMENTS, *(f"prior_{m}" for m in MOMENTS)]
#: columns of ``correlations.parquet``
CORRELATION_COLUMNS = ["view_set", "status", "variable", "other", "corr", "prior_corr"]


def views_row(o: ViewOutcome) -> dict[str, Any]:
    """One row of ``views.parquet``."""
    return {"view_set": o.name, "method": o.method, "status": o.status, "message": o.message,
            "n_views": o.n_views, "n_stages": o.n_stages, "relative_entropy": o.relative_entropy,
            "effective_scenarios": o.effective_scenarios, "max_residual": o.max_residual,
            "seconds": o.seconds}


#: columns of ``frontier.parquet`` after IDENTITY and before the exposures ``e_<instrument>``
FRONTIER_COLUMNS = ["target", "status", "expected_return", "risk", "budget", "gross_exposure", "seconds", "message"]


def empty_frontier(book: BookPlan) -> pd.DataFrame:
    """``frontier.parquet`` without rows (``stressfrontier book``: no portfolio is optimised), with
    its columns and types: IDENTITY, :data:`FRONTIER_COLUMNS`, ``e_<instrument>`` (N,)."""
    text = {"portfolio", "view_set", "risk_measure", "constraint_set", "kind", "status", "message"}
    cols = IDENTITY + FRONTIER_COLUMNS + [f"e_{n}" for n in book.names]
    return pd.DataFrame({c: pd.Series(dtype=object if c in text else np.int64 if c == "point" else float)
                         for c in cols})


def frontier_table(rows: list[dict[str, Any]], plan: RunPlan) -> pd.DataFrame:
    """Portfolio rows in a canonical order: view set, constraint set, measure, kind, point (no
    rows: :func:`empty_frontier`)."""
    if not rows:
        return empty_frontier(plan.book)
    df = pd.DataFrame(rows)
    order = {"view_set": plan.view_names, "constraint_set": [cs.name for cs in plan.constraint_sets],
             "risk_measure": [str(rm) for rm in plan.measures], "kind": [k.value for k in PortfolioKind]}
    keys = [df[c].map({v: i for i, v in enumerate(vals)}) for c, vals in order.items()]
    sort = pd.DataFrame({f"_{j}": k for j, k in enumerate(keys)}).assign(_p=df["point"])
    return df.loc[sort.sort_values(list(sort.columns)).index].reset_index(drop=True)


def greeks_table(book: BookPlan, frontier: pd.DataFrame) -> pd.DataFrame:
    """Portfolio Greeks per underlying: one row per (portfolio, underlying), one column per Greek.

    Greeks are per unit of portfolio market value (exposures times per-unit-exposure Greeks of
    :mod:`tasks.instruments`); NaN for portfolios without exposures (not optimal).
    """
    keys = list(book.greek_keys)
    E = frontier[[f"e_{n}" for n in book.names]].to_numpy(dtype=float)
    values = E @ book.greeks  # (P, K)
    underlyings = list(dict.fromkeys(u for _, u in keys))
    greeks = sorted({g for g, _ in keys}, key=lambda g: (GREEKS + (g,)).index(g))
    col = {k: j for j, k in enumerate(keys)}
    ident = frontier[IDENTITY]
    parts = []
    for u in underlyings:
        part = ident.copy()
        part.insert(1, "underlying", u)
        for g in greeks:
            part[g] = values[:, col[(g, u)]] if (g, u) in col else 0.0
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def instrument_table(book: BookPlan, scen: ScenarioSet) -> pd.DataFrame:
    """One row per instrument: static terms, market value and prior mean/vol of its P&L."""
    rows = []
    for j, info in enumerate(book.info):
        x = scen.R[:, j]
        mean = float(scen.p @ x)
        rows.append({"name": info["name"], "kind": info["kind"], "driver": info["driver"], "v": float(scen.v[j]),
                     "prior_mean": mean, "prior_vol": float(np.sqrt(scen.p @ (x - mean) ** 2)),
                     "strike": info["strike"], "maturity": info["maturity"], "implied_vol": info["implied_vol"],
                     "option_type": info["option_type"]})
    return pd.DataFrame(rows)


def scenario_block(scen: ScenarioSet, start: int, stop: int) -> pd.DataFrame:
    """Rows ``start:stop`` of ``scenarios.parquet``: P&L per unit exposure of every instrument, and
    the prior."""
    df = pd.DataFrame(scen.R[start:stop], columns=scen.instruments)
    df.insert(0, "scenario", np.arange(start, stop))
    df["probability"] = scen.p[start:stop]
    return df


def viewed_variables(view_sets: tuple[ViewSetPlan, ...] | list[ViewSetPlan]) -> list[str]:
    """Every variable any view touches (drivers and instruments; a Black-Litterman set's whole
    universe, whose means it moves), in first-use order."""
    return list(dict.fromkeys(name for vs in view_sets for name in _set_variables(vs)))


def _set_variables(vs: ViewSetPlan) -> tuple[str, ...]:
    if vs.black_litterman is not None:
        return vs.black_litterman.universe
    return tuple(name for v in vs.views for name in v.variables)


def empty_marginals() -> pd.DataFrame:
    """``marginals.parquet`` without rows (no view set, or no posterior), with its column types."""
    dtypes = {"view_set": object, "variable": object, "bin": np.int64}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, float)) for c in MARGINAL_COLUMNS})


def marginal_table(scen: ScenarioSet, view: ViewOutcome, variables: list[str],
                   bins: int = MARGINAL_BINS) -> pd.DataFrame:
    """Rows of ``marginals.parquet`` for one probability vector: the distribution of every variable
    in ``variables`` (those of ``scen.variables``), as a histogram.

    Runs on a worker next to the scenario matrix, so the client gets ``bins`` rows per variable
    instead of S scenarios.

    Parameters
    ----------
    scen : the run's scenarios; ``scen.X`` (S, n_var) holds the view variables (drivers' simple
        returns or a rate driver's change, instruments' P&L per unit exposure).
    view : the probability vector (``view.q``, shape (S,)); no rows when it has none.
    variables : names of the variables, in output order.
    bins : equal-width bins over ``[min, max]`` of the variable over all S scenarios, the same
        for every probability vector, so no tail is cut off and prior and posterior share bins.

    Returns
    -------
    DataFrame, ``bins`` rows per variable: view_set, variable, bin (0..bins-1), lower, upper (bin
    edges in the variable's units; a value equal to the last edge is in the last bin),
    probability (mass of the bin), mean and std (exact probability-weighted moments of all S
    values, repeated on every row of the variable).
    """
    if view.q is None:
        return empty_marginals()
    q = np.asarray(view.q, dtype=float)
    parts = []
    for name in variables:
        if name not in scen.variables:
            continue
        x = scen.X[:, scen.variables.index(name)]
        lo, hi = float(x.min()), float(x.max())
        if not hi > lo:  # a constant variable: one narrow bin around it
            pad = 1e-9 * max(1.0, abs(lo))
            lo, hi = lo - pad, hi + pad
        edges = np.linspace(lo, hi, bins + 1)
        mass, _ = np.histogram(x, bins=edges, weights=q)
        mean = float(q @ x)
        parts.append(pd.DataFrame({
            "view_set": view.name, "variable": name, "bin": np.arange(bins, dtype=np.int64),
            "lower": edges[:-1], "upper": edges[1:], "probability": mass, "mean": mean,
            "std": float(np.sqrt(q @ (x - mean) ** 2))}))
    return pd.concat(parts, ignore_index=True) if parts else empty_marginals()


def _constant(vol: float, x: np.ndarray) -> bool:
    """Whether a variable x (S,) with standard deviation ``vol`` is constant up to rounding."""
    return not vol > 1e-12 * max(1.0, float(np.abs(x).max()))


def _moments(x: np.ndarray, q: np.ndarray | None) -> list[float]:
    """Mean, vol, skew and (non-excess) kurtosis of x (S,) under q (S,), as the view checks
    compute them (:func:`tasks.views.moment`); all NaN without q, skew and kurt NaN for a
    constant x (vol within rounding of zero)."""
    if q is None:
        return [np.nan] * len(MOMENTS)
    mean, vol = moment(x, q, "mean"), moment(x, q, "vol")
    if _constant(vol, x):
        return [mean, vol, np.nan, np.nan]
    return [mean, vol, moment(x, q, "skew"), moment(x, q, "kurt")]


def _correlations(Z: np.ndarray, q: np.ndarray | None) -> np.ndarray:
    """Correlation matrix (D, D) of the columns of Z (S, D) under q (S,); NaN without q, and in
    the rows and columns of a constant column."""
    D = Z.shape[1]
    if q is None:
        return np.full((D, D), np.nan)
    dev = [Z[:, j] - q @ Z[:, j] for j in range(D)]
    cov = np.array([[float(q @ (dev[i] * dev[j])) for j in range(D)] for i in range(D)])
    sd = np.sqrt(np.diag(cov))
    varies = np.array([not _constant(float(sd[j]), Z[:, j]) for j in range(D)], dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.outer(varies, varies), cov / np.outer(sd, sd), np.nan)


def _typed(rows: list[dict[str, Any]], columns: list[str], text: int) -> pd.DataFrame:
    """A frame of ``rows`` with ``columns``, the first ``text`` of them strings, the rest floats
    (typed even when there are no rows)."""
    return pd.DataFrame(rows, columns=columns).astype({c: object if k < text else float
                                                       for k, c in enumerate(columns)})


def moment_tables(scen: ScenarioSet, view: ViewOutcome) -> dict[str, pd.DataFrame]:
    """Rows of ``moments.parquet`` and ``correlations.parquet`` for one probability vector: what
    moves under a view set, against the prior.

    Runs on a worker next to the scenario matrix (one small task per view set); the client gets
    one row per variable and one per driver pair.

    Parameters
    ----------
    scen : the run's scenarios; ``scen.X`` (S, n_var) holds every view variable: the drivers'
        simple returns (a rate driver's change), then the P&L per unit exposure of instruments
        that are not drivers, in ``scen.variables`` order.
    view : the probability vector ``view.q`` (S,); None for an infeasible view set (NaN moments,
        the prior ones still given).

    Returns
    -------
    ``{"moments": ..., "correlations": ...}``.

    moments : one row per variable, in X's column order: view_set, status (the view set's),
        variable, kind (``driver``, ``instrument``, ``book`` for the user's book, or ``other`` for any
        further view variable), mean, vol, skew, kurt under ``view.q``
        (probability-weighted; vol the standard deviation, kurt non-excess, the conventions of
        the view checks; in the variable's units), and prior_mean, prior_vol, prior_skew,
        prior_kurt under ``scen.p``.
    correlations : one row per pair of drivers (variable before other in driver order):
        view_set, status, variable, other, corr (under ``view.q``), prior_corr (under ``scen.p``).
    """
    p, q = np.asarray(scen.p, dtype=float), None if view.q is None else np.asarray(view.q, dtype=float)
    head = {"view_set": view.name, "status": view.status}
    drivers, instruments = set(scen.drivers), set(scen.instruments)
    rows = []
    for j, name in enumerate(scen.variables):
        x = scen.X[:, j]
        post, prior = _moments(x, q), _moments(x, p)
        kind = ("driver" if name in drivers else "instrument" if name in instruments
                else "book" if name == BOOK_VARIABLE else "other")
        rows.append({**head, "variable": name, "kind": kind,
                     **dict(zip(MOMENTS, post)), **{f"prior_{m}": v for m, v in zip(MOMENTS, prior)}})
    D = len(scen.drivers)  # the drivers are X's first D columns
    post_c, prior_c = _correlations(scen.X[:, :D], q), _correlations(scen.X[:, :D], p)
    pairs = [{**head, "variable": scen.variables[i], "other": scen.variables[k], "corr": float(post_c[i, k]),
              "prior_corr": float(prior_c[i, k])} for i in range(D) for k in range(i + 1, D)]
    return {"moments": _typed(rows, MOMENT_COLUMNS, 4), "correlations": _typed(pairs, CORRELATION_COLUMNS, 4)}
