"""Write ``index_daily_moves.csv``: an illustrative daily history of the drivers of
``configs/book_risk.yaml`` (replayed by its ``shocks``). It is generated, not market data.

Daily moves are Student-t (4 degrees of freedom, scaled to the config's annual vols over 1/252 of a
year) with the config's driver correlations, seeded; two days carry a planted sell-off (equities
down, vols up, rates down) so the replay has tail days to find. Columns: date, then the drivers:
log-returns of SPX and SX5E, log-changes of their ATM vols, additive changes of the USD curve
factors (decimal rates). Run ``python configs/data/make_index_daily_moves.py`` to rewrite it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DRIVERS = ["SPX", "SX5E", "SPX_vol", "SX5E_vol", "USD_parallel", "USD_slope"]
SIGMA = np.array([0.17, 0.19, 0.90, 0.80, 0.010, 0.006])  # annual, as in the config
UPPER = [[0.80, -0.70, -0.55, 0.20, 0.10], [-0.55, -0.70, 0.15, 0.10], [0.80, -0.15, -0.05], [-0.10, -0.05],
         [-0.30]]
SELL_OFFS = {"2024-03-18": [-0.095, -0.082, 0.62, 0.48, -0.0021, 0.0009],
             "2024-08-05": [-0.061, -0.048, 0.55, 0.41, -0.0012, 0.0004]}


def correlation() -> np.ndarray:
    d = len(DRIVERS)
    c = np.eye(d)
    for i, row in enumerate(UPPER):
        for k, x in enumerate(row):
            c[i, i + 1 + k] = c[i + 1 + k, i] = x
    return c


def history(days: int = 520, seed: int = 2024) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    nu = 4.0
    z = rng.standard_normal((days, len(DRIVERS))) @ np.linalg.cholesky(correlation()).T
    t = z / np.sqrt(rng.chisquare(nu, (days, 1)) / nu) * np.sqrt((nu - 2) / nu)  # unit variance
    moves = t * SIGMA * np.sqrt(1 / 252)
    dates = pd.bdate_range("2023-06-01", periods=days)
    df = pd.DataFrame(moves, columns=DRIVERS, index=dates.strftime("%Y-%m-%d"))
    for day, row in SELL_OFFS.items():
        df.loc[day] = row
    return df.round(6).rename_axis("date")


if __name__ == "__main__":
    history().to_csv(Path(__file__).with_name("index_daily_moves.csv"))
