"""One stage of Sequential Entropy Pooling with CVaR views: the VaR-level root search.

A CVaR view that binds is solved as an equality row at a VaR level ``v`` found by a
one-dimensional root search on the tail-mass mismatch (see the "CVaR views" section of
:mod:`tasks.views._sequential`): :class:`_Tail` holds one CVaR view, :class:`_Solver`
caches the EP solves of a stage at given levels, :func:`_find_level` searches one
level and :func:`_solve_stage` runs the (Gauss-Seidel) searches of a stage.
:class:`_Problem` is the problem data shared by every stage of a run.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from tasks.errors import ViewsInfeasible
from tasks.measures._measures import conditional_value_at_risk, value_at_risk
from tasks.views._entropy_pooling import EntropyPoolingResult, solve_entropy_pooling
from tasks.views._rows import Row, ViewRows, view_row, violation
from tasks.views._view import View

#: tail-mass tolerance of the VaR-level condition (probability units)
_MASS_EPS = 1e-11
#: relative tolerance on CVaR attainment used to decide binding / convergence
_CVAR_RTOL = 1e-9
#: maximum Gauss-Seidel sweeps over several binding CVaR views
_MAX_SWEEPS = 30


# ------------------------------------------------------------------------------------------------
# problem data
# ------------------------------------------------------------------------------------------------
@dataclass
class _Problem:
    """Data of one sequential run: scenarios, ORIGINAL prior, views with their data and targets."""

    X: np.ndarray  # (S, n)
    columns: list[str]
    p0: np.ndarray  # (S,) original prior
    views: list[View]
    data: list[np.ndarray]
    targets: list[float]
    tol: float
    max_iter: int

    @property
    def S(self) -> int:
        return self.X.shape[0]

    def column(self, name: str) -> np.ndarray:
        return self.X[:, self.columns.index(name)]


# ------------------------------------------------------------------------------------------------
# CVaR views: VaR-level root search
# ------------------------------------------------------------------------------------------------
@dataclass
class _Tail:
    index: int
    view: View
    x: np.ndarray  # (S,) P&L
    loss: np.ndarray  # (S,) -x
    target: float
    grid: np.ndarray  # candidate VaR levels: scenario losses in [min loss, target], and target

    @property
    def label(self) -> str:
        return self.view.label

    def cvar(self, q: np.ndarray) -> float:
        return float(conditional_value_at_risk(self.x, q, self.view.alpha))

    def misses(self, q: np.ndarray, op: str | None = None) -> bool:
        """Whether q violates the view (``op`` overrides the view's operator)."""
        c = self.target
        tol = _CVAR_RTOL * max(1.0, abs(c))
        return violation(op or self.view.op, c, self.cvar(q)) > tol

    def row(self, v: float) -> Row:
        r = view_row(self.x, self.view, self.target, level=v)
        return r._replace(op="=", name=f"{self.label} @ VaR level {v:.9g}")

    def mismatch(self, q: np.ndarray, v: float) -> float:
        """Tail-mass mismatch of level v under q: > 0 level too low, < 0 too high, 0 a VaR."""
        a = self.view.alpha
        gt = float(q @ (self.loss > v))
        if gt > a + _MASS_EPS:
            return gt - a
        ge = float(q @ (self.loss >= v))
        if ge < a - _MASS_EPS:
            return ge - a
        return 0.0


def _make_tail(prob: _Problem, i: int) -> _Tail:
    v, x, c = prob.views[i], prob.data[i], prob.targets[i]
    loss = -x
    u = np.unique(loss[prob.p0 > 0])
    lmin, lmax = float(u[0]), float(u[-1])
    if c > lmax and v.op in ("=", ">="):
        raise ViewsInfeasible(
            f"view {v.label}: CVaR {c:g} is beyond the worst scenario loss {lmax:g}", [v.label])
    if c < lmin and v.op in ("=", "<="):
        raise ViewsInfeasible(
            f"view {v.label}: CVaR {c:g} is below the smallest scenario loss {lmin:g}", [v.label])
    grid = u[u <= c]
    if grid.size == 0 or grid[-1] < c <= lmax:
        grid = np.append(grid, c)
    return _Tail(i, v, x, loss, c, grid)


class _Solver:
    """EP solves of one stage: fixed rows plus CVaR rows at given levels (cached)."""

    def __init__(self, prob: _Problem, start: np.ndarray, rows: list[Row], tails: list[_Tail]) -> None:
        self.prob, self.start, self.rows, self.tails = prob, start, rows, tails
        self.cache: dict[tuple, tuple[EntropyPoolingResult | ViewsInfeasible, list[str]]] = {}

    def __call__(self, levels: Mapping[int, float]) -> tuple[EntropyPoolingResult, list[str]]:
        key = tuple(sorted(levels.items()))
        if key not in self.cache:
            extra = [t.row(levels[t.index]) for t in self.tails if t.index in levels]
            vr = ViewRows.from_rows(self.rows + extra, self.prob.S)
            out: EntropyPoolingResult | ViewsInfeasible
            try:
                out = solve_entropy_pooling(self.start, vr.A, vr.b, vr.G, vr.h, names=vr.names,
                                            tol=self.prob.tol, max_iter=self.prob.max_iter)
            except ViewsInfeasible as exc:
                out = exc
            self.cache[key] = (out, vr.names)
        out, names = self.cache[key]
        if isinstance(out, ViewsInfeasible):
            raise out
        return out, names


def _find_level(f: Callable[[float], float], grid: np.ndarray, v0: float, label: str) -> float:
    """Root of the tail-mass mismatch f over VaR levels in [grid[0], grid[-1]].

    Gallops from the grid point nearest v0 to a sign change, bisects the grid indices down to
    one gap between consecutive scenario losses, and finishes with brentq inside the gap (where
    f is continuous). Levels at which EP is infeasible are stepped around by bisection.
    """
    n = grid.size

    def val(i: int) -> float | None:
        try:
            return f(float(grid[i]))
        except ViewsInfeasible:
            return None

    def fail(why: str) -> ViewsInfeasible:
        return ViewsInfeasible(f"view {label}: no VaR level attains the CVaR target ({why})", [label])

    # start inside the grid: its top end (the target itself) is an edge case for EP
    i0 = int(np.clip(np.searchsorted(grid, v0), 0, max(n - 2, 0)))
    f0 = val(i0)
    if f0 is None:  # look outward for a level at which EP is feasible
        for step in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, n):
            for j in (i0 - step, i0 + step):
                if 0 <= j < n and (f0 := val(j)) is not None:
                    i0 = j
                    break
            if f0 is not None:
                break
        if f0 is None:
            raise fail("EP infeasible at every level tried")
    if f0 == 0.0:
        return float(grid[i0])
    d = 1 if f0 > 0 else -1
    last, f_last, step, bad = i0, f0, 1, None
    while True:
        if bad is None:
            j = int(np.clip(last + d * step, 0, n - 1))
        else:  # halfway to the nearest infeasible level, rounded towards `last`
            j = (last + bad) // 2 if d > 0 else -((-(last + bad)) // 2)
        if j == last:
            raise fail("the tail-mass condition has no sign change")
        fj = val(j)
        if fj is None:
            bad = j
            continue
        if fj == 0.0:
            return float(grid[j])
        if (fj > 0) != (f_last > 0):
            break
        last, f_last, step = j, fj, 2 * step
    (ia, fa), (ib, fb) = sorted([(last, f_last), (j, fj)])
    while ib - ia > 1:
        m = (ia + ib) // 2
        fm = val(m)
        if fm is None:
            raise fail(f"EP infeasible at level {grid[m]:g} inside the bracket")
        if fm == 0.0:
            return float(grid[m])
        if (fm > 0) == (fa > 0):
            ia, fa = m, fm
        else:
            ib, _fb = m, fm
    a, b = float(grid[ia]), float(grid[ib])
    xtol = 1e-15 * max(1.0, abs(a), abs(b))
    return float(brentq(f, a, b, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=200))


