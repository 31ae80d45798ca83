"""Statistics, targets and Entropy Pooling rows of views; Meucci's original one-shot method.

Every view becomes ONE linear row ``row . q op target`` once its reference values are known:

* mean / linear / rank / prob: the row is exact as it stands.
* VaR: ``P_q(L > v) op alpha`` with ``L = -x`` (see :func:`view_row` for the discrete details).
* CVaR: linear only for a given VaR level ``v`` (``v + E_q[(L - v)+] / alpha``); the level is
  found by a root search in :mod:`tasks.views`.
* var / vol need the mean, skew / kurt / corr the mean and vol of their variables: the rows are
  centred (and standardised) at reference values that the caller pins (``mean_ref``,
  ``vol_ref``).

:func:`original_rows` implements Meucci's one-shot ("original") method: a non-linear view is
linearised around a reference mean and vol -- the equality target of a mean/vol view on the same
variable if there is one, else the prior value -- and moments that a non-linear view needs but no
view targets are pinned at their prior values. :mod:`tasks.views` implements Sequential
Entropy Pooling (H1/H2) on the same row builders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from tasks._arrays import aligned
from tasks.errors import ViewsInfeasible
from tasks.measures._measures import conditional_value_at_risk, value_at_risk
from tasks.views._view import MOMENT_STATS, NEEDS_MEAN, NEEDS_VOL, SINGLE_STATS, View

__all__ = [
    "ViewRows",
    "Row",
    "view_data",
    "statistic",
    "attained",
    "target_value",
    "violation",
    "moment",
    "view_row",
    "mean_pin",
    "var_pin",
    "Plan",
    "reference_needs",
    "original_plan",
    "original_rows",
]


# ------------------------------------------------------------------------------------------------
# row containers
# ------------------------------------------------------------------------------------------------
@dataclass
class ViewRows:
    """Linear EP constraints: ``A q = b`` and ``G q <= h``, with a name per row.

    A (K_eq, S), b (K_eq,), G (K_in, S), h (K_in,).
    """

    A: np.ndarray
    b: np.ndarray
    G: np.ndarray
    h: np.ndarray
    eq_names: list[str] = field(default_factory=list)
    in_names: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return self.eq_names + self.in_names

    @classmethod
    def from_rows(cls, rows: Sequence[Row], n_scenarios: int) -> ViewRows:
        """Stack :class:`Row` objects (``>=`` rows are negated into ``G q <= h``)."""
        eq = [r for r in rows if r.op == "="]
        ine = [r for r in rows if r.op != "="]

        def stack(rs: list[Row], signs: list[float]) -> tuple[np.ndarray, np.ndarray]:
            if not rs:
                return np.empty((0, n_scenarios)), np.empty(0)
            M = np.empty((len(rs), n_scenarios))
            for k, (r, s) in enumerate(zip(rs, signs)):
                np.multiply(r.coef, s, out=M[k])
            return M, np.array([s * r.target for r, s in zip(rs, signs)])

        A, b = stack(eq, [1.0] * len(eq))
        G, h = stack(ine, [1.0 if r.op == "<=" else -1.0 for r in ine])
        return cls(A, b, G, h, [r.name for r in eq], [r.name for r in ine])


class Row(NamedTuple):
    """One constraint ``coef . q op target``; coef (S,), target in the row's units."""

    coef: np.ndarray
    target: float
    op: str
    name: str


# ------------------------------------------------------------------------------------------------
# statistics
# ------------------------------------------------------------------------------------------------
def moment(x: np.ndarray, p: np.ndarray, stat: str) -> float:
    """Probability-weighted moment statistic (mean, var, vol, skew, kurt) of x (S,) under p (S,)."""
    mu = float(p @ x)
    if stat == "mean":
        return mu
    d = x - mu
    var = float(p @ (d * d))
    if stat == "var":
        return var
    if stat == "vol":
        return float(np.sqrt(var))
    if stat == "skew":
        return float(p @ d**3) / var**1.5
    if stat == "kurt":
        return float(p @ d**4) / var**2
    raise ValueError(f"unknown moment {stat!r}; expected one of mean, var, vol, skew, kurt")


def view_data(X: np.ndarray, columns: Sequence[str], view: View) -> np.ndarray:
    """The columns of X a view reads: (S,) for one variable, (S, k) in ``on`` order otherwise.

    Raises
    ------
    KeyError
        If the view names a variable that is not in ``columns``.
    """
    col = {c: i for i, c in enumerate(columns)}
    missing = [v for v in view.variables if v not in col]
    if missing:
        raise KeyError(f"view {view.label}: unknown variable {missing[0]!r}")
    if view.stat in SINGLE_STATS:
        return X[:, col[view.on]]
    return X[:, [col[v] for v in view.variables]]


