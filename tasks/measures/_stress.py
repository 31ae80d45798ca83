"""Stress evaluation: portfolios' P&L statistics under alternative scenario probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks._arrays import aligned
from tasks.measures import _measures as rmod

__all__ = ["stress_metrics", "METRICS"]

METRICS = ("expected_return", "volatility", "VaR", "CVaR", "worst_loss", "prob_loss")


def stress_metrics(R: np.ndarray, exposures: np.ndarray, q: np.ndarray, alpha: float) -> pd.DataFrame:
    """P&L statistics of M portfolios under probabilities q.

    Parameters
    ----------
    R : (S, N) P&L per unit exposure.
    exposures : (M, N) portfolio exposures (rows with NaN give NaN metrics).
    q : (S,) probabilities.
    alpha : VaR/CVaR tail probability (0.10 => 90 %).

    Returns
    -------
    DataFrame (M rows) with columns :data:`METRICS`: expected return, volatility, VaR and CVaR
    (losses, positive), worst loss over scenarios with q > 0, and probability of a loss (P&L < 0).
    All in units of the portfolio's market value (0.05 = 5 %).
    """
    E = np.atleast_2d(aligned(exposures))
    R, q = aligned(R), aligned(q)
    ok = np.isfinite(E).all(axis=1)
    out = pd.DataFrame(np.nan, index=range(E.shape[0]), columns=list(METRICS))
    if not ok.any():
        return out
    pnl = R @ E[ok].T  # (S, M_ok)
    out.loc[ok, "expected_return"] = rmod.expected_return(pnl, q)
    out.loc[ok, "volatility"] = rmod.standard_deviation(pnl, q)
    X, qk, _ = rmod._scenarios(pnl, q)
    var, cvar = rmod._tail(-X, qk, rmod._check_alpha(alpha, allow_one=False))  # one selection for both
    out.loc[ok, "VaR"] = var
    out.loc[ok, "CVaR"] = cvar
    out.loc[ok, "worst_loss"] = rmod.worst_realization(pnl, q)
    out.loc[ok, "prob_loss"] = q @ (pnl < 0)
    return out
