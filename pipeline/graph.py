"""Build the run's Dask task graph with futures and collect results as they complete.

Graph (keys are ``sf-<stage>-<ids>-<config hash>``, so identical configs give identical keys)::

    stats[c] ──► transform ──► chunk[c] ──► scenarios ─┬─► view[prior], view[v] ─► limits[v,rm]
    (per chunk: draws + per-block moments)             │                            └► point[v,rm,k]
                                                       │                            └► target[v,rm,i]
                                                       └─► stress[v] (all portfolios under view v)

The scenario matrix is the result of the ``scenarios`` task and stays on the workers; the client
only receives small results (posteriors, frontier rows, stress tables) and writes each one to the
store as soon as its future completes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from distributed import Client, Future, as_completed

from pipeline import stages
from pipeline.config import RunConfig, config_hash
from pipeline.store import RunStore
from tasks.instruments import greeks_matrix
from tasks.scenarios import chunk_blocks

__all__ = ["execute", "RunResult"]

Log = Callable[[str], None]


@dataclass
class RunResult:
    """What :func:`execute` hands back to the caller for the manifest and the summary."""

    tables: dict[str, pd.DataFrame]
    timings: dict[str, float]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


def _views_row(o: stages.ViewOutcome) -> dict[str, Any]:
    return {"view_set": o.name, "method": o.method, "status": o.status, "message": o.message,
            "n_views": o.n_views, "n_stages": o.n_stages, "relative_entropy": o.relative_entropy,
            "effective_scenarios": o.effective_scenarios, "max_residual": o.max_residual,
            "seconds": o.seconds}


def _error_row(kind: str, ident: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    return {**ident, "kind": kind, "status": "error", "message": f"{type(exc).__name__}: {exc}"}


class LogProgress:
    """Minimal progress reporter: plain log lines through a ``log(str)`` callable.

    Any object with ``stage(name, total)``, ``advance(name, n=1, failed=False)`` and
    ``message(text)`` can stand in (see :mod:`pipeline.progress`).
    """

    def __init__(self, log: Log = print) -> None:
        self.log = log
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.failed: dict[str, int] = {}

    def stage(self, name: str, total: int) -> None:
        self.totals[name], self.done[name], self.failed[name] = total, 0, 0

    def advance(self, name: str, n: int = 1, failed: bool = False) -> None:
        self.done[name] += n
        self.failed[name] += n if failed else 0
        d, t = self.done[name], self.totals[name]
        if d == t or d % max(1, t // 10) == 0:
            extra = f" ({self.failed[name]} failed)" if self.failed[name] else ""
            self.log(f"{name} {d}/{t}{extra}")

    def message(self, text: str) -> None:
        self.log(text)


def _view_part(i: int) -> str:
    return f"v{i}"


def _portfolio_part(i: int, rm: str, si: int, kind: str, point: int) -> str:
    return f"{i}-{rm}-{si}-{kind}{point}"


def _restore_view(store: RunStore, i: int) -> stages.ViewOutcome | None:
    """A view outcome saved by an earlier (interrupted) run, or None."""
    part = _view_part(i)
    if not (store.has_part("views", part) and store.has_part("probabilities", part)):
        return None
    row = store.read_part("views", part).iloc[0]
    probs = store.read_part("probabilities", part)
    checks = store.read_part("view_checks", part) if store.has_part("view_checks", part) else pd.DataFrame()
    q = probs["probability"].to_numpy() if row["status"] == "ok" else None
    return stages.ViewOutcome(str(row["view_set"]), str(row["method"]), str(row["status"]), q,
                              float(row["relative_entropy"]), float(row["effective_scenarios"]),
                              float(row["max_residual"]), int(row["n_views"]), float(row["seconds"]),
                              str(row["message"]), checks.to_dict("records"), int(row["n_stages"]))


def _save_view(store: RunStore, i: int, o: stages.ViewOutcome) -> None:
    part = _view_part(i)
    if o.q is not None:
        store.write_part("probabilities", part, pd.DataFrame(
            {"scenario": np.arange(len(o.q)), "view_set": o.name, "probability": o.q}))
    else:
        store.write_part("probabilities", part, pd.DataFrame(
            {"scenario": np.array([], dtype=np.int64), "view_set": np.array([], dtype=object),
             "probability": np.array([], dtype=float)}))
    store.write_part("view_checks", part, pd.DataFrame(o.checks, columns=CHECK_COLUMNS))
    store.write_part("views", part, pd.DataFrame([_views_row(o)]))  # last: marks the view done


CHECK_COLUMNS = ["view_set", "view", "stat", "on", "op", "target", "prior_value", "attained", "violation",
                 "confidence", "attained_unblended"]


def execute(cfg: RunConfig, client: Client, store: RunStore, *, log: Log = print,
            progress: Any = None, resume: bool = False) -> RunResult:
    """Submit the whole run, write every result as it completes, and return the final tables.

    With ``resume`` the view sets and portfolios already saved in the store's parts by an earlier
    run of the same config are read back instead of being recomputed.
    """
    progress = progress or LogProgress(log)
    tok = config_hash(cfg)[:16]
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    reused = {"views": 0, "portfolios": 0}

    def key(*parts: Any) -> str:
        return "sf-" + "-".join(str(p) for p in parts) + "-" + tok

    # ---- 1. scenarios ------------------------------------------------------------------------
    s = cfg.scenarios
    if s.source is not None:
        chunk_f = [scen := client.submit(stages.load_scenarios, cfg, key=key("scenarios"))]
    else:
        groups = chunk_blocks(s.count, s.block_size, s.chunks)
        transform: Future | None = None
        if s.moment_matching:
            stats = [client.submit(stages.chunk_statistics, cfg, g, key=key("stats", i))
                     for i, g in enumerate(groups)]
            transform = client.submit(stages.moment_transform, cfg, *stats, key=key("transform"))
        chunk_f = [client.submit(stages.chunk_scenarios, cfg, g, transform, key=key("chunk", i))
                   for i, g in enumerate(groups)]
        scen = client.submit(stages.assemble_scenarios, cfg, *chunk_f, key=key("scenarios"))
    inst_f = client.submit(_instrument_table, cfg, scen, key=key("instruments"))
    scen_tab_f = client.submit(_scenario_table, scen, key=key("scenario-table")) if s.write else None

    # ---- 2. views -----------------------------------------------------------------------------
    view_sets = cfg.view_sets()
    vnames = ["prior"] + list(view_sets)
    methods = {vs.name: vs.method for vs in cfg.views}
    stage_orders = {vs.name: vs.stages for vs in cfg.views}
    outcomes: dict[str, stages.ViewOutcome] = {}
    view_f: dict[str, Future] = {}
    for i, name in enumerate(vnames):
        restored = _restore_view(store, i) if resume else None
        if restored is not None:
            outcomes[name] = restored
            view_f[name] = client.scatter(restored, hash=False) if restored.q is not None else None
            reused["views"] += 1
        elif i == 0:
            view_f[name] = client.submit(stages.prior_outcome, scen, key=key("view", 0))
        else:
            view_f[name] = client.submit(stages.solve_views, scen, name, methods[name], view_sets[name],
                                         stage_orders[name], key=key("view", i))

    # ---- 3. optimisation ---------------------------------------------------------------------
    opt = cfg.optimization
    port_f: dict[Future, dict[str, Any]] = {}
    port_rows: list[dict[str, Any]] = []
    sets = cfg.constraint_set_names()
    for i, name in enumerate(vnames):
        for si, cset in enumerate(sets):
            for rm in cfg.set_measures(cset):
                idents = ([("frontier", k) for k in range(opt.points)]
                          + ([("target", j) for j in range(len(opt.targets))] if cset == "base" else [])
                          + [(obj, 0) for obj in opt.portfolios])
                todo = []
                for kind, k in idents:
                    part = _portfolio_part(i, rm, si, kind, k)
                    if resume and store.has_part("frontier", part):
                        port_rows.append(store.read_part("frontier", part).iloc[0].to_dict())
                        reused["portfolios"] += 1
                    else:
                        todo.append((kind, k))
                if not todo:
                    continue
                vf = view_f[name]
                if vf is None:  # a restored infeasible view set: no posterior to optimise under
                    vf = client.scatter(outcomes[name], hash=False)
                pkey = key("problem", i, rm, si)
                lim = None
                for kind, k in todo:
                    if kind == "frontier":
                        if lim is None:
                            lim = client.submit(stages.frontier_limits, pkey, cfg, scen, vf, rm, cset,
                                                key=key("limits", i, rm, si))
                        f = client.submit(stages.frontier_point, pkey, cfg, scen, vf, rm, lim, k, cset,
                                          key=key("point", i, rm, si, k))
                    elif kind == "target":
                        f = client.submit(stages.target_portfolio, pkey, cfg, scen, vf, rm, k, cset,
                                          key=key("target", i, rm, si, k))
                    else:
                        f = client.submit(stages.single_portfolio, pkey, cfg, scen, vf, rm, kind, cset,
                                          key=key(kind, i, rm, si))
                    port_f[f] = {"view_set": name, "risk_measure": rm, "constraint_set": cset, "kind": kind,
                                 "point": k, "portfolio": stages.portfolio_id(name, rm, cset, kind, k),
                                 "part": _portfolio_part(i, rm, si, kind, k)}
    new_views = {n: f for n, f in view_f.items() if n not in outcomes}
    progress.stage("scenario chunks", len(chunk_f))
    progress.stage("view sets", len(vnames))
    progress.stage("portfolios", len(port_f) + reused["portfolios"])
    if reused["views"]:
        progress.advance("view sets", reused["views"])
    if reused["portfolios"]:
        progress.advance("portfolios", reused["portfolios"])
    if resume:
        progress.message(f"resume: reusing {reused['views']} view set(s) and "
                         f"{reused['portfolios']} portfolio(s) from {store.root}")

    # ---- collect as they complete --------------------------------------------------------------
    name_of = {f: n for n, f in new_views.items()}
    chunk_set = set(chunk_f)
    for fut in as_completed(list(chunk_f) + list(new_views.values()) + list(port_f)):
        if fut in chunk_set:
            progress.advance("scenario chunks", failed=fut.status == "error")
            if fut.status == "error":
                fut.result()  # no scenarios, no run: surface the error
        elif fut in name_of:
            name = name_of[fut]
            outcome = fut.result()  # a failing view task is a bug: let it surface
            outcomes[name] = outcome
            _save_view(store, vnames.index(name), outcome)
            progress.advance("view sets", failed=not outcome.ok)
            progress.message(f"view set {name}: {outcome.status}"
                             + (f" (relative entropy {outcome.relative_entropy:.4f}, effective scenarios "
                                f"{outcome.effective_scenarios:.3f})" if outcome.ok else f" — {outcome.message}"))
        else:
            ident = port_f[fut]
            try:
                row = fut.result()
            except Exception as exc:  # recorded, the run goes on
                row = _error_row(ident["kind"], {k: v for k, v in ident.items() if k != "part"}, exc)
            port_rows.append(row)
            store.write_part("frontier", ident["part"], pd.DataFrame([row]))
            progress.advance("portfolios", failed=row["status"] not in ("optimal", "optimal_inaccurate"))
    timings["views_and_optimisation"] = time.perf_counter() - t_start

    # ---- 4. stress: every portfolio under every probability vector ---------------------------
    t0 = time.perf_counter()
    frontier = _frontier_table(port_rows, vnames, cfg)
    ok = frontier[frontier["status"].isin(["optimal", "optimal_inaccurate"])]
    stress_f = []
    if len(ok):
        for i, n in enumerate(vnames):
            vf = view_f[n] if view_f[n] is not None else client.scatter(outcomes[n], hash=False)
            stress_f.append(client.submit(stages.stress_table, cfg, scen, vf, ok, key=key("stress", i)))
    stress = pd.concat([f.result() for f in stress_f], ignore_index=True) if stress_f else pd.DataFrame()
    timings["stress"] = time.perf_counter() - t0

    # ---- 5. tables ---------------------------------------------------------------------------
    ordered = [outcomes[n] for n in vnames]
    views = pd.DataFrame([_views_row(o) for o in ordered])
    prob_parts = [pd.DataFrame({"scenario": np.arange(len(o.q)), "view_set": o.name, "probability": o.q})
                  for o in ordered if o.q is not None]
    tables = {
        "instruments": inst_f.result(),
        "views": views,
        "view_checks": pd.DataFrame([c for o in ordered for c in o.checks], columns=CHECK_COLUMNS),
        "probabilities": pd.concat(prob_parts, ignore_index=True),
        "frontier": frontier,
        "stress": stress,
    }
    tables["greeks"] = _greeks_table(cfg, frontier)
    if scen_tab_f is not None:
        tables["scenarios"] = scen_tab_f.result()
    timings["total_graph"] = time.perf_counter() - t_start
    counts = {
        "views": views["status"].value_counts().to_dict(),
        "portfolios": frontier["status"].value_counts().to_dict(),
        "reused_from_parts": reused,
        "computed": {"views": len(new_views), "portfolios": len(port_f)},
    }
    return RunResult(tables, timings, counts)


def _frontier_table(rows: list[dict[str, Any]], vnames: list[str], cfg: RunConfig) -> pd.DataFrame:
    """Portfolio rows in a canonical order: view set, constraint set, measure, kind, point."""
    df = pd.DataFrame(rows)
    rms = list(dict.fromkeys(rm for s in cfg.constraint_set_names() for rm in cfg.set_measures(s)))
    kinds = ["frontier", "target", "Sharpe", "Utility", "MaxRet"]
    order = {"view_set": vnames, "constraint_set": cfg.constraint_set_names(), "risk_measure": rms, "kind": kinds}
    keys = [df[c].map({v: i for i, v in enumerate(vals)}) for c, vals in order.items()]
    sort = pd.DataFrame({f"_{j}": k for j, k in enumerate(keys)}).assign(_p=df["point"])
    return df.loc[sort.sort_values(list(sort.columns)).index].reset_index(drop=True)


GREEK_ORDER = ("delta", "gamma", "vega", "theta", "rho", "convexity")


def _greeks_table(cfg: RunConfig, frontier: pd.DataFrame) -> pd.DataFrame:
    """Portfolio Greeks per underlying: one row per (portfolio, underlying), one column per Greek.

    Greeks are per unit of portfolio market value (exposures times per-unit-exposure Greeks of
    :mod:`tasks.instruments`); NaN for portfolios without exposures (not optimal).
    """
    G, keys = greeks_matrix(cfg.instrument_objects())
    E = frontier[[f"e_{n}" for n in cfg.instrument_names]].to_numpy(dtype=float)
    values = E @ G  # (P, K)
    underlyings = list(dict.fromkeys(u for _, u in keys))
    greeks = sorted({g for g, _ in keys}, key=lambda g: (GREEK_ORDER + (g,)).index(g))
    col = {k: j for j, k in enumerate(keys)}
    ident = frontier[["portfolio", "view_set", "risk_measure", "constraint_set", "kind", "point"]]
    parts = []
    for u in underlyings:
        part = ident.copy()
        part.insert(1, "underlying", u)
        for g in greeks:
            part[g] = values[:, col[(g, u)]] if (g, u) in col else 0.0
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _instrument_table(cfg: RunConfig, scen: stages.ScenarioSet) -> pd.DataFrame:
    rows = []
    for j, spec in enumerate(cfg.instruments):
        x = scen.R[:, j]
        mean = float(scen.p @ x)
        rows.append({"name": spec.name, "kind": spec.kind, "driver": getattr(spec, "driver", None), "v": float(scen.v[j]),
                     "prior_mean": mean, "prior_vol": float(np.sqrt(scen.p @ (x - mean) ** 2)),
                     "strike": getattr(spec, "strike", np.nan), "maturity": getattr(spec, "maturity", np.nan),
                     "implied_vol": getattr(spec, "vol", np.nan),
                     "option_type": getattr(spec, "option_type", None)})
    return pd.DataFrame(rows)


def _scenario_table(scen: stages.ScenarioSet) -> pd.DataFrame:
    df = pd.DataFrame(scen.R, columns=scen.instruments)
    df.insert(0, "scenario", np.arange(len(df)))
    df["probability"] = scen.p
    return df
