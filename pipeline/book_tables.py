"""The book's output tables: its portfolios (book, rebalanced), ``book.parquet``,
``shocks.parquet``, ``shock_moves.parquet``, ``limits.parquet`` and ``trades.parquet``.

Built from small task results (:mod:`pipeline.book_stages`) and plan pieces. Units: exposures
and P&L per unit of portfolio value; ``*_ccy`` columns times the book's value in currency.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.book_stages import LimitsOutcome, ShockOutcome
from pipeline.plan import BookPlan
from pipeline.tables import IDENTITY
from tasks.optimization import LIMIT_COLUMNS, TRADE_COLUMNS
from tasks.scenarios import shock_contributions
from tasks.vocabulary import OK_STATUSES, PortfolioKind

__all__ = [
    "BOOK_PORTFOLIO",
    "REBALANCED_PORTFOLIO",
    "BOOK_COLUMNS",
    "SHOCK_IDENTITY",
    "SHOCK_MOVE_COLUMNS",
    "LIMIT_TABLE_COLUMNS",
    "TRADE_TABLE_COLUMNS",
    "book_frame",
    "book_table",
    "shock_table",
    "shock_moves_table",
    "limits_table",
    "trades_table",
    "breached_count",
]

#: portfolio ids of the user's book and of the book after the rebalancing trade
BOOK_PORTFOLIO, REBALANCED_PORTFOLIO = "book", "book/rebalanced"
#: columns of ``book.parquet`` (``expected_pnl_ccy``, ``cvar_contribution_ccy`` follow with a value)
BOOK_COLUMNS = ["view_set", "status", "portfolio", "instrument", "exposure", "expected_pnl", "vol_contribution",
                "cvar_contribution"]
#: leading columns of ``shocks.parquet`` (then pnl, [pnl_ccy], c_<instrument>)
SHOCK_IDENTITY = ["portfolio", "kind", "view_set", "risk_measure", "constraint_set", "point", "shock", "source",
                  "propagate"]
#: columns of ``shock_moves.parquet``
SHOCK_MOVE_COLUMNS = ["shock", "source", "propagate", "driver", "kind", "move", "shocked"]
#: columns of ``limits.parquet``
LIMIT_TABLE_COLUMNS = ["portfolio", *LIMIT_COLUMNS, "conflict", "status"]
#: columns of ``trades.parquet``
TRADE_TABLE_COLUMNS = [*TRADE_COLUMNS, "rate", "status", "message"]


def _ident(portfolio: str, kind: PortfolioKind) -> dict[str, Any]:
    return {"portfolio": portfolio, "view_set": None, "risk_measure": None, "constraint_set": None,
            "kind": kind.value, "point": 0}


def book_frame(book: BookPlan, limits: LimitsOutcome | None = None) -> pd.DataFrame:
    """The book's portfolios as a frame of IDENTITY + ``e_<instrument>`` columns: the book
    (``portfolio="book"``, ``kind="book"``) and, after an ok rebalance, the rebalanced book
    (``"book/rebalanced"``, ``kind="rebalanced"``); view_set, risk_measure, constraint_set None,
    point 0 (the missing identity values read back as NaN from the string columns). No rows
    without a book."""
    cols = IDENTITY + [f"e_{n}" for n in book.names]
    rows = []
    if book.holdings is not None:
        rows.append({**_ident(BOOK_PORTFOLIO, PortfolioKind.book),
                     **dict(zip(cols[len(IDENTITY):], np.asarray(book.holdings, dtype=float).tolist()))})
    if limits is not None and limits.ok and limits.target is not None:
        rows.append({**_ident(REBALANCED_PORTFOLIO, PortfolioKind.rebalanced),
                     **dict(zip(cols[len(IDENTITY):], np.asarray(limits.target, dtype=float).tolist()))})
    df = pd.DataFrame(rows, columns=cols)
    if not len(df):
        return df
    # text columns as strings although the book has no view set, measure or constraint set, so the
    # tables built from it (greeks, stress, shocks) have the same types with and without frontiers
    return df.astype({"point": np.int64, **{c: "str" for c in IDENTITY if c != "point"}})


def book_table(parts: list[pd.DataFrame], value: float | None) -> pd.DataFrame:
    """``book.parquet``: the per-view-set contribution rows (:func:`pipeline.book_stages.book_contributions`),
    in view-set order, with the spec's columns."""
    cols = BOOK_COLUMNS + (["expected_pnl_ccy", "cvar_contribution_ccy"] if value is not None else [])
    frames = [p for p in parts if len(p)]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def _portfolios_for_shocks(frame: pd.DataFrame, frontier: pd.DataFrame) -> pd.DataFrame:
    """Book portfolios, then every ok frontier-table portfolio in frontier order."""
    ok = frontier[frontier["status"].isin([s.value for s in OK_STATUSES])] if len(frontier) else frontier
    cols = list(frame.columns)
    parts = [p[cols] for p in (frame, ok) if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else frame[cols].reset_index(drop=True)


def shock_table(shocks: ShockOutcome, frame: pd.DataFrame, frontier: pd.DataFrame, instruments: list[str],
                value: float | None = None) -> pd.DataFrame:
    """``shocks.parquet``: one row per (portfolio, shock), portfolios as :func:`_portfolios_for_shocks`,
    shocks in plan order.

    Columns: :data:`SHOCK_IDENTITY`, pnl (P&L per unit of portfolio value), [pnl_ccy = pnl times
    ``value``], ``c_<instrument>`` (each instrument's contribution, ``e_i * pnl_i``; they sum to pnl).
    """
    ports = _portfolios_for_shocks(frame, frontier)
    E = ports[[f"e_{n}" for n in instruments]].to_numpy(dtype=float)  # (M, N)
    n = len(shocks.names)
    if len(E) and n:
        total, contrib = shock_contributions(shocks.pnl, E)  # (M, n), (M, n, N)
    else:
        total, contrib = np.zeros((len(E), n)), np.zeros((len(E), n, len(instruments)))
    ident = ports[IDENTITY].loc[ports.index.repeat(n)].reset_index(drop=True)
    out = ident[["portfolio", "kind", "view_set", "risk_measure", "constraint_set", "point"]].copy()
    out["shock"] = list(shocks.names) * len(E)
    out["source"] = list(shocks.source) * len(E)
    out["propagate"] = list(shocks.propagate) * len(E)
    out["pnl"] = total.reshape(-1)
    if value is not None:
        out["pnl_ccy"] = out["pnl"] * float(value)
    # text columns as strings even when every value is missing (the book's view_set, ...), so the
    # table has the same column types with and without frontier portfolios (``stressfrontier book``)
    out = out.astype({k: "str" for k in SHOCK_IDENTITY if k != "point"})
    c = pd.DataFrame(contrib.reshape(-1, len(instruments)), columns=[f"c_{i}" for i in instruments])
    return pd.concat([out, c], axis=1)


def shock_moves_table(shocks: ShockOutcome) -> pd.DataFrame:
    """``shock_moves.parquet``: every driver's move under every shock (model units: log-change for
    spot / fx / vol, additive for rate) and whether the shock gave it (False: propagated or 0)."""
    n, D = shocks.values.shape
    return pd.DataFrame({
        "shock": np.repeat(np.array(shocks.names, dtype=object), D),
        "source": np.repeat(np.array(shocks.source, dtype=object), D),
        "propagate": np.repeat(np.array(shocks.propagate, dtype=object), D),
        "driver": np.tile(np.array(shocks.drivers, dtype=object), n),
        "kind": np.tile(np.array(shocks.kinds, dtype=object), n),
        "move": shocks.values.reshape(-1),
        "shocked": shocks.given.reshape(-1).astype(bool),
    }, columns=SHOCK_MOVE_COLUMNS)


def limits_table(limits: LimitsOutcome) -> pd.DataFrame:
    """``limits.parquet``: every limit on the book, then on the rebalanced book (after an ok trade)."""
    parts = [limits.book.assign(portfolio=BOOK_PORTFOLIO)]
    if limits.rebalanced is not None:
        parts.append(limits.rebalanced.assign(portfolio=REBALANCED_PORTFOLIO, conflict=False))
    out = pd.concat(parts, ignore_index=True)[LIMIT_TABLE_COLUMNS]
    return out.astype({"breached": bool, "conflict": bool})


def trades_table(limits: LimitsOutcome, instruments: list[str]) -> pd.DataFrame:
    """``trades.parquet``: per instrument the current and target exposure, the trade, its cost
    (``rate * |trade|``, portfolio-value units) and rate, and the rebalance's status and message
    on every row (target, trade and cost NaN unless the rebalance is ok)."""
    current = np.asarray(limits.current, dtype=float)
    target = np.asarray(limits.target, dtype=float) if limits.ok else np.full(current.shape, np.nan)
    rates = np.asarray(limits.rates, dtype=float)
    trade = target - current
    return pd.DataFrame({"instrument": list(instruments), "current": current, "target": target, "trade": trade,
                         "cost": rates * np.abs(trade), "rate": rates, "status": limits.status,
                         "message": limits.message}, columns=TRADE_TABLE_COLUMNS)


def breached_count(limits: LimitsOutcome) -> int:
    """Number of the book's limits that are breached."""
    return int(limits.book["breached"].sum())