def _check_data(x: np.ndarray, view: View) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    k = len(view.variables)
    if view.stat in SINGLE_STATS:
        if x.ndim != 1:
            raise ValueError(f"view {view.label}: data must have shape (S,), got {x.shape}")
    elif x.ndim != 2 or x.shape[1] != k:
        raise ValueError(f"view {view.label}: data must have shape (S, {k}), got {x.shape}")
    return x


def _series(x: np.ndarray, view: View) -> np.ndarray | None:
    """The underlying series (S,) of a view (None for corr)."""
    if view.stat in SINGLE_STATS:
        return x
    if view.stat == "corr":
        return None
    return x @ view.weights


def _corr(x: np.ndarray, q: np.ndarray) -> float:
    d = x - q @ x
    cov = float(q @ (d[:, 0] * d[:, 1]))
    va, vb = float(q @ d[:, 0] ** 2), float(q @ d[:, 1] ** 2)
    return cov / math.sqrt(va * vb)


def statistic(x: np.ndarray, q: np.ndarray, view: View) -> float:
    """The view's statistic under probabilities q.

    Parameters
    ----------
    x : the view's data (:func:`view_data`): (S,) for one variable, (S, k) otherwise.
    q : (S,) probabilities (summing to 1).

    Returns
    -------
    float, in the statistic's units (VaR / CVaR as positive losses).
    """
    x = _check_data(x, view)
    q = np.asarray(q, dtype=np.float64)
    s = view.stat
    if s in MOMENT_STATS:
        return moment(x, q, s)
    if s == "prob":
        return float(q @ (x <= view.threshold))
    if s == "VaR":
        return float(value_at_risk(x, q, view.alpha))
    if s == "CVaR":
        return float(conditional_value_at_risk(x, q, view.alpha))
    if s == "corr":
        return _corr(x, q)
    return float(q @ (x @ view.weights))  # rank, linear


def attained(x: np.ndarray, q: np.ndarray, view: View) -> float:
    """The value the view's statistic takes under the posterior q (alias of :func:`statistic`)."""
    return statistic(x, q, view)


def _check_range(view: View, t: float) -> None:
    s, bad = view.stat, None
    if not math.isfinite(t):
        bad = "is not finite"
    elif s in ("vol", "var") and t < 0:
        bad = "is negative"
    elif s == "corr" and abs(t) > 1:
        bad = "is outside [-1, 1]"
    elif s == "prob" and not 0 <= t <= 1:
        bad = "is outside [0, 1]"
    elif s == "kurt" and t < 1:
        bad = "is below 1 (kurtosis >= 1 + skew^2)"
    if bad:
        raise ViewsInfeasible(f"view {view.label}: target {t:g} {bad}", [view.label])


def target_value(x: np.ndarray, p: np.ndarray, view: View) -> float:
    """The numeric target of a view, expressions resolved against the (original) prior p.

    Parameters
    ----------
    x : the view's data (:func:`view_data`).
    p : (S,) prior probabilities.

    Raises
    ------
    ViewsInfeasible
        If the target is out of the statistic's range (negative vol, |corr| > 1, ...).
    """
    if view.expression is None:
        t = float(view.value)
    else:
        x = _check_data(x, view)
        env: dict[str, float] = {}
        names = view.expression.names
        if "prior" in names:
            env["prior"] = statistic(x, p, view)
        if names & {"prior_mean", "prior_vol"}:
            z = _series(x, view)
            assert z is not None  # corr expressions are rejected by View
            env["prior_mean"] = moment(z, p, "mean")
            env["prior_vol"] = moment(z, p, "vol")
        try:
            t = view.expression.evaluate(env)
        except ZeroDivisionError:
            raise ViewsInfeasible(f"view {view.label}: division by zero in the value", [view.label]) from None
    _check_range(view, t)
    return t


def violation(op: str, target: float, value: float) -> float:
    """How far ``value`` misses ``op target`` (>= 0, in the statistic's units)."""
    r = value - target
    if op == "<=":
        return max(0.0, r)
    if op == ">=":
        return max(0.0, -r)
    return abs(r)


