"""The run's output tables, built from plan pieces and task results (one function per table)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.plan import BookPlan, RunPlan
from pipeline.stages import ScenarioSet, ViewOutcome
from tasks.vocabulary import GREEKS, PortfolioKind

__all__ = ["views_row", "frontier_table", "greeks_table", "instrument_table", "scenario_block", "IDENTITY"]

#: columns that identify a portfolio in frontier, stress and greeks tables
IDENTITY = ["portfolio", "view_set", "risk_measure", "constraint_set", "kind", "point"]


def views_row(o: ViewOutcome) -> dict[str, Any]:
    """One row of ``views.parquet``."""
    return {"view_set": o.name, "method": o.method, "status": o.status, "message": o.message,
            "n_views": o.n_views, "n_stages": o.n_stages, "relative_entropy": o.relative_entropy,
            "effective_scenarios": o.effective_scenarios, "max_residual": o.max_residual,
            "seconds": o.seconds}


def frontier_table(rows: list[dict[str, Any]], plan: RunPlan) -> pd.DataFrame:
    """Portfolio rows in a canonical order: view set, constraint set, measure, kind, point."""
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
