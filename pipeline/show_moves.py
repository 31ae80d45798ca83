"""What moves under each view set, for ``show`` and ``report.html``: the drivers (and the book)
whose posterior mean or vol moves most against the prior (``moments.parquet``), and the driver
pairs whose correlation moves most (``correlations.parquet``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pipeline.show_format import driver_kinds as _driver_kinds
from pipeline.show_format import is_nan as _nan
from pipeline.show_format import nonneg_zero as _nonneg_zero
from pipeline.show_format import pct as _pct
from pipeline.show_format import table_of as _table
from pipeline.show_format import view_order as _view_order

__all__ = ["what_moves", "correlation_moves", "moves_view_sets", "write_moves"]


def what_moves(run: Mapping[str, Any], view_set: str, top: int = 6) -> pd.DataFrame:
    """What moves under ``view_set`` vs the prior (``moments.parquet``): the book (when it is a
    variable) and the ``top`` drivers that move most: by the larger of the mean's move in prior
    standard deviations and the relative change of the vol.

    Returns
    -------
    variable, kind, mean prior → posterior, the move in prior σ, vol prior → posterior and the vol
    ratio; rate drivers in bp, the rest in %. Empty without moments or for an unsolved view set.
    """
    mo = _table(run, "moments")
    if mo is None or mo.empty:
        return pd.DataFrame()
    rows = mo[(mo["view_set"].astype(str) == view_set) & mo["kind"].isin(("driver", "book"))]
    if "status" in rows:
        rows = rows[rows["status"].astype(str) == "ok"]
    rows = rows.dropna(subset=["mean", "prior_vol"])
    if rows.empty:
        return pd.DataFrame()
    z = (rows["mean"] - rows["prior_mean"]) / rows["prior_vol"].where(rows["prior_vol"] > 0)
    rows = rows.assign(_z=z, _a=np.maximum(z.abs(), (rows["vol"] / rows["prior_vol"] - 1).abs()))
    book = rows[rows["kind"] == "book"]
    drivers = rows[rows["kind"] != "book"].sort_values("_a", ascending=False, kind="stable").head(top)
    rows = pd.concat([book, drivers])
    kinds = _driver_kinds(run)

    def fmt(name: str, x: Any) -> str:
        if _nan(x):
            return "-"
        return _nonneg_zero(f"{1e4 * float(x):+.0f}bp" if kinds.get(name) == "rate" else f"{100 * float(x):+.2f}%")

    def fvol(name: str, x: Any) -> str:
        if _nan(x):
            return "-"
        return f"{1e4 * float(x):.0f}bp" if kinds.get(name) == "rate" else _pct(x)

    return pd.DataFrame({
        "variable": rows["variable"].astype(str).values,
        "kind": rows["kind"].astype(str).values,
        "mean prior → post": [f"{fmt(v, a)} → {fmt(v, b)}" for v, a, b in
                              zip(rows["variable"], rows["prior_mean"], rows["mean"])],
        "move (σ)": rows["_z"].map(lambda x: "-" if _nan(x) else _nonneg_zero(f"{x:+.2f}")).values,
        "vol prior → post": [f"{fvol(v, a)} → {fvol(v, b)}" for v, a, b in
                             zip(rows["variable"], rows["prior_vol"], rows["vol"])],
        "vol ×": (rows["vol"] / rows["prior_vol"]).map(lambda x: "-" if _nan(x) else f"{x:.2f}").values,
    })


def correlation_moves(run: Mapping[str, Any], view_set: str, top: int = 3) -> list[str]:
    """The ``top`` driver pairs whose correlation moves most under ``view_set``
    (``correlations.parquet``), as ``"SPX~SX5E 0.80 → 0.95"``."""
    co = _table(run, "correlations")
    if co is None or co.empty:
        return []
    rows = co[co["view_set"].astype(str) == view_set].dropna(subset=["corr", "prior_corr"])
    if rows.empty:
        return []
    d = (rows["corr"] - rows["prior_corr"]).abs()
    rows = rows.loc[d[d > 0.005].sort_values(ascending=False, kind="stable").index].head(top)
    return [f"{a}~{b} {p:.2f} → {c:.2f}" for a, b, p, c in
            zip(rows["variable"], rows["other"], rows["prior_corr"], rows["corr"])]


def moves_view_sets(run: Mapping[str, Any]) -> list[str]:
    """View sets (not the prior) with solved rows in ``moments.parquet``, in run order."""
    mo = _table(run, "moments")
    if mo is None or mo.empty:
        return []
    ok = mo[mo["status"].astype(str) == "ok"] if "status" in mo else mo
    names = [v for v in dict.fromkeys(ok["view_set"].astype(str)) if v != "prior"]
    return _view_order(run, names)


def write_moves(out: Any, run: Mapping[str, Any]) -> None:
    """Write the what-moves section to ``out`` (a :class:`pipeline.show_book.Writer`)."""
    names = moves_view_sets(run)
    if not names:
        return
    out.section("What moves under each view set (posterior vs prior; mean move in prior standard "
                "deviations, vol ratio)")
    plain = getattr(out, "rule", "─") != "─"  # an ASCII-only stream: no arrows, sigma or times signs

    def fix(t: str) -> str:
        return t.replace("→", "->").replace("σ", "sd").replace("×", "x") if plain else t

    for vs in (v for v in names if not what_moves(run, v).empty):
        out.add("")
        out.add(f"{vs}:")
        out.table(what_moves(run, vs).rename(columns=fix).map(fix), index=False)
        corr = correlation_moves(run, vs)
        if corr:
            out.para(fix("correlations: " + "; ".join(corr)))
