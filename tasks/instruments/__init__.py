"""Instruments and pricing: Black-76 / Black-Scholes prices, Greeks and implied vols, zero
curves, the instrument classes (cash, futures/forwards, European options, variance swaps, bonds,
FX forwards), full repricing on driver scenarios, and the Greek matrix of a book.
"""

from tasks.instruments._black import (
    black76_greeks,
    black76_price,
    black_scholes_greeks,
    black_scholes_price,
)
from tasks.instruments._curves import (
    ZeroCurve,
    flat_curve,
)
from tasks.instruments._greeks import (
    GREEKS,
    GreekName,
    bond_convexity,
    bond_duration,
    greeks_matrix,
    greeks_table,
    instrument_greeks,
    portfolio_greeks,
)
from tasks.instruments._implied_vol import implied_vol_black76
from tasks.instruments._instruments import (
    Bond,
    Cash,
    EuropeanOption,
    Future,
    FxForward,
    Instrument,
    VarianceSwap,
    forward_rate,
    market_value,
    rate_key,
    zero_rate,
)
from tasks.instruments._repricing import (
    instrument_pnl,
    pnl_matrix,
    pnl_paths,
    scenario_pnl,
)

__all__ = [
    "black76_greeks",
    "black76_price",
    "black_scholes_greeks",
    "black_scholes_price",
    "implied_vol_black76",
    "ZeroCurve",
    "flat_curve",
    "Bond",
    "Cash",
    "EuropeanOption",
    "Future",
    "FxForward",
    "Instrument",
    "VarianceSwap",
    "forward_rate",
    "instrument_pnl",
    "market_value",
    "rate_key",
    "pnl_matrix",
    "pnl_paths",
    "scenario_pnl",
    "zero_rate",
    "GREEKS",
    "GreekName",
    "bond_convexity",
    "bond_duration",
    "greeks_matrix",
    "greeks_table",
    "instrument_greeks",
    "portfolio_greeks",
]
