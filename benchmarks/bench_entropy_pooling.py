"""Benchmark: Entropy Pooling solver core vs. the classic TNC-on-the-dual approach.

Usage::

    python benchmarks/bench_entropy_pooling.py [--quick] [--blas-threads N]

Cases: S in {1e4, 1e5, 1e6} scenarios (``--quick``: 1e4, 1e5) times K in {2, 10, 30}
view rows, mixing equalities and inequalities: mean rows ``x_j`` and variance-type rows
``(x_j - m_j)^2`` on seeded normal data whose first columns share a common factor;
the inequality views bind at the solution.

Baseline ("classic"): the way published Entropy Pooling packages solve the problem --
``scipy.optimize.minimize(method="TNC")`` on the *unnormalised* dual

    phi(lambda) = sum_s p_s exp(-1 - (L^T lambda)_s) + lambda^T c,

with sum-to-one as an explicit row of ones in the equality block, objective and
gradient multiplied by 1000, ``options={"maxfun": 10000}`` and bounds ``(0, None)`` on
the inequality multipliers; the posterior is ``p * exp(-1 - L^T lambda)`` as returned
(not renormalised).  Written here from that description.

Reported per case: median wall-clock seconds of ours (5 repeats, 3 at S = 1e6) and of
the baseline (3 repeats, 1 when a single run takes more than 2 s), their ratio, the
maximum view violation of each posterior in original units (equality ``|A q - b|``,
inequality ``max(G q - h, 0)``, plus ``|sum q - 1|`` for the baseline, whose
posterior is not renormalised), the median process CPU seconds of each (a check on
the wall times when the machine is shared), our Newton iterations and the baseline's
function evaluations.

BLAS threads default to 1 (set before NumPy is imported): the targets are for about one
core of throughput, and an oversubscribed multi-threaded BLAS on a shared 2-vCPU box
makes timings meaningless.  Pass ``--blas-threads 0`` to leave the environment alone.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only S = 1e4 and 1e5")
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads (default 1; 0 = do not touch the environment)",
    )
    return ap.parse_args()


ARGS = _parse()
if ARGS.blas_threads > 0:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.blas_threads)

import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tasks.views import solve_entropy_pooling  # noqa: E402

# ----------------------------------------------------------------------------- problems


def make_views(S: int, K: int, seed: int = 0):
    """Seeded views: K rows, means and variance-type rows, mixed = and <=.

    Returns
    -------
    p : (S,) uniform prior; A : (K_eq, S); b : (K_eq,); G : (K_in, S); h : (K_in,)
    """
    rng = np.random.default_rng(seed)
    n_assets = (K + 1) // 2
    x = rng.standard_normal((n_assets, S))
    n_corr = min(3, n_assets)  # a few columns share a common factor (corr 0.5)
    f = rng.standard_normal(S)
    x[:n_corr] = np.sqrt(0.5) * f + np.sqrt(0.5) * x[:n_corr]
    eq_rows, eq_t, in_rows, in_t = [], [], [], []
    k = 0
    for j in range(n_assets):
        m_j = 0.05 if j % 2 == 0 else -0.05
        if k < K:  # mean row
            if j % 3 == 2:  # E[x_j] <= -0.1 (binds: the prior mean is ~0)
                in_rows.append(x[j])
                in_t.append(-0.1)
            else:
                eq_rows.append(x[j])
                eq_t.append(m_j)
            k += 1
        if k < K:  # variance-type row around the view mean
            d2 = (x[j] - m_j) ** 2
            if j % 2 == 0:  # E[(x_j - m_j)^2] >= 1.25 (binds: prior ~1)
                in_rows.append(-d2)
                in_t.append(-1.25)
            else:
                eq_rows.append(d2)
                eq_t.append(0.8)
            k += 1
    A = np.array(eq_rows).reshape(-1, S)
    G = np.array(in_rows).reshape(-1, S)
    return np.full(S, 1.0 / S), A, np.array(eq_t), G, np.array(in_t)


def violation(q: np.ndarray, A, b, G, h, include_sum: bool = False) -> float:
    v = 0.0
    if A.shape[0]:
        v = max(v, float(np.max(np.abs(A @ q - b))))
    if G.shape[0]:
        v = max(v, float(np.max(np.maximum(G @ q - h, 0.0))))
    if include_sum:
        v = max(v, abs(float(q.sum()) - 1.0))
    return v


# ----------------------------------------------------------------------------- baseline


def classic_tnc(p, A, b, G, h):
    """Classic EP: TNC on the unnormalised dual, explicit row of ones, scaled by 1000.

    Returns
    -------
    q : (S,) posterior ``p exp(-1 - L^T lambda)``; nfev : int
    """
    S = p.size
    A1 = np.vstack([A, np.ones((1, S))])
    b1 = np.append(b, 1.0)
    L = np.vstack([A1, G])
    c = np.concatenate([b1, h])
    k_eq = A1.shape[0]

    def dual(lam):
        q = p * np.exp(-1.0 - L.T @ lam)
        val = q.sum() + lam @ c
        grad = c - L @ q
        return 1000.0 * val, 1000.0 * grad

    bounds = [(None, None)] * k_eq + [(0.0, None)] * G.shape[0]
    sol = minimize(
        dual, np.zeros(L.shape[0]), jac=True, method="TNC", bounds=bounds, options={"maxfun": 10000}
    )
    q = p * np.exp(-1.0 - L.T @ sol.x)
    return q, int(sol.nfev)


# ----------------------------------------------------------------------------- timing


def timed(fn, repeats: int):
    """Median wall-clock seconds, median process CPU seconds, last result."""
    ts, cs, out = [], [], None
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    return float(np.median(ts)), float(np.median(cs)), out


def main() -> None:
    sizes = [10_000, 100_000] if ARGS.quick else [10_000, 100_000, 1_000_000]
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# Entropy Pooling benchmark  (BLAS threads: {threads}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, 1-min load {load:.2f})"
    )
    print(
        "# *_s: median wall seconds; *_cpu: median process CPU seconds; "
        "viol: max view violation, original units"
    )
    hdr = (
        f"{'S':>9} {'K':>3} {'eq/in':>6} {'ours_s':>9} {'base_s':>9} {'base/ours':>9} "
        f"{'viol_ours':>10} {'viol_base':>10} {'ours_cpu':>9} {'base_cpu':>9} "
        f"{'ours_it':>7} {'base_nfev':>9}"
    )
    print(hdr)
    print("-" * len(hdr))
    for S in sizes:
        for K in (2, 10, 30):
            p, A, b, G, h = make_views(S, K)
            reps = 3 if S >= 1_000_000 else 5
            ours = functools.partial(solve_entropy_pooling, p, A, b, G, h)
            base = functools.partial(classic_tnc, p, A, b, G, h)
            t_ours, c_ours, res = timed(ours, reps)
            v_ours = violation(res.posterior, A, b, G, h)
            t_first, c_first, (q_b, nfev) = timed(base, 1)
            if t_first <= 2.0:
                t_base, c_base, (q_b, nfev) = timed(base, 3)
            else:
                t_base, c_base = t_first, c_first
            v_base = violation(q_b, A, b, G, h, include_sum=True)
            print(
                f"{S:>9d} {K:>3d} {A.shape[0]:>2d}/{G.shape[0]:<3d} {t_ours:>9.4f} {t_base:>9.4f} "
                f"{t_base / t_ours:>9.1f} {v_ours:>10.1e} {v_base:>10.1e} "
                f"{c_ours:>9.4f} {c_base:>9.4f} {res.iterations:>7d} {nfev:>9d}",
                flush=True,
            )


if __name__ == "__main__":
    main()
