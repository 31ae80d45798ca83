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
Armijo back-tracking line search along the projection arc; a singular Hessian
(linearly dependent views) is handled by a Jacobi-scaled eigen-decomposition with an
eigenvalue cut-off (minimum-norm step).  Everything is done on the prior's support
only (``p_s = 0`` stays ``q_s = 0``) and on *preconditioned* rows: each row is centred
at its prior mean (one ``K x n`` copy) and divided by its prior standard deviation
(folded into ``theta``, never materialised) -- valid because ``sum q = 1``;
multipliers are mapped back to the original units at the end.  The iteration stops
on the view residual (equality residual, inequality violation and complementarity
``nu_i * slack_i`` of the scaled rows), not on objective change.

Views at the edge of feasibility (some scenarios must receive ``q_s = 0``) have no
finite dual solution.  Single rows whose target sits on the boundary of the row's
range over the support are detected up front and the support is restricted
accordingly; in the general case a stalled / diverging Newton iteration hands over
to linear programming (HiGHS through :func:`scipy.optimize.linprog`): a certificate
LP (theorem of the alternative, solved by constraint generation so that it stays
cheap at S = 1e6) either proves the views infeasible -- its Farkas vector names the
conflicting views -- or proves that the maximal support of the feasible set is a
candidate set read off the stalled iterate; the Newton iteration is then re-run on
that support.  When no candidate can be certified, the textbook LPs (elastic
feasibility, and ``max sum y, y <= w, y <= 1`` for the maximal support, ``2 S``
columns) are used on supports up to ``_FULL_LP_MAX_N`` scenarios.

Cost per Newton iteration is two ``K x S`` matrix-vector products (BLAS ``gemv``:
``L^T d`` once per iteration -- line-search trials update ``L^T theta`` by
``t L^T d`` -- and ``L q``), one ``exp`` over the support per line-search trial, and,
when it is refreshed, a chunked ``K x K`` rank update (``syrk``) for the Hessian.
Near the solution the Hessian is kept (chord steps) when a cost model predicts that
to be cheaper.

