"""Risk-driver scenario generation, chunked and seeded so any chunking gives identical numbers.

The scenario index ``0..S-1`` is cut into fixed *blocks* of ``block_size`` scenarios. Block ``b``
draws its standard normals from ``SeedSequence(seed, spawn_key=(b,))``; a *chunk* is a contiguous
run of whole blocks. Every floating-point operation is done block by block (draws, sufficient
statistics, the moment-matching transform), so the assembled matrix is bit-identical for any
number of chunks and any number of workers.

Moment matching is global: each block contributes its count, sum and cross-product of the raw
draws (:func:`block_statistics`); :func:`moment_matching_transform` reduces them in block order
into an affine map that gives the whole sample exactly the target mean vector and covariance
matrix (probability-weighted with uniform weights, i.e. divisor S).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks._arrays import aligned

__all__ = [
    "LognormalModel",
    "chunk_blocks",
    "block_ranges",
    "draw_standard_normals",
    "block_statistics",
    "moment_matching_transform",
    "apply_transform",
    "log_returns_chunk",
    "simulate_log_returns",
    "covariance_from_correlation",
    "nearest_psd_check",
]


@dataclass(frozen=True)
class LognormalModel:
    """Multivariate lognormal one-period model of D risk drivers over a horizon.

    Log-returns over the horizon are ``X ~ N((mu - sigma**2/2) * horizon, Sigma * horizon)`` with
    ``Sigma = diag(sigma) @ corr @ diag(sigma)``; simple returns are ``exp(X) - 1``.

    Parameters
    ----------
    mu : (D,) annual arithmetic drift (decimal, e.g. 0.062 for 6.2 %).
    sigma : (D,) annual volatility of the log-return (decimal).
    corr : (D, D) correlation matrix (symmetric, unit diagonal, positive semi-definite).
    horizon : horizon in years.
    """

    mu: np.ndarray
    sigma: np.ndarray
    corr: np.ndarray
    horizon: float

    @property
    def log_mean(self) -> np.ndarray:
        """(D,) mean of the horizon log-return."""
        return (np.asarray(self.mu) - 0.5 * np.asarray(self.sigma) ** 2) * self.horizon

    @property
    def log_cov(self) -> np.ndarray:
        """(D, D) covariance of the horizon log-return."""
        return covariance_from_correlation(self.sigma, self.corr) * self.horizon


def covariance_from_correlation(sigma: np.ndarray, corr: np.ndarray) -> np.ndarray:
    """(D, D) covariance ``diag(sigma) corr diag(sigma)`` from vols (D,) and correlations (D, D)."""
    s = np.asarray(sigma, dtype=float)
    return np.asarray(corr, dtype=float) * np.outer(s, s)


def nearest_psd_check(corr: np.ndarray, tol: float = 1e-10) -> float:
    """Smallest eigenvalue of a symmetric matrix (negative beyond ``-tol`` means not PSD)."""
    return float(np.linalg.eigvalsh(np.asarray(corr, dtype=float)).min())


def block_ranges(n_scenarios: int, block_size: int) -> list[tuple[int, int]]:
    """Half-open scenario ranges ``[(start, stop), ...]`` of the fixed blocks."""
    return [(a, min(a + block_size, n_scenarios)) for a in range(0, n_scenarios, block_size)]


def chunk_blocks(n_scenarios: int, block_size: int, n_chunks: int) -> list[list[int]]:
    """Split the block indices into at most ``n_chunks`` contiguous, near-equal groups.

    Returns a list of lists of block indices; the number of chunks is clipped to the number of
    blocks (a chunk is never empty).
    """
    n_blocks = len(block_ranges(n_scenarios, block_size))
    n = max(1, min(int(n_chunks), n_blocks))
    bounds = np.linspace(0, n_blocks, n + 1).round().astype(int)
    return [list(range(bounds[i], bounds[i + 1])) for i in range(n)]


def draw_standard_normals(
    seed: int, block: int, n_rows: int, n_drivers: int
) -> np.ndarray:
    """(n_rows, n_drivers) iid N(0, 1) draws of one block, seeded by ``SeedSequence(seed, (block,))``."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))
    return rng.standard_normal((n_rows, n_drivers))


