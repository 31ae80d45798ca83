"""Print the headline tables of a run folder in a terminal (``stressfrontier show RUN_DIR``).

Sections, in order: the run header; the view sets with their diagnostics and per-view checks;
the frontier of every (view set, risk measure) with expected return, risk, Σe and vᵀe; the headline
portfolios (``kind == "target"``) with their main exposures; the stress matrix (prior-frontier
portfolios × evaluating view sets: expected return and CVaR) and the headline portfolios under
every view. Returns, risks and exposures are printed in percent of portfolio value. Only pandas
``to_string`` is used (no external dependency).

A run with ``book:`` prints the user's book right after the view sets (its P&L under every view
set, Greeks, contributions, shocks, limits and the rebalancing trade, what moves under each view
set; written by :mod:`pipeline.show_book`); a ``stressfrontier book`` run stops there (no
frontiers). Runs without a book print as before.

Each section is written by one ``_section_*`` function; :func:`format_run` calls them in order.
The small helpers at the bottom (view-set order, exposure columns, risk-measure labels) are shared
with :mod:`pipeline.report` and its ``pipeline.report_*`` modules.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from pipeline.show_book import BOOK_KINDS, is_book_mode, write_book_sections
from tasks.vocabulary import OK_STATUSES

__all__ = ["show_run", "format_run", "pct", "fit_table", "headline_label", "headline_order", "portfolio_label",
           "constraint_set_order", "stress_matrix", "target_lookup", "MIN_EXPOSURE"]

MIN_EXPOSURE = 0.005  # exposures below 0.5 % in every headline portfolio are left out


def show_run(run_dir: Path | str, stream: TextIO | None = None, width: int | None = None) -> None:
    """Print the headline tables of a finished run folder.

    Parameters
    ----------
    run_dir : a run folder (with ``manifest.json``).
    stream : where to write (default: ``sys.stdout`` at call time, so redirection works).
    width : line width for wrapping wide tables (default: the terminal width, at least 60).

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` is not a finished run folder (no ``manifest.json``).
    """
    from pipeline.store import read_run

    run = read_run(run_dir)
    if stream is None:
        stream = sys.stdout
    if width is None:
        width = shutil.get_terminal_size((120, 24)).columns
    unicode_ok = "utf" in (getattr(stream, "encoding", None) or "utf-8").lower()
    stream.write(format_run(run, width=max(60, int(width)), run_dir=run_dir, unicode=unicode_ok))
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()


def format_run(run: Mapping[str, Any], *, width: int = 120, run_dir: Path | str | None = None,
               unicode: bool = True) -> str:
    """The text :func:`show_run` prints, from a :func:`pipeline.read_run` dict.

    Parameters
    ----------
    run : the tables of a run and its ``"manifest"``.
    width : line width; wider tables are wrapped by pandas.
    run_dir : shown in the header.
    unicode : use Σ, ᵀ and box characters (else ASCII only).
    """
    out = _Text(width, unicode)
    man = run.get("manifest", {}) or {}
    cfg = man.get("config", {}) or {}
    _section_header(out, run, man, cfg, run_dir)
    _section_views(out, run)
    write_book_sections(out, run)
    fr = run.get("frontier")
    if (fr is None or fr.empty) and is_book_mode(run):
        return out.text()  # `stressfrontier book`: no frontiers, targets or stress matrix
    if fr is None or fr.empty:
        out.section("Frontiers")
        out.add("(no frontier table)")
        return out.text()
    _section_frontiers(out, run, fr, cfg)
    _section_headlines(out, run, fr)
    _section_stress(out, run, fr, cfg)
    return out.text()


class _Text:
    """The lines of the output and how to write them at one width.

    ``sig``, ``vt`` and ``rule`` are the column labels Σe and vᵀe and the underline character
    (ASCII stand-ins when ``unicode`` is false); ``sep`` separates the header facts.
    """

    def __init__(self, width: int, unicode: bool) -> None:
        self.width = width
        self.sig, self.vt, self.rule = ("Σe", "vᵀe", "─") if unicode else ("sum(e)", "v'e", "-")
        self.sep = " · " if unicode else " | "
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)

    def section(self, title: str) -> None:
        lines = textwrap.wrap(title, width=self.width, break_long_words=False) or [""]
        self.lines.append("")
        self.lines.extend(lines)
        self.lines.append(self.rule * min(self.width, max(max(map(len, lines)), 20)))

    def para(self, text: str) -> None:
        self.lines.extend(textwrap.wrap(text, width=self.width) or [""])

    def table(self, df: pd.DataFrame, index: bool = True) -> None:
        if df.empty:
            self.lines.append("(none)")
            return
        self.lines.append(fit_table(df, self.width, index=index))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# -- sections --------------------------------------------------------------------------------
def _section_header(out: _Text, run: Mapping[str, Any], man: Mapping[str, Any], cfg: Mapping[str, Any],
                    run_dir: Path | str | None) -> None:
    """Run name, folder and one line of facts (seed, scenarios, instruments, horizon, wall time)."""
    for line in _header(run, man, cfg, run_dir, out.sep).splitlines():
        out.lines.extend(textwrap.wrap(line, width=out.width, break_long_words=False) or [""])


def _section_views(out: _Text, run: Mapping[str, Any]) -> None:
    """The view sets' Entropy Pooling diagnostics, their messages and the per-view checks."""
    views = run.get("views")
    out.section("View sets (Entropy Pooling diagnostics)")
    if views is None or views.empty:
        out.add("(no views table)")
        return
    n_scen = scenario_count(run)
    vt_df = pd.DataFrame({
        "view set": views["view_set"].astype(str),
        "status": views["status"].astype(str),
        "views": views["n_views"].astype(int),
        "relative entropy": views["relative_entropy"].map(lambda x: _num(x, 4)),
        "ENS": views["effective_scenarios"].map(
            lambda x: "-" if _isnan(x) else pct(x, 1)
            + (f" ({x * n_scen:,.0f})" if n_scen else "")),
        "max residual": views["max_residual"].map(lambda x: "-" if _isnan(x) else f"{x:.1e}"),
    })
    out.table(vt_df, index=False)
    if "message" in views:
        for name, msg in zip(views["view_set"], views["message"].fillna("").astype(str)):
            if msg:
                out.para(f"{name}: {msg}")
    checks = run.get("view_checks")
    if checks is not None and not checks.empty:
        out.add("")
        out.para("View checks (means, vols, VaR/CVaR and probabilities in %; var, skew, kurt, corr as numbers):")
        ck = pd.DataFrame({"view set": checks["view_set"].astype(str),
                           "view": checks["view"].astype(str)})
        for col, name in (("target", "target"), ("prior_value", "prior"), ("attained", "attained")):
            ck[name] = [_stat_value(s, x) for s, x in zip(checks["stat"], checks[col])]
        ck["violation"] = checks["violation"].map(lambda x: "-" if _isnan(x) else f"{x:.1e}")
        out.table(ck, index=False)


def _section_frontiers(out: _Text, run: Mapping[str, Any], fr: pd.DataFrame, cfg: Mapping[str, Any]) -> None:
    """One table per (view set, risk measure, constraint set): every frontier point, headline
    target and single portfolio (Sharpe, Utility, MaxRet) of that problem."""
    ecols = exposure_columns(fr)
    csets = _csets(fr)
    for vs in view_set_order(run):
        for rm in risk_measure_order(run):
            for cs in constraint_set_order(fr):
                sub = fr[(fr["view_set"] == vs) & (fr["risk_measure"] == rm) & (csets == cs)]
                if sub.empty:
                    continue
                out.section(f"Frontier: {vs} / {risk_label(rm, cfg)}{_cset_suffix(cs)}")
                statuses = set(sub["status"].astype(str))
                if len(statuses) == 1 and not statuses & set(OK_STATUSES):
                    out.para(f"all {len(sub)} portfolios {statuses.pop()}")
                    continue
                sub = sub.sort_values(["kind", "point"], key=_kind_sort)
                df = pd.DataFrame({
                    "point": [_point_label(k, p, t) for k, p, t in zip(sub["kind"], sub["point"], sub["target"])],
                    "status": sub["status"].astype(str).values,
                    **_portfolio_columns(out, sub, ecols),
                })
                out.table(df, index=False)
                _messages(out, sub)


def _messages(out: _Text, rows: pd.DataFrame) -> None:
    """The messages of the unsolved portfolios among ``rows`` (why a target is unattainable...)."""
    if "message" not in rows:
        return
    for k, p, t, st, msg in zip(rows["kind"], rows["point"], rows["target"], rows["status"],
                                rows["message"].fillna("").astype(str)):
        if msg and st not in OK_STATUSES:
            out.para(f"{_point_label(k, p, t)}: {st}: {msg}")


def _section_headlines(out: _Text, run: Mapping[str, Any], fr: pd.DataFrame) -> None:
    """The headline portfolios (targets and single portfolios) of every problem, main exposures."""
    tg = fr[fr["kind"] != "frontier"]
    out.section("Headline portfolios (targets: minimum risk at the target return; Sharpe, Utility, MaxRet)")
    if tg.empty:
        out.add("(none: optimization.targets and optimization.portfolios are empty)")
        return
    ecols = exposure_columns(fr)
    tg = headline_order(run, tg)
    labels = [headline_label(r) for r in tg.itertuples()]
    head = pd.DataFrame({
        "portfolio": labels,
        "status": tg["status"].astype(str).values,
        "target": tg["target"].map(pct).values,
        **_portfolio_columns(out, tg, ecols),
    })
    out.table(head, index=False)
    if ecols:
        _main_exposures(out, run, tg, labels, ecols)


def headline_order(run: Mapping[str, Any], rows: pd.DataFrame, view_col: str = "view_set") -> pd.DataFrame:
    """Frontier-table ``rows`` sorted by view set, risk measure, constraint set, kind and point."""
    keyed = rows.assign(_cs=_csets(rows).map({c: i for i, c in enumerate(constraint_set_order(rows))}),
                        _k=rows["kind"].map(_KIND_ORDER).fillna(len(_KIND_ORDER)))
    keyed = keyed.sort_values([view_col, "risk_measure", "_cs", "_k", "point"],
                              key=_order_key(view_set_order(run), risk_measure_order(run), view_col))
    return keyed.drop(columns=["_cs", "_k"])


def _portfolio_columns(out: _Text, rows: pd.DataFrame, ecols: list[str]) -> dict[str, Any]:
    """Formatted E[return], risk, Σe, vᵀe and gross exposure of frontier-table ``rows`` (in %)."""
    return {
        "E[return]": rows["expected_return"].map(pct).values,
        "risk": rows["risk"].map(pct).values,
        out.sig: rows[ecols].sum(axis=1, min_count=1).map(pct).values if ecols else "-",
        out.vt: rows["budget"].map(pct).values,
        "gross": rows["gross_exposure"].map(pct).values,
    }


def _main_exposures(out: _Text, run: Mapping[str, Any], tg: pd.DataFrame, labels: list[str],
                    ecols: list[str]) -> None:
    """Instruments × solved headline portfolios, exposures of at least :data:`MIN_EXPOSURE` somewhere."""
    ex = tg[ecols].T
    ex.columns = labels
    ex.index = [c[2:] for c in ecols]
    keep = ex.abs().max(axis=1).fillna(0) >= MIN_EXPOSURE
    kinds = instrument_kinds(run)
    ex = ex[keep]
    unsolved = [c for c, ok in zip(labels, tg["status"].isin(OK_STATUSES)) if not ok]
    ex = ex.drop(columns=[c for c in unsolved if c in ex.columns])
    out.add("")
    out.para(f"Main exposures (% of portfolio value; |e| >= {pct(MIN_EXPOSURE, 1)} in some "
             "headline portfolio; options in underlying notional):")
    if ex.shape[1]:
        shown = ex.map(pct)
        shown.insert(0, "kind", [kinds.get(n, "") for n in ex.index])
        out.table(shown)
    if unsolved:
        out.para(f"Not solved (no exposures): {', '.join(unsolved)}.")


def _section_stress(out: _Text, run: Mapping[str, Any], fr: pd.DataFrame, cfg: Mapping[str, Any]) -> None:
    """The prior frontiers and the headline portfolios of every view set under every view set."""
    st = run.get("stress")
    out.section("Stress matrix: prior-frontier portfolios under every view set")
    if st is None or st.empty:
        out.add("(no stress table)")
        return
    evs = [v for v in view_set_order(run) if v in set(st["eval_view_set"])]
    out.para("E[return] and CVaR (loss of raw P&L at alpha "
             f"{pct(cfg.get('optimization', {}).get('alpha', np.nan), 0)}) under each "
             "evaluating view set, in %.")
    csets = _csets(st)
    for rm in risk_measure_order(run):
        for cs in constraint_set_order(st):
            sub = st[(st["portfolio_view_set"] == "prior") & (st["risk_measure"] == rm) & (csets == cs)]
            if sub.empty:
                continue
            out.add("")
            out.add(f"prior / {rm}{_cset_suffix(cs)} frontier:")
            out.table(stress_matrix(sub, evs, fr))
    heads = st[~st["kind"].isin(("frontier", *BOOK_KINDS))]
    if not heads.empty:
        targets = target_lookup(fr)
        heads = headline_order(run, heads, "portfolio_view_set")
        heads = heads.assign(target=[targets.get(k) for k in zip(
            heads["portfolio_view_set"], heads["risk_measure"], _csets(heads), heads["kind"], heads["point"])])
        labels = [headline_label(r, "portfolio_view_set") for r in heads.itertuples()]
        out.add("")
        out.add("Headline portfolios of every view set:")
        out.table(_metric_pivot(heads.assign(label=labels), "label", evs, order=_unique(labels)))


# -- tables ----------------------------------------------------------------------------------
def fit_table(df: pd.DataFrame, width: int, index: bool = True) -> str:
    """``df.to_string`` in blocks of columns that each fit ``width`` characters, one under the other.

    Every block repeats the row labels (the index, or the first column when ``index`` is false),
    so no line is wrapped with pandas' ``\\`` continuation marks. A single column wider than
    ``width`` gets a block of its own (its lines are then as wide as it is).
    """
    whole = df.to_string(index=index, justify="right")
    if max(map(len, whole.splitlines())) <= width or df.shape[1] <= (1 if index else 2):
        return whole
    keep = [] if index else [0]
    rest = list(range(len(keep), df.shape[1]))
    blocks: list[str] = []
    while rest:
        take = [rest[0]]
        for j in rest[1:]:
            trial = df.iloc[:, keep + take + [j]].to_string(index=index, justify="right")
            if max(map(len, trial.splitlines())) > width:
                break
            take.append(j)
        blocks.append(df.iloc[:, keep + take].to_string(index=index, justify="right"))
        rest = rest[len(take):]
    return "\n\n".join(blocks)


def stress_matrix(sub: pd.DataFrame, eval_sets: list[str], frontier: pd.DataFrame | None = None) -> pd.DataFrame:
    """Formatted (portfolio × (metric, eval view set)) table for one frontier's stress rows."""
    sub = sub.sort_values(["kind", "point"], key=_kind_sort)
    targets = target_lookup(frontier) if frontier is not None else {}
    labels = [_point_label(k, p, targets.get((v, r, c, k, p)))
              for v, r, c, k, p in zip(sub["portfolio_view_set"], sub["risk_measure"], _csets(sub),
                                       sub["kind"], sub["point"])]
    sub = sub.assign(label=labels)
    return _metric_pivot(sub, "label", eval_sets, order=_unique(labels))


def _metric_pivot(df: pd.DataFrame, row: str, eval_sets: list[str],
                  order: list[str] | None = None) -> pd.DataFrame:
    parts = {}
    for metric, name in (("expected_return", "E[return]"), ("CVaR", "CVaR")):
        p = df.pivot_table(index=row, columns="eval_view_set", values=metric, aggfunc="first")
        p = p.reindex(columns=[e for e in eval_sets if e in p.columns])
        if order is not None:
            p = p.reindex([o for o in order if o in p.index])
        parts[name] = p.map(pct)
    res = pd.concat(parts, axis=1)
    res.columns.names = [None, None]
    res.index.name = None
    return res


def _header(run: Mapping[str, Any], man: Mapping[str, Any], cfg: Mapping[str, Any],
            run_dir: Path | str | None, sep: str = " | ") -> str:
    name = man.get("name", cfg.get("name", "run"))
    title = f"Run {name}" + (f"\nfolder: {run_dir}" if run_dir is not None else "")
    bits = []
    if man.get("mode") == "book":
        bits.append("book run (no frontiers)")
    if "seed" in man:
        bits.append(f"seed {man['seed']}")
    n = scenario_count(run)
    if n:
        bits.append(f"{n:,} scenarios")
    inst = run.get("instruments")
    if inst is not None and not inst.empty:
        kinds = inst["kind"].value_counts()
        bits.append(f"{len(inst)} instruments (" + ", ".join(f"{v} {k}" for k, v in kinds.items()) + ")")
    if "horizon" in cfg:
        bits.append(f"horizon {cfg['horizon']:g} y")
    wall = (man.get("timings_seconds") or {}).get("wall")
    if wall is not None:
        bits.append(f"wall {wall:.1f} s")
    return title + ("\n" + sep.join(bits) if bits else "")


# -- shared helpers (also used by pipeline.report and pipeline.report_*) ----------------------
def pct(x: Any, digits: int = 2) -> str:
    """``0.0512 -> "5.12%"``; NaN/None -> ``"-"``."""
    if _isnan(x):
        return "-"
    return f"{100.0 * float(x):.{digits}f}%"


def _num(x: Any, digits: int) -> str:
    return "-" if _isnan(x) else f"{float(x):.{digits}f}"


def _isnan(x: Any) -> bool:
    try:
        return x is None or bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


#: view stats whose values are returns, losses or probabilities: shown in %
PERCENT_STATS = frozenset({"mean", "vol", "VaR", "CVaR", "linear", "rank", "prob"})


def _stat_value(stat: str, x: Any) -> str:
    """A view check's value: in % for :data:`PERCENT_STATS`, else as a number (var, skew, kurt, corr)."""
    if stat in PERCENT_STATS:
        return pct(x)
    return _num(x, 4 if stat == "var" else 3)


#: display order of the portfolio kinds within one problem
_KIND_ORDER = {"frontier": 0, "target": 1, "Sharpe": 2, "Utility": 3, "MaxRet": 4}


def _kind_sort(c: pd.Series) -> pd.Series:
    """Sort key of a ``kind`` column (frontier, target, Sharpe, Utility, MaxRet); others as they are."""
    return c.map(_KIND_ORDER).fillna(len(_KIND_ORDER)) if c.name == "kind" else c


def _point_label(kind: str, point: Any, target: Any = None) -> str:
    """``p3`` (frontier point), ``target 5.0%`` (headline target), ``Sharpe`` / ``Utility`` / ``MaxRet``."""
    if kind == "frontier":
        return f"p{int(point)}"
    if kind == "target":
        return f"target {pct(target, 1)}" if not _isnan(target) else f"target{int(point)}"
    return str(kind)


def _cset_suffix(cs: str) -> str:
    return "" if cs == "base" else f" @ {cs}"


def _csets(df: pd.DataFrame) -> pd.Series:
    """The ``constraint_set`` column (``base`` for tables written before it existed)."""
    if "constraint_set" in df:
        return df["constraint_set"].fillna("base").astype(str)
    return pd.Series("base", index=df.index)


def constraint_set_order(df: pd.DataFrame) -> list[str]:
    """Constraint sets of a frontier/stress/greeks table: ``base`` first, then in table order."""
    names = _unique([str(c) for c in _csets(df)]) if len(df) else []
    return (["base"] if "base" in names else []) + [n for n in names if n != "base"]


def portfolio_label(view_set: str, risk_measure: str, constraint_set: str = "base") -> str:
    """``prior/CVaR`` for the base constraint set, ``prior/CVaR@set`` for an extra one."""
    return f"{view_set}/{risk_measure}{'' if constraint_set in ('base', None) else '@' + str(constraint_set)}"


def headline_label(row: Any, view_col: str = "view_set") -> str:
    """``"prior/CVaR @5.0%"`` (target), ``"prior/CVaR Sharpe"``, ``"prior/CVaR@set @5.0%"`` for a
    frontier- or stress-table row (namedtuple or Series)."""
    base = portfolio_label(getattr(row, view_col), row.risk_measure, getattr(row, "constraint_set", "base"))
    if row.kind == "target":
        return f"{base} @{pct(getattr(row, 'target', None), 1)}"
    return f"{base} {row.kind}"


def _unique(seq: list[str]) -> list[str]:
    return list(dict.fromkeys(seq))


def _order_key(vorder: list[str], rorder: list[str],
               view_col: str = "view_set") -> Callable[[pd.Series], pd.Series]:
    def key(c: pd.Series) -> pd.Series:
        if c.name == view_col:
            return c.map({v: i for i, v in enumerate(vorder)})
        if c.name == "risk_measure":
            return c.map({r: i for i, r in enumerate(rorder)})
        return c
    return key


def scenario_count(run: Mapping[str, Any]) -> int:
    """Number of scenarios (from the probabilities table, else the config)."""
    probs = run.get("probabilities")
    if probs is not None and not probs.empty:
        return int(probs["scenario"].nunique())
    cfg = (run.get("manifest") or {}).get("config", {}) or {}
    return int((cfg.get("scenarios") or {}).get("count") or 0)


def view_set_order(run: Mapping[str, Any]) -> list[str]:
    """View sets in run order: ``prior`` first, then the views table's order."""
    names: list[str] = []
    views = run.get("views")
    if views is not None and not views.empty:
        names = [str(v) for v in views["view_set"]]
    fr = run.get("frontier")
    if fr is not None and not fr.empty:
        names += [str(v) for v in fr["view_set"].unique()]
    names = _unique(names)
    return (["prior"] if "prior" in names else []) + [n for n in names if n != "prior"]


def risk_measure_order(run: Mapping[str, Any]) -> list[str]:
    """Risk measures in config order (else frontier order)."""
    cfg = (run.get("manifest") or {}).get("config", {}) or {}
    names = list((cfg.get("optimization") or {}).get("risk_measures") or [])
    fr = run.get("frontier")
    if fr is not None and not fr.empty:
        names += [str(r) for r in fr["risk_measure"].unique()]
    return _unique(names)


def target_lookup(frontier: pd.DataFrame) -> dict[tuple[str, str, str, str, int], float]:
    """``{(view_set, risk_measure, constraint_set, kind, point): target return}``.

    Keyed by the row identity rather than the ``portfolio`` id, which is not unique when
    ``optimization.targets`` has several entries.
    """
    if frontier is None or frontier.empty or "target" not in frontier:
        return {}
    keys = zip(frontier["view_set"].astype(str), frontier["risk_measure"].astype(str), _csets(frontier),
               frontier["kind"].astype(str), frontier["point"].astype(int))
    return dict(zip(keys, frontier["target"]))


def exposure_columns(frontier: pd.DataFrame) -> list[str]:
    """The wide ``e_<instrument>`` columns of the frontier table, in table order."""
    return [c for c in frontier.columns if c.startswith("e_")]


def instrument_kinds(run: Mapping[str, Any]) -> dict[str, str]:
    """``{instrument: kind}`` from the instruments table (empty if absent)."""
    inst = run.get("instruments")
    if inst is None or inst.empty:
        return {}
    return dict(zip(inst["name"].astype(str), inst["kind"].astype(str)))


def risk_label(rm: str, cfg: Mapping[str, Any]) -> str:
    """Human label of a risk measure with the run's alpha/demean, e.g. ``"CVaR 90% (demeaned)"``."""
    opt = cfg.get("optimization", {}) or {}
    if rm == "CVaR":
        alpha = opt.get("alpha")
        conf = f" {pct(1 - alpha, 0)}" if alpha is not None else ""
        return f"CVaR{conf}" + (" of P&L minus its mean" if opt.get("demean") else " of P&L")
    if rm == "MV":
        return "volatility of P&L (MV)"
    return rm