def _solve_stage(
    prob: _Problem, start: np.ndarray, rows: list[Row], tails: list[_Tail]
) -> tuple[EntropyPoolingResult, list[str], dict[int, float], bool]:
    """EP of fixed rows plus CVaR views (root search on each binding view's VaR level).

    Returns (EP result, row names, VaR level per binding CVaR view index, CVaR levels converged).
    """
    solve = _Solver(prob, start, rows, tails)
    res, names = solve({})
    q = res.posterior
    binding = [t for t in tails if t.view.op == "=" or t.misses(q)]
    levels: dict[int, float] = {}
    ok = True
    for _ in range(len(tails) + 1):
        if not binding:
            break
        for t in binding:
            if t.index not in levels:  # first guess: shift the VaR by the CVaR gap to the target
                a = t.view.alpha
                levels[t.index] = float(value_at_risk(t.x, q, a)) + t.target - t.cvar(q)
        ok = False
        for _sweep in range(_MAX_SWEEPS):
            for t in binding:
                def f(v: float, t: _Tail = t) -> float:
                    r, _ = solve({**levels, t.index: v})
                    return t.mismatch(r.posterior, v)

                levels[t.index] = _find_level(f, t.grid, levels[t.index], t.label)
            res, names = solve(levels)
            q = res.posterior
            if not any(t.misses(q, "=") for t in binding):
                ok = True
                break
        more = [t for t in tails if t not in binding and t.misses(q)]
        if not more:
            break
        binding += more
    if not ok:
        warnings.warn("CVaR views: the VaR-level search did not converge", RuntimeWarning, stacklevel=3)
    return res, names, levels, ok
