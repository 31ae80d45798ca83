"""Benchmark: scenario generation + option repricing throughput vs. a naive per-scenario loop.

Usage::

    python benchmarks/bench_scenarios.py [--quick] [--scenarios S] [--threads N] [--blas-threads N]

Workload: S = 1,000,000 scenarios (``--quick``: 100,000) of 12 jointly Gaussian drivers --
5 equity spots, 5 ATM-vol log-changes (spot/vol correlation -0.7) and the parallel and slope
factors of a USD zero curve -- over a 3-month horizon, moment matched exactly; 50 European
options (10 per underlying: strikes 0.8..1.2, maturities 0.5..2 y, calls and puts, dividend
yield, skew -0.1, each repriced with its own shocked vol, shocked curve rate and remaining
maturity). Throughput is scenarios x instruments per second of the whole thing: moment-matching
statistics pass, driver draws, repricing, P&L matrix written to an (S, 50) array.

Baselines. (1) "naive loop, library scalar calls": per scenario and option, the library's own
scalar repricing (``instrument_pnl`` on a one-scenario ``DriverScenarios``) -- the loop a user
writes first; repricing only. (2) "hand-tuned scalar loop": a plain Python loop per scenario -- draw the 12 normals with
``random.gauss``, correlate them with a Python Cholesky product, and for every option compute
the shocked spot, vol, curve rate (linear interpolation) and a Black-76 price with
``math.erf`` -- run on a subsample (2,000 scenarios; ``--quick``: 500) and extrapolated linearly
to S. Per-option constants (today's value, ATM level, tenor weights) are precomputed outside
the loop, as anyone would. The naive pricer is also fed the vectorised run's driver values for
200 scenarios to check both compute the same P&L (max abs difference printed).

Timing: ``cpu s`` is the process CPU time (``time.process_time``), which on a shared machine
is what a single-threaded run costs regardless of other load; ``wall s`` is elapsed time. The
throughput and speed-up of single-threaded rows use CPU seconds (equal to wall seconds on an
idle machine). ``--threads N`` adds a run that reprices chunks on N threads (numpy releases the
GIL), measured in wall seconds against the naive loop's CPU seconds. BLAS threads default to 1.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100,000 scenarios, 500 naive")
    ap.add_argument("--scenarios", type=int, default=None, help="S (default 1e6, quick 1e5)")
    ap.add_argument("--baseline", type=int, default=None, help="naive subsample (default 2000, quick 500)")
    ap.add_argument("--threads", type=int, default=0, help="also run with N threads (0: skip)")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="BLAS/OpenMP threads (default 1; 0 = do not touch the environment)")
    return ap.parse_args()


ARGS = _parse()
if ARGS.blas_threads > 0:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.blas_threads)

from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tasks.instruments import (  # noqa: E402
    EuropeanOption,
    ZeroCurve,  # noqa: E402
    market_value,
    scenario_pnl,
)
from tasks.scenarios import (  # noqa: E402
    Driver,
    DriverModel,
    block_ranges,
    chunk_blocks,
    driver_statistics,
    driver_transform,
    drivers_chunk,
)

HORIZON = 0.25
SEED = 2024
BLOCK = 8192
N_UNDERLYINGS = 5


def build() -> tuple[DriverModel, list[EuropeanOption], ZeroCurve]:
    """The benchmark's driver model and 50 options."""
    curve = ZeroCurve("USD", (0.25, 0.5, 1.0, 2.0, 5.0), (0.045, 0.044, 0.041, 0.038, 0.037),
                      "USD_par", "USD_slope", 0.5, 2.0)
    drivers, opts = [], []
    for u in range(N_UNDERLYINGS):
        drivers.append(Driver(f"EQ{u}", "spot", 0.05 + 0.01 * u, 0.15 + 0.03 * u))
    for u in range(N_UNDERLYINGS):
        drivers.append(Driver(f"EQ{u}_vol", "vol", 0.0, 0.6 + 0.05 * u))
    drivers += [Driver("USD_par", "rate", 0.0, 0.008), Driver("USD_slope", "rate", 0.0, 0.005)]
    d = len(drivers)
    corr = np.eye(d)
    nu_ = N_UNDERLYINGS
    for u in range(nu_):  # equities 0.5, vols 0.5, own spot/vol -0.7, other spot/vol -0.35
        for w in range(nu_):
            if u != w:
                corr[u, w] = corr[nu_ + u, nu_ + w] = 0.5
            corr[u, nu_ + w] = corr[nu_ + w, u] = -0.7 if u == w else -0.35
    corr[d - 2, d - 1] = corr[d - 1, d - 2] = 0.3
    assert np.linalg.eigvalsh(corr).min() > 0
    for u in range(N_UNDERLYINGS):
        spot = 100.0 * (1 + u)
        for i, k in enumerate(np.linspace(0.8, 1.2, 10)):
            opts.append(EuropeanOption(
                f"EQ{u}_{i}", f"EQ{u}", "put" if k < 1.0 else "call", float(k * spot),
                0.5 + 1.5 * i / 9, 0.2 + 0.02 * u - 0.1 * math.log(k), dividend=0.01 * u, spot=spot,
                skew=-0.1, vol_driver=f"EQ{u}_vol", curve=curve))
    return DriverModel(drivers, corr, HORIZON), opts, curve


