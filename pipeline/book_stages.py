"""Worker functions of the user's book: shock repricing, limits and the rebalancing trade, the
book's P&L contributions per view set, and its stress table.

Like :mod:`pipeline.stages` they take plan pieces (:class:`pipeline.plan.ShockPlan`,
:class:`pipeline.plan.LimitsPlan`, :class:`pipeline.plan.BookPlan`), the scenario set and view
outcomes, and call the numerical code of :mod:`tasks`; they never see the config. Their results
are small (one row per shock, limit, instrument or book portfolio): nothing of size S comes back.

Units: exposures per unit of portfolio value (``v @ e == 1``); P&L per unit of portfolio value
over the horizon; shock moves in the model's units (log-change for spot / fx / vol, additive for
rate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.plan import BookPlan, FactorModelPlan, LimitsPlan, Realigned, ShockPlan
from pipeline.stages import ScenarioSet, ViewOutcome, stress_table
from tasks.instruments import scenario_pnl
from tasks.measures import value_at_risk
from tasks.optimization import (
    CompiledLimits,
    Limits,
    RebalanceResult,
    RiskLimit,
    compile_limits,
    evaluate_limits,
    rebalance,
)
from tasks.scenarios import DriverScenarios, shock_moves, shock_values, worst_rows
from tasks.vocabulary import CAP_FIELDS, DRAWDOWN_MEASURES, RiskMeasure, Status

__all__ = [
    "ShockOutcome",
    "LimitsOutcome",
    "reprice_shocks",
    "factor_shock_assets",
    "book_limits",
    "book_contributions",
    "book_stress",
    "euler_contributions",
    "VIEW_INFEASIBLE",
]

#: status of a limit under a view set without a posterior (left out of the rebalance)
VIEW_INFEASIBLE = Status.view_infeasible.value


# ---- shocks -------------------------------------------------------------------------------------

@dataclass
class ShockOutcome(Realigned):
    """Every deterministic shock of a run, repriced (small: one row per shock).

    Attributes
    ----------
    names : (n,) shock names, plan order (a ``worst`` entry's kept rows worst first).
    source, propagate : (n,) of each shock's entry.
    drivers : (D,) driver names (``ShockSpace.names`` order); kinds : (D,) their kinds.
    values : (n, D) horizon value of every driver under each shock (model units).
    given : (n, D) bool, True where the shock names the driver (False: propagated or left at 0).
    pnl : (n, N) P&L per unit exposure of every instrument (full revaluation at ``values``).
    """

    names: list[str]
    source: list[str]
    propagate: list[str]
    drivers: list[str]
    kinds: list[str]
    values: np.ndarray
    given: np.ndarray
    pnl: np.ndarray


def factor_shock_assets(x: np.ndarray, fm: FactorModelPlan) -> np.ndarray:
    """(n, N_assets) asset-driver values at factor-driver shocks ``x`` (n, D): their conditional
    mean given the factors, ``k alpha + B x_factors`` (horizon log-returns; no residual)."""
    f = x[:, list(fm.factor_columns)]
    out = np.broadcast_to(fm.periods * fm.loadings.alpha, (x.shape[0], len(fm.assets))).copy()
    for j in range(f.shape[1]):
        out += f[:, j, None] * fm.loadings.B[None, :, j]
    return out


def reprice_shocks(shocks: ShockPlan, book: BookPlan) -> ShockOutcome:
    """Reprice every instrument of ``book`` at every shock of ``shocks`` (needs no scenarios).

    Each entry's shocks get their driver values by :func:`tasks.scenarios.shock_values` with the
    entry's ``propagate``, and the instruments are repriced on them by the scenarios' repricing
    (:func:`tasks.instruments.scenario_pnl`). A ``worst`` entry keeps the ``worst`` shocks with
    the lowest book P&L ``pnl @ book.holdings``, worst first (:func:`tasks.scenarios.worst_rows`).
    """
    space = shocks.space
    insts = list(book.instruments)
    names: list[str] = []
    source: list[str] = []
    propagate: list[str] = []
    values, given, pnl = [], [], []
    driver_names, kinds = list(space.names), list(space.kinds)
    fm = shocks.factor_model
    if fm is not None:
        driver_names, kinds = driver_names + list(fm.assets), kinds + ["spot"] * len(fm.assets)
    for entry in shocks.entries:
        x = shock_values(list(entry.shocks), space, entry.propagate)  # (n_e, D)
        if fm is not None:
            x = np.concatenate([x, factor_shock_assets(x, fm)], axis=1)
        r = scenario_pnl(insts, DriverScenarios(driver_names, x, space.horizon))  # (n_e, N)
        g = np.zeros(x.shape, dtype=bool)
        for i, shock in enumerate(entry.shocks):
            for d in shock_moves(shock, space):
                g[i, space.index(d)] = True
        keep = np.arange(len(entry.shocks))
        if entry.worst is not None and book.holdings is not None:
            keep = worst_rows(r @ np.asarray(book.holdings, dtype=float), min(int(entry.worst), len(keep)))
        names += [entry.shocks[i].name for i in keep]
        source += [entry.source] * len(keep)
        propagate += [entry.propagate] * len(keep)
        values.append(x[keep])
        given.append(g[keep])
        pnl.append(r[keep])
    D, N = len(driver_names), len(insts)
    return ShockOutcome(names, source, propagate, driver_names, kinds,
                        np.concatenate(values, axis=0) if values else np.zeros((0, D)),
                        np.concatenate(given, axis=0) if given else np.zeros((0, D), dtype=bool),
                        np.concatenate(pnl, axis=0) if pnl else np.zeros((0, N)))


# ---- limits and the rebalancing trade -----------------------------------------------------------

@dataclass
class LimitsOutcome(Realigned):
    """The book's limits and the rebalancing trade (small: one row per limit / instrument).

    Attributes
    ----------
    book : limits of the book: ``tasks.optimization.LIMIT_COLUMNS`` plus ``status`` (``ok``, or
        ``view_infeasible`` for a cap under a view set without a posterior: value and excess NaN,
        not breached, left out of the rebalance) and ``conflict`` (in the named conflicting set).
    rebalanced : the same for the book after the trade (None without an ok rebalance).
    status, message : of the rebalance (None / "" without ``rebalance:``).
    current, target, rates : (N,) exposures before and after the trade (target NaN unless ok),
        cost rates; None without a rebalance.
    conflicts : names of the limits that cannot all be met (infeasible rebalance).
    """

    book: pd.DataFrame
    rebalanced: pd.DataFrame | None = None
    status: str | None = None
    message: str = ""
    current: np.ndarray | None = None
    target: np.ndarray | None = None
    rates: np.ndarray | None = None
    conflicts: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in (Status.optimal.value, Status.optimal_inaccurate.value)


def _per_step_paths(scen: ScenarioSet) -> np.ndarray | None:
    """(S, steps, N) per-step P&L paths per unit exposure (drawdown caps), or None without paths."""
    return None if scen.paths is None else np.diff(scen.paths, axis=1, prepend=0.0)


def _needs_paths(limits: LimitsPlan) -> bool:
    caps = {m for m, c in CAP_FIELDS.items() if getattr(limits.constraints, c) is not None}
    caps |= {RiskMeasure(rm) for _, rm, _ in limits.view_caps}
    return bool(caps & DRAWDOWN_MEASURES)


def _compile(limits: LimitsPlan, scen: ScenarioSet,
             outcomes: dict[str, ViewOutcome]) -> tuple[CompiledLimits, list[tuple[int, str]]]:
    """The limits compiled on the scenario set: the constraint set under the prior, then each view
    cap under its view set's posterior (its own path probabilities for a drawdown cap). Also, per
    view cap in order, (number of compiled rows, status): 1 and ``ok``, or 0 and ``view_infeasible``."""
    paths = _per_step_paths(scen) if _needs_paths(limits) else None
    kw = {"R": scen.R, "names": scen.instruments, "alpha": limits.alpha, "rf": limits.rf,
          "demean": limits.demean}
    base = compile_limits(Limits(limits.constraints), p=scen.p, paths=paths,
                          path_p=scen.p if paths is not None else None, **kw)
    rows, layout = list(base.rows), []
    for name, rm, cap in limits.view_caps:
        view = outcomes[name]
        if not view.ok:
            layout.append((0, VIEW_INFEASIBLE))
            continue
        dd = RiskMeasure(rm) in DRAWDOWN_MEASURES
        cap_limit = RiskLimit(rm, cap, alpha=limits.alpha, rf=limits.rf, demean=limits.demean, label=name)
        one = compile_limits(Limits(None, [cap_limit]), p=view.q, paths=paths if dd else None,
                             path_p=view.q if dd else None, **kw)
        rows += list(one.rows)
        layout.append((len(one.rows), "ok"))
    return CompiledLimits(tuple(rows), base.n, base.names), layout


def _limit_table(limits: LimitsPlan, compiled: CompiledLimits, layout: list[tuple[int, str]],
                 e: np.ndarray, conflicts: tuple[str, ...] = ()) -> pd.DataFrame:
    """Every limit on exposures ``e`` (N,), view caps in ``limits.view_caps`` order, with the
    ``status`` and ``conflict`` columns (see :class:`LimitsOutcome`)."""
    ev = evaluate_limits(compiled, e)
    n_caps = sum(k for k, _ in layout)
    head = ev.iloc[:len(ev) - n_caps].assign(status="ok")
    parts, at = [head], len(ev) - n_caps
    for (k, status), (name, rm, cap) in zip(layout, limits.view_caps):
        if k:
            parts.append(ev.iloc[at:at + k].assign(status=status))
            at += k
        else:
            label = RiskLimit(rm, cap, label=name).default_name
            parts.append(pd.DataFrame({"limit": [label], "family": ["risk"], "sense": ["<="], "value": [np.nan],
                                       "bound": [float(cap)], "excess": [np.nan], "breached": [False],
                                       "status": [status]}))
    out = pd.concat(parts, ignore_index=True)
    out["breached"] = out["breached"].astype(bool)
    out["conflict"] = out["limit"].isin(list(conflicts))
    return out


def book_limits(limits: LimitsPlan, book: BookPlan, scen: ScenarioSet, *views: ViewOutcome) -> LimitsOutcome:
    """Evaluate every limit on the book and, with cost rates, find the least-cost trade that
    restores them all (:func:`tasks.optimization.rebalance`, budget ``v @ e == 1``).

    Parameters
    ----------
    limits : the limits and rebalance settings; its view caps use the posteriors of ``views``.
    book : ``book.holdings`` (N,) are the current exposures.
    scen : the scenario set (R (S, N), prior p (S,), paths for drawdown caps).
    views : the outcomes of every view set named by ``limits.view_caps`` (``prior`` included when
        named). A cap under a view set that is not ok is reported as ``view_infeasible`` and left
        out of the rebalance.
    """
    outcomes = {v.name: v for v in views}
    compiled, layout = _compile(limits, scen, outcomes)
    e0 = np.asarray(book.holdings, dtype=float)
    if limits.costs is None:
        return LimitsOutcome(_limit_table(limits, compiled, layout, e0))
    costs = np.asarray(limits.costs, dtype=float)
    try:
        res = rebalance(compiled, e0, scen.v, costs, solver=limits.solver)
    except (ValueError, RuntimeError) as exc:  # recorded: the rest of the book's work goes on
        res = RebalanceResult(Status.error.value, e0, np.full(e0.shape, np.nan), costs, tuple(scen.instruments),
                              message=f"{type(exc).__name__}: {exc}")
    out = LimitsOutcome(_limit_table(limits, compiled, layout, e0, res.conflicts), status=res.status,
                        message=res.message, current=e0, target=np.asarray(res.target, dtype=float),
                        rates=costs, conflicts=tuple(res.conflicts))
    if out.ok:
        out.rebalanced = _limit_table(limits, compiled, layout, out.target)
    return out


# ---- contributions and stress -------------------------------------------------------------------

def euler_contributions(R: np.ndarray, q: np.ndarray, e: np.ndarray,
                        alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-instrument contributions to the mean, vol and CVaR of the P&L ``P = R @ e``.

    Parameters
    ----------
    R : (S, N) P&L per unit exposure; q : (S,) probabilities; e : (N,) exposures.
    alpha : tail probability of CVaR (0.05 = 95 %).

    Returns
    -------
    (expected (N,), vol (N,), cvar (N,)), P&L units:

    * expected ``e_i E_q[r_i]`` (sums to ``E_q[P]``);
    * vol ``e_i cov_q(r_i, P) / sd_q(P)`` (Euler; sums to ``sd_q(P)``; 0 for a constant P);
    * cvar ``e_i E_w[-r_i]`` with tail weights w (S,): ``q_s / alpha`` on the scenarios whose loss
      ``-P_s`` exceeds VaR (:func:`tasks.measures.value_at_risk`), the rest of the mass
      ``1 - sum`` on the scenarios at VaR (pro rata q), so they sum to CVaR_alpha(P) exactly as
      :func:`tasks.measures.conditional_value_at_risk` computes it.
    """
    R = np.asarray(R, dtype=float)
    q = np.asarray(q, dtype=float)
    e = np.asarray(e, dtype=float)
    P = R @ e
    mu_i = q @ R
    expected = e * mu_i
    dev = P - float(q @ P)
    sd = float(np.sqrt(q @ dev**2))
    cov = (q * dev) @ (R - mu_i)
    vol = e * cov / sd if sd > 0 else np.zeros_like(e)
    loss = -P
    var = float(value_at_risk(P, q, alpha))
    w = np.where((loss > var) & (q > 0), q / alpha, 0.0)
    at = (loss == var) & (q > 0)
    rest = 1.0 - float(w.sum())
    if at.any():
        w[at] += rest * q[at] / float(q[at].sum())
    cvar = e * (w @ (-R))
    return expected, vol, cvar


def book_contributions(alpha: float, scen: ScenarioSet, view: ViewOutcome, portfolios: pd.DataFrame,
                       value: float | None = None) -> pd.DataFrame:
    """Rows of ``book.parquet`` for one probability vector: every instrument's contribution to the
    P&L of each book portfolio (book, rebalanced).

    Columns: view_set, status (the view set's), portfolio, instrument, exposure, expected_pnl,
    vol_contribution, cvar_contribution (:func:`euler_contributions` under ``view.q``, tail
    ``alpha``), and with ``value`` (currency) expected_pnl_ccy, cvar_contribution_ccy. NaN numbers
    for a view set without a posterior. Rows: portfolios in frame order, instruments in config order.
    """
    parts = []
    for _, row in portfolios.iterrows():
        e = np.array([float(row[f"e_{n}"]) for n in scen.instruments])
        if view.ok:
            mean, vol, cvar = euler_contributions(scen.R, view.q, e, alpha)
        else:
            mean = vol = cvar = np.full(e.shape, np.nan)
        part = pd.DataFrame({"view_set": view.name, "status": view.status, "portfolio": row["portfolio"],
                             "instrument": list(scen.instruments), "exposure": e, "expected_pnl": mean,
                             "vol_contribution": vol, "cvar_contribution": cvar})
        if value is not None:
            part["expected_pnl_ccy"] = mean * float(value)
            part["cvar_contribution_ccy"] = cvar * float(value)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def book_stress(alpha: float, scen: ScenarioSet, view: ViewOutcome, portfolios: pd.DataFrame) -> pd.DataFrame:
    """The book portfolios' stress rows under one probability vector (:func:`pipeline.stages.stress_table`),
    text columns as strings even where every value is missing (the book has no view set, measure or
    constraint set), so a book-only run's ``stress.parquet`` has the column types of a full run's."""
    out = stress_table(alpha, scen, view, portfolios)
    return out.astype({c: "str" for c in out.columns if out[c].dtype == object})
