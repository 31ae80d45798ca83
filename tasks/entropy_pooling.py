"""Entropy Pooling solver core (Meucci, 2008).

Given prior scenario probabilities ``p`` (shape ``(S,)``), Entropy Pooling finds the
posterior ``q`` that minimises the relative entropy

    RE(q || p) = sum_s q_s log(q_s / p_s)

subject to the views

    A q  = b        (equality rows,   A: (K_eq, S), b: (K_eq,))
    G q <= h        (inequality rows, G: (K_in, S), h: (K_in,))
    1^T q = 1,  q >= 0.

Method
------
The problem is solved through its *normalised* dual.  With ``L = [A; G]`` (``K x S``),
``c = [b; h]`` and ``theta = [lambda; nu]`` (``lambda`` free, ``nu >= 0``)

    phi(theta) = logsumexp(log p - L^T theta) + theta^T c          (convex)
    q(theta)   = softmax(log p - L^T theta)
    grad phi   = c - L q
    hess phi   = L (diag(q) - q q^T) L^T = Cov_q(L)                 (K x K)

``phi`` is minimised by a damped projected Newton method (Bertsekas, 1982) with an
Armijo back-tracking line search along the projection arc.  Everything is done on
the prior's support only (``p_s = 0`` stays ``q_s = 0``) and on *preconditioned*
rows: each row is centred at its prior mean and divided by its prior standard
deviation (valid because ``sum q = 1``); multipliers are mapped back to the
original units at the end.  The iteration stops on the view residual (equality
residual, inequality violation and complementarity ``nu_i * slack_i`` of the scaled
rows), not on objective change.

Views at the edge of feasibility (some scenarios must receive ``q_s = 0``) have no
finite dual solution.  Single rows whose target sits on the boundary of the row's
range over the support are detected up front and the support is restricted
accordingly; in the general case a stalled / diverging Newton iteration hands over
to linear programming (HiGHS through :func:`scipy.optimize.linprog`) which decides
feasibility, names the conflicting views if there are none, or finds the maximal
support of the feasible set, on which the Newton iteration is re-run.

Cost per Newton iteration is two ``K x S`` matrix-vector products (BLAS ``gemv``),
one ``exp`` over the support per line-search trial, and (when it is refreshed) a
chunked ``K x K`` rank-update for the Hessian.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

__all__ = [
    "ViewsInfeasible",
    "EntropyPoolingResult",
    "solve_entropy_pooling",
    "entropy_pooling",
    "relative_entropy",
    "effective_number_of_scenarios",
]

_EPS = float(np.finfo(np.float64).eps)
#: relative tolerance used for "exactly on the boundary" / "constant row" decisions
_EDGE_RTOL = 64.0 * _EPS
#: Armijo sufficient-decrease constant
_ARMIJO_SIGMA = 1e-4
#: upper bound for the Bertsekas epsilon-active set (scaled multiplier units)
_ACTIVE_EPS = 1e-3
#: relative eigenvalue cut-off for the (Jacobi scaled) Newton system
_EIG_RCOND = 1e-12
#: number of float64 cells per chunk of the Hessian rank update (~2 MiB)
_CHUNK_CELLS = 1 << 18
#: LP tolerance (scaled, i.e. prior-standard-deviation units) for feasibility decisions
_LP_TOL = 1e-7


class ViewsInfeasible(ValueError):
    """The views admit no probability vector on the prior's support.

    Attributes
    ----------
    views : list[str]
        Names of the offending rows: the rows that individually cannot be met when
        there are such rows, otherwise the rows involved in the conflict found by the
        LP certificate (best effort; all rows when nothing narrower is known).
    """

    def __init__(self, message: str, views: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.views: list[str] = list(views)


@dataclass(frozen=True)
class EntropyPoolingResult:
    """Result of :func:`solve_entropy_pooling`.

    Attributes
    ----------
    posterior : np.ndarray, shape (S,)
        Posterior probabilities ``q`` (non-negative, sum to one; zero wherever the
        prior is zero).
    relative_entropy : float
        ``sum_{q_s > 0} q_s log(q_s / p_s)``.
    effective_scenarios : float
        ``exp(-relative_entropy)``, the effective number of scenarios as a fraction
        of the prior's, in ``(0, 1]``.
    residuals : np.ndarray, shape (K_eq + K_in,)
        Per view row in original units, stacked ``[eq; in]``: ``A q - b`` for
        equalities and ``max(G q - h, 0)`` for inequalities.
    max_residual : float
        ``max |residuals|`` (0 when there are no views).
    multipliers : np.ndarray, shape (K_eq + K_in,)
        Dual variables ``[lambda; nu]`` (``nu >= 0``) for the original (unscaled)
        rows, such that ``q = softmax(log p - A^T lambda - G^T nu)`` on the support
        used by the solver.  Rows that were dropped as redundant (a constant row met
        by its target, an inequality that cannot bind) get 0.  When views hold only
        at the edge of feasibility the solver works on the maximal feasible support
        and the multipliers are those of that restricted problem.
    iterations : int
        Number of Newton iterations (all stages together).
    converged : bool
        Whether the view residual reached ``tol`` (scaled rows).
    """

    posterior: np.ndarray
    relative_entropy: float
    effective_scenarios: float
    residuals: np.ndarray
    max_residual: float
    multipliers: np.ndarray
    iterations: int
    converged: bool


# --------------------------------------------------------------------------------------
# public helpers
# --------------------------------------------------------------------------------------


def relative_entropy(q: np.ndarray, p: np.ndarray) -> float:
    """Relative entropy (Kullback-Leibler divergence) ``sum_{q_s>0} q_s log(q_s/p_s)``.

    Parameters
    ----------
    q, p : array_like, shape (S,)
        Probability vectors (non-negative).  ``q_s > 0`` where ``p_s = 0`` gives
        ``inf``.

    Returns
    -------
    float
        The relative entropy (``>= 0`` up to rounding for normalised inputs).
    """
    q = np.asarray(q, dtype=np.float64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if q.shape != p.shape:
        raise ValueError(f"q and p must have the same length, got {q.size} and {p.size}")
    pos = q > 0
    if np.any(p[pos] <= 0):
        return math.inf
    qp = q[pos]
    return float(np.dot(qp, np.log(qp) - np.log(p[pos])))


def effective_number_of_scenarios(q: np.ndarray, p: np.ndarray) -> float:
    """Effective number of scenarios ``exp(-RE(q || p))`` as a fraction in ``[0, 1]``.

    Parameters
    ----------
    q, p : array_like, shape (S,)
        Posterior and prior probabilities.

    Returns
    -------
    float
        ``exp(-relative_entropy(q, p))``.
    """
    return float(math.exp(-relative_entropy(q, p)))


def entropy_pooling(
    p: np.ndarray,
    A: np.ndarray | None = None,
    b: np.ndarray | None = None,
    G: np.ndarray | None = None,
    h: np.ndarray | None = None,
) -> np.ndarray:
    """Posterior probabilities of Entropy Pooling (see :func:`solve_entropy_pooling`).

    Parameters
    ----------
    p : array_like, shape (S,)
        Prior probabilities.
    A : array_like, shape (K_eq, S), optional
        Equality view rows.
    b : array_like, shape (K_eq,), optional
        Equality targets.
    G : array_like, shape (K_in, S), optional
        Inequality view rows (``G q <= h``).
    h : array_like, shape (K_in,), optional
        Inequality bounds.

    Returns
    -------
    np.ndarray, shape (S,)
        Posterior probabilities ``q``.
    """
    return solve_entropy_pooling(p, A, b, G, h).posterior


# --------------------------------------------------------------------------------------
# main entry point
# --------------------------------------------------------------------------------------


def solve_entropy_pooling(
    p: np.ndarray,
    A: np.ndarray | None = None,
    b: np.ndarray | None = None,
    G: np.ndarray | None = None,
    h: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> EntropyPoolingResult:
    """Entropy Pooling posterior: ``min_q RE(q||p)`` s.t. ``A q = b``, ``G q <= h``.

    ``sum q = 1`` and ``q >= 0`` are always enforced; a constant row ``c * 1`` passed
    by the caller is dropped when its target equals ``c`` (within rounding) and is
    reported as infeasible otherwise.

    Parameters
    ----------
    p : array_like, shape (S,)
        Prior probabilities (non-negative, positive sum; normalised internally).
    A : array_like, shape (K_eq, S) or (S,), optional
        Equality view rows.
    b : array_like, shape (K_eq,) or scalar, optional
        Equality targets.
    G : array_like, shape (K_in, S) or (S,), optional
        Inequality view rows (``G q <= h``).
    h : array_like, shape (K_in,) or scalar, optional
        Inequality bounds.
    names : sequence of str, length K_eq + K_in, optional
        Row names ``[eq rows..., in rows...]`` used in error messages.
    tol : float, default 1e-12
        Stopping tolerance on the view residual of the *scaled* rows (prior-mean
        centred, divided by prior standard deviation): equality residual,
        inequality violation and complementarity ``nu_i * slack_i``.
    max_iter : int, default 100
        Maximum number of Newton iterations per stage.

    Returns
    -------
    EntropyPoolingResult
        Posterior, diagnostics and multipliers (see the class docstring).

    Raises
    ------
    ViewsInfeasible
        If no probability vector on the prior's support satisfies the views.
    ValueError
        On malformed inputs.
    """
    p = _as_prior(p)
    S = p.size
    A, b = _as_rows(A, b, S, "A", "b")
    G, h = _as_rows(G, h, S, "G", "h")
    k_eq, k_in = A.shape[0], G.shape[0]
    row_names = _row_names(names, k_eq, k_in)
    if not (tol > 0):
        raise ValueError("tol must be positive")
    if max_iter < 1:
        raise ValueError("max_iter must be >= 1")

    support = np.flatnonzero(p > 0)
    out = _solve_on_support(p, A, b, G, h, row_names, support, float(tol), int(max_iter), depth=0)

    if out.support.size == S:
        q = out.q
    else:
        q = np.zeros(S)
        q[out.support] = out.q
    total = q.sum()
    if total != 1.0:
        q /= total

    residuals = np.empty(k_eq + k_in)
    if k_eq:
        residuals[:k_eq] = A @ q - b
    if k_in:
        residuals[k_eq:] = np.maximum(G @ q - h, 0.0)
    max_res = float(np.max(np.abs(residuals))) if residuals.size else 0.0

    re = max(out.relative_entropy, 0.0)

    return EntropyPoolingResult(
        posterior=q,
        relative_entropy=re,
        effective_scenarios=float(math.exp(-re)),
        residuals=residuals,
        max_residual=max_res,
        multipliers=out.multipliers,
        iterations=out.iterations,
        converged=out.converged,
    )


# --------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------


def _as_prior(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"p must be a non-empty 1-D array, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("p must be finite and non-negative")
    total = p.sum()
    if not total > 0:
        raise ValueError("p must have a positive sum")
    return p / total


def _as_rows(
    M: np.ndarray | None, v: np.ndarray | None, S: int, mname: str, vname: str
) -> tuple[np.ndarray, np.ndarray]:
    if M is None:
        if v is not None and np.size(v) > 0:
            raise ValueError(f"{vname} given without {mname}")
        return np.zeros((0, S)), np.zeros(0)
    M = np.asarray(M, dtype=np.float64)
    if M.ndim == 1:
        M = M[None, :]
    if M.ndim != 2 or M.shape[1] != S:
        raise ValueError(f"{mname} must have shape (K, {S}), got {M.shape}")
    M = np.ascontiguousarray(M)
    if v is None:
        raise ValueError(f"{mname} given without {vname}")
    v = np.atleast_1d(np.asarray(v, dtype=np.float64)).ravel()
    if v.size != M.shape[0]:
        raise ValueError(f"{vname} must have length {M.shape[0]}, got {v.size}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{vname} must be finite")
    # finiteness of M is checked on the fly (row min/max over the support, and
    # the off-support columns in _solve_on_support) to save a pass over K x S
    return M, v


def _row_names(names: Sequence[str] | None, k_eq: int, k_in: int) -> list[str]:
    if names is None:
        return [f"eq[{i}]" for i in range(k_eq)] + [f"ineq[{i}]" for i in range(k_in)]
    names = [str(n) for n in names]
    if len(names) != k_eq + k_in:
        raise ValueError(f"names must have length K_eq + K_in = {k_eq + k_in}, got {len(names)}")
    return names


def _fmt_names(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


# --------------------------------------------------------------------------------------
# solve on a given support
# --------------------------------------------------------------------------------------


@dataclass
class _SupportSolution:
    support: np.ndarray  # (n,) indices into the full scenario set
    q: np.ndarray  # (n,) posterior on the support
    relative_entropy: float  # RE(q || p) against the full prior
    multipliers: np.ndarray  # (K,) original units
    iterations: int
    converged: bool


@dataclass
class _NewtonState:
    theta: np.ndarray
    z: np.ndarray  # log p - L^T theta (log p up to a constant)
    zmax: float
    Z: float  # sum exp(z - zmax)
    q: np.ndarray  # exp(z - zmax) / Z
    iterations: int
    converged: bool
    reason: str
    residual: float


def _solve_on_support(
    p: np.ndarray,
    A: np.ndarray,
    b: np.ndarray,
    G: np.ndarray,
    h: np.ndarray,
    names: list[str],
    support: np.ndarray,
    tol: float,
    max_iter: int,
    depth: int,
) -> _SupportSolution:
    k_eq, k_in = A.shape[0], G.shape[0]
    K = k_eq + k_in
    S = p.size
    n = support.size

    # --- stacked rows restricted to the support (the only K x n copy we make) -------
    L = np.empty((K, n))
    if n == S:
        L[:k_eq] = A
        L[k_eq:] = G
    else:
        if k_eq:
            np.take(A, support, axis=1, out=L[:k_eq])
        if k_in:
            np.take(G, support, axis=1, out=L[k_eq:])
    c = np.concatenate([b, h])
    is_in = np.arange(K) >= k_eq
    rows = np.arange(K)  # original index of each row of L
    ps = p[support]
    if n < S and K and depth == 0:
        off = np.ones(S, dtype=bool)
        off[support] = False
        if not (np.all(np.isfinite(A[:, off])) and np.all(np.isfinite(G[:, off]))):
            raise ValueError("view rows must be finite")

    # --- cheap per-row checks; exact edge-of-support restriction ---------------------
    L, rows, ps, support, rng = _presolve_rows(L, c, is_in, rows, ps, support, names)
    ps = ps / ps.sum()
    theta_orig = np.zeros(K)

    log_mass = math.log(min(float(p[support].sum()), 1.0)) if support.size < S else 0.0

    if rows.size == 0:
        return _SupportSolution(support, ps, -log_mass, theta_orig, 0, True)

    c_a = c[rows]
    is_in_a = is_in[rows]

    # --- preconditioning: centre at prior mean, scale by prior std ------------------
    m, s, H0 = _standardise_rows_inplace(L, ps, rng)
    cs = (c_a - m) / s

    if ps[0] == ps.min() == ps.max():  # uniform prior: skip the log pass
        logp = np.zeros(ps.size)
        log_pmax = math.log(float(ps[0]))
    else:
        logp = np.log(ps)
        log_pmax = float(logp.max())
        logp -= log_pmax

    state = _newton(L, cs, logp, is_in_a, tol, max_iter, H0=H0, theta0=None, stall_exit=True)
    total_iter = state.iterations

    if not state.converged:
        # --- LP arbitration: infeasible?  feasible only on a smaller support? ----------
        feasible, offending = _lp_feasibility(L, cs, is_in_a)
        if not feasible:
            bad = [names[rows[i]] for i in offending] or [names[r] for r in rows]
            raise ViewsInfeasible(
                "Entropy Pooling views are jointly infeasible: no probability vector on the "
                f"prior's support satisfies {_fmt_names(bad)} together.",
                bad,
            )
        keep = _lp_max_support(L, cs, is_in_a)
        if keep is not None and depth < 3 and 0 < keep.sum() < keep.size:
            try:
                sub = _solve_on_support(
                    p, A, b, G, h, names, support[keep], tol, max_iter, depth + 1
                )
            except ViewsInfeasible:
                sub = None  # LP tolerance artefact: keep iterating on the full support
            if sub is not None and sub.converged:
                sub.iterations += total_iter
                return sub
        # keep going on the current support, without the early exit
        remaining = max_iter - state.iterations
        if remaining > 0:
            state = _newton(
                L, cs, logp, is_in_a, tol, remaining, H0=None, theta0=state.theta, stall_exit=False
            )
            total_iter += state.iterations
        if not state.converged:
            warnings.warn(
                "Entropy Pooling did not converge: scaled view residual "
                f"{state.residual:.3e} > tol={tol:.1e} ({state.reason}).",
                RuntimeWarning,
                stacklevel=3,
            )

    theta_orig[rows] = state.theta / s
    if not np.any(state.theta):  # no view binds: the posterior is the prior, exactly
        return _SupportSolution(support, ps, -log_mass, theta_orig, total_iter, state.converged)
    # RE(q || ps) = sum q (log q - log ps), with log q = z - zmax - log Z and
    # log ps = logp + log_pmax (no extra log/exp pass over the scenarios)
    q = state.q
    re = (
        float(q @ state.z)
        - float(q @ logp)
        - state.zmax
        - math.log(state.Z)
        - log_pmax
        - log_mass
    )
    return _SupportSolution(support, q, re, theta_orig, total_iter, state.converged)


def _presolve_rows(
    L: np.ndarray,
    c: np.ndarray,
    is_in: np.ndarray,
    rows: np.ndarray,
    ps: np.ndarray,
    support: np.ndarray,
    names: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-row feasibility, redundancy and exact-boundary checks.

    Rows (of ``L``, indexed by ``rows`` into the original views) whose target lies
    outside their range over the support raise :class:`ViewsInfeasible`.  Constant
    rows that meet their target and inequalities that cannot bind are dropped.  A row
    whose target equals its max (or min) over the support forces every scenario off
    that extreme to zero: the support is restricted and the checks are repeated.

    Returns
    -------
    L, rows, ps, support : the (possibly) reduced problem; rng : (K_active,) range of
    each remaining row over the support.
    """
    restricting: list[int] = []
    while True:
        if rows.size == 0:
            return L, rows, ps, support, np.zeros(0)
        lo = L.min(axis=1)
        hi = L.max(axis=1)
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError("view rows must be finite")
        ca = c[rows]
        ina = is_in[rows]
        atol = _EDGE_RTOL * np.maximum(np.maximum(np.abs(lo), np.abs(hi)), np.abs(ca))
        eqa = ~ina

        bad_eq = eqa & ((ca < lo - atol) | (ca > hi + atol))
        bad_in = ina & (lo > ca + atol)
        bad = np.flatnonzero(bad_eq | bad_in)
        if bad.size:
            msgs = []
            for i in bad:
                nm = names[rows[i]]
                if eqa[i]:
                    msgs.append(
                        f"{nm!r}: target {ca[i]:.6g} outside the attainable range "
                        f"[{lo[i]:.6g}, {hi[i]:.6g}] over the prior's support"
                    )
                else:
                    msgs.append(
                        f"{nm!r}: bound {ca[i]:.6g} below the row's minimum {lo[i]:.6g} "
                        "over the prior's support"
                    )
            offenders = [names[rows[i]] for i in bad]
            extra = ""
            if restricting:
                rnames = [names[r] for r in dict.fromkeys(restricting)]
                extra = (
                    " (after restricting the support to the scenarios where "
                    f"{_fmt_names(rnames)} sit at the edge of their range)"
                )
                offenders = offenders + [n for n in rnames if n not in offenders]
            raise ViewsInfeasible(
                "Entropy Pooling views cannot be met" + extra + ": " + "; ".join(msgs) + ".",
                offenders,
            )

        const = (hi - lo) <= atol
        drop = (eqa & const) | (ina & (hi <= ca + atol))
        at_hi = eqa & ~const & (ca >= hi - atol)
        at_lo = ~const & ~at_hi & (ca <= lo + atol)  # equalities at min, inequalities at min
        edge = np.flatnonzero(at_hi | at_lo)
        if edge.size:
            mask = np.ones(L.shape[1], dtype=bool)
            for i in edge:
                if at_hi[i]:
                    mask &= L[i] >= hi[i] - atol[i]
                else:
                    mask &= L[i] <= lo[i] + atol[i]
            restricting.extend(int(rows[i]) for i in edge)
            if not mask.any():
                rnames = [names[r] for r in dict.fromkeys(restricting)]
                raise ViewsInfeasible(
                    f"Entropy Pooling views {_fmt_names(rnames)} can only be met at the edge "
                    "of their ranges, and no scenario attains all those edges at once.",
                    rnames,
                )
            L = np.ascontiguousarray(L[:, mask])
            ps = ps[mask]
            support = support[mask]
            continue  # re-check every row on the smaller support
        if drop.any():
            keep = ~drop
            L = np.ascontiguousarray(L[keep])
            rows = rows[keep]
            continue
        return L, rows, ps, support, hi - lo


