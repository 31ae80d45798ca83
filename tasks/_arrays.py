"""Array hygiene shared by the numerical modules."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["aligned"]


def aligned(a: Any, dtype: Any = np.float64) -> np.ndarray:
    """A C-contiguous, properly aligned float array (copied only when needed).

    Arrays that arrive from another process (Dask frames, memory maps) can be unaligned; numpy
    then cannot hand them to BLAS and sums in a different order, so results would differ in the
    last bits depending on where the data came from. Every entry point that reduces over
    scenarios passes its inputs through here, which keeps runs bit-identical.
    """
    return np.require(a, dtype=dtype, requirements=["C", "A"])
