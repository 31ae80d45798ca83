"""Write ``factor_history.csv`` and ``asset_history.csv``: illustrative daily histories for the
factor model of ``configs/black_litterman.yaml``. They are generated, not market data.

Factors (the config's simulated drivers): ``Mkt`` (equity market), ``Value`` and ``Momentum``
(long-short factor returns) as daily simple returns; ``Rates`` and ``Credit`` (a rate level and a
credit spread, decimals) as daily additive changes. Daily factor moves are Gaussian with the
config's annual vols over 1/252 of a year and its correlations, seeded. Assets: daily log-returns
``ALPHA + B f + e`` (``f`` the factors' log-returns / changes, ``e`` Gaussian noise of vol
``RESIDUAL_VOL``) with the known loadings :data:`TRUE_B`, written as simple returns (``expm1``).
750 business days. Run ``python configs/data/make_factor_histories.py`` to rewrite them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240614
ROWS = 750
FACTORS = ["Mkt", "Rates", "Credit", "Value", "Momentum"]
RATE_FACTORS = ("Rates", "Credit")  # additive changes (rate-kind drivers), not returns
SIGMA = np.array([0.16, 0.010, 0.008, 0.08, 0.10])  # annual, as in the config
MU = np.array([0.06, 0.0, 0.0, 0.01, 0.02])
UPPER = [[-0.2, -0.5, 0.1, 0.0], [0.1, 0.0, 0.0], [-0.2, 0.0], [-0.3]]
ASSETS = ["US_Equity", "EU_Equity", "EM_Equity", "Treasury", "Corp_IG", "Tech", "Energy"]
#: true loadings (N assets, K factors) on daily log-returns / changes
TRUE_B = np.array([
    # Mkt  Rates Credit Value Momentum
    [1.00, 0.0, 0.0, -0.20, 0.10],   # US_Equity
    [0.90, 0.0, 0.0, 0.30, 0.00],    # EU_Equity
    [1.20, 0.0, -2.0, 0.20, 0.00],   # EM_Equity
    [0.00, -7.0, 0.0, 0.00, 0.00],   # Treasury: duration 7
    [0.05, -5.0, -4.0, 0.00, 0.00],  # Corp_IG: duration 5, spread duration 4
    [1.30, 0.0, 0.0, -0.60, 0.50],   # Tech
    [0.80, 0.0, 0.0, 0.70, 0.00],    # Energy
])
ALPHA = np.array([1e-4, 0.0, 5e-5, 1e-4, 1.2e-4, 2e-4, 0.0])  # daily
RESIDUAL_VOL = np.array([0.006, 0.007, 0.010, 0.001, 0.0015, 0.009, 0.011])  # daily


def correlation() -> np.ndarray:
    k = len(FACTORS)
    c = np.eye(k)
    for i, row in enumerate(UPPER):
        c[i, i + 1:] = row
        c[i + 1:, i] = row
    return c


def histories() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """(factor history, asset history, factor log-returns/changes (T, K), asset log-returns (T, N))."""
    rng = np.random.default_rng(SEED)
    dt = 1.0 / 252
    L = np.linalg.cholesky(correlation())
    f = MU * dt + (rng.standard_normal((ROWS, len(FACTORS))) @ L.T) * SIGMA * np.sqrt(dt)
    x = ALPHA + f @ TRUE_B.T + rng.standard_normal((ROWS, len(ASSETS))) * RESIDUAL_VOL
    dates = pd.bdate_range("2022-01-03", periods=ROWS).strftime("%Y-%m-%d")
    rate = np.array([n in RATE_FACTORS for n in FACTORS])
    fac = pd.DataFrame(np.where(rate, f, np.expm1(f)), columns=FACTORS)
    fac.insert(0, "date", dates)
    ast = pd.DataFrame(np.expm1(x), columns=ASSETS)
    ast.insert(0, "date", dates)
    return fac, ast, f, x


def main() -> None:
    here = Path(__file__).resolve().parent
    fac, ast, _, _ = histories()
    fac.to_csv(here / "factor_history.csv", index=False, float_format="%.10g")
    ast.to_csv(here / "asset_history.csv", index=False, float_format="%.10g")


if __name__ == "__main__":
    main()