def _standardise_rows_inplace(
    L: np.ndarray, ps: np.ndarray, rng: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre rows at their prior mean and scale by prior std, in place.

    ``rng`` (K,) is the range of each row over the support; the scale is floored at
    ``1e-6 * rng`` so that a row with a tiny prior variance (mass far from its
    extremes) is still well scaled.

    Returns
    -------
    m : (K,) prior means; s : (K,) scales; H0 : (K, K) prior correlation matrix of the
    rows, i.e. the dual Hessian at ``theta = 0`` in scaled units.
    """
    K, n = L.shape
    m = L @ ps
    blk = max(1024, _CHUNK_CELLS // K)
    sq = np.sqrt(ps)
    C = np.zeros((K, K))
    W = np.empty((K, min(blk, n)))
    mcol = m[:, None]
    for j0 in range(0, n, blk):
        j1 = min(n, j0 + blk)
        Lb = L[:, j0:j1]
        Lb -= mcol  # centre in place (this chunk is hot in cache)
        w = W[:, : j1 - j0]
        np.multiply(Lb, sq[j0:j1], out=w)
        C += w @ w.T
    var = np.diag(C).copy()
    s = np.sqrt(np.maximum(var, 0.0))
    s = np.maximum(s, 1e-6 * rng)
    s[s <= 0] = 1.0
    inv = (1.0 / s)[:, None]
    for j0 in range(0, n, blk):
        L[:, j0 : j0 + blk] *= inv
    H0 = C / np.outer(s, s)
    return m, s, H0


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
    L : (K, n) scaled view rows on the support (C-contiguous).
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
    K, n = L.shape
    if theta0 is None:
        theta = np.zeros(K)
        z = logp.copy()
        H = H0
    else:
        theta = np.where(is_in, np.maximum(theta0, 0.0), theta0)
        z = logp - L.T @ theta
        H = None
    zt = np.empty(n)
    zmax = float(z.max())
    e = np.subtract(z, zmax)  # unnormalised posterior weights exp(z - zmax)
    np.exp(e, out=e)
    et = np.empty(n)
    Z = float(e.sum())
    phi = zmax + math.log(Z) + float(theta @ c)
    mu = (L @ e) / Z  # L q
    g = c - mu
    cost_ratio = _hessian_cost_ratio(K)

    hist_ratio: list[float] = []
    hist_full: list[bool] = []
    hist_step: list[float] = []
    reason = "max_iter"
    it = 0
    r = _kkt_residual(g, theta, is_in)
    converged = r <= tol
    fresh_next = H is None
    h_current = H is not None  # H evaluated at the current iterate
    while not converged and it < max_iter:
        if H is None or (fresh_next and not h_current):
            _, H = _moments(L, e, Z, mu)
        h_current = False

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
        if not np.any(d):
            reason = "no_direction"
            break
        u = L.T @ d  # (n,) L^T d, shared by every line-search trial

        # ---- projected Armijo line search along theta(t) = P(theta + t d) -----------
        t = 1.0
        accepted = False
        noise = 64.0 * _EPS * (1.0 + abs(zmax) + abs(math.log(Z)) + float(np.abs(theta) @ np.abs(c)))
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
                zt += (theta[i] + t * d[i]) * L[i]
            zmax_t = float(zt.max())
            np.subtract(zt, zmax_t, out=et)
            np.exp(et, out=et)
            Z_t = float(et.sum())
            phi_t = zmax_t + math.log(Z_t) + float(th_t @ c)
            pred = t * slope_f + float(g[active] @ (th_t[active] - theta[active]))
            if np.isfinite(phi_t) and phi_t <= phi + _ARMIJO_SIGMA * pred + noise:
                accepted = True
                break
            # safeguarded quadratic interpolation of phi along the step
            denom = phi_t - phi - t * slope_f
            if np.isfinite(phi_t) and denom > 0 and slope_f < 0:
                t = min(max(-slope_f * t * t / (2.0 * denom), 0.1 * t), 0.5 * t)
            else:
                t *= 0.25
            if t < 1e-14:
                break
        it += 1
        if not accepted:
            reason = "line_search"
            break
        hist_step.append(float(np.max(np.abs(th_t - theta))))
        theta = th_t
        z, zt = zt, z
        e, et = et, e
        zmax, Z, phi = zmax_t, Z_t, phi_t
        if t < 1.0 or r > 1e-2:
            # far from the solution: the next step surely wants a fresh Hessian, so
            # get L q from the same pass over L
            mu, H = _moments(L, e, Z)
            h_current = True
        else:
            mu = (L @ e) / Z
        g = c - mu
        r_prev = r
        r = _kkt_residual(g, theta, is_in)
        converged = r <= tol
        rho = r / max(r_prev, 1e-300)
        hist_ratio.append(rho)
        hist_full.append(t == 1.0)

        # ---- keep the Hessian (chord step) when that is predicted to be cheaper -----
        if t < 1.0 or rho > 0.1 or r > 1e-3:
            fresh_next = True
        else:
            n_chord = math.ceil(math.log(tol / r) / math.log(rho)) if rho > 0 else 1
            n_newton = 1 if r < 1e-6 else 2
            fresh_next = n_chord > n_newton + cost_ratio

        if stall_exit and not converged:
            if float(np.max(np.abs(theta))) > 1e6:
                reason = "diverging"
                break
            # Symptoms of views that hold only on a smaller support (or not at all):
            # the residual decays at best linearly while the multipliers keep moving by
            # steps that do not shrink (theta -> infinity along a recession direction).
            # A converging iteration has shrinking steps.  False alarms only cost an LP.
            if (
                len(hist_ratio) >= 6
                and all(hist_full[-6:])
                and min(hist_ratio[-6:]) > 0.05
                and hist_step[-1] > 0.25 * hist_step[-6]
            ):
                reason = "slow"
                break
            # no progress at all (e.g. a conflict along a direction the Hessian cannot see)
            if len(hist_ratio) >= 8 and min(hist_ratio[-8:]) > 0.9:
                reason = "stalled"
                break

    if converged:
        reason = "converged"
    q = e / Z
    return _NewtonState(theta, z, zmax, Z, q, it, converged, reason, r)


# --------------------------------------------------------------------------------------
# LP arbitration (HiGHS)
# --------------------------------------------------------------------------------------


def _lp_feasibility(L: np.ndarray, c: np.ndarray, is_in: np.ndarray) -> tuple[bool, list[int]]:
    """Elastic LP: min total violation of the (scaled) views over the simplex.

    Returns ``(feasible, offending)`` where ``offending`` lists rows (indices into
    ``L``) carrying violation or a non-zero dual, i.e. the rows of the infeasibility
    certificate.
    """
    K, n = L.shape
    eq = np.flatnonzero(~is_in)
    ine = np.flatnonzero(is_in)
    ke, ki = eq.size, ine.size
    nv = n + 2 * ke + ki
    cost = np.concatenate([np.zeros(n), np.ones(2 * ke + ki)])
    Ieq = sparse.identity(ke, format="csr")
    A_eq = sparse.vstack(
        [
            sparse.hstack([sparse.csr_matrix(L[eq]), Ieq, -Ieq, sparse.csr_matrix((ke, ki))]),
            sparse.hstack([sparse.csr_matrix(np.ones((1, n))), sparse.csr_matrix((1, 2 * ke + ki))]),
        ],
        format="csr",
    )
    b_eq = np.concatenate([c[eq], [1.0]])
    if ki:
        A_ub = sparse.hstack(
            [
                sparse.csr_matrix(L[ine]),
                sparse.csr_matrix((ki, 2 * ke)),
                -sparse.identity(ki, format="csr"),
            ],
            format="csr",
        )
        b_ub = c[ine]
    else:
        A_ub, b_ub = None, None
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0 or res.x is None:
        # the elastic LP is always feasible and bounded; treat solver trouble as unknown
        return True, []
    if res.fun <= _LP_TOL:
        return True, []
    x = res.x
    off: set[int] = set()
    ep, em, f = x[n : n + ke], x[n + ke : n + 2 * ke], x[n + 2 * ke : nv]
    off.update(int(eq[i]) for i in np.flatnonzero(ep + em > _LP_TOL))
    off.update(int(ine[i]) for i in np.flatnonzero(f > _LP_TOL))
    try:
        yeq = np.asarray(res.eqlin.marginals)[:ke]
        off.update(int(eq[i]) for i in np.flatnonzero(np.abs(yeq) > 1e-9))
        if ki:
            yin = np.asarray(res.ineqlin.marginals)
            off.update(int(ine[i]) for i in np.flatnonzero(np.abs(yin) > 1e-9))
    except AttributeError:  # pragma: no cover - marginals missing in very old SciPy
        pass
    return False, sorted(off)


def _lp_max_support(L: np.ndarray, c: np.ndarray, is_in: np.ndarray) -> np.ndarray | None:
    """Maximal support of the feasible set ``F = {q >= 0 : views, sum q = 1}``.

    Solves (HiGHS)

        max sum_s y_s  s.t.  0 <= y_s <= 1,  y_s <= w_s,  w >= 0,
                             A w = b tau,  G w <= h tau,  1^T w = tau,  tau >= 0

    (rows already scaled).  Every scenario that is positive in some feasible ``q`` can
    be given ``y_s = 1`` simultaneously (average the feasible points and scale), and
    ``y_s = 0`` is forced for the others, so the optimal ``y`` is the indicator of the
    maximal support.

    Returns
    -------
    np.ndarray of bool, shape (n,), or None if the LP failed.
    """
    K, n = L.shape
    eq = np.flatnonzero(~is_in)
    ine = np.flatnonzero(is_in)
    ke, ki = eq.size, ine.size
    # variables: w (n), y (n), tau (1)
    cost = np.concatenate([np.zeros(n), -np.ones(n), [0.0]])
    eye = sparse.identity(n, format="csr")
    ub_blocks = [sparse.hstack([-eye, eye, sparse.csr_matrix((n, 1))])]
    b_ub = [np.zeros(n)]
    if ki:
        ub_blocks.append(
            sparse.hstack(
                [sparse.csr_matrix(L[ine]), sparse.csr_matrix((ki, n)), sparse.csr_matrix(-c[ine][:, None])]
            )
        )
        b_ub.append(np.zeros(ki))
    A_ub = sparse.vstack(ub_blocks, format="csr")
    eq_blocks = [
        sparse.hstack(
            [sparse.csr_matrix(np.ones((1, n))), sparse.csr_matrix((1, n)), sparse.csr_matrix([[-1.0]])]
        )
    ]
    if ke:
        eq_blocks.insert(
            0,
            sparse.hstack(
                [sparse.csr_matrix(L[eq]), sparse.csr_matrix((ke, n)), sparse.csr_matrix(-c[eq][:, None])]
            ),
        )
    A_eq = sparse.vstack(eq_blocks, format="csr")
    b_eq = np.zeros(A_eq.shape[0])
    bounds = np.zeros((2 * n + 1, 2))
    bounds[:, 1] = np.inf
    bounds[n : 2 * n, 1] = 1.0
    res = linprog(
        cost,
        A_ub=A_ub,
        b_ub=np.concatenate(b_ub),
        A_eq=A_eq,
        b_eq=b_eq,
        bounds=bounds,
        method="highs",
    )
    if res.status != 0 or res.x is None:
        return None
    return res.x[n : 2 * n] > 0.5
