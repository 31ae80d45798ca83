"""What every figure of the HTML report shares: the run's tables and orders, colours, style.

:class:`Context` holds the tables of one run folder, the view-set and risk-measure orders, the
view-set colours and the output folder, and saves figures there as PNG; :class:`Section` is one
block of ``report.html`` (figures, notes, HTML tables). Used by :mod:`pipeline.report` and its
figure modules (:mod:`pipeline.report_figures`, :mod:`pipeline.report_views`,
:mod:`pipeline.report_greeks`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline.show import (
    constraint_set_order,
    exposure_columns,
    instrument_kinds,
    risk_measure_order,
    scenario_count,
    view_set_order,
)
from tasks.vocabulary import OK_STATUSES

__all__ = ["Context", "Section", "view_set_colors", "RC", "CSET_STYLES", "SINGLE_MARKERS"]

_PRIOR_COLOR = "#222222"
_VIEW_COLORS = ("tab:red", "tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown",
                "tab:pink", "tab:olive", "tab:cyan")
#: line style of each constraint set's frontiers, in constraint-set order (``base`` solid)
CSET_STYLES = ("-", "--", ":", "-.")
#: marker of each single-portfolio kind in the frontier and Greeks charts (targets are stars)
SINGLE_MARKERS = {"Sharpe": "D", "Utility": "P", "MaxRet": "^"}
#: matplotlib rc settings of every figure (used with ``rc_context``)
RC = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "figure.facecolor": "white",
    "savefig.facecolor": "white", "hatch.linewidth": 0.6,
}


@dataclass
class Section:
    """One block of the HTML: a title, figures (file name, caption) and notes."""

    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    html_blocks: list[str] = field(default_factory=list)


def view_set_colors(view_sets: list[str]) -> dict[str, Any]:
    """Consistent colours: ``prior`` near-black, the view sets in a fixed qualitative order."""
    out: dict[str, Any] = {}
    i = 0
    for v in view_sets:
        if v == "prior":
            out[v] = _PRIOR_COLOR
        else:
            out[v] = _VIEW_COLORS[i % len(_VIEW_COLORS)]
            i += 1
    return out


class Context:
    """What every figure needs: the tables, orders, colours, labels and the output folder."""

    def __init__(self, root: Path, run: Mapping[str, Any], dpi: int) -> None:
        self.root = root
        self.run = run
        self.dpi = dpi
        self.manifest = run.get("manifest", {}) or {}
        self.cfg = self.manifest.get("config", {}) or {}
        self.view_sets = view_set_order(run)
        self.risk_measures = risk_measure_order(run)
        self.colors = view_set_colors(self.view_sets)
        fr = run.get("frontier")
        self.frontier = fr if fr is not None else pd.DataFrame()
        self.ecols = exposure_columns(self.frontier) if not self.frontier.empty else []
        self.constraint_sets = constraint_set_order(self.frontier) if not self.frontier.empty else ["base"]
        self.kinds = instrument_kinds(run)
        self.n_scenarios = scenario_count(run)

    def ok_frontier(self, vs: str, rm: str, kind: str = "frontier", cset: str = "base") -> pd.DataFrame:
        """Solved rows of one (view set, risk measure, constraint set) and kind, sorted by
        expected return."""
        fr = self._rows(vs, rm, cset)
        if fr.empty:
            return fr
        sub = fr[(fr["kind"] == kind) & fr["status"].isin(OK_STATUSES)]
        return sub.sort_values(["expected_return", "point"])

    def has_problem(self, vs: str, rm: str, cset: str) -> bool:
        """Whether the frontier table has rows (of any status) for (view set, measure, set)."""
        return not self._rows(vs, rm, cset).empty

    def _rows(self, vs: str, rm: str, cset: str) -> pd.DataFrame:
        fr = self.frontier
        if fr.empty:
            return fr
        sets = fr["constraint_set"] if "constraint_set" in fr else pd.Series("base", index=fr.index)
        return fr[(fr["view_set"] == vs) & (fr["risk_measure"] == rm) & (sets == cset)]

    def cset_style(self, cset: str) -> str:
        """Line style of constraint set ``cset`` (``base`` solid)."""
        i = self.constraint_sets.index(cset) if cset in self.constraint_sets else 0
        return CSET_STYLES[i % len(CSET_STYLES)]

    @staticmethod
    def label(vs: str, cset: str) -> str:
        """``prior`` or ``prior @ set``: the legend label of one view set's frontier."""
        return vs if cset == "base" else f"{vs} @ {cset}"

    def save(self, fig: Figure, name: str) -> str:
        """Save ``fig`` as ``<root>/<name>.png`` and return the file name."""
        fname = f"{_safe(name)}.png"
        FigureCanvasAgg(fig)
        fig.savefig(self.root / fname, dpi=self.dpi)
        return fname


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
