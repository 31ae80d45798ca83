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
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from distributed import Client, Future, as_completed

from pipeline import stages
from pipeline.config import RunConfig, config_hash
from pipeline.store import RunStore
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
            "n_views": o.n_views, "relative_entropy": o.relative_entropy,
            "effective_scenarios": o.effective_scenarios, "max_residual": o.max_residual,
            "seconds": o.seconds}


def _error_row(kind: str, ident: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    return {**ident, "kind": kind, "status": "error", "message": f"{type(exc).__name__}: {exc}"}


def execute(cfg: RunConfig, client: Client, store: RunStore, *, log: Log = print) -> RunResult:
    """Submit the whole run, write every result as it completes, and return the final tables."""
    tok = config_hash(cfg)[:16]
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    def key(*parts: Any) -> str:
        return "sf-" + "-".join(str(p) for p in parts) + "-" + tok

    # ---- 1. scenarios ------------------------------------------------------------------------
    s = cfg.scenarios
    if s.source is not None:
        scen = client.submit(stages.load_scenarios, cfg, key=key("scenarios"))
        n_chunks = 1
    else:
        groups = chunk_blocks(s.count, s.block_size, s.chunks)
        n_chunks = len(groups)
        transform: Future | None = None
        if s.moment_matching:
            stats = [client.submit(stages.chunk_statistics, cfg, g, key=key("stats", i))
                     for i, g in enumerate(groups)]
            transform = client.submit(stages.moment_transform, cfg, *stats, key=key("transform"))
        parts = [client.submit(stages.chunk_scenarios, cfg, g, transform, key=key("chunk", i))
                 for i, g in enumerate(groups)]
        scen = client.submit(stages.assemble_scenarios, cfg, *parts, key=key("scenarios"))
    inst_f = client.submit(_instrument_table, cfg, scen, key=key("instruments"))
    scen_tab_f = client.submit(_scenario_table, scen, key=key("scenario-table")) if s.write else None

    # ---- 2. views -----------------------------------------------------------------------------
    view_sets = cfg.view_sets()
    vnames = ["prior"] + list(view_sets)
    view_f: dict[str, Future] = {"prior": client.submit(stages.prior_outcome, scen, key=key("view", 0))}
    methods = {vs.name: vs.method for vs in cfg.views}
    for i, name in enumerate(vnames[1:], start=1):
        view_f[name] = client.submit(stages.solve_views, scen, name, methods[name], view_sets[name],
                                     key=key("view", i))

    # ---- 3. optimisation ---------------------------------------------------------------------
    opt = cfg.optimization
    port_f: dict[Future, dict[str, Any]] = {}
    for i, name in enumerate(vnames):
        for rm in opt.risk_measures:
            pkey = key("problem", i, rm)
            lim = client.submit(stages.frontier_limits, pkey, cfg, scen, view_f[name], rm,
                                key=key("limits", i, rm))
            for k in range(opt.points):
                f = client.submit(stages.frontier_point, pkey, cfg, scen, view_f[name], rm, lim, k,
                                  key=key("point", i, rm, k))
                port_f[f] = {"view_set": name, "risk_measure": rm, "kind": "frontier", "point": k}
            for j in range(len(opt.targets)):
                f = client.submit(stages.target_portfolio, pkey, cfg, scen, view_f[name], rm, j,
                                  key=key("target", i, rm, j))
                port_f[f] = {"view_set": name, "risk_measure": rm, "kind": "target", "point": j}
    log(f"submitted: {n_chunks} scenario chunk(s), {len(vnames) - 1} view set(s), "
        f"{len(port_f)} portfolio optimisation(s)")

    # ---- collect views and portfolios as they complete ----------------------------------------
    view_rows: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    probs: dict[str, np.ndarray] = {}
    outcomes: dict[str, stages.ViewOutcome] = {}
    port_rows: list[dict[str, Any]] = []
    name_of = {f: n for n, f in view_f.items()}
    done_views = done_ports = 0
    for fut in as_completed(list(view_f.values()) + list(port_f)):
        if fut in name_of:
            name = name_of[fut]
            outcome = fut.result()  # a failing view task is a bug: let it surface
            outcomes[name] = outcome
            view_rows.append(_views_row(outcome))
            checks.extend(outcome.checks)
            if outcome.q is not None:
                probs[name] = outcome.q
            store.write_part("views", f"v{vnames.index(name)}", pd.DataFrame([view_rows[-1]]))
            done_views += 1
            log(f"views {done_views}/{len(view_f)}: {name} {outcome.status}"
                + (f" (RE {outcome.relative_entropy:.4f}, ENS {outcome.effective_scenarios:.3f})"
                   if outcome.ok else f" — {outcome.message}"))
        else:
            ident = port_f[fut]
            try:
                row = fut.result()
            except Exception as exc:  # recorded, the run goes on
                row = _error_row(ident["kind"], ident, exc)
            port_rows.append(row)
            part = f"{vnames.index(ident['view_set'])}-{ident['risk_measure']}-{ident['kind']}{ident['point']}"
            store.write_part("frontier", part, pd.DataFrame([row]))
            done_ports += 1
            if done_ports == len(port_f) or done_ports % max(1, len(port_f) // 10) == 0:
                log(f"portfolios {done_ports}/{len(port_f)}")
    timings["views_and_optimisation"] = time.perf_counter() - t_start

    # ---- 4. stress: every portfolio under every probability vector ---------------------------
    t0 = time.perf_counter()
    frontier = _frontier_table(port_rows, vnames, opt.risk_measures)
    ok = frontier[frontier["status"].isin(["optimal", "optimal_inaccurate"])]
    stress_f = [client.submit(stages.stress_table, cfg, scen, view_f[n], ok, key=key("stress", i))
                for i, n in enumerate(vnames)] if len(ok) else []
    stress = pd.concat([f.result() for f in stress_f], ignore_index=True) if stress_f else pd.DataFrame()
    timings["stress"] = time.perf_counter() - t0

    # ---- 5. tables ---------------------------------------------------------------------------
    order = {n: i for i, n in enumerate(vnames)}
    views = pd.DataFrame(view_rows).sort_values("view_set", key=lambda c: c.map(order)).reset_index(drop=True)
    prob_tab = pd.DataFrame({
        "scenario": np.concatenate([np.arange(len(q)) for q in probs.values()]) if probs else [],
        "view_set": np.concatenate([[n] * len(probs[n]) for n in vnames if n in probs]) if probs else [],
        "probability": np.concatenate([probs[n] for n in vnames if n in probs]) if probs else [],
    })
    tables = {
        "instruments": inst_f.result(),
        "views": views,
        "view_checks": pd.DataFrame(checks, columns=["view_set", "view", "stat", "on", "op", "target",
                                                     "prior_value", "attained", "violation"]),
        "probabilities": prob_tab,
        "frontier": frontier,
        "stress": stress,
    }
    if scen_tab_f is not None:
        tables["scenarios"] = scen_tab_f.result()
    timings["total_graph"] = time.perf_counter() - t_start
    counts = {
        "views": views["status"].value_counts().to_dict(),
        "portfolios": frontier["status"].value_counts().to_dict(),
    }
    return RunResult(tables, timings, counts)


def _frontier_table(rows: list[dict[str, Any]], vnames: list[str], rms: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    vorder = {n: i for i, n in enumerate(vnames)}
    rorder = {r: i for i, r in enumerate(rms)}
    df["_v"] = df["view_set"].map(vorder)
    df["_r"] = df["risk_measure"].map(rorder)
    df["_k"] = (df["kind"] != "frontier").astype(int)
    df = df.sort_values(["_v", "_r", "_k", "point"]).drop(columns=["_v", "_r", "_k"]).reset_index(drop=True)
    return df


def _instrument_table(cfg: RunConfig, scen: stages.ScenarioSet) -> pd.DataFrame:
    rows = []
    for j, spec in enumerate(cfg.instruments):
        x = scen.R[:, j]
        mean = float(scen.p @ x)
        rows.append({"name": spec.name, "kind": spec.kind, "driver": spec.driver, "v": float(scen.v[j]),
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
