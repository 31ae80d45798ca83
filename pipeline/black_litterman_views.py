"""A Black-Litterman view set on the scenarios: closed-form posterior, then Entropy Pooling.

Runs on a worker next to the scenario set (called by :func:`pipeline.stages.solve_views`). For a
set resolved into a :class:`pipeline.plan.BlackLittermanPlan` with universe ``U`` (N variables),
views ``P`` (K, N), ``Q`` (K,):

1. ``Sigma`` (N, N) and ``m`` (N,): covariance (divisor 1) and means of ``X[:, U]`` under the prior
   probabilities ``p`` (S,) -- the scenario model's own moments, not a sample re-estimate;
2. the prior mean ``Pi = delta Sigma w`` (equilibrium) or ``m``;
3. the Black-Litterman posterior ``mu_BL``, ``cov_BL`` (:func:`tasks.views.black_litterman`, with
   Omega from Idzorek confidences or He-Litterman's ``diag(P tau Sigma P^T)``; ``rf = 0``: the
   variables are P&L per unit exposure over the horizon, so ``Pi`` and ``Q`` are on that scale);
4. ``q`` (S,): the probabilities closest to ``p`` with ``E_q[X_U] = mu_BL`` (and, with
   ``match_cov``, ``Cov_q[X_U] = cov_BL``) (:func:`tasks.views.black_litterman_probabilities`),
   so every measure, stress table and Greek of the run sees the Black-Litterman world.

Diagnostics (rows of ``view_checks.parquet``). ``target`` is always what ``q`` is asked to
attain and ``violation = |attained - target|``, as for every view set:

* one row per view ``k`` (view ``BL mean(<P_k>) = <Q_k>``): ``target = P_k mu_BL``, the view's
  portfolio mean in the Black-Litterman posterior (the stated ``Q_k`` blended with the prior; it
  is in the row's label), ``prior_value = P_k m``, ``attained = P_k E_q[X_U]``, ``confidence`` the
  Idzorek confidence (NaN: He-Litterman Omega);
* one row per universe variable (``BL posterior mean(<name>)``): ``target = mu_BL[i]``;
* with ``match_cov``, one row per universe variable (``BL posterior var(<name>)``):
  ``target = cov_BL[i, i]``.

``max_residual`` is the largest ``|E_q[X_U] - mu_BL|`` (and, with ``match_cov``, the largest
entry of ``|Cov_q[X_U] - cov_BL|``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.plan import BlackLittermanPlan
from tasks.views import BlackLitterman, black_litterman, black_litterman_probabilities

__all__ = ["BlackLittermanSolution", "universe_moments", "black_litterman_posterior", "solve_black_litterman"]


@dataclass
class BlackLittermanSolution:
    """Posterior probabilities of a Black-Litterman view set and their diagnostics.

    Attributes
    ----------
    q : (S,) posterior probabilities.
    posterior : the closed-form Black-Litterman moments ``q`` matches (over the universe).
    relative_entropy, effective_scenarios : of ``q`` against the prior.
    max_residual : see the module docstring (units of X; squared for the covariance).
    converged : whether Entropy Pooling reached its tolerance.
    checks : rows of ``view_checks.parquet`` (without ``view_set``).
    """

    q: np.ndarray
    posterior: BlackLitterman
    relative_entropy: float
    effective_scenarios: float
    max_residual: float
    converged: bool
    checks: list[dict[str, Any]] = field(default_factory=list)


def universe_moments(XU: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (N,), covariance (N, N)) of the universe's columns ``XU`` (S, N) under ``p`` (S,)
    (probability weighted, divisor 1)."""
    m = p @ XU
    D = XU - m
    C = D.T @ (D * p[:, None])
    return m, 0.5 * (C + C.T)


def black_litterman_posterior(XU: np.ndarray, p: np.ndarray, bl: BlackLittermanPlan) -> BlackLitterman:
    """The closed-form posterior of ``bl`` on the universe's scenario values ``XU`` (S, N)."""
    m, C = universe_moments(XU, p)
    prior: dict[str, Any] = ({"weights": bl.weights, "delta": bl.delta} if bl.equilibrium else {"prior_mu": m})
    return black_litterman(C, bl.P, bl.Q, tau=bl.tau, confidences=bl.confidences, **prior)


def _row(view: str, stat: str, on: str, target: float, prior: float, got: float, confidence: float) -> dict[str, Any]:
    return {"view": view, "stat": stat, "on": on, "op": "=", "target": float(target), "prior_value": float(prior),
            "attained": float(got), "violation": abs(float(got) - float(target)), "confidence": float(confidence),
            "attained_unblended": float(got)}


def _checks(bl: BlackLittermanPlan, labels: tuple[str, ...], post: BlackLitterman, XU: np.ndarray,
            p: np.ndarray, q: np.ndarray) -> list[dict[str, Any]]:
    m_p, C_p = universe_moments(XU, p)
    m_q, C_q = universe_moments(XU, q)
    rows = []
    for k, on in enumerate(labels):
        c = np.nan if bl.confidences is None else float(bl.confidences[k])
        label = f"BL mean({on}) = {bl.Q[k]:g}" + ("" if np.isnan(c) else f" (confidence {c:g})")
        rows.append(_row(label, "mean", on, bl.P[k] @ post.mu, bl.P[k] @ m_p, bl.P[k] @ m_q, c))
    for i, name in enumerate(bl.universe):
        rows.append(_row(f"BL posterior mean({name})", "mean", name, post.mu[i], m_p[i], m_q[i], np.nan))
    if bl.match_cov:
        for i, name in enumerate(bl.universe):
            rows.append(_row(f"BL posterior var({name})", "var", name, post.cov[i, i], C_p[i, i], C_q[i, i], np.nan))
    return rows


def solve_black_litterman(X: np.ndarray, variables: list[str], p: np.ndarray, bl: BlackLittermanPlan,
                          labels: tuple[str, ...]) -> BlackLittermanSolution:
    """Posterior probabilities of a Black-Litterman view set.

    Parameters
    ----------
    X : (S, n_var) the scenario set's view variables; ``variables`` (n_var,) their names.
    p : (S,) prior probabilities.
    bl : the resolved set (its universe names columns of X).
    labels : (K,) the views' ``on`` as text (check rows).

    Raises
    ------
    tasks.views.ViewsInfeasible
        When no probabilities on the scenarios attain the posterior moments.
    ValueError
        When the views are redundant (``P tau Sigma P^T + Omega`` singular).
    """
    XU = X[:, [variables.index(n) for n in bl.universe]]
    post = black_litterman_posterior(XU, p, bl)
    ep = black_litterman_probabilities(XU, p, post.mu, post.cov if bl.match_cov else None, names=bl.universe)
    q = ep.posterior
    m_q, C_q = universe_moments(XU, q)
    resid = float(np.max(np.abs(m_q - post.mu)))
    if bl.match_cov:
        resid = max(resid, float(np.max(np.abs(C_q - post.cov))))
    return BlackLittermanSolution(q, post, float(ep.relative_entropy), float(ep.effective_scenarios), resid,
                                  bool(ep.converged), _checks(bl, labels, post, XU, p, q))
