"""Instruments: per-scenario P&L per unit of exposure and relative market value v.

Conventions (per unit of exposure e):

========  ===============================================  ===============================
kind      P&L per unit exposure at the horizon              relative market value v
========  ===============================================  ===============================
cash      simple return of its driver, ``exp(x) - 1``       1
option    ``(V_H - V_0) / S_0`` (per unit underlying         ``V_0 / S_0``
          notional), V priced with Black-76 on the forward
          ``F = S e^{(r - q) T}``
========  ===============================================  ===============================

``x`` is the driver's horizon log-return, ``S_H = S_0 e^x``. An option of maturity T is repriced
at the horizon H <= T with remaining maturity ``T - H`` and its implied vol; at ``T == H`` that is
its payoff. The budget of a portfolio is ``sum_i v_i e_i = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

import numpy as np

from tasks.pricing import black76_price

__all__ = ["Cash", "EuropeanOption", "Instrument", "market_value", "instrument_pnl", "pnl_matrix"]


@dataclass(frozen=True)
class Cash:
    """A cash asset (fund, index, bond ETF...) whose P&L is its driver's simple return."""

    name: str
    driver: str
    kind: Literal["cash"] = "cash"


@dataclass(frozen=True)
class EuropeanOption:
    """A European call or put on a driver, priced with Black-76.

    Parameters
    ----------
    name, driver : identifiers.
    option_type : "call" or "put".
    strike : absolute strike, in the units of ``spot``.
    maturity : time to expiry today, years.
    vol : implied volatility (annual, decimal), kept at the horizon.
    rate : continuously compounded rate r; dividend : yield q (both annual, decimal).
    spot : today's spot S_0 of the driver.
    """

    name: str
    driver: str
    option_type: Literal["call", "put"]
    strike: float
    maturity: float
    vol: float
    rate: float = 0.0
    dividend: float = 0.0
    spot: float = 1.0
    kind: Literal["option"] = "option"

    @property
    def is_call(self) -> bool:
        return self.option_type == "call"

    def price(self, spot: np.ndarray | float, time_to_expiry: float) -> np.ndarray:
        """Value for spot(s) ``spot`` and remaining maturity ``time_to_expiry`` (years)."""
        tau = max(float(time_to_expiry), 0.0)
        fwd = np.asarray(spot, dtype=float) * np.exp((self.rate - self.dividend) * tau)
        return black76_price(fwd, self.strike, tau, self.vol, self.rate, self.is_call)


Instrument = Union[Cash, EuropeanOption]


def market_value(inst: Instrument) -> float:
    """Relative market value v of one unit of exposure (dimensionless)."""
    if isinstance(inst, Cash):
        return 1.0
    if isinstance(inst, EuropeanOption):
        return float(inst.price(inst.spot, inst.maturity)) / inst.spot
    raise TypeError(f"unknown instrument {inst!r}")


def instrument_pnl(inst: Instrument, log_return: np.ndarray, horizon: float) -> np.ndarray:
    """(n,) P&L per unit exposure of one instrument for its driver's horizon log-returns (n,)."""
    x = np.asarray(log_return, dtype=float)
    if isinstance(inst, Cash):
        return np.expm1(x)
    if isinstance(inst, EuropeanOption):
        v0 = float(inst.price(inst.spot, inst.maturity))
        vh = inst.price(inst.spot * np.exp(x), inst.maturity - horizon)
        return (vh - v0) / inst.spot
    raise TypeError(f"unknown instrument {inst!r}")


def pnl_matrix(
    instruments: list[Instrument], driver_names: list[str], log_returns: np.ndarray, horizon: float
) -> np.ndarray:
    """(n, N) P&L per unit exposure of every instrument from drivers' log-returns (n, D)."""
    col = {d: i for i, d in enumerate(driver_names)}
    out = np.empty((log_returns.shape[0], len(instruments)))
    for j, inst in enumerate(instruments):
        out[:, j] = instrument_pnl(inst, log_returns[:, col[inst.driver]], horizon)
    return out
