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

Distributions. :class:`LognormalModel` draws Gaussian log-returns. :class:`StudentTModel` draws a
multivariate Student-t with ``nu > 2`` degrees of freedom, *scaled to unit covariance*:
``y = z * sqrt((nu - 2) / w)`` with ``z ~ N(0, I)`` and one ``w ~ chi2(nu)`` per scenario, so
``Cov(y) = I`` and the log-returns ``mean + y L^T`` have exactly the target covariance
``L L^T`` (heavier tails, same first two moments). Any object with ``log_mean`` (D,),
``log_cov`` (D, D) and an optional ``nu`` (``None`` = Gaussian) can be used as a model, e.g.
:class:`tasks.scenarios.DriverModel`.

Random streams (all per block ``b``, so chunk-invariant):

========================  =====================================================
``SeedSequence`` key      draws
========================  =====================================================
``(seed, (b,))``          the (n, D) standard normals ``z`` of the block
``(seed, (b, 1))``        the (n,) chi-square mixing variables ``w`` (Student-t)
``(seed, (b, 2))``        the (n, steps, D) normals of the Brownian bridge paths
========================  =====================================================

Paths. :func:`paths_chunk` turns the one-period draws into ``steps`` equally spaced points per
scenario with a Brownian bridge pinned at the one-period value: with ``f_k = k / steps``,
``path_k = f_k X + s * (W_k - f_k W_steps) L^T`` where ``W`` is a standard Brownian motion
sampled on the grid (unit variance at the end), ``L L^T = log_cov`` and ``s`` is the scenario's
Student-t scale (1 for Gaussian). For a Gaussian model this is exactly the law of a Brownian
motion with drift ``log_mean / H`` and covariance ``log_cov / H`` per year, conditioned on its
horizon value; for the Student-t model each path is a Gaussian bridge with its scenario's variance
scale (a scale mixture of Brownian motions, whose horizon marginal is the Student-t). The last
point is *set* to the one-period value, so path terminals equal the one-period scenarios bit for
bit, and the sum of the step increments telescopes to it. Moment matching acts on the one-period
values only; the bridge noise uses the model covariance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks._arrays import aligned