# ------------------------------------------------------------------------------------------------
# rows
# ------------------------------------------------------------------------------------------------
def _support_losses(loss: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.unique(loss[np.asarray(p) > 0])


def _var_level(view: View, loss: np.ndarray, p: np.ndarray, v: float) -> float:
    """The loss level used in a VaR row (see :func:`view_row`)."""
    if view.op == "<=":
        return v
    u = _support_losses(loss, p)
    if view.op == ">=":
        k = int(np.searchsorted(u, v, side="left"))
        if k == u.size:
            raise ViewsInfeasible(
                f"view {view.label}: VaR {v:g} is beyond the worst loss {u[-1]:g}", [view.label])
        return float(u[k])
    if v > u[-1] or v < u[0]:
        raise ViewsInfeasible(
            f"view {view.label}: VaR {v:g} is outside the scenario losses [{u[0]:g}, {u[-1]:g}]",
            [view.label])
    k = int(np.searchsorted(u, v))
    cand = u[max(k - 1, 0): k + 1]
    return float(cand[np.argmin(np.abs(cand - v))])


def view_row(
    x: np.ndarray,
    view: View,
    target: float,
    *,
    mean_ref: Mapping[str, float] | None = None,
    vol_ref: Mapping[str, float] | None = None,
    p: np.ndarray | None = None,
    level: float | None = None,
) -> Row:
    """The EP row of one view.

    Parameters
    ----------
    x : the view's data (:func:`view_data`), (S,) or (S, k).
    view : the view; ``target`` its resolved target (:func:`target_value`).
    mean_ref, vol_ref : reference mean / vol per variable for var, vol (mean) and skew, kurt,
        corr (mean and vol). Exact when the caller pins these moments at the same values.
    p : (S,) prior; VaR rows use its support to place the level on a scenario loss.
    level : the VaR level ``v`` of a CVaR row (from the root search in :mod:`tasks.views`).

    Returns
    -------
    Row named ``view.label`` with the view's operator, except:

    * VaR (loss ``L = -x``, VaR the lower (1 - alpha)-quantile as in
      :func:`tasks.measures.value_at_risk`): ``<=`` is ``P(L > v) <= alpha`` (equivalent to
      ``VaR <= v``); ``>=`` is ``P(L > u) >= alpha`` with ``u`` the smallest scenario loss
      ``>= v`` (implies ``VaR >= u >= v``); ``=`` is ``P(L > u) = alpha`` with ``u`` the scenario
      loss nearest to ``v`` (gives ``VaR = u``: on a discrete scenario set VaR is always one of
      the losses). The target is ``alpha`` and the op is in probability terms.
    * CVaR: ``v + E_q[(L - v)+] / alpha op target``, which is the CVaR when ``v`` is a VaR of q.
    """
    x = _check_data(x, view)
    s, op, name = view.stat, view.op, view.label
    if s == "mean":
        return Row(x, target, op, name)
    if s in ("rank", "linear"):
        return Row(x @ view.weights, target, op, name)
    if s == "prob":
        return Row((x <= view.threshold).astype(np.float64), target, op, name)
    if s == "VaR":
        if p is None:
            raise ValueError(f"view {name}: VaR rows need the prior p")
        loss = -x
        v = _var_level(view, loss, p, target)
        return Row((loss > v).astype(np.float64), view.alpha, op, name)
    if s == "CVaR":
        if level is None:
            raise ValueError(f"view {name}: a CVaR row needs a VaR level (use tasks.views)")
        loss = -x
        return Row(level + np.maximum(loss - level, 0.0) / view.alpha, target, op, name)
    if mean_ref is None:
        raise ValueError(f"view {name}: needs reference means")
    names = view.variables
    if s in ("var", "vol"):
        d = x - mean_ref[names[0]]
        return Row(d * d, target if s == "var" else target * target, op, name)
    if vol_ref is None:
        raise ValueError(f"view {name}: needs reference vols")
    sd = [vol_ref[v] for v in names]
    if min(sd) <= 0:
        raise ViewsInfeasible(f"view {name}: the reference vol is zero", [name])
    if s == "corr":
        za = (x[:, 0] - mean_ref[names[0]]) / sd[0]
        zb = (x[:, 1] - mean_ref[names[1]]) / sd[1]
        return Row(za * zb, target, op, name)
    z = (x - mean_ref[names[0]]) / sd[0]
    return Row(z**3 if s == "skew" else (z * z) ** 2, target, op, name)


def mean_pin(x: np.ndarray, var: str, value: float, note: str) -> Row:
    """Row ``E_q[x] = value`` named ``"mean(var) pinned at ... (note)"``."""
    return Row(x, value, "=", f"mean({var}) pinned at {value:.6g} ({note})")


def var_pin(x: np.ndarray, var: str, center: float, value: float, note: str) -> Row:
    """Row ``E_q[(x - center)^2] = value`` (the variance when the mean is pinned at ``center``)."""
    d = x - center
    return Row(d * d, value, "=", f"var({var}) pinned at {value:.6g} ({note})")


# ------------------------------------------------------------------------------------------------
# Meucci's original one-shot method
# ------------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """Reference moments and pinned-moment rows of one EP solve.

    mean_ref / vol_ref map variable name to the reference mean / vol used to centre and
    standardise non-linear rows; pins are the ``mean(...) pinned`` / ``var(...) pinned`` rows;
    implied lists indices of views whose rows a pin makes redundant (left out of the solve).
    """

    mean_ref: dict[str, float] = field(default_factory=dict)
    vol_ref: dict[str, float] = field(default_factory=dict)
    pins: list[Row] = field(default_factory=list)
    implied: set[int] = field(default_factory=set)


def reference_needs(views: Sequence[View]) -> tuple[dict[str, None], dict[str, None], dict[str, set[str]]]:
    """Variables needing a reference mean / vol (insertion-ordered) and the stats on each."""
    need_mean: dict[str, None] = {}
    need_vol: dict[str, None] = {}
    stats_on: dict[str, set[str]] = {}
    for v in views:
        for name in v.variables:
            stats_on.setdefault(name, set()).add(v.stat)
            if v.stat in NEEDS_MEAN:
                need_mean[name] = None
            if v.stat in NEEDS_VOL:
                need_vol[name] = None
    return need_mean, need_vol, stats_on


def original_plan(
    X: np.ndarray, columns: Sequence[str], p: np.ndarray, views: Sequence[View], targets: Sequence[float]
) -> Plan:
    """References and pins of Meucci's original method.

    Reference mean (vol) of a variable: the target of an ``=`` mean (vol / var) view on it, else
    its prior value. A variable's mean is pinned at the prior when a non-linear view needs it and
    no mean view (of any operator) is on it; its variance likewise when skew / kurt / corr need it
    and no vol / var view is on it.
    """
    col = {c: i for i, c in enumerate(columns)}
    need_mean, need_vol, stats_on = reference_needs(views)
    plan = Plan()
    for name in need_mean:
        x = X[:, col[name]]
        eqm = [t for v, t in zip(views, targets) if v.stat == "mean" and v.on == name and v.op == "="]
        plan.mean_ref[name] = eqm[0] if eqm else moment(x, p, "mean")
        if "mean" not in stats_on[name]:
            plan.pins.append(mean_pin(x, name, plan.mean_ref[name], "prior"))
        if name in need_vol:
            eqv = [t if v.stat == "vol" else math.sqrt(t) for v, t in zip(views, targets)
                   if v.stat in ("vol", "var") and v.on == name and v.op == "="]
            prior_vol = moment(x, p, "vol")
            plan.vol_ref[name] = eqv[0] if eqv else prior_vol
            if not stats_on[name] & {"vol", "var"}:
                plan.pins.append(var_pin(x, name, plan.mean_ref[name], prior_vol**2, "prior"))
    return plan


def original_rows(
    X: np.ndarray,
    columns: Sequence[str],
    p: np.ndarray,
    views: Sequence[View],
    *,
    cvar_levels: Mapping[int, float] | None = None,
) -> ViewRows:
    """EP rows of a view set with Meucci's original one-shot method.

    Parameters
    ----------
    X : (S, n) scenario values of the variables.
    columns : (n,) variable names (the views refer to them).
    p : (S,) prior probabilities (targets like ``"prior * 1.2"`` are resolved against it).
    views : the views.
    cvar_levels : VaR level per CVaR view, keyed by the view's index in ``views``. CVaR views are
        linear only at a given level; :func:`tasks.views.sequential_entropy_pooling` finds
        the level (``method="original"``) -- call that for CVaR views.

    Returns
    -------
    ViewRows with A (K_eq, S), b (K_eq,), G (K_in, S), h (K_in,): the pins first, then one row
    per view in the given order.

    Raises
    ------
    KeyError
        On an unknown variable.
    ViewsInfeasible
        On a target outside the statistic's range.
    ValueError
        On a CVaR view without a level.
    """
    X = aligned(X)
    p = np.asarray(p, dtype=np.float64)
    data = [view_data(X, columns, v) for v in views]
    targets = [target_value(d, p, v) for d, v in zip(data, views)]
    plan = original_plan(X, columns, p, views, targets)
    levels = cvar_levels or {}
    rows = list(plan.pins)
    for i, (d, v, t) in enumerate(zip(data, views, targets)):
        rows.append(view_row(d, v, t, mean_ref=plan.mean_ref, vol_ref=plan.vol_ref, p=p, level=levels.get(i)))
    return ViewRows.from_rows(rows, X.shape[0])
