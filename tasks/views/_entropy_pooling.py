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

Layout: this module holds the API, the input checks and the driver
:func:`_solve_on_support`; the Newton iteration lives in :mod:`tasks.views._newton`,
the row presolve and the LPs (feasibility and support decisions) in
:mod:`tasks.views._certificates`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tasks.errors import ViewsInfeasible
from tasks.views._certificates import _fmt_names, _lp_arbitration, _presolve_rows
from tasks.views._newton import _log_prior, _newton, _precondition

__all__ = [
    "ViewsInfeasible",
    "EntropyPoolingResult",
    "solve_entropy_pooling",
    "entropy_pooling",
    "relative_entropy",
    "effective_number_of_scenarios",
]


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
    """EP restricted to the scenarios ``support`` (presolve, Newton, LP arbitration).

    Parameters
    ----------
    p : (S,) normalised prior; A, b, G, h : view rows and targets (original units);
    names : (K,) row names; support : (n,) scenario indices; tol, max_iter : as in
    :func:`solve_entropy_pooling`; depth : recursion depth (restricted supports).

    Returns
    -------
    _SupportSolution
        Posterior on the (possibly further restricted) support, RE against ``p``,
        multipliers in original units, total iterations.

    Raises
    ------
    ViewsInfeasible
        When the presolve or the LPs prove the views infeasible on ``support``.
    """
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
    L, inv_s, cs, H0 = _precondition(A, G, X, rows, ps, rng, c_a)
    logp, log_pmax = _log_prior(ps)

    state = _newton(L, inv_s, cs, logp, is_in_a, tol, max_iter, H0=H0, theta0=None, stall_exit=True)
    total_iter = state.iterations

    if not state.converged:
        # --- LP arbitration: infeasible?  feasible only on a smaller support? ----------
        status, keep, offending = _lp_arbitration(L, inv_s, cs, is_in_a, state.z - state.zmax)
        if status == "infeasible":
            bad = [names[rows[i]] for i in offending] or [names[r] for r in rows]
            raise ViewsInfeasible(
                "Entropy Pooling views are jointly infeasible: no probability vector on the "
                f"prior's support satisfies {_fmt_names(bad)} together.",
                bad,
            )
        if keep is not None and depth < 3 and 0 < keep.sum() < keep.size:
            try:
                sub = _solve_on_support(p, A, b, G, h, names, support[keep], tol, max_iter, depth + 1)
            except ViewsInfeasible:
                sub = None  # LP tolerance artefact: keep iterating on the full support
            if sub is not None and sub.converged:
                sub.iterations += total_iter
                return sub
        # keep going on the current support, without the early exit
        remaining = max_iter - state.iterations
        if remaining > 0:
            state = _newton(
                L, inv_s, cs, logp, is_in_a, tol, remaining, H0=None, theta0=state.theta, stall_exit=False
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
    assert q is not None
    re = float(q @ state.z) - float(q @ logp) - state.zmax - math.log(state.Z) - log_pmax - log_mass
    return _SupportSolution(support, q, re, theta_orig, total_iter, state.converged)
