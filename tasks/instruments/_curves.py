"""Zero-coupon rate curves with parallel and slope shocks.

A :class:`ZeroCurve` holds continuously compounded zero rates ``z(t)`` (annual, decimal) at
increasing tenors ``t`` (years). Between tenors the rate is interpolated linearly in ``t``; outside
them it is held flat. Discount factors are ``DF(t) = exp(-z(t) t)``.

Shocks. A curve may name two additive risk drivers (decimal rate units, e.g. 0.01 = 100 bp):

* ``parallel_driver`` ``p``: every zero rate moves by ``p``;
* ``slope_driver`` ``s``: a tilt ``s * w(t)`` with
  ``w(t) = (clip(t, t_short, t_long) - t_short) / (t_long - t_short) - 1/2``, so the
  ``t_long - t_short`` spread moves by exactly ``s`` and the midpoint does not move.

The shocked curve at the horizon is ``z_H(tau) = z(tau) + p + s w(tau)`` in *time to maturity*
``tau``: the curve keeps its shape in tenor (constant-maturity, no roll-down of the curve), so an
instrument maturing at ``T`` is discounted at the horizon ``H`` with ``z_H(T - H)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["ZeroCurve", "flat_curve", "Side"]

#: One-sided derivative at a tenor node: ``"right"`` (maturity growing) or ``"left"`` (shrinking).
Side = Literal["left", "right"]


@dataclass(frozen=True)
class ZeroCurve:
    """Zero curve of one currency (linear in tenor, flat extrapolation).

    Parameters
    ----------
    name : curve identifier (e.g. the currency "USD"); keys rho in the Greeks tables.
    tenors : (M,) strictly increasing tenors, years (> 0 not required; M >= 1).
    rates : (M,) continuously compounded zero rates at the tenors (annual, decimal).
    parallel_driver : name of the additive parallel-shift driver, or None (no parallel shock).
    slope_driver : name of the additive slope driver, or None (no slope shock).
    slope_short, slope_long : tenors (years) of the slope tilt's end points, ``slope_short <
        slope_long``.
    """

    name: str
    tenors: tuple[float, ...]
    rates: tuple[float, ...]
    parallel_driver: str | None = None
    slope_driver: str | None = None
    slope_short: float = 2.0
    slope_long: float = 10.0

    def __post_init__(self) -> None:
        t = tuple(float(x) for x in np.atleast_1d(np.asarray(self.tenors, dtype=float)))
        r = tuple(float(x) for x in np.atleast_1d(np.asarray(self.rates, dtype=float)))
        if len(t) == 0 or len(t) != len(r):
            raise ValueError("tenors and rates must be non-empty and of equal length")
        if any(b <= a for a, b in zip(t, t[1:])):
            raise ValueError("tenors must be strictly increasing")
        if not np.all(np.isfinite(t + r)):
            raise ValueError("tenors and rates must be finite")
        if not self.slope_long > self.slope_short:
            raise ValueError("slope_long must exceed slope_short")
        object.__setattr__(self, "tenors", t)
        object.__setattr__(self, "rates", r)

    # ---- today's curve -------------------------------------------------------------------------
    def zero(self, t: ArrayLike) -> np.ndarray:
        """Zero rate(s) at time(s) to maturity ``t`` (years), shape of ``t``."""
        return np.interp(np.asarray(t, dtype=float), self.tenors, self.rates)

    def zero_slope(self, t: ArrayLike, side: Side = "right") -> np.ndarray:
        """``dz/dt`` (per year) of the interpolated curve at ``t`` (0 outside the tenors).

        At a tenor node (a kink) the one-sided derivative ``side`` is returned: ``"right"``
        (``t`` growing) or ``"left"`` (``t`` shrinking). The horizon repricing discounts at
        ``z(T - H)``, so its derivative in the horizon ``H >= 0`` (theta) needs the left one.
        """
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        t = np.asarray(t, dtype=float)
        tn, rn = np.asarray(self.tenors), np.asarray(self.rates)
        if tn.size == 1:
            return np.zeros_like(t)
        seg = np.diff(rn) / np.diff(tn)
        i = np.clip(np.searchsorted(tn, t, side=side) - 1, 0, tn.size - 2)
        if side == "right":
            inside = (t >= tn[0]) & (t < tn[-1])
        else:
            inside = (t > tn[0]) & (t <= tn[-1])
        return np.where(inside, seg[i], 0.0)

    def forward(self, t: ArrayLike, side: Side = "right") -> np.ndarray:
        """Instantaneous forward rate ``d(z(t) t)/dt = z(t) + t z'(t)`` at ``t`` (one-sided
        ``side`` at a tenor node, see :meth:`zero_slope`)."""
        t = np.asarray(t, dtype=float)
        return self.zero(t) + t * self.zero_slope(t, side)

    def discount(self, t: ArrayLike) -> np.ndarray:
        """Discount factor(s) ``exp(-z(t) t)``."""
        t = np.asarray(t, dtype=float)
        return np.exp(-self.zero(t) * t)

    def slope_weights(self, t: ArrayLike) -> np.ndarray:
        """Tilt weights ``w(t)`` in [-1/2, 1/2] of the slope shock (see module docstring)."""
        t = np.asarray(t, dtype=float)
        a, b = self.slope_short, self.slope_long
        return (np.clip(t, a, b) - a) / (b - a) - 0.5

    # ---- shocked curve -------------------------------------------------------------------------
    def shocked_zero(
        self, t: ArrayLike, parallel: ArrayLike = 0.0, slope: ArrayLike = 0.0
    ) -> np.ndarray:
        """Shocked zero rates ``z(t) + parallel + slope * w(t)``.

        Parameters
        ----------
        t : time(s) to maturity, years; shape (M,) or scalar.
        parallel, slope : additive shocks (decimal), shape (n,) or scalar.

        Returns
        -------
        Broadcast of ``parallel[:, None]`` with ``t[None, :]`` when both are arrays, i.e. (n, M);
        (n,) for a scalar ``t``; the shape of ``t`` for scalar shocks.
        """
        t = np.asarray(t, dtype=float)
        p = np.asarray(parallel, dtype=float)
        s = np.asarray(slope, dtype=float)
        z, w = self.zero(t), self.slope_weights(t)
        if p.ndim and t.ndim:
            p = p[:, None]
        if s.ndim and t.ndim:
            s = s[:, None]
        return z + p + s * w


def flat_curve(name: str, rate: float) -> ZeroCurve:
    """An unshocked flat curve at ``rate`` (how flat ``rate`` fields of instruments behave)."""
    return ZeroCurve(name, (1.0,), (float(rate),))
