"""Black-Litterman posterior moments and their Entropy-Pooling scenario probabilities.

Closed form (He-Litterman / Meucci notation). Prior covariance ``S`` (N, N), views ``P`` (K, N)
and ``Q`` (K,), uncertainty scale ``tau``, view uncertainty ``Omega`` (K, K), prior (excess)
mean ``Pi`` (N,)::

    A       = P tau S P^T + Omega                                   (K, K)
    mu_BL   = Pi + tau S P^T A^-1 (Q - P Pi)                        (N,)
    cov_BL  = S + tau S - tau S P^T A^-1 P tau S                    (N, N)

equal to the textbook ``[(tau S)^-1 + P^T Omega^-1 P]^-1 [(tau S)^-1 Pi + P^T Omega^-1 Q]``
whenever ``Omega`` is invertible, but written so that ``Omega = 0`` (views held with certainty) is
solved without dividing by zero.

Conventions (Riskfolio-Lib's ``black_litterman``; differences in brackets):

* equilibrium prior (``weights`` and ``delta`` given): ``Pi = delta S w``, an *excess* return;
  historical prior: ``Pi = prior_mu - rf``. ``Q`` is on the same excess scale as ``Pi`` and the
  risk-free rate is added back: ``mu = mu_BL + rf``. With ``rf = 0`` (our default: P&L per unit
  exposure over the horizon, the budget ``v^T e = 1``) none of this matters;
* ``Omega`` defaults to He-Litterman's ``diag(P tau S P^T)``; Riskfolio's ``tau = 1 / T`` is
  :meth:`tasks.optimization.Portfolio.blacklitterman_stats`'s default (here ``tau = 0.05``);
* [not in Riskfolio] ``confidences`` (K,) in ``[0, 1]`` set ``Omega`` in Idzorek's sense: view
  ``k`` alone tilts the mean, and the weights ``(delta S)^-1 mu``, by ``c_k`` times the tilt of
  the same view held with 100 % confidence. For one view the tilt is ``s / (s + omega)`` times the
  full tilt (``s = p_k^T tau S p_k``), so the root of ``s / (s + omega) = c`` is exact:
  ``omega_k = s (1 - c_k) / c_k`` -- ``0`` at 100 %, ``inf`` (the view is dropped) at 0 %.

:func:`black_litterman_probabilities` turns posterior moments into scenario probabilities by
Entropy Pooling: the ``q`` closest to ``p`` with ``E_q[X] = mu`` (and ``Cov_q[X] = cov``), so
every scenario measure, stress table and Greek sees the Black-Litterman world (Riskfolio-Lib's BL
changes only the MV inputs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.views._entropy_pooling import EntropyPoolingResult, solve_entropy_pooling

__all__ = ["BlackLitterman", "black_litterman", "black_litterman_probabilities", "idzorek_omega"]


@dataclass(frozen=True)
class BlackLitterman:
    """Black-Litterman posterior (see the module docstring for the formulas).

    Attributes
    ----------
    mu : (N,) posterior mean ``mu_BL + rf`` (P&L units per unit exposure).
    cov : (N, N) posterior covariance ``S + M`` (``M`` the posterior uncertainty of the mean).
    prior_mu : (N,) prior mean ``Pi + rf`` (equilibrium ``delta S w + rf`` or the given means).
    omega : (K, K) view uncertainty (``inf`` on the diagonal of a view with 0 % confidence).
    tau : uncertainty scale of the prior mean.
    P : (K, N) view portfolios.
    Q : (K,) view targets (excess scale, as ``Pi``).
    """

    mu: np.ndarray
    cov: np.ndarray
    prior_mu: np.ndarray
    omega: np.ndarray
    tau: float
    P: np.ndarray
    Q: np.ndarray


def _matrix(cov: Any) -> np.ndarray:
    S = np.array(cov, dtype=float, ndmin=2)
    n = S.shape[0]
    if S.ndim != 2 or S.shape != (n, n) or n == 0:
        raise ValueError(f"cov must be a square (N, N) matrix, got shape {S.shape}")
    if not np.isfinite(S).all():
        raise ValueError("cov must be finite")
    if not np.allclose(S, S.T, rtol=1e-10, atol=1e-14 * max(1.0, float(np.abs(S).max()))):
        raise ValueError("cov must be symmetric")
    return 0.5 * (S + S.T)


def _views(P: Any, Q: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    Pm = np.array(P, dtype=float, ndmin=2)
    if Pm.ndim != 2 or Pm.shape[1] != n:
        raise ValueError(f"P must have shape (K, {n}) (one row per view), got {Pm.shape}")
    Qv = np.asarray(Q, dtype=float).ravel()
    if Qv.shape != (Pm.shape[0],):
        raise ValueError(f"Q must have {Pm.shape[0]} entries (one per row of P), got {Qv.size}")
    if not (np.isfinite(Pm).all() and np.isfinite(Qv).all()):
        raise ValueError("P and Q must be finite")
    return Pm, Qv


def _vector(x: Any, n: int, what: str) -> np.ndarray:
    v = np.asarray(x, dtype=float).ravel()
    if v.shape != (n,) or not np.isfinite(v).all():
        raise ValueError(f"{what} must be a finite vector of length {n}, got shape {v.shape}")
    return v


def idzorek_omega(cov: np.ndarray, P: np.ndarray, confidences: Any, tau: float) -> np.ndarray:
    """Diagonal ``Omega`` (K, K) from Idzorek confidences ``c`` (K,) in ``[0, 1]``.

    ``omega_k = (1 - c_k) / c_k * p_k^T tau S p_k``: view ``k`` alone then moves the mean (and the
    unconstrained weights ``(delta S)^-1 mu``) by exactly ``c_k`` times its 100 %-confidence tilt.
    ``c_k = 1`` gives 0 (the view is met exactly), ``c_k = 0`` gives ``inf`` (the view is ignored).
    """
    c = np.asarray(confidences, dtype=float).ravel()
    if c.shape != (P.shape[0],):
        raise ValueError(f"confidences must have {P.shape[0]} entries (one per view), got {c.size}")
    if not (np.isfinite(c).all() and (c >= 0).all() and (c <= 1).all()):
        raise ValueError("confidences must lie in [0, 1] (0 = ignore the view, 1 = certain)")
    s = np.einsum("kn,nm,km->k", P, tau * cov, P)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(c > 0, s * (1.0 - c) / np.where(c > 0, c, 1.0), np.inf)
    return np.diag(w)


def _omega(S: np.ndarray, P: np.ndarray, tau: float, omega: Any, confidences: Any) -> np.ndarray:
    k = P.shape[0]
    if omega is not None and confidences is not None:
        raise ValueError("give omega or confidences, not both")
    if confidences is not None:
        return idzorek_omega(S, P, confidences, tau)
    if omega is None:
        return np.diag(np.diag(P @ (tau * S) @ P.T))
    om = np.array(omega, dtype=float, ndmin=2)
    if om.shape == (1, k) or om.shape == (k, 1):
        om = np.diag(om.ravel())
    if om.shape != (k, k):
        raise ValueError(f"omega must have shape ({k}, {k}) (or ({k},) for a diagonal)")
    if not np.isfinite(om).all() or not np.allclose(om, om.T):
        raise ValueError("omega must be finite and symmetric")
    if np.linalg.eigvalsh(0.5 * (om + om.T)).min() < -1e-12 * max(1.0, float(np.abs(om).max())):
        raise ValueError("omega must be positive semi-definite")
    return om


def _prior(S: np.ndarray, prior_mu: Any, weights: Any, delta: Any, rf: float) -> np.ndarray:
    n = S.shape[0]
    if weights is not None or delta is not None:
        if weights is None or delta is None:
            raise ValueError("the equilibrium prior needs both weights and delta")
        if prior_mu is not None:
            raise ValueError("give prior_mu (historical prior) or weights and delta (equilibrium), not both")
        if not np.isfinite(delta):
            raise ValueError(f"delta must be finite, got {delta!r}")
        return float(delta) * S @ _vector(weights, n, "weights")
    if prior_mu is None:
        raise ValueError("give prior_mu (historical prior) or weights and delta (equilibrium prior)")
    return _vector(prior_mu, n, "prior_mu") - rf


def black_litterman(
    cov: np.ndarray,
    P: np.ndarray,
    Q: np.ndarray,
    *,
    tau: float = 0.05,
    prior_mu: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    delta: float | None = None,
    omega: np.ndarray | None = None,
    confidences: np.ndarray | None = None,
    rf: float = 0.0,
) -> BlackLitterman:
    """Black-Litterman posterior mean and covariance.

    Parameters
    ----------
    cov : (N, N) prior covariance ``S`` of P&L per unit exposure.
    P : (K, N) view portfolios (absolute or relative views).
    Q : (K,) view targets, on the excess scale of ``Pi``.
    tau : positive scale of the prior mean's uncertainty ``tau S``.
    prior_mu : (N,) historical prior mean (``Pi = prior_mu - rf``), or
    weights, delta : (N,) market weights and risk aversion of the equilibrium prior
        ``Pi = delta S w``.
    omega : (K, K) (or (K,) diagonal) view uncertainty; default ``diag(P tau S P^T)``.
    confidences : (K,) Idzorek confidences in ``[0, 1]`` instead of ``omega``.
    rf : risk-free rate added back to the posterior (and prior) mean.

    Returns
    -------
    BlackLitterman
        Posterior ``mu`` (N,), ``cov`` (N, N) and the inputs as used.

    Raises
    ------
    ValueError
        On bad shapes or values, or views whose combined uncertainty ``P tau S P^T + Omega`` is
        singular (e.g. two identical views held with certainty).
    """
    S = _matrix(cov)
    n = S.shape[0]
    Pm, Qv = _views(P, Q, n)
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be positive, got {tau!r}")
    if not np.isfinite(rf):
        raise ValueError(f"rf must be finite, got {rf!r}")
    pi = _prior(S, prior_mu, weights, delta, float(rf))
    om = _omega(S, Pm, float(tau), omega, confidences)
    keep = np.isfinite(np.diag(om))  # a view with infinite uncertainty (0 % confidence) drops out
    mu_post, cov_post = pi.copy(), S + tau * S
    if keep.any():
        Pk, Qk, Ok = Pm[keep], Qv[keep], om[np.ix_(keep, keep)]
        tSP = (tau * S) @ Pk.T                               # (N, K')
        A = Pk @ tSP + Ok                                    # (K', K')
        if np.linalg.matrix_rank(A) < A.shape[0]:
            raise ValueError("the views are redundant: P tau S P^T + Omega is singular (two views on "
                             "the same portfolio held with certainty?)")
        mu_post = pi + tSP @ np.linalg.solve(A, Qk - Pk @ pi)
        cov_post = cov_post - tSP @ np.linalg.solve(A, tSP.T)
    cov_post = 0.5 * (cov_post + cov_post.T)
    return BlackLitterman(mu=mu_post + rf, cov=cov_post, prior_mu=pi + rf, omega=om, tau=float(tau),
                          P=Pm, Q=Qv)


def black_litterman_probabilities(
    X: np.ndarray,
    p: np.ndarray | None,
    mu: np.ndarray,
    cov: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
    **ep_options: Any,
) -> EntropyPoolingResult:
    """Scenario probabilities ``q`` whose moments are a Black-Litterman posterior.

    Entropy Pooling: ``min_q RE(q || p)`` s.t. ``X^T q = mu`` and, when ``cov`` is given,
    ``sum_s q_s (x_s - mu)(x_s - mu)^T = cov`` (written as the second moments ``E_q[x_i x_j] =
    cov_ij + mu_i mu_j``, ``i <= j``, linear in ``q``).

    Parameters
    ----------
    X : (S, N) P&L per unit exposure of each scenario.
    p : (S,) prior probabilities (None = uniform).
    mu : (N,) target mean (e.g. :attr:`BlackLitterman.mu`).
    cov : (N, N) target covariance (e.g. :attr:`BlackLitterman.cov`), optional. Note that it is
        a probability-weighted (divisor 1) covariance, as every covariance in this library.
    names : N variable names for error messages (default ``x0 ... x{N-1}``).
    **ep_options : ``tol`` / ``max_iter`` of :func:`tasks.views.solve_entropy_pooling`.

    Returns
    -------
    EntropyPoolingResult
        ``posterior`` (S,) is ``q``; also the relative entropy, effective scenarios, residuals
        (means first, then the upper-triangle second moments) and ``converged``.

    Raises
    ------
    tasks.views.ViewsInfeasible
        When no probabilities on the scenarios reach the moments (e.g. ``mu`` outside the range
        of the scenarios).
    """
    Xm = np.asarray(X, dtype=float)
    if Xm.ndim != 2:
        raise ValueError(f"X must have shape (S, N), got {Xm.shape}")
    s, n = Xm.shape
    prior = np.full(s, 1.0 / s) if p is None else np.asarray(p, dtype=float)
    target = _vector(mu, n, "mu")
    labels = [str(x) for x in names] if names is not None else [f"x{i}" for i in range(n)]
    if len(labels) != n:
        raise ValueError(f"names must have {n} entries, got {len(labels)}")
    rows, b = [Xm.T], [target]
    row_names = [f"mean[{a}]" for a in labels]
    if cov is not None:
        C = _matrix(cov)
        if C.shape != (n, n):
            raise ValueError(f"cov must have shape ({n}, {n}), got {C.shape}")
        iu, ju = np.triu_indices(n)
        rows.append((Xm[:, iu] * Xm[:, ju]).T)
        b.append(C[iu, ju] + target[iu] * target[ju])
        row_names += [f"cov[{labels[i]},{labels[j]}]" for i, j in zip(iu, ju, strict=True)]
    return solve_entropy_pooling(prior, np.vstack(rows), np.concatenate(b), names=row_names,
                                 **ep_options)
