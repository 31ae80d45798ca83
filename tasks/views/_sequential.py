"""Sequential Entropy Pooling (SEP) and CVaR views.

Non-linear views (var, vol, skew, kurt, corr) are linear in the probabilities only once the
means / vols they are centred and standardised at are fixed. Meucci's original method fixes them
at their PRIOR values (or at the targets of ``=`` views); when the posterior moves a moment that
was not targeted -- e.g. an inequality vol view that binds -- a standardised view like skew misses
its target. Sequential EP (Vorobets, "Sequential Entropy Pooling Heuristics", 2021) processes the
views in dependency stages instead:

* C0: views linear as they stand (mean, linear, rank, prob, VaR, CVaR);
* C1: var / vol (need means);
* C2: skew, kurt, corr (need means and variances).

``H1``: stage k pins the mean (and for C2 the variance) of every variable a stage-k view -- or a
carried earlier non-linear view -- touches at its value under the stage k-1 posterior (unless an
``=`` view targets it), carries all earlier views with their original targets, and solves from
the ORIGINAL prior. ``H2``: the same constraint sets, each stage solving from the previous
stage's posterior. When every view is an equality the constraint sets are nested linear families
and, by the Pythagorean identity of I-projections, H1 and H2 give the same posterior.
``original``: Meucci's one-shot method (:func:`tasks.views.original_rows`).

An inequality mean / vol / var view on a variable whose mean / variance a stage pins is implied
by the pin (the pin value is clipped into the view's half line) and its row is left out of that
stage's solve (it would duplicate the pin row).

CVaR views
----------
With losses ``L = -x`` and tail probability alpha, ``CVaR_q = min_v g_v(q)`` with
``g_v(q) = v + E_q[(L - v)+] / alpha``, minimised at ``v = VaR_q``; ``g_v`` is linear in q. A
CVaR view that binds is solved as the equality row ``g_v(q) = target`` at a level v that is a
VaR of the resulting posterior: ``P_q(L > v) <= alpha <= P_q(L >= v)`` (the tail-mass
condition). The level is found by a one-dimensional root search on the tail-mass mismatch
``m(v)`` (> 0: level too low, < 0: too high, 0: condition met), each evaluation an EP solve:
galloping then bisection over the sorted scenario losses (m jumps at each loss), then
``scipy.optimize.brentq`` inside the last gap, where m is continuous. At the root the posterior's
CVaR equals the target (to the EP tolerance). For ``>=`` views the feasible set is convex and
the root is its EP solution; for ``<=`` it is a stationary point of the (non-convex) problem,
the one nearest the VaR of the posterior without the view. A ``<=`` / ``>=`` view the
posterior without it already meets is left out; several CVaR views are solved by cyclic
(Gauss-Seidel) root searches.

Confidence
----------
Views with confidence c < 1 are blended with the prior: one confidence level c gives
``c * q + (1 - c) * p`` exactly (Meucci). Several levels ``c_1 > ... > c_m`` are pooled as
``sum_k (c_k - c_(k+1)) q_k + (1 - c_1) p`` with ``q_k`` the posterior of the views with
confidence ``>= c_k`` (``c_(m+1) = 0``), so each view is held with total weight equal to its
confidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tasks._arrays import aligned
from tasks.errors import ViewsInfeasible
from tasks.views._entropy_pooling import relative_entropy
from tasks.views._rows import (
    Plan,
    mean_pin,
    moment,
    original_plan,
    reference_needs,
    statistic,
    target_value,
    var_pin,
    view_data,
    view_row,
    violation,
)
from tasks.views._sep_levels import _make_tail, _Problem, _solve_stage, _Tail
from tasks.views._view import View
from tasks.vocabulary import METHODS, SEPMethod

__all__ = ["Method", "METHODS", "StageResult", "SequentialResult", "sequential_entropy_pooling"]

Method = SEPMethod


@dataclass(frozen=True)
class StageResult:
    """One EP solve of a sequential run.

    Attributes
    ----------
    index : stage number (0-based, empty stages skipped).
    name : ``"C0"``, ``"C1"``, ``"C2"``, ``"stage k"`` (custom order) or ``"original"``.
    views : labels of the views introduced at this stage.
    constraints : names of every EP row solved at this stage: carried views, pins
        (``"mean(X) pinned at ..."``), CVaR rows with their VaR level.
    posterior : (S,) posterior of the stage.
    relative_entropy : RE of ``posterior`` against the ORIGINAL prior.
    effective_scenarios : ``exp(-relative_entropy)``, a fraction of the prior's scenarios.
    max_residual : largest EP row residual of the final solve (row units).
    converged : EP reached its tolerance and every binding CVaR view its level.
    cvar_levels : VaR level v of each binding CVaR view (by label).
    """

    index: int
    name: str
    views: tuple[str, ...]
    constraints: tuple[str, ...]
    posterior: np.ndarray = field(repr=False)
    relative_entropy: float
    effective_scenarios: float
    max_residual: float
    converged: bool
    cvar_levels: Mapping[str, float]


@dataclass(frozen=True)
class SequentialResult:
    """Result of :func:`sequential_entropy_pooling`.

    Attributes
    ----------
    posterior : (S,) final probabilities (after confidence blending).
    relative_entropy : RE of ``posterior`` against the ORIGINAL prior.
    effective_scenarios : ``exp(-relative_entropy)`` in (0, 1].
    stages : the stages of the run holding every view at full confidence.
    checks : one row per view: view (label), stat, on, op, target, prior_value, attained,
        violation (>= 0, the statistic's units; of ``posterior``), confidence,
        attained_unblended (under ``unblended``).
    method : ``"H1"``, ``"H2"`` or ``"original"``.
    unblended : (S,) posterior with every view at full confidence (= ``posterior`` when all
        confidences are 1).
    """

    posterior: np.ndarray = field(repr=False)
    relative_entropy: float
    effective_scenarios: float
    stages: list[StageResult]
    checks: pd.DataFrame = field(repr=False)
    method: str
    unblended: np.ndarray = field(repr=False)

    @property
    def max_violation(self) -> float:
        """Largest entry of ``checks.violation`` (0 without views)."""
        return float(self.checks["violation"].max()) if len(self.checks) else 0.0

    @property
    def converged(self) -> bool:
        return all(s.converged for s in self.stages)


# ------------------------------------------------------------------------------------------------
# problem data (the :class:`_Problem` container lives in :mod:`tasks.views._sep_levels`)
# ------------------------------------------------------------------------------------------------
def _prior(p: np.ndarray | None, S: int) -> np.ndarray:
    if p is None:
        return np.full(S, 1.0 / S)
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (S,):
        raise ValueError(f"p must have shape ({S},), got {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("p must be finite and non-negative")
    total = float(p.sum())
    if abs(total - 1.0) > 1e-8:
        raise ValueError(f"p must sum to 1, sums to {total!r}")
    return aligned(p)  # not renormalised: the confidence blend c q + (1 - c) p uses p as given


# ------------------------------------------------------------------------------------------------
# stage plans
# ------------------------------------------------------------------------------------------------
def _clip(value: float, op: str, target: float) -> float:
    if op == "<=":
        return min(value, target)
    if op == ">=":
        return max(value, target)
    return value


def _sep_plan(prob: _Problem, active: list[int], q_prev: np.ndarray, note: str) -> Plan:
    """References and pins of an H1/H2 stage: targeted by an ``=`` view, else pinned at q_prev."""
    views, targets = prob.views, prob.targets
    need_mean, need_vol, _ = reference_needs([views[i] for i in active])
    plan = Plan()
    for name in need_mean:
        x = prob.column(name)
        on = [i for i in active if views[i].stat == "mean" and views[i].on == name]
        eq = [targets[i] for i in on if views[i].op == "="]
        if eq:
            plan.mean_ref[name] = eq[0]
        else:
            m = moment(x, q_prev, "mean")
            for i in on:
                m = _clip(m, views[i].op, targets[i])
            plan.mean_ref[name] = m
            plan.pins.append(mean_pin(x, name, m, note))
            plan.implied.update(on)
    for name in need_vol:
        x = prob.column(name)
        on = [i for i in active if views[i].stat in ("vol", "var") and views[i].on == name]
        sq = {i: targets[i] ** 2 if views[i].stat == "vol" else targets[i] for i in on}
        eq = [sq[i] for i in on if views[i].op == "="]
        if eq:
            plan.vol_ref[name] = math.sqrt(eq[0])
        else:
            s2 = moment(x, q_prev, "var")
            for i in on:
                s2 = _clip(s2, views[i].op, sq[i])
            plan.vol_ref[name] = math.sqrt(s2)
            plan.pins.append(var_pin(x, name, plan.mean_ref[name], s2, note))
            plan.implied.update(on)
    return plan


def _stage_lists(
    views: Sequence[View], stages: Sequence[Sequence[int | View]] | None, method: str
) -> list[tuple[str, list[int]]]:
    n = len(views)
    if stages is None:
        if method == "original":
            return [("original", list(range(n)))]
        groups = [[i for i, v in enumerate(views) if v.stage == k] for k in range(3)]
        return [(f"C{k}", g) for k, g in enumerate(groups) if g]
    if method == "original":
        raise ValueError("a custom stage order applies to H1 / H2, not to the original method")
    out: list[tuple[str, list[int]]] = []
    seen: list[int] = []
    for stage in stages:
        idx: list[int] = []
        for item in stage:
            if isinstance(item, View):
                hits = [i for i, v in enumerate(views) if v == item]
                if len(hits) != 1:
                    raise ValueError(f"stages: view {item.label} matches {len(hits)} views; use indices")
                idx.append(hits[0])
            elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= item < n:
                idx.append(int(item))
            else:
                raise ValueError(f"stages: {item!r} is neither a view nor a view index in [0, {n})")
        seen += idx
        if idx:
            out.append((f"stage {len(out)}", idx))
    if sorted(seen) != list(range(n)):
        raise ValueError("stages must list every view exactly once")
    return out


# ------------------------------------------------------------------------------------------------
# runs
# ------------------------------------------------------------------------------------------------
def _stage(
    prob: _Problem, k: int, name: str, new: list[int], active: list[int], plan: Plan, start: np.ndarray
) -> StageResult:
    views, data, targets = prob.views, prob.data, prob.targets
    rows = list(plan.pins)
    tails: list[_Tail] = []
    for i in active:
        if views[i].stat == "CVaR":
            tails.append(_make_tail(prob, i))
        elif i not in plan.implied:
            rows.append(view_row(data[i], views[i], targets[i], mean_ref=plan.mean_ref,
                                 vol_ref=plan.vol_ref, p=prob.p0))
    try:
        res, names, levels, ok = _solve_stage(prob, start, rows, tails)
    except ViewsInfeasible as exc:
        raise ViewsInfeasible(f"stage {name}: {exc}", exc.views) from exc
    q = res.posterior
    re = relative_entropy(q, prob.p0)
    return StageResult(
        index=k, name=name, views=tuple(views[i].label for i in new), constraints=tuple(names),
        posterior=q, relative_entropy=re, effective_scenarios=math.exp(-re),
        max_residual=res.max_residual, converged=bool(res.converged and ok),
        cvar_levels={views[i].label: v for i, v in levels.items()},
    )


def _run(prob: _Problem, method: str, plan: list[tuple[str, list[int]]]) -> list[StageResult]:
    if method == "original":
        idx = [i for _, g in plan for i in g]
        vs = [prob.views[i] for i in idx]
        orig = original_plan(prob.X, prob.columns, prob.p0, vs, [prob.targets[i] for i in idx])
        return [_stage(prob, 0, "original", idx, idx, orig, prob.p0)]
    out: list[StageResult] = []
    active: list[int] = []
    q_prev = prob.p0
    for name, new in plan:
        if not new:
            continue
        active = active + new
        note = "prior" if not out else f"stage {out[-1].name} posterior"
        sp = _sep_plan(prob, active, q_prev, note)
        start = prob.p0 if method == "H1" else q_prev
        st = _stage(prob, len(out), name, new, active, sp, start)
        out.append(st)
        q_prev = st.posterior
    return out


def _checks(prob: _Problem, q: np.ndarray, q_full: np.ndarray) -> pd.DataFrame:
    recs = []
    for v, d, t in zip(prob.views, prob.data, prob.targets):
        got = statistic(d, q, v)
        recs.append({
            "view": v.label, "stat": v.stat, "on": v.on_label, "op": v.op, "target": t,
            "prior_value": statistic(d, prob.p0, v), "attained": got,
            "violation": violation(v.op, t, got), "confidence": v.confidence,
            "attained_unblended": statistic(d, q_full, v),
        })
    cols = ["view", "stat", "on", "op", "target", "prior_value", "attained", "violation",
            "confidence", "attained_unblended"]
    return pd.DataFrame.from_records(recs, columns=cols)


def sequential_entropy_pooling(
    R: pd.DataFrame,
    p: np.ndarray | None,
    views: Sequence[View],
    method: Method = "H1",
    stages: Sequence[Sequence[int | View]] | None = None,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> SequentialResult:
    """Entropy Pooling posterior of a view set, stage by stage (H1 / H2) or one-shot (original).

    Parameters
    ----------
    R : DataFrame (S, n)
        Scenario values, one column per variable (driver returns, instrument P&L); the views
        refer to the column names. Must be finite.
    p : (S,) array or None
        ORIGINAL prior probabilities (sum to 1 within 1e-8; None = uniform). Targets such as
        ``"prior * 1.2"`` and the reported relative entropy refer to it.
    views : the views (:class:`tasks.views.View`).
    method : ``"H1"`` (default), ``"H2"`` or ``"original"``.
    stages : optional custom stage order for H1 / H2: a sequence of stages, each a sequence of
        views or indices into ``views``; every view exactly once. Default: C0, C1, C2 by stat.
    tol, max_iter : passed to :func:`tasks.views.solve_entropy_pooling`.

    Returns
    -------
    SequentialResult

    Raises
    ------
    ViewsInfeasible
        If a view (set) cannot be attained: a target outside the scenarios' range (mean above
        the largest value, CVaR beyond the worst loss, ...), contradictory views, or views that
        conflict with the moments a stage pins. ``.views`` names the offending rows.
    KeyError
        If a view names a variable that is not a column of R.
    ValueError
        On malformed inputs (unknown method, bad stages, non-finite R, bad p).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if not isinstance(R, pd.DataFrame):
        raise TypeError(f"R must be a pandas DataFrame, got {type(R).__name__}")
    columns = [str(c) for c in R.columns]
    if len(set(columns)) != len(columns):
        raise ValueError("R has duplicate column names")
    X = aligned(R.to_numpy(dtype=np.float64))
    if not np.all(np.isfinite(X)):
        raise ValueError("R must be finite")
    p0 = _prior(p, X.shape[0])
    views = list(views)
    for v in views:
        if not isinstance(v, View):
            raise TypeError(f"views must be View objects, got {type(v).__name__}")
    plan = _stage_lists(views, stages, method)
    data = [view_data(X, columns, v) for v in views]
    targets = [target_value(d, p0, v) for d, v in zip(data, views)]
    prob = _Problem(X, columns, p0, views, data, targets, float(tol), int(max_iter))

    if not views:
        return SequentialResult(p0.copy(), 0.0, 1.0, [], _checks(prob, p0, p0), method, p0.copy())

    levels = sorted({v.confidence for v in views}, reverse=True)
    posts: list[np.ndarray] = []
    stage_results: list[StageResult] = []
    for c in levels:
        keep = {i for i, v in enumerate(views) if v.confidence >= c}
        sub = [(name, [i for i in g if i in keep]) for name, g in plan]
        stage_results = _run(prob, method, sub)
        posts.append(stage_results[-1].posterior)
    q_full = posts[-1]
    if levels == [1.0]:
        q = q_full
    else:
        w = np.array(levels) - np.append(levels[1:], 0.0)  # c_k - c_(k+1)
        q = (1.0 - levels[0]) * p0
        for wk, qk in zip(w, posts):
            q = q + wk * qk
    re = relative_entropy(q, p0)
    return SequentialResult(
        posterior=q, relative_entropy=re, effective_scenarios=math.exp(-re),
        stages=stage_results, checks=_checks(prob, q, q_full), method=method, unblended=q_full,
    )