Performance note: on small shared machines pin BLAS to one thread
(``OPENBLAS_NUM_THREADS=1``); an oversubscribed multi-threaded BLAS can be an order
of magnitude slower for these thin ``K x S`` products.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from tasks.errors import ViewsInfeasible

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
#: supports at least this large use a block sample of the scenarios for the Hessian
#: in the damped phase (sub-sampled Newton); the local phase always uses all of them
_SAMPLE_MIN_N = 1 << 18
_SAMPLE_BLOCK = 512
_SAMPLE_COLS = 1 << 16
#: minimum effective sample size (under the current q) for a sampled Hessian
_SAMPLE_MIN_ESS = 4096.0
#: scenarios with log(q_s / max q) above minus this at a stalled iterate form the
#: candidate support checked by the certificate LP
_GUESS_LOG_RATIO = 25.0
#: largest support on which the full maximal-support LP (2 S columns) is attempted when
#: the iterate gives no usable candidate support (above it Newton just continues)
_FULL_LP_MAX_N = 200_000


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
    c = np.concatenate([b, h])
    is_in = np.arange(K) >= k_eq
    if support.size < S and K and depth == 0:
        off = np.ones(S, dtype=bool)
        off[support] = False
        if not (np.all(np.isfinite(A[:, off])) and np.all(np.isfinite(G[:, off]))):
            raise ValueError("view rows must be finite")

    # --- cheap per-row checks; exact edge-of-support restriction (no K x S copy) ------
    X, rows, support, rng = _presolve_rows(A, G, c, is_in, p, support, names)
    ps = p[support]
    ps = ps / ps.sum()
    theta_orig = np.zeros(K)
    log_mass = math.log(min(float(p[support].sum()), 1.0)) if support.size < S else 0.0

    if rows.size == 0:
        return _SupportSolution(support, ps, -log_mass, theta_orig, 0, True)

    c_a = c[rows]
    is_in_a = is_in[rows]

    # --- preconditioning: rows centred at their prior mean (one copy), scaled by the --
    # --- prior standard deviation implicitly (the scaling is folded into theta) -------
    L, m, C = _centred_rows(A, G, X, rows, ps)
    s = np.sqrt(np.maximum(np.diag(C), 0.0))
    s = np.maximum(s, 1e-6 * rng)  # rows with mass far from their extremes
    s[~(s > 0)] = 1.0
    inv_s = 1.0 / s
    cs = (c_a - m) * inv_s
    H0 = C * np.outer(inv_s, inv_s)  # prior correlation = scaled dual Hessian at 0

    if ps[0] == ps.min() == ps.max():  # uniform prior: skip the log pass
        logp = np.zeros(ps.size)
        log_pmax = math.log(float(ps[0]))
    else:
        logp = np.log(ps)
        log_pmax = float(logp.max())
        logp -= log_pmax

    state = _newton(L, inv_s, cs, logp, is_in_a, tol, max_iter, H0=H0, theta0=None, stall_exit=True)
    total_iter = state.iterations

    if not state.converged:
        # --- LP arbitration: infeasible?  feasible only on a smaller support? ----------
        # First a certificate LP around the support suggested by the stalled iterate
        # (constraint generation: cheap at any S, exact when it succeeds); if that is
        # inconclusive, the elastic feasibility LP and the full maximal-support LP.
        Ls = L * inv_s[:, None]
        score = state.z - state.zmax
        status, keep, ycert = "unknown", None, None
        for ratio in (_GUESS_LOG_RATIO, 3 * _GUESS_LOG_RATIO):
            status, keep, ycert = _lp_certificate(Ls, cs, is_in_a, score, guess_log_ratio=ratio)
            if status != "unknown":
                break
        if status == "unknown":  # no certified support: at least decide feasibility
            status, keep, ycert = _lp_certificate(Ls, cs, is_in_a, score, only_feasibility=True)
        small = L.shape[1] <= _FULL_LP_MAX_N
        offending: list[int] = []
        if status == "infeasible":
            assert ycert is not None
            offending = np.flatnonzero(np.abs(ycert) > 1e-9 * np.abs(ycert).max()).tolist()
        elif status == "unknown" and small:  # LP trouble: the textbook elastic LP
            feasible, offending = _lp_feasibility(Ls, cs, is_in_a)
            status = "feasible" if feasible else "infeasible"
        if status == "feasible" and small:
            # no usable candidate support: the full maximal-support LP (2 n columns,
            # affordable for moderate supports only; above that Newton just continues)
            keep = _lp_max_support(Ls, cs, is_in_a)
        del Ls
        if status == "infeasible":
            bad = [names[rows[i]] for i in offending] or [names[r] for r in rows]
            raise ViewsInfeasible(
                "Entropy Pooling views are jointly infeasible: no probability vector on the "
                f"prior's support satisfies {_fmt_names(bad)} together.",
                bad,
            )
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
                L,
                inv_s,
                cs,
                logp,
                is_in_a,
                tol,
                remaining,
                H0=None,
                theta0=state.theta,
                stall_exit=False,
            )
            total_iter += state.iterations
        if not state.converged:
            warnings.warn(
                "Entropy Pooling did not converge: scaled view residual "
                f"{state.residual:.3e} > tol={tol:.1e} ({state.reason}).",
                RuntimeWarning,
                stacklevel=3,
            )

    theta_orig[rows] = state.theta * inv_s
    if not np.any(state.theta):  # no view binds: the posterior is the prior, exactly
        return _SupportSolution(support, ps, -log_mass, theta_orig, total_iter, state.converged)
    # RE(q || ps) = sum q (log q - log ps), with log q = z - zmax - log Z and
    # log ps = logp + log_pmax (no extra log/exp pass over the scenarios)
    q = state.q
    re = float(q @ state.z) - float(q @ logp) - state.zmax - math.log(state.Z) - log_pmax - log_mass
    return _SupportSolution(support, q, re, theta_orig, total_iter, state.converged)