__all__ = [
    "LognormalModel",
    "StudentTModel",
    "mixing_scales",
    "draw_block",
    "chunk_statistics",
    "step_times",
    "bridge_paths",
    "paths_chunk",
    "simulate_paths",
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


@dataclass(frozen=True)
class StudentTModel(LognormalModel):
    """Multivariate Student-t one-period model of D log-returns, scaled to the target covariance.

    ``X = log_mean + y L^T`` with ``y = z sqrt((nu - 2) / w)``, ``z ~ N(0, I_D)``,
    ``w ~ chi2(nu)`` (one per scenario, shared by all drivers), ``L L^T = log_cov``. Hence
    ``E[X] = log_mean``, ``Cov(X) = log_cov`` (finite for ``nu > 2``) and the excess kurtosis of
    each margin is ``6 / (nu - 4)`` for ``nu > 4`` (infinite for ``2 < nu <= 4``).

    Parameters
    ----------
    mu : (D,) annual drift (decimal); the log-return location is ``(mu - sigma**2/2) * horizon``
        as for :class:`LognormalModel`. With fat tails ``E[exp(X)]`` is infinite, so ``mu`` is a
        location parameter, not the arithmetic mean return.
    sigma : (D,) annual volatility of the log-return (decimal).
    corr : (D, D) correlation matrix.
    horizon : horizon in years.
    nu : degrees of freedom, ``nu > 2``.

    ``log_mean`` and ``log_cov`` are those of :class:`LognormalModel`.
    """

    nu: float = 5.0

    def __post_init__(self) -> None:
        if not float(self.nu) > 2.0:
            raise ValueError("nu must be > 2 for a finite covariance")


def _nu(model: object) -> float | None:
    """Degrees of freedom of a model (``None`` for a Gaussian one)."""
    nu = getattr(model, "nu", None)
    return None if nu is None else float(nu)


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
    return _stream(seed, (block,)).standard_normal((n_rows, n_drivers))


def _stream(seed: int, key: tuple[int, ...]) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def mixing_scales(seed: int, block: int, n_rows: int, nu: float) -> np.ndarray:
    """(n_rows,) Student-t scales ``sqrt((nu - 2) / w)``, ``w ~ chi2(nu)``, of one block.

    Drawn from ``SeedSequence(seed, (block, 1))``; ``E[scale**2] = 1``.
    """
    w = _stream(seed, (block, 1)).chisquare(float(nu), n_rows)
    return np.sqrt((float(nu) - 2.0) / w)


def draw_block(
    seed: int, block: int, n_rows: int, n_drivers: int, nu: float | None = None
) -> np.ndarray:
    """(n_rows, n_drivers) raw unit-covariance draws of one block.

    ``nu=None``: the standard normals of :func:`draw_standard_normals` (identical numbers);
    otherwise those normals times the block's :func:`mixing_scales` (multivariate Student-t with
    identity covariance).
    """
    z = draw_standard_normals(seed, block, n_rows, n_drivers)
    if nu is None:
        return z
    z *= mixing_scales(seed, block, n_rows, nu)[:, None]
    return z


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
    d = len(model.log_mean)
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
    model : a model with ``log_mean``, ``log_cov`` and optional ``nu`` (e.g.
        :class:`LognormalModel`, :class:`StudentTModel`).
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
    d, nu = len(model.log_mean), _nu(model)
    out = [apply_transform(draw_block(seed, b, ranges[b][1] - ranges[b][0], d, nu), m, tr, mean)
           for b in blocks]
    return np.concatenate(out, axis=0) if out else np.empty((0, d))


def chunk_statistics(
    seed: int,
    n_scenarios: int,
    block_size: int,
    blocks: list[int],
    n_drivers: int,
    nu: float | None = None,
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per-block sufficient statistics of the raw draws of the given blocks (block order).

    ``nu`` is the model's degrees of freedom (``None`` = Gaussian), see :func:`draw_block`.
    """
    ranges = block_ranges(n_scenarios, block_size)
    return [block_statistics(draw_block(seed, b, ranges[b][1] - ranges[b][0], n_drivers, nu))
            for b in blocks]


def step_times(horizon: float, n_steps: int) -> np.ndarray:
    """(n_steps,) equally spaced path times ``horizon * k / n_steps``, k = 1..n_steps (years).

    The last entry is exactly ``horizon``.
    """
    if n_steps < 1:
        raise ValueError("n_steps must be >= 1")
    t = float(horizon) * np.arange(1, n_steps + 1) / n_steps
    t[-1] = float(horizon)
    return t


def bridge_paths(
    terminal: np.ndarray,
    seed: int,
    block: int,
    n_steps: int,
    factor: np.ndarray,
    scale: np.ndarray | None = None,
) -> np.ndarray:
    """Brownian-bridge paths of one block pinned at its one-period values.

    Parameters
    ----------
    terminal : (n, D) one-period values X of the block's scenarios.
    seed, block : the run seed and block index (bridge normals from ``SeedSequence(seed,
        (block, 2))``).
    n_steps : number of equally spaced path points (>= 1).
    factor : (D, D) ``L`` with ``L L^T`` = covariance of X over the horizon.
    scale : (n,) per-scenario volatility scale (Student-t), ``None`` for 1.

    Returns
    -------
    (n, n_steps, D) cumulative values at ``k / n_steps`` of the horizon, k = 1..n_steps; the last
    point equals ``terminal`` exactly.
    """
    x = aligned(terminal)
    n, d = x.shape
    if n_steps == 1:
        return x[:, None, :].copy()
    frac = np.arange(1, n_steps + 1) / n_steps
    e = _stream(seed, (block, 2)).standard_normal((n, n_steps, d))
    w = np.cumsum(e, axis=1)
    w *= 1.0 / np.sqrt(n_steps)  # standard Brownian motion on [0, 1] at the grid points
    b = w - frac[None, :, None] * w[:, -1:, :]
    noise = (b.reshape(n * n_steps, d) @ aligned(factor).T).reshape(n, n_steps, d)
    if scale is not None:
        noise *= aligned(scale)[:, None, None]
    out = frac[None, :, None] * x[:, None, :] + noise
    out[:, -1, :] = x
    return out


def paths_chunk(
    model: LognormalModel,
    seed: int,
    n_scenarios: int,
    block_size: int,
    blocks: list[int],
    n_steps: int,
    transform: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One-period values and bridge paths of the given blocks.

    Returns
    -------
    (terminal (n_chunk, D), paths (n_chunk, n_steps, D)); ``terminal`` is exactly what
    :func:`log_returns_chunk` returns for the same arguments, and ``paths[:, -1] == terminal``.
    See the module docstring for the bridge construction.
    """
    ranges = block_ranges(n_scenarios, block_size)
    m, tr, mean = transform if transform is not None else _plain_transform(model)
    d, nu = len(model.log_mean), _nu(model)
    factor = _sym_sqrt_factor(np.asarray(model.log_cov, dtype=float))
    xs, ps = [], []
    for b in blocks:
        n = ranges[b][1] - ranges[b][0]
        x = apply_transform(draw_block(seed, b, n, d, nu), m, tr, mean)
        scale = None if nu is None else mixing_scales(seed, b, n, nu)
        xs.append(x)
        ps.append(bridge_paths(x, seed, b, n_steps, factor, scale))
    if not xs:
        return np.empty((0, d)), np.empty((0, n_steps, d))
    return np.concatenate(xs, axis=0), np.concatenate(ps, axis=0)


def simulate_paths(
    model: LognormalModel,
    n_scenarios: int,
    seed: int,
    n_steps: int,
    *,
    moment_matching: bool = True,
    block_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """All one-period values (S, D) and paths (S, n_steps, D) in one call."""
    blocks = list(range(len(block_ranges(n_scenarios, block_size))))
    transform = _full_transform(model, n_scenarios, seed, block_size, blocks) if moment_matching else None
    return paths_chunk(model, seed, n_scenarios, block_size, blocks, n_steps, transform)


def _full_transform(model: LognormalModel, n_scenarios: int, seed: int, block_size: int,
                    blocks: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    stats = chunk_statistics(seed, n_scenarios, block_size, blocks, len(model.log_mean), _nu(model))
    return moment_matching_transform(stats, model.log_mean, model.log_cov)


def simulate_log_returns(
    model: LognormalModel,
    n_scenarios: int,
    seed: int,
    *,
    moment_matching: bool = True,
    block_size: int = 1024,
) -> np.ndarray:
    """All (S, D) horizon log-returns in one call (the single-process path of the chunked graph).

    Works for any model of this module (Gaussian or Student-t, see :func:`draw_block`).
    """
    blocks = list(range(len(block_ranges(n_scenarios, block_size))))
    transform = _full_transform(model, n_scenarios, seed, block_size, blocks) if moment_matching else None
    return log_returns_chunk(model, seed, n_scenarios, block_size, blocks, transform)
