"""Dual Newton solver of Entropy Pooling on a fixed support.

The method (see :mod:`tasks.views._entropy_pooling` for the problem and the whole
pipeline): with centred view rows ``L: (K, n)`` on the prior's support, scaled by
their prior standard deviation (``inv_s``, folded into ``theta``), the normalised dual

    phi(theta) = logsumexp(log p - L_s^T theta) + theta^T c,   q(theta) = softmax(...)

is minimised by a damped projected Newton method (Bertsekas, 1982) with an Armijo
back-tracking line search along the projection arc, a Jacobi-scaled eigen-solve of the
(possibly singular) Newton system, block-sampled Hessians in the damped phase for very
large supports and chord steps near the solution when a cost model predicts them to
be cheaper.  :func:`_precondition` and :func:`_log_prior` set the iteration up,
:func:`_newton` runs it; the phases of one iteration are :func:`_refresh_hessian`,
:func:`_direction`, :func:`_line_search`, :func:`_take_step`, :func:`_plan_hessian`
and :func:`_stall_reason`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tasks.views._certificates import _EPS

#: Armijo sufficient-decrease constant
_ARMIJO_SIGMA = 1e-4
#: upper bound for the Bertsekas epsilon-active set (scaled multiplier units)
_ACTIVE_EPS = 1e-3
#: relative eigenvalue cut-off for the (Jacobi scaled) Newton system
_EIG_RCOND = 1e-12
#: number of float64 cells per chunk of the Hessian rank update (~2 MiB)
_CHUNK_CELLS = 1 << 18
#: supports at least this large use a block sample of the scenarios for the Hessian
#: in the damped phase (sub-sampled Newton); the local phase always uses all of them
_SAMPLE_MIN_N = 1 << 18
_SAMPLE_BLOCK = 512
_SAMPLE_COLS = 1 << 16
#: minimum effective sample size (under the current q) for a sampled Hessian
_SAMPLE_MIN_ESS = 4096.0


@dataclass
class _NewtonState:
    """Iterate of :func:`_newton`; its result once the iteration stops.

    The first nine fields are the result (``q`` is set on return); the rest is the
    working state of the iteration (buffers are swapped, never reallocated).
    """

    theta: np.ndarray  # (K,) scaled multipliers [lambda; nu]
    z: np.ndarray  # log p - L^T theta (log p up to a constant)
    zmax: float
    Z: float  # sum exp(z - zmax)
    q: np.ndarray | None  # exp(z - zmax) / Z (set on return)
    iterations: int
    converged: bool
    reason: str
    residual: float
    e: np.ndarray = field(repr=False)  # (n,) unnormalised posterior weights exp(z - zmax)
    zt: np.ndarray = field(repr=False)  # (n,) line-search buffer for z
    et: np.ndarray = field(repr=False)  # (n,) line-search buffer for e
    phi: float = 0.0  # dual objective
    mu: np.ndarray | None = None  # (K,) L_s q
    g: np.ndarray | None = None  # (K,) dual gradient c - L_s q
    H: np.ndarray | None = None  # (K, K) scaled Hessian (possibly of an earlier iterate)
    fresh_next: bool = True  # the next step wants a fresh Hessian
    h_current: bool = False  # H evaluated at the current iterate
    sample_idx: np.ndarray | None = None  # block sample for sub-sampled Hessians
    want_sample: bool = True  # damped phase: a sampled Hessian is good enough
    h_sampled: bool = False  # H came from the block sample
    hist_ratio: list[float] = field(default_factory=list)  # residual ratios
    hist_full: list[bool] = field(default_factory=list)  # full Newton steps
    hist_step: list[float] = field(default_factory=list)  # step lengths (max norm)


@dataclass(frozen=True)
class _DualData:
    """Data of one :func:`_newton` run, fixed during the iteration."""

    L: np.ndarray  # (K, n) centred rows on the support
    inv_s: np.ndarray  # (K,) row scales
    c: np.ndarray  # (K,) scaled targets
    is_in: np.ndarray  # (K,) bool, inequality rows
    tol: float  # stopping tolerance on the scaled view residual
    ss: np.ndarray  # (K, K) outer(inv_s, inv_s), scales a Hessian of L to one of L_s
    cost_ratio: float  # cost of a Hessian refresh relative to an iteration


@dataclass(frozen=True)
class _Trial:
    """Accepted line-search point (its z and weights are in the state's buffers)."""

    t: float  # step length
    theta: np.ndarray  # (K,) P(theta + t d)
    zmax: float
    Z: float
    phi: float


# --------------------------------------------------------------------------------------
# set-up on a support
# --------------------------------------------------------------------------------------


def _precondition(
    A: np.ndarray,
    G: np.ndarray,
    X: np.ndarray | None,
    rows: np.ndarray,
    ps: np.ndarray,
    rng: np.ndarray,
    c_a: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows centred at their prior mean (one copy), scaled by the prior standard deviation.

    The scaling is folded into theta, never materialised.

    Parameters
    ----------
    A, G : original row blocks; X : (K, n) rows restricted to the support or None
    (support = all scenarios); rows : (K_a,) active row indices; ps : (n,) prior on the
    support; rng : (K_a,) range of each active row over the support; c_a : (K_a,) targets.

    Returns
    -------
    L : (K_a, n) centred rows; inv_s : (K_a,) inverse row scales; cs : (K_a,) scaled
    targets; H0 : (K_a, K_a) prior correlation = scaled dual Hessian at 0.
    """
    L, m, C = _centred_rows(A, G, X, rows, ps)
    s = np.sqrt(np.maximum(np.diag(C), 0.0))
    s = np.maximum(s, 1e-6 * rng)  # rows with mass far from their extremes
    s[~(s > 0)] = 1.0
    inv_s = 1.0 / s
    cs = (c_a - m) * inv_s
    H0 = C * np.outer(inv_s, inv_s)  # prior correlation = scaled dual Hessian at 0
    return L, inv_s, cs, H0


def _log_prior(ps: np.ndarray) -> tuple[np.ndarray, float]:
    """``log ps`` shifted by its maximum, and that maximum: ``(logp (n,), log_pmax)``."""
    if ps[0] == ps.min() == ps.max():  # uniform prior: skip the log pass
        logp = np.zeros(ps.size)
        log_pmax = math.log(float(ps[0]))
    else:
        logp = np.log(ps)
        log_pmax = float(logp.max())
        logp -= log_pmax
    return logp, log_pmax


def _centred_rows(
    A: np.ndarray, G: np.ndarray, X: np.ndarray | None, rows: np.ndarray, ps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Active rows on the support, centred at their prior mean (the one ``K x n`` copy).

    Parameters
    ----------
    A, G : original row blocks; X : (K, n) rows restricted to the support or None
    (support = all scenarios); rows : (K_a,) active row indices; ps : (n,) prior.

    Returns
    -------
    L : (K_a, n) C-contiguous centred rows; m : (K_a,) prior means;
    C : (K_a, K_a) prior covariance of the rows.
    """
    k_eq = A.shape[0]
    if X is not None:
        m_all = X @ ps
    else:
        m_all = np.concatenate([A @ ps, G @ ps])
    m = m_all[rows]
    L = np.empty((rows.size, ps.size))
    for i, r in enumerate(rows):
        src = X[r] if X is not None else (A[r] if r < k_eq else G[r - k_eq])
        np.subtract(src, m[i], out=L[i])
    idx = _sample_index(ps.size)
    if idx is not None:
        # exact prior variances (they set the scaling); the correlations, which only
        # shape the first Newton step, from the block sample when it is representative
        var = np.einsum("ij,j,ij->i", L, ps, L)
        C = _sampled_cov(L, ps, 1.0, idx)
        if C is not None:
            sv = np.diag(C)
            if np.all(sv >= 0.5 * var) and np.all(sv <= 2.0 * var):
                return L, m, C
    _, C = _moments(L, ps, 1.0)
    return L, m, C


def _sample_index(n: int) -> np.ndarray | None:
    """Systematic block sample of the support for sub-sampled Hessians (or None).

    ``_SAMPLE_COLS`` columns in blocks of ``_SAMPLE_BLOCK`` contiguous scenarios, one
    block per equal-width stratum, so that only a fraction of the memory is read.
    """
    if n < _SAMPLE_MIN_N:
        return None
    n_blocks = n // _SAMPLE_BLOCK
    take = _SAMPLE_COLS // _SAMPLE_BLOCK
    step = n_blocks / take
    starts = np.floor((np.arange(take) + 0.5) * step).astype(np.int64) * _SAMPLE_BLOCK
    return (starts[:, None] + np.arange(_SAMPLE_BLOCK)[None, :]).ravel()


def _sampled_cov(L: np.ndarray, e: np.ndarray, Z: float, idx: np.ndarray) -> np.ndarray | None:
    """Covariance of the rows under ``q = e / Z`` estimated on the columns ``idx``.

    Returns None when the sample is not representative of ``q``: its share of the
    mass is off by more than a factor 2 from its share of the scenarios, or its
    effective size is below ``_SAMPLE_MIN_ESS``.
    """
    es = e[idx]
    zs = float(es.sum())
    share = (zs / Z) / (idx.size / e.size)
    if not (0.5 <= share <= 2.0):
        return None
    if zs * zs < _SAMPLE_MIN_ESS * float(es @ es):
        return None
    _, H = _moments(np.take(L, idx, axis=1), es, zs)
    return H


# --------------------------------------------------------------------------------------
# Newton core
# --------------------------------------------------------------------------------------


def _moments(
    L: np.ndarray, e: np.ndarray, Z: float, mu: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``mu = L q`` and covariance ``Cov_q(L)`` for ``q = e / Z`` in one pass.

    The covariance ``L diag(q) L^T - mu mu^T`` is accumulated by a symmetric rank
    update (``syrk``) over cache-sized column chunks of ``W = L diag(sqrt(e))``; the
    mean comes from the same hot chunks unless it is passed in.

    Parameters
    ----------
    L : (K, n) rows; e : (n,) unnormalised weights; Z : their sum;
    mu : (K,) ``L q`` if already known.

    Returns
    -------
    mu : (K,) ; H : (K, K)
    """
    K, n = L.shape
    blk = max(1024, _CHUNK_CELLS // K)
    sq = np.sqrt(e)
    M = np.zeros((K, K))
    acc = np.zeros(K)
    W = np.empty((K, min(blk, n)))
    want_mu = mu is None
    for j0 in range(0, n, blk):
        j1 = min(n, j0 + blk)
        w = W[:, : j1 - j0]
        np.multiply(L[:, j0:j1], sq[j0:j1], out=w)
        M += w @ w.T
        if want_mu:
            acc += w @ sq[j0:j1]
    inv_z = 1.0 / Z
    if want_mu:
        mu = acc * inv_z
    M *= inv_z
    M -= np.outer(mu, mu)
    return mu, M


def _kkt_residual(g: np.ndarray, theta: np.ndarray, is_in: np.ndarray) -> float:
    """Scaled view residual: |eq residual|, inequality violation, nu_i * slack_i."""
    r = 0.0
    eq = ~is_in
    if eq.any():
        r = float(np.max(np.abs(g[eq])))
    if is_in.any():
        gi = g[is_in]
        viol = float(np.max(np.maximum(-gi, 0.0)))
        comp = float(np.max(theta[is_in] * np.maximum(gi, 0.0)))
        r = max(r, viol, comp)
    return r


def _solve_newton_system(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``d = -H^+ g`` with Jacobi scaling and an eigenvalue cut-off (safe when singular)."""
    diag = np.diag(H).copy()
    dmax = float(diag.max()) if diag.size else 0.0
    if not dmax > 0:
        return -g.copy()
    dsc = np.sqrt(np.maximum(diag, dmax * 1e-14))
    Hs = H / np.outer(dsc, dsc)
    Hs = 0.5 * (Hs + Hs.T)
    gs = g / dsc
    try:
        w, V = np.linalg.eigh(Hs)
    except np.linalg.LinAlgError:
        return -g / dsc**2
    wmax = float(w[-1])
    keep = w > _EIG_RCOND * max(wmax, 1e-300)
    inv = np.where(keep, 1.0 / np.where(keep, w, 1.0), 0.0)
    y = V @ (inv * (V.T @ gs))
    return -y / dsc


def _hessian_cost_ratio(K: int) -> float:
    """Rough cost of one Hessian refresh relative to one Newton iteration without it.

    A refresh is a chunked ``K x K`` rank update over the support (~(2 + 1.9 K) ns per
    scenario on one core), an iteration is two ``gemv`` plus one ``exp`` pass
    (~(10 + 0.6 K) ns per scenario).  Deterministic on purpose: the iteration path must
    not depend on timings.
    """
    return (2.0 + 1.9 * K) / (10.0 + 0.6 * K)



def _newton(
    L: np.ndarray,
    inv_s: np.ndarray,
    c: np.ndarray,
    logp: np.ndarray,
    is_in: np.ndarray,
    tol: float,
    max_iter: int,
    *,
    H0: np.ndarray | None,
    theta0: np.ndarray | None,
    stall_exit: bool,
) -> _NewtonState:
    """Projected damped Newton on the normalised dual.

    Parameters
    ----------
    L : (K, n) view rows on the support, centred at their prior means (C-contiguous).
    inv_s : (K,) row scales: the method works on the scaled rows ``L_s = diag(inv_s) L``
        (prior standard deviation one) without materialising them --
        ``L_s^T theta = L^T (inv_s * theta)``, ``L_s q = inv_s * (L q)``.
    c : (K,) scaled targets.
    logp : (n,) log prior on the support (any constant shift).
    is_in : (K,) bool, True for inequality rows (multiplier ``nu >= 0``).
    tol : stopping tolerance on the scaled view residual.
    max_iter : iteration limit.
    H0 : (K, K) Hessian at ``theta = 0`` if known (prior covariance of the rows).
    theta0 : (K,) warm start (``H0`` is then ignored).
    stall_exit : return early (``converged=False``) when the iteration looks like the
        views are infeasible or only feasible on a smaller support.
    """
    st = _initial_state(L, inv_s, c, logp, is_in, tol, H0, theta0)
    dd = _DualData(L, inv_s, c, is_in, tol, np.outer(inv_s, inv_s), _hessian_cost_ratio(L.shape[0]))
    while not st.converged and st.iterations < max_iter:
        _refresh_hessian(st, dd)
        d, slope_f, active = _direction(st, is_in)
        if not np.any(d):
            st.reason = "no_direction"
            break
        u = L.T @ (inv_s * d)  # (n,) L_s^T d, shared by every line-search trial
        trial = _line_search(st, dd, d, u, slope_f, active)
        st.iterations += 1
        if trial is None:
            st.reason = "line_search"
            break
        _take_step(st, dd, trial)
        if stall_exit and not st.converged:
            reason = _stall_reason(st)
            if reason is not None:
                st.reason = reason
                break

    if st.converged:
        st.reason = "converged"
    st.q = st.e / st.Z
    return st


def _initial_state(
    L: np.ndarray,
    inv_s: np.ndarray,
    c: np.ndarray,
    logp: np.ndarray,
    is_in: np.ndarray,
    tol: float,
    H0: np.ndarray | None,
    theta0: np.ndarray | None,
) -> _NewtonState:
    """Iterate at ``theta0`` (or 0): weights, dual value, gradient and residual."""
    K, n = L.shape
    if theta0 is None:
        theta = np.zeros(K)
        z = logp.copy()
        H = H0
    else:
        theta = np.where(is_in, np.maximum(theta0, 0.0), theta0)
        z = logp - L.T @ (inv_s * theta)
        H = None
    zt = np.empty(n)
    zmax = float(z.max())
    e = np.subtract(z, zmax)  # unnormalised posterior weights exp(z - zmax)
    np.exp(e, out=e)
    et = np.empty(n)
    Z = float(e.sum())
    phi = zmax + math.log(Z) + float(theta @ c)
    mu = (L @ e) * (inv_s / Z)  # L_s q
    g = c - mu
    r = _kkt_residual(g, theta, is_in)
    return _NewtonState(
        theta=theta, z=z, zmax=zmax, Z=Z, q=None, iterations=0, converged=r <= tol,
        reason="max_iter", residual=r, e=e, zt=zt, et=et, phi=phi, mu=mu, g=g, H=H,
        fresh_next=H is None,
        h_current=H is not None,  # H evaluated at the current iterate
        sample_idx=_sample_index(n),
    )


def _refresh_hessian(st: _NewtonState, dd: _DualData) -> None:
    """Evaluate the scaled Hessian at the current iterate when the plan asks for it.

    In the damped phase (``st.want_sample``) a block-sampled estimate is used when it
    is representative; otherwise all scenarios.
    """
    if st.H is None or (st.fresh_next and not st.h_current):
        st.H = None
        if st.want_sample and st.sample_idx is not None:
            st.H = _sampled_cov(dd.L, st.e, st.Z, st.sample_idx)
        st.h_sampled = st.H is not None
        if st.H is None:
            assert st.mu is not None
            _, st.H = _moments(dd.L, st.e, st.Z, st.mu / dd.inv_s)
        st.H *= dd.ss
    st.h_current = False


def _direction(st: _NewtonState, is_in: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Projected Newton direction with the Bertsekas epsilon-active set.

    Returns
    -------
    d : (K,) direction (all zero when there is none); slope_f : ``g . d`` over the free
    rows; active : (K,) bool, the epsilon-active inequality rows (scaled gradient steps).
    """
    theta, g, H = st.theta, st.g, st.H
    assert g is not None and H is not None
    K = theta.size
    # ---- Bertsekas epsilon-active set -------------------------------------------
    proj = theta - g
    proj[is_in] = np.maximum(proj[is_in], 0.0)
    wk = float(np.max(np.abs(theta - proj)))
    eps_k = min(_ACTIVE_EPS, wk)
    active = is_in & (theta <= eps_k) & (g > 0)
    free = ~active
    d = np.zeros(K)
    slope_f = 0.0
    if free.any():
        fi = np.flatnonzero(free)
        d[fi] = _solve_newton_system(H[np.ix_(fi, fi)], g[fi])
        slope_f = float(g[fi] @ d[fi])
        if not slope_f < 0:  # numerically not a descent direction: scaled gradient
            d[fi] = -g[fi] / np.maximum(np.diag(H)[fi], 1e-12)
            slope_f = float(g[fi] @ d[fi])
    if active.any():
        ai = np.flatnonzero(active)
        d[ai] = -g[ai] / np.maximum(np.diag(H)[ai], 1e-12)
    # multipliers sitting at 0 and pushed negative never move: leave them out of u
    d[is_in & (theta <= 0.0) & (d < 0.0)] = 0.0
    return d, slope_f, active


def _line_search(
    st: _NewtonState,
    dd: _DualData,
    d: np.ndarray,
    u: np.ndarray,
    slope_f: float,
    active: np.ndarray,
) -> _Trial | None:
    """Projected Armijo line search along ``theta(t) = P(theta + t d)``.

    ``u = L_s^T d`` (n,).  The trial ``z`` and weights are written to the buffers
    ``st.zt`` and ``st.et``; returns the accepted trial point, or None.
    """
    L, inv_s, c, is_in = dd.L, dd.inv_s, dd.c, dd.is_in
    theta, z, zt, et, g, phi = st.theta, st.z, st.zt, st.et, st.g, st.phi
    assert g is not None
    # ---- projected Armijo line search along theta(t) = P(theta + t d) -----------
    t = 1.0
    noise = (
        64.0 * _EPS * (1.0 + abs(st.zmax) + abs(math.log(st.Z)) + float(np.abs(theta) @ np.abs(c)))
    )
    for _ in range(60):
        th_t = theta + t * d
        clip = is_in & (th_t < 0.0)
        th_t[clip] = 0.0
        if t == 1.0:
            np.subtract(z, u, out=zt)
        else:
            np.multiply(u, -t, out=zt)
            zt += z
        for i in np.flatnonzero(clip):  # rows clipped at 0: undo their linear part
            zt += ((theta[i] + t * d[i]) * inv_s[i]) * L[i]
        zmax_t = float(zt.max())
        np.subtract(zt, zmax_t, out=et)
        np.exp(et, out=et)
        Z_t = float(et.sum())
        phi_t = zmax_t + math.log(Z_t) + float(th_t @ c)
        pred = t * slope_f + float(g[active] @ (th_t[active] - theta[active]))
        if np.isfinite(phi_t) and phi_t <= phi + _ARMIJO_SIGMA * pred + noise:
            return _Trial(t, th_t, zmax_t, Z_t, phi_t)
        # safeguarded quadratic interpolation of phi along the step
        denom = phi_t - phi - t * slope_f
        if np.isfinite(phi_t) and denom > 0 and slope_f < 0:
            t = min(max(-slope_f * t * t / (2.0 * denom), 0.1 * t), 0.5 * t)
        else:
            t *= 0.25
        if t < 1e-14:
            break
    return None


def _take_step(st: _NewtonState, dd: _DualData, trial: _Trial) -> None:
    """Move to the accepted trial point: new gradient, residual, Hessian plan."""
    L, inv_s = dd.L, dd.inv_s
    t = trial.t
    st.hist_step.append(float(np.max(np.abs(trial.theta - st.theta))))
    st.theta = trial.theta
    st.z, st.zt = st.zt, st.z
    st.e, st.et = st.et, st.e
    st.zmax, st.Z, st.phi = trial.zmax, trial.Z, trial.phi
    if st.h_sampled and t < 0.25:
        st.sample_idx = None  # sampled curvature misled the step: use all scenarios
    if (t < 1.0 or st.residual > 1e-2) and st.sample_idx is None:
        # far from the solution: the next step surely wants a fresh (full) Hessian,
        # so get L q from the same pass over L
        mu, H = _moments(L, st.e, st.Z)
        mu *= inv_s
        H *= dd.ss
        st.mu, st.H = mu, H
        st.h_current = True
    else:
        st.mu = (L @ st.e) * (inv_s / st.Z)
    st.g = dd.c - st.mu
    r_prev = st.residual
    r = _kkt_residual(st.g, st.theta, dd.is_in)
    st.residual = r
    st.converged = r <= dd.tol
    rho = r / max(r_prev, 1e-300)
    st.hist_ratio.append(rho)
    st.hist_full.append(t == 1.0)
    st.want_sample = t < 1.0 or r > 1e-2
    _plan_hessian(st, dd, t, r, rho)


def _plan_hessian(st: _NewtonState, dd: _DualData, t: float, r: float, rho: float) -> None:
    """Whether the next step refreshes the Hessian (``st.fresh_next``) or reuses it.

    ``t`` : accepted step length; ``r`` : new residual; ``rho`` : its ratio to the last.
    """
    # ---- keep the Hessian (chord step) when that is predicted to be cheaper -----
    if t < 1.0 or rho > 0.1 or r > 1e-3:
        st.fresh_next = True
    else:
        n_chord = math.ceil(math.log(dd.tol / r) / math.log(rho)) if rho > 0 else 1
        n_newton = 1 if r < 1e-6 else 2
        st.fresh_next = n_chord > n_newton + dd.cost_ratio


def _stall_reason(st: _NewtonState) -> str | None:
    """Why to stop early (``"diverging"``, ``"slow"``, ``"stalled"``), or None to go on."""
    if float(np.max(np.abs(st.theta))) > 1e6:
        return "diverging"
    hist_ratio, hist_full, hist_step = st.hist_ratio, st.hist_full, st.hist_step
    # Signature of views that hold only on a smaller support: full Newton steps
    # of nearly constant length while the residual falls by a steady factor
    # (theta runs off linearly along a recession direction and q_s -> 0
    # geometrically off the maximal support).  Near-edge problems that do
    # converge show growing or shrinking steps.  A false alarm costs one LP.
    if (
        len(hist_ratio) >= 8
        and all(hist_full[-6:])
        and 0.05 < min(hist_ratio[-6:])
        and max(hist_ratio[-6:]) < 0.95
        and max(hist_step[-6:]) <= 2.0 * min(hist_step[-6:])
    ):
        return "slow"
    # no progress at all (e.g. a conflict along a direction the Hessian cannot see)
    if len(hist_ratio) >= 8 and min(hist_ratio[-8:]) > 0.9:
        return "stalled"
    return None