def _presolve_rows(
    A: np.ndarray,
    G: np.ndarray,
    c: np.ndarray,
    is_in: np.ndarray,
    p: np.ndarray,
    support: np.ndarray,
    names: list[str],
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """Per-row feasibility, redundancy and exact-boundary checks.

    Rows whose target lies outside their range over the support raise
    :class:`ViewsInfeasible`.  Constant rows that meet their target and inequalities
    that cannot bind are dropped.  A row whose target equals its max (or min) over the
    support forces every scenario off that extreme to zero: the support is restricted
    and the checks are repeated.

    Returns
    -------
    X : (K, n) all rows restricted to the support, or None when the support is the
        whole scenario set (then the rows are read from ``A`` and ``G`` directly);
    rows : (K_active,) original indices of the rows that remain;
    support : (n,) scenario indices;
    rng : (K_active,) range of each remaining row over the support.
    """
    S = p.size
    K = c.size
    X: np.ndarray | None = None
    if support.size < S:
        X = np.vstack([A, G])[:, support]
    rows = np.arange(K)
    restricting: list[int] = []
    lo_all = hi_all = None
    while True:
        if rows.size == 0:
            return X, rows, support, np.zeros(0)
        if lo_all is None:
            if X is None:
                lo_all = np.concatenate([A.min(axis=1), G.min(axis=1)])
                hi_all = np.concatenate([A.max(axis=1), G.max(axis=1)])
            else:
                lo_all = X.min(axis=1)
                hi_all = X.max(axis=1)
            if not (np.all(np.isfinite(lo_all)) and np.all(np.isfinite(hi_all))):
                raise ValueError("view rows must be finite")
        lo = lo_all[rows]
        hi = hi_all[rows]
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
            if X is None:
                X = np.vstack([A, G])
            mask = np.ones(X.shape[1], dtype=bool)
            for i in edge:
                r = rows[i]
                if at_hi[i]:
                    mask &= X[r] >= hi[i] - atol[i]
                else:
                    mask &= X[r] <= lo[i] + atol[i]
            restricting.extend(int(rows[i]) for i in edge)
            if not mask.any():
                rnames = [names[r] for r in dict.fromkeys(restricting)]
                raise ViewsInfeasible(
                    f"Entropy Pooling views {_fmt_names(rnames)} can only be met at the edge "
                    "of their ranges, and no scenario attains all those edges at once.",
                    rnames,
                )
            X = np.ascontiguousarray(X[:, mask])
            support = support[mask]
            lo_all = hi_all = None
            continue  # re-check every row on the smaller support
        if drop.any():
            rows = rows[~drop]
            continue
        return X, rows, support, hi - lo


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
    ss = np.outer(inv_s, inv_s)
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
    sample_idx = _sample_index(n)
    want_sample = True  # damped phase: a sampled Hessian is good enough
    h_sampled = False
    while not converged and it < max_iter:
        if H is None or (fresh_next and not h_current):
            H = None
            if want_sample and sample_idx is not None:
                H = _sampled_cov(L, e, Z, sample_idx)
            h_sampled = H is not None
            if H is None:
                _, H = _moments(L, e, Z, mu / inv_s)
            H *= ss
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
        u = L.T @ (inv_s * d)  # (n,) L_s^T d, shared by every line-search trial

        # ---- projected Armijo line search along theta(t) = P(theta + t d) -----------
        t = 1.0
        accepted = False
        noise = (
            64.0 * _EPS * (1.0 + abs(zmax) + abs(math.log(Z)) + float(np.abs(theta) @ np.abs(c)))
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
        if h_sampled and t < 0.25:
            sample_idx = None  # sampled curvature misled the step: use all scenarios
        if (t < 1.0 or r > 1e-2) and sample_idx is None:
            # far from the solution: the next step surely wants a fresh (full) Hessian,
            # so get L q from the same pass over L
            mu, H = _moments(L, e, Z)
            mu *= inv_s
            H *= ss
            h_current = True
        else:
            mu = (L @ e) * (inv_s / Z)
        g = c - mu
        r_prev = r
        r = _kkt_residual(g, theta, is_in)
        converged = r <= tol
        rho = r / max(r_prev, 1e-300)
        hist_ratio.append(rho)
        hist_full.append(t == 1.0)
        want_sample = t < 1.0 or r > 1e-2

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
            sparse.hstack(
                [sparse.csr_matrix(np.ones((1, n))), sparse.csr_matrix((1, 2 * ke + ki))]
            ),
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
    res = linprog(
        cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs"
    )
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


def _lp_certificate(
    L: np.ndarray,
    c: np.ndarray,
    is_in: np.ndarray,
    score: np.ndarray,
    *,
    guess_log_ratio: float = _GUESS_LOG_RATIO,
    only_feasibility: bool = False,
    batch: int = 4096,
    max_rounds: int = 40,
) -> tuple[str, np.ndarray | None, np.ndarray | None]:
    """Maximal support (or infeasibility) from a candidate set, certified by an LP.

    For multipliers ``y = [lambda; nu]`` (``nu >= 0``) let ``f_s = y^T (L_s - c)``.
    Every feasible ``q`` has ``sum_s q_s f_s = lambda^T (A q - b) + nu^T (G q - h) <= 0``,
    so if ``f >= 0`` on all scenarios then ``q_s = 0`` wherever ``f_s > 0``; conversely
    (theorem of the alternative) every scenario outside the maximal support is
    separated by such a certificate, and certificates add up.  With ``P`` the
    candidate set (``score >= -guess_log_ratio``; the score is ``log q_s - max log q``
    at the stalled Newton iterate) and ``U`` the other scenarios, the LP

        max  t + sum_{s in P} v_s   s.t.  f_s >= t (s in U),  f_s >= v_s (s in P),
                                          0 <= t <= 1,  0 <= v <= 1,  |y| <= 1e6

    has ``K + 1 + |P|`` columns.  It is solved by constraint generation: the rows of
    ``U`` enter in batches (closest to the candidate set first, then the violated
    ones), each round checked against all scenarios with one ``gemv``.  At the
    optimum, ``t = 1`` proves that no feasible ``q`` puts mass on ``U``, and the
    maximal support is exactly ``{s in P : v_s = 0}`` -- empty means that no feasible
    ``q`` exists at all, and ``y`` is then a Farkas certificate naming the views in
    conflict.

    With ``only_feasibility``, or when the candidate set is empty or too large
    (``> 50 000`` scenarios or more than half of them), ``P`` is taken empty: the LP
    then only decides feasibility (``t = 1``: infeasible, with the Farkas certificate
    ``y``; else "feasible").

    Returns
    -------
    ("support", keep, y) with ``keep`` (n,) bool, ("infeasible", None, y),
    ("feasible", None, None) when only feasibility could be decided, or
    ("unknown", None, None) when ``U`` cannot be certified (the candidate set misses
    part of the support) or an LP failed.
    """
    K, n = L.shape
    guess = score >= -guess_log_ratio
    only_feasibility = only_feasibility or not (0 < guess.sum() <= min(50_000, n // 2))
    if only_feasibility:
        guess = np.zeros(n, dtype=bool)
    P = np.flatnonzero(guess)
    U = np.flatnonzero(~guess)
    nP = P.size
    order = U[np.argsort(-score[U], kind="stable")]
    active = order[: min(batch, order.size)]
    in_active = np.zeros(n, dtype=bool)
    in_active[active] = True
    y_box = 1e6
    bounds = np.zeros((K + 1 + nP, 2))
    bounds[:K, 0] = np.where(is_in, 0.0, -y_box)
    bounds[:K, 1] = y_box
    bounds[K:, 1] = 1.0
    cost = np.concatenate([np.zeros(K), [-1.0], -np.ones(nP)])
    x = None
    for _ in range(max_rounds):
        rows = np.concatenate([P, active])
        m = rows.size
        # constraints -f_s + t <= 0 (s in U),  -f_s + v_j <= 0 (s = P_j)
        blk = -(L[:, rows] - c[:, None]).T
        tcol = np.zeros(m)
        tcol[nP:] = 1.0
        vmat = sparse.csr_matrix((np.ones(nP), (np.arange(nP), np.arange(nP))), shape=(m, nP))
        A_ub = sparse.hstack(
            [sparse.csr_matrix(blk), sparse.csr_matrix(tcol[:, None]), vmat], format="csr"
        )
        res = linprog(cost, A_ub=A_ub, b_ub=np.zeros(m), bounds=bounds, method="highs")
        if res.status != 0 or res.x is None:
            return "unknown", None, None
        x = res.x
        y, t = x[:K], x[K]
        f = L.T @ y - float(c @ y)
        viol = np.flatnonzero(~in_active & ~guess & (f < t - 1e-6))
        if viol.size == 0:
            break
        add = viol[np.argsort(f[viol], kind="stable")[:batch]]
        in_active[add] = True
        active = np.concatenate([active, add])
    else:
        return "unknown", None, None
    y, t, v = x[:K], x[K], x[K + 1 :]
    if t < 0.5:
        return ("feasible" if only_feasibility else "unknown"), None, None
    keep = np.zeros(n, dtype=bool)
    keep[P[v < 0.5]] = True
    if not keep.any():
        return "infeasible", None, y
    return "support", keep, y


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
                [
                    sparse.csr_matrix(L[ine]),
                    sparse.csr_matrix((ki, n)),
                    sparse.csr_matrix(-c[ine][:, None]),
                ]
            )
        )
        b_ub.append(np.zeros(ki))
    A_ub = sparse.vstack(ub_blocks, format="csr")
    eq_blocks = [
        sparse.hstack(
            [
                sparse.csr_matrix(np.ones((1, n))),
                sparse.csr_matrix((1, n)),
                sparse.csr_matrix([[-1.0]]),
            ]
        )
    ]
    if ke:
        eq_blocks.insert(
            0,
            sparse.hstack(
                [
                    sparse.csr_matrix(L[eq]),
                    sparse.csr_matrix((ke, n)),
                    sparse.csr_matrix(-c[eq][:, None]),
                ]
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