def vectorised(model: DriverModel, opts: list, n: int, threads: int) -> tuple[float, float, np.ndarray]:
    """Stats pass + draws + repricing of all S scenarios: (wall s, CPU s, P&L (S, N))."""
    n_blocks = len(block_ranges(n, BLOCK))
    chunks = chunk_blocks(n, BLOCK, max(1, n_blocks // 2))  # ~2 blocks (16k scenarios) per chunk
    out = np.empty((n, len(opts)))
    out[:] = 0.0  # touch the pages outside the timing
    t0, c0 = time.perf_counter(), time.process_time()

    def stats(g: list[int]) -> list:
        return driver_statistics(model, SEED, n, BLOCK, g)

    def work(g: list[int], tr: tuple) -> None:
        s = drivers_chunk(model, SEED, n, BLOCK, g, tr)
        a = g[0] * BLOCK
        out[a:a + s.n] = scenario_pnl(opts, s)

    if threads <= 1:
        st = [x for g in chunks for x in stats(g)]
        tr = driver_transform(model, st)
        for g in chunks:
            work(g, tr)
    else:
        with ThreadPoolExecutor(threads) as ex:
            st = [x for part in ex.map(stats, chunks) for x in part]
            tr = driver_transform(model, st)
            list(ex.map(lambda g: work(g, tr), chunks))
    return time.perf_counter() - t0, time.process_time() - c0, out


# ---- naive baseline -----------------------------------------------------------------------------

def _ncdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _black76(f: float, k: float, t: float, s: float, r: float, call: bool) -> float:
    if t <= 0.0:
        return max(f - k, 0.0) if call else max(k - f, 0.0)
    sd = s * math.sqrt(t)
    d1 = math.log(f / k) / sd + 0.5 * sd
    d2 = d1 - sd
    df = math.exp(-r * t)
    if call:
        return df * (f * _ncdf(d1) - k * _ncdf(d2))
    return df * (k * _ncdf(-d2) - f * _ncdf(-d1))


def _interp(t: float, xs: tuple, ys: tuple) -> float:
    if t <= xs[0]:
        return ys[0]
    for a, b, ya, yb in zip(xs, xs[1:], ys, ys[1:]):
        if t <= b:
            return ya + (yb - ya) * (t - a) / (b - a)
    return ys[-1]


def _naive_setup(model: DriverModel, opts: list, curve: ZeroCurve) -> tuple:
    d = len(model.drivers)
    chol = np.linalg.cholesky(model.log_cov).tolist()
    mean = model.log_mean.tolist()
    col = {n: i for i, n in enumerate(model.names)}
    consts = []
    for o in opts:
        tau = o.maturity - HORIZON
        w = (min(max(tau, curve.slope_short), curve.slope_long) - curve.slope_short) / (
            curve.slope_long - curve.slope_short) - 0.5
        consts.append((col[o.driver], col[o.vol_driver], o.spot, o.strike, tau, o.dividend, o.skew,
                       o.vol, o.atm_vol0, o.vol_floor, _interp(tau, curve.tenors, curve.rates), w,
                       (o.rate0 - o.dividend) * o.maturity, o.is_call, market_value(o) * o.spot))
    return d, chol, mean, consts, col["USD_par"], col["USD_slope"]


def _naive_price_row(x: list, consts: list, ip: int, isl: int) -> list:
    row = []
    for (ix, iv, s0, k, tau, q, skew, vol, atm0, floor, z, w, carry0, call, v0) in consts:
        r = z + x[ip] + x[isl] * w
        f = s0 * math.exp(x[ix] + (r - q) * tau)
        dlf = carry0 - x[ix] - (r - q) * tau
        sig = max(vol + atm0 * math.expm1(x[iv]) + skew * dlf, floor)
        row.append((_black76(f, k, tau, sig, r, call) - v0) / s0)
    return row


def naive(model: DriverModel, opts: list, curve: ZeroCurve, n: int) -> tuple[float, float, list]:
    d, chol, mean, consts, ip, isl = _naive_setup(model, opts, curve)
    rng = random.Random(SEED)
    out = []
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        z = [rng.gauss(0.0, 1.0) for _ in range(d)]
        x = [mean[i] + sum(chol[i][j] * z[j] for j in range(i + 1)) for i in range(d)]
        out.append(_naive_price_row(x, consts, ip, isl))
    return time.perf_counter() - t0, time.process_time() - c0, out


def naive_api(model: DriverModel, opts: list, values: np.ndarray) -> tuple[float, float]:
    """The loop a user writes first: per scenario, per option, the library's scalar repricing
    (``instrument_pnl`` on a one-scenario DriverScenarios). Drivers are given (drawn vectorised),
    so this row times repricing alone and is, if anything, flattering to the loop."""
    from tasks.instruments import instrument_pnl
    from tasks.scenarios import DriverScenarios

    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(values.shape[0]):
        one = DriverScenarios(model.names, values[i:i + 1], HORIZON)
        for o in opts:
            instrument_pnl(o, one)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    n = ARGS.scenarios or (100_000 if ARGS.quick else 1_000_000)
    n_naive = ARGS.baseline or (500 if ARGS.quick else 2000)
    model, opts, curve = build()
    m = len(opts)
    vectorised(model, opts, min(n, 4 * BLOCK), 1)  # warm-up (imports, caches)

    wall1, cpu1, pnl = vectorised(model, opts, n, 1)
    wall_n, cpu_n, _ = naive(model, opts, curve, n_naive)
    f = n / n_naive
    naive_cpu, naive_wall = cpu_n * f, wall_n * f
    rows = [("hand-tuned scalar loop (math.erf) *", n, naive_wall, naive_cpu, naive_cpu),
            ("vectorised, 1 thread", n, wall1, cpu1, cpu1)]
    if ARGS.threads > 1:
        wall_t, cpu_t, pnl_t = vectorised(model, opts, n, ARGS.threads)
        assert np.array_equal(pnl, pnl_t), "threaded run differs"
        rows.append((f"vectorised, {ARGS.threads} threads", n, wall_t, cpu_t, wall_t))

    # same numbers: the naive pricer on the vectorised run's drivers
    s = drivers_chunk(model, SEED, n, BLOCK, [0], driver_transform(
        model, driver_statistics(model, SEED, n, BLOCK, list(range(len(block_ranges(n, BLOCK)))))))
    n_api = max(20, n_naive // 20)
    wall_api, cpu_api = naive_api(model, opts, s.values[:n_api])
    f_api = n / n_api
    rows.insert(0, ("naive loop, library scalar calls **", n, wall_api * f_api, cpu_api * f_api, cpu_api * f_api))
    _, _, _, consts, ip, isl = _naive_setup(model, opts, curve)
    check = max(abs(a - b) for i in range(200)
                for a, b in zip(_naive_price_row(s.values[i].tolist(), consts, ip, isl), pnl[i]))

    print(f"scenario generation + repricing: S = {n:,} scenarios x N = {m} options "
          f"({N_UNDERLYINGS} underlyings, {len(model.drivers)} drivers, horizon {HORIZON} y, moment matched)")
    print(f"{'method':<36}{'scenarios':>11}{'wall s':>9}{'cpu s':>9}{'scen*inst/s':>13}{'vs tuned':>10}")
    for name, ns, wall, cpu, basis in rows:
        print(f"{name:<36}{ns:>11,}{wall:>9.2f}{cpu:>9.2f}{ns * m / basis:>13.3g}{naive_cpu / basis:>9.1f}x")
    print(f"* measured on {n_naive:,} scenarios ({wall_n:.2f} s wall, {cpu_n:.2f} s cpu) and "
          f"extrapolated x{f:,.0f}")
    print(f"** repricing only, per scenario and option through tasks.instruments.instrument_pnl, measured on "
          f"{n_api:,} scenarios ({cpu_api:.2f} s cpu) and extrapolated x{f_api:,.0f}")
    print(f"ratio vectorised (1 thread) / naive library loop, CPU time: {cpu_api * f_api / cpu1:.0f}x (target >= 50x)")
    print(f"ratio vectorised (1 thread) / hand-tuned scalar loop, CPU time: {naive_cpu / cpu1:.1f}x; "
          f"max |P&L difference| naive vs vectorised on 200 scenarios: {check:.1e}")


if __name__ == "__main__":
    main()
