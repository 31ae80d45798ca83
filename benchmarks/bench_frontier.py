"""Benchmark: a 20-point mean-CVaR efficient frontier, ours vs. a naive rebuild-per-point loop.

Usage::

    python benchmarks/bench_frontier.py [--quick] [--points 20] [--seed 0]

Cases: N in {10, 30} instruments times S in {1e4, 1e5} scenarios (``--quick``: S = 1e4 only),
long-only with budget ``sum e = 1``, 95 % CVaR (tail probability alpha = 0.05), seeded
Student-t (4 degrees of freedom) P&L with a common factor and drifts rising with the
instrument's volatility, and non-uniform scenario probabilities.

Ours: :func:`tasks.optimization.efficient_frontier` (``cvar_method="auto"``, which selects the
scenario cutting planes of :mod:`tasks.optimization` here: one HiGHS master per frontier with a
shared cut pool), timed end to end -- problem set-up, both frontier limits and every point.

Baseline: the textbook Rockafellar-Uryasev LP written in cvxpy and rebuilt and solved from scratch
with Clarabel for every point, at our frontier's return targets (the first point without a floor):
``min z + (1/alpha) sum_s p_s u_s  s.t.  u >= -R e - z, u >= 0, sum e = 1, e >= 0, mu^T e >= t``.
Its frontier limits are not timed (ours are), so the ratio is conservative.

Reported per case: wall-clock seconds of ours and of the baseline, their ratio, and the largest
difference over the points of the CVaR of the two portfolios, both evaluated by
:func:`tasks.measures.conditional_value_at_risk`; a note per case says where the largest
difference occurs and by how much the baseline's portfolio misses its return floor there
(Clarabel's default feasibility tolerance is 1e-8; the last point sits 1e-9 of the return range
below the maximum return, where the frontier is nearly vertical, so a miss of 1e-11 in return is
worth ~1e-7 in CVaR), and for S = 1e4 the difference between ours and the full LP solved exactly
by HiGHS at that point. Nothing is asserted: this is a report.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cvxpy as cp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.measures import conditional_value_at_risk
from tasks.optimization import Constraints, PortfolioProblem, efficient_frontier

ALPHA = 0.05
#: Cases up to this many scenarios also get an exact reference at the worst point (HiGHS simplex on
#: the full LP takes minutes at 1e5 scenarios).
EXACT_MAX_S = 10_000


def make_data(n: int, s: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, N) Student-t P&L with one common factor, and (S,) non-uniform probabilities."""
    rng = np.random.default_rng([seed, n, s])
    vol = np.linspace(0.02, 0.25, n)
    drift = 0.02 + 0.25 * vol
    common = rng.standard_t(4, size=(s, 1))
    own = rng.standard_t(4, size=(s, n))
    R = (0.5 * common + np.sqrt(0.75) * own) * vol / np.sqrt(2.0) + drift
    p = rng.uniform(0.5, 1.5, s)
    return R, p / p.sum()


def baseline(R: np.ndarray, p: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Rebuild and solve the RU LP with Clarabel for every target; (seconds, exposures (K, N))."""
    s, n = R.shape
    mu = R.T @ p
    out = np.full((len(targets), n), np.nan)
    t0 = time.perf_counter()
    for k, t in enumerate(targets):
        e = cp.Variable(n)
        z = cp.Variable()
        u = cp.Variable(s, nonneg=True)
        cons = [u >= -(R @ e) - z, cp.sum(e) == 1, e >= 0]
        if k > 0:
            cons.append(mu @ e >= t)
        prob = cp.Problem(cp.Minimize(z + (p / ALPHA) @ u), cons)
        prob.solve(solver="CLARABEL")
        if prob.status in ("optimal", "optimal_inaccurate"):
            out[k] = e.value
    return time.perf_counter() - t0, out


def run_case(n: int, s: int, points: int, seed: int) -> dict[str, float | str]:
    R, p = make_data(n, s, seed)
    kw = dict(rm="CVaR", alpha=ALPHA, constraints=Constraints(sht=False))
    assert PortfolioProblem(R, p, cvar_method="auto", **kw).cuts is not None  # the method under test
    t0 = time.perf_counter()
    fr = efficient_frontier(R, p, points=points, cvar_method="auto", **kw)
    ours_s = time.perf_counter() - t0
    if not (fr["status"] == "optimal").all():
        raise RuntimeError(f"frontier failed: {fr['status'].tolist()}")
    ours_e = fr[[f"e{i}" for i in range(n)]].to_numpy()
    base_s, base_e = baseline(R, p, fr["target"].to_numpy())
    cv_ours = conditional_value_at_risk(R @ ours_e.T, p, ALPHA)
    cv_base = conditional_value_at_risk(R @ np.nan_to_num(base_e, nan=0.0).T, p, ALPHA)
    diff = np.where(np.isnan(base_e).any(axis=1), np.inf, np.abs(cv_ours - cv_base))
    k = int(np.argmax(diff))
    targets = fr["target"].to_numpy()
    shortfall = max(targets[k] - (R.T @ p) @ base_e[k], 0.0) if k > 0 else 0.0
    note = (f"N={n} S={s}: largest difference at point {k}, where the baseline's portfolio misses its "
            f"return floor by {shortfall:.2g} (baseline CVaR {'lower' if cv_base[k] < cv_ours[k] else 'higher'} "
            "than ours)")
    if s <= EXACT_MAX_S:  # an exact reference there: the full RU LP solved by HiGHS's simplex
        exact = PortfolioProblem(R, p, cvar_method="lp", solver="HIGHS", **kw).min_risk(
            None if k == 0 else float(targets[k]))
        note += f"; ours - HiGHS full LP there: {cv_ours[k] - exact.risk:.2g}"
    return {"N": n, "S": s, "ours": ours_s, "base": base_s, "diff": float(diff.max()), "note": note}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only S = 1e4")
    ap.add_argument("--points", type=int, default=20, help="frontier points (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    print(f"mean-CVaR frontier, {args.points} points, alpha = {ALPHA}, long-only, budget 1; "
          f"{os.cpu_count()} CPUs; baseline = cvxpy RU LP rebuilt per point, Clarabel", flush=True)
    header = f"{'N':>4} {'S':>8} {'seconds ours':>13} {'seconds baseline':>17} {'ratio':>8} {'max CVaR difference':>20}"
    rows = []
    for s in sizes:
        for n in (10, 30):
            rows.append(run_case(n, s, args.points, args.seed))
            r = rows[-1]
            print(f"  done N={n} S={s}: ours {r['ours']:.2f} s, baseline {r['base']:.1f} s", file=sys.stderr, flush=True)
    print(header)
    for r in rows:
        print(f"{r['N']:>4} {r['S']:>8} {r['ours']:>13.3f} {r['base']:>17.2f} {r['base'] / r['ours']:>8.1f} "
              f"{r['diff']:>20.2e}")
    print("notes:")
    for r in rows:
        print("  " + r["note"])


if __name__ == "__main__":
    main()