def block_statistics(z: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Sufficient statistics of one block of draws ``z`` (n, D): ``(n, sum (D,), cross-product (D, D))``."""
    return z.shape[0], z.sum(axis=0), z.T @ z


def _sym_sqrt_factor(cov: np.ndarray) -> np.ndarray:
    """A factor F with ``F F^T = cov`` for a PSD matrix (Cholesky, or eigen for singular)."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        return v * np.sqrt(np.clip(w, 0.0, None))


def moment_matching_transform(
    stats: list[tuple[int, np.ndarray, np.ndarray]],
    target_mean: np.ndarray,
    target_cov: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Affine map ``x = target_mean + (z - m) @ T`` matching the sample moments exactly.

    Parameters
    ----------
    stats : per-block statistics from :func:`block_statistics`, in block order.
    target_mean : (D,) target mean of x.
    target_cov : (D, D) target covariance of x (divisor S, i.e. uniform probabilities).

    Returns
    -------
    (m, T, target_mean) : m (D,) sample mean of z, T (D, D) such that the whole sample of x has
        mean ``target_mean`` and covariance ``target_cov`` (up to rounding).
    """
    n = sum(s[0] for s in stats)
    total = np.sum(np.stack([s[1] for s in stats]), axis=0)
    cross = np.sum(np.stack([s[2] for s in stats]), axis=0)
    m = total / n
    c = cross / n - np.outer(m, m)
    c = 0.5 * (c + c.T)
    lz = np.linalg.cholesky(c)
    ls = _sym_sqrt_factor(np.asarray(target_cov, dtype=float))
    # x - mean = (z - m) L_z^{-T} L_s^T  =>  Cov = L_s L_z^{-1} C L_z^{-T} L_s^T = target
    transform = np.linalg.solve(lz.T, ls.T)  # T = L_z^{-T} L_s^T
    return m, transform, np.asarray(target_mean, dtype=float)


def apply_transform(z: np.ndarray, m: np.ndarray, transform: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Apply the affine moment-matching map to one block of draws (n, D) -> (n, D)."""
    return aligned(mean) + (z - aligned(m)) @ aligned(transform)


def _plain_transform(model: LognormalModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = len(model.mu)
    return np.zeros(d), _sym_sqrt_factor(model.log_cov).T, model.log_mean


def log_returns_chunk(
    model: LognormalModel,
    seed: int,
    n_scenarios: int,
    block_size: int,
    blocks: list[int],
    transform: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Horizon log-returns of the drivers for the scenarios of the given blocks.

    Parameters
    ----------
    model : the lognormal model.
    seed : run seed.
    n_scenarios : S, total number of scenarios of the run.
    block_size : scenarios per block.
    blocks : contiguous block indices of this chunk.
    transform : ``(m, T, mean)`` from :func:`moment_matching_transform`; ``None`` means no
        moment matching (``x = mean + z @ chol(cov)^T``).

    Returns
    -------
    (n_chunk, D) log-returns, rows in scenario order.
    """
    ranges = block_ranges(n_scenarios, block_size)
    m, tr, mean = transform if transform is not None else _plain_transform(model)
    d = len(model.mu)
    out = [apply_transform(draw_standard_normals(seed, b, ranges[b][1] - ranges[b][0], d), m, tr, mean)
           for b in blocks]
    return np.concatenate(out, axis=0) if out else np.empty((0, d))


def chunk_statistics(
    seed: int, n_scenarios: int, block_size: int, blocks: list[int], n_drivers: int
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per-block sufficient statistics of the raw draws of the given blocks (block order)."""
    ranges = block_ranges(n_scenarios, block_size)
    return [block_statistics(draw_standard_normals(seed, b, ranges[b][1] - ranges[b][0], n_drivers))
            for b in blocks]


def simulate_log_returns(
    model: LognormalModel,
    n_scenarios: int,
    seed: int,
    *,
    moment_matching: bool = True,
    block_size: int = 1024,
) -> np.ndarray:
    """All (S, D) horizon log-returns in one call (the single-process path of the chunked graph)."""
    blocks = list(range(len(block_ranges(n_scenarios, block_size))))
    d = len(model.mu)
    transform = None
    if moment_matching:
        stats = chunk_statistics(seed, n_scenarios, block_size, blocks, d)
        transform = moment_matching_transform(stats, model.log_mean, model.log_cov)
    return log_returns_chunk(model, seed, n_scenarios, block_size, blocks, transform)
