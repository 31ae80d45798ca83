"""Feasibility and support decisions of the Entropy Pooling solver.

Views that hold only on part of the prior's support (some scenarios must get
``q_s = 0``), or not at all, have no finite dual solution; the decisions are made
here, on rows of ``K`` views over ``n`` scenarios of the support.

Before any Newton step, :func:`_presolve_rows` makes the exact per-row decisions: a
target outside the row's range over the support is infeasible, a constant row met by
its target or an inequality that cannot bind is dropped, and a target on the edge of
the row's range restricts the support.

When the dual Newton iteration of :mod:`tasks.views._newton` stalls or diverges, the
views are either infeasible or feasible only on a smaller support than the prior's.
Linear programs (HiGHS) decide which (rows already centred and scaled, ``L: (K, n)``,
targets ``c: (K,)``, ``is_in: (K,)`` True for inequality rows ``L_i q <= c_i``):

* :func:`_lp_certificate` -- theorem of the alternative, solved by constraint
  generation around a candidate support read off the stalled iterate (cheap at any
  ``n``): the maximal support, or a Farkas certificate naming the conflicting views;
* :func:`_lp_feasibility` -- the textbook elastic feasibility LP (``n + 2 K`` columns);
* :func:`_lp_max_support` -- the textbook maximal-support LP (``2 n + 1`` columns);
* :func:`_lp_arbitration` -- the order in which the solver tries them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from tasks.errors import ViewsInfeasible

_EPS = float(np.finfo(np.float64).eps)
#: relative tolerance used for "exactly on the boundary" / "constant row" decisions
_EDGE_RTOL = 64.0 * _EPS
#: LP tolerance (scaled, i.e. prior-standard-deviation units) for feasibility decisions
_LP_TOL = 1e-7
#: scenarios with log(q_s / max q) above minus this at a stalled iterate form the
#: candidate support checked by the certificate LP
_GUESS_LOG_RATIO = 25.0
#: largest support on which the full maximal-support LP (2 S columns) is attempted when
#: the iterate gives no usable candidate support (above it Newton just continues)
_FULL_LP_MAX_N = 200_000


def _fmt_names(names: Sequence[str]) -> str:
    """Names quoted and comma-separated, for error messages."""
    return ", ".join(repr(n) for n in names)


# --------------------------------------------------------------------------------------
# presolve: per-row checks on the support
# --------------------------------------------------------------------------------------


def _presolve_rows(
    A: np.ndarray,
    G: np.ndarray,
    c: np.ndarray,
    is_in: np.ndarray,
    p: np.ndarray,
    support: np.ndarray,
    names: list[str],
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """Per-row feasibility, redundancy and exact-boundary checks.

    Rows whose target lies outside their range over the support raise
    :class:`ViewsInfeasible`.  Constant rows that meet their target and inequalities
    that cannot bind are dropped.  A row whose target equals its max (or min) over the
    support forces every scenario off that extreme to zero: the support is restricted
    and the checks are repeated.

    Returns
    -------
    X : (K, n) all rows restricted to the support, or None when the support is the
        whole scenario set (then the rows are read from ``A`` and ``G`` directly);
    rows : (K_active,) original indices of the rows that remain;
    support : (n,) scenario indices;
    rng : (K_active,) range of each remaining row over the support.
    """
    S = p.size
    K = c.size
    X: np.ndarray | None = None
    if support.size < S:
        X = np.vstack([A, G])[:, support]
    rows = np.arange(K)
    restricting: list[int] = []
    lo_all: np.ndarray | None = None
    hi_all: np.ndarray | None = None
    while True:
        if rows.size == 0:
            return X, rows, support, np.zeros(0)
        if lo_all is None or hi_all is None:
            lo_all, hi_all = _row_ranges(A, G, X)
        lo = lo_all[rows]
        hi = hi_all[rows]
        ca = c[rows]
        ina = is_in[rows]
        atol = _EDGE_RTOL * np.maximum(np.maximum(np.abs(lo), np.abs(hi)), np.abs(ca))
        eqa = ~ina

        _check_attainable(rows, names, restricting, lo, hi, ca, eqa, atol)

        const = (hi - lo) <= atol
        drop = (eqa & const) | (ina & (hi <= ca + atol))
        at_hi = eqa & ~const & (ca >= hi - atol)
        at_lo = ~const & ~at_hi & (ca <= lo + atol)  # equalities at min, inequalities at min
        edge = np.flatnonzero(at_hi | at_lo)
        if edge.size:
            if X is None:
                X = np.vstack([A, G])
            mask = _edge_mask(X, rows, edge, at_hi, lo, hi, atol)
            restricting.extend(int(rows[i]) for i in edge)
            if not mask.any():
                rnames = [names[r] for r in dict.fromkeys(restricting)]
                raise ViewsInfeasible(
                    f"Entropy Pooling views {_fmt_names(rnames)} can only be met at the edge "
                    "of their ranges, and no scenario attains all those edges at once.",
                    rnames,
                )
            X = np.ascontiguousarray(X[:, mask])
            support = support[mask]
            lo_all = hi_all = None
            continue  # re-check every row on the smaller support
        if drop.any():
            rows = rows[~drop]
            continue
        return X, rows, support, hi - lo


def _row_ranges(A: np.ndarray, G: np.ndarray, X: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum ``(K,)`` of every row over the support (checked finite).

    ``X`` : (K, n) rows on the support, or None for the whole scenario set (``A``, ``G``).
    """
    if X is None:
        lo_all = np.concatenate([A.min(axis=1), G.min(axis=1)])
        hi_all = np.concatenate([A.max(axis=1), G.max(axis=1)])
    else:
        lo_all = X.min(axis=1)
        hi_all = X.max(axis=1)
    if not (np.all(np.isfinite(lo_all)) and np.all(np.isfinite(hi_all))):
        raise ValueError("view rows must be finite")
    return lo_all, hi_all


def _check_attainable(
    rows: np.ndarray,
    names: list[str],
    restricting: list[int],
    lo: np.ndarray,
    hi: np.ndarray,
    ca: np.ndarray,
    eqa: np.ndarray,
    atol: np.ndarray,
) -> None:
    """Raise :class:`ViewsInfeasible` for rows whose target lies outside their range.

    Parameters
    ----------
    rows : (K_a,) original row indices; names : all row names; restricting : rows that
    restricted the support so far (named in the message); lo, hi : (K_a,) row ranges
    over the support; ca : (K_a,) targets; eqa : (K_a,) equality flags; atol : (K_a,)
    boundary tolerances.
    """
    ina = ~eqa
    bad_eq = eqa & ((ca < lo - atol) | (ca > hi + atol))
    bad_in = ina & (lo > ca + atol)
    bad = np.flatnonzero(bad_eq | bad_in)
    if not bad.size:
        return
    msgs = []
    for i in bad:
        nm = names[rows[i]]
        if eqa[i]:
            msgs.append(
                f"{nm!r}: target {ca[i]:.6g} outside the attainable range "
                f"[{lo[i]:.6g}, {hi[i]:.6g}] over the prior's support"
            )
        else:
            msgs.append(
                f"{nm!r}: bound {ca[i]:.6g} below the row's minimum {lo[i]:.6g} "
                "over the prior's support"
            )
    offenders = [names[rows[i]] for i in bad]
    extra = ""
    if restricting:
        rnames = [names[r] for r in dict.fromkeys(restricting)]
        extra = (
            " (after restricting the support to the scenarios where "
            f"{_fmt_names(rnames)} sit at the edge of their range)"
        )
        offenders = offenders + [n for n in rnames if n not in offenders]
    raise ViewsInfeasible(
        "Entropy Pooling views cannot be met" + extra + ": " + "; ".join(msgs) + ".",
        offenders,
    )


def _edge_mask(
    X: np.ndarray,
    rows: np.ndarray,
    edge: np.ndarray,
    at_hi: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    atol: np.ndarray,
) -> np.ndarray:
    """Scenarios ``(n,) bool`` where every edge row sits at its max (``at_hi``) or min.

    ``X`` : (K, n) all rows on the support; ``rows`` : (K_a,) active row indices;
    ``edge`` : indices into ``rows`` of the rows whose target is an extreme of the row.
    """
    mask = np.ones(X.shape[1], dtype=bool)
    for i in edge:
        r = rows[i]
        if at_hi[i]:
            mask &= X[r] >= hi[i] - atol[i]
        else:
            mask &= X[r] <= lo[i] + atol[i]
    return mask


# --------------------------------------------------------------------------------------
# LP arbitration (HiGHS)
# --------------------------------------------------------------------------------------


def _lp_feasibility(L: np.ndarray, c: np.ndarray, is_in: np.ndarray) -> tuple[bool, list[int]]:
    """Elastic LP: min total violation of the (scaled) views over the simplex.

    Returns ``(feasible, offending)`` where ``offending`` lists rows (indices into
    ``L``) carrying violation or a non-zero dual, i.e. the rows of the infeasibility
    certificate.
    """
    K, n = L.shape
    eq = np.flatnonzero(~is_in)
    ine = np.flatnonzero(is_in)
    ke, ki = eq.size, ine.size
    nv = n + 2 * ke + ki
    cost = np.concatenate([np.zeros(n), np.ones(2 * ke + ki)])
    Ieq = sparse.identity(ke, format="csr")
    A_eq = sparse.vstack(
        [
            sparse.hstack([sparse.csr_matrix(L[eq]), Ieq, -Ieq, sparse.csr_matrix((ke, ki))]),
            sparse.hstack(
                [sparse.csr_matrix(np.ones((1, n))), sparse.csr_matrix((1, 2 * ke + ki))]
            ),
        ],
        format="csr",
    )
    b_eq = np.concatenate([c[eq], [1.0]])
    if ki:
        A_ub = sparse.hstack(
            [
                sparse.csr_matrix(L[ine]),
                sparse.csr_matrix((ki, 2 * ke)),
                -sparse.identity(ki, format="csr"),
            ],
            format="csr",
        )
        b_ub = c[ine]
    else:
        A_ub, b_ub = None, None
    res = linprog(
        cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs"
    )
    if res.status != 0 or res.x is None:
        # the elastic LP is always feasible and bounded; treat solver trouble as unknown
        return True, []
    if res.fun <= _LP_TOL:
        return True, []
    x = res.x
    off: set[int] = set()
    ep, em, f = x[n : n + ke], x[n + ke : n + 2 * ke], x[n + 2 * ke : nv]
    off.update(int(eq[i]) for i in np.flatnonzero(ep + em > _LP_TOL))
    off.update(int(ine[i]) for i in np.flatnonzero(f > _LP_TOL))
    try:
        yeq = np.asarray(res.eqlin.marginals)[:ke]
        off.update(int(eq[i]) for i in np.flatnonzero(np.abs(yeq) > 1e-9))
        if ki:
            yin = np.asarray(res.ineqlin.marginals)
            off.update(int(ine[i]) for i in np.flatnonzero(np.abs(yin) > 1e-9))
    except AttributeError:  # pragma: no cover - marginals missing in very old SciPy
        pass
    return False, sorted(off)


def _lp_certificate(
    L: np.ndarray,
    c: np.ndarray,
    is_in: np.ndarray,
    score: np.ndarray,
    *,
    guess_log_ratio: float = _GUESS_LOG_RATIO,
    only_feasibility: bool = False,
    batch: int = 4096,
    max_rounds: int = 40,
) -> tuple[str, np.ndarray | None, np.ndarray | None]:
    """Maximal support (or infeasibility) from a candidate set, certified by an LP.

    For multipliers ``y = [lambda; nu]`` (``nu >= 0``) let ``f_s = y^T (L_s - c)``.
    Every feasible ``q`` has ``sum_s q_s f_s = lambda^T (A q - b) + nu^T (G q - h) <= 0``,
    so if ``f >= 0`` on all scenarios then ``q_s = 0`` wherever ``f_s > 0``; conversely
    (theorem of the alternative) every scenario outside the maximal support is
    separated by such a certificate, and certificates add up.  With ``P`` the
    candidate set (``score >= -guess_log_ratio``; the score is ``log q_s - max log q``
    at the stalled Newton iterate) and ``U`` the other scenarios, the LP

        max  t + sum_{s in P} v_s   s.t.  f_s >= t (s in U),  f_s >= v_s (s in P),
                                          0 <= t <= 1,  0 <= v <= 1,  |y| <= 1e6

    has ``K + 1 + |P|`` columns.  It is solved by constraint generation: the rows of
    ``U`` enter in batches (closest to the candidate set first, then the violated
    ones), each round checked against all scenarios with one ``gemv``.  At the
    optimum, ``t = 1`` proves that no feasible ``q`` puts mass on ``U``, and the
    maximal support is exactly ``{s in P : v_s = 0}`` -- empty means that no feasible
    ``q`` exists at all, and ``y`` is then a Farkas certificate naming the views in
    conflict.

    With ``only_feasibility``, or when the candidate set is empty or too large
    (``> 50 000`` scenarios or more than half of them), ``P`` is taken empty: the LP
    then only decides feasibility (``t = 1``: infeasible, with the Farkas certificate
    ``y``; else "feasible").

    Returns
    -------
    ("support", keep, y) with ``keep`` (n,) bool, ("infeasible", None, y),
    ("feasible", None, None) when only feasibility could be decided, or
    ("unknown", None, None) when ``U`` cannot be certified (the candidate set misses
    part of the support) or an LP failed.
    """
    K, n = L.shape
    guess = score >= -guess_log_ratio
    only_feasibility = only_feasibility or not (0 < guess.sum() <= min(50_000, n // 2))
    if only_feasibility:
        guess = np.zeros(n, dtype=bool)
    P = np.flatnonzero(guess)
    U = np.flatnonzero(~guess)
    nP = P.size
    order = U[np.argsort(-score[U], kind="stable")]
    active = order[: min(batch, order.size)]
    in_active = np.zeros(n, dtype=bool)
    in_active[active] = True
    y_box = 1e6
    bounds = np.zeros((K + 1 + nP, 2))
    bounds[:K, 0] = np.where(is_in, 0.0, -y_box)
    bounds[:K, 1] = y_box
    bounds[K:, 1] = 1.0
    cost = np.concatenate([np.zeros(K), [-1.0], -np.ones(nP)])
    x = None
    for _ in range(max_rounds):
        rows = np.concatenate([P, active])
        m = rows.size
        # constraints -f_s + t <= 0 (s in U),  -f_s + v_j <= 0 (s = P_j)
        blk = -(L[:, rows] - c[:, None]).T
        tcol = np.zeros(m)
        tcol[nP:] = 1.0
        vmat = sparse.csr_matrix((np.ones(nP), (np.arange(nP), np.arange(nP))), shape=(m, nP))
        A_ub = sparse.hstack(
            [sparse.csr_matrix(blk), sparse.csr_matrix(tcol[:, None]), vmat], format="csr"
        )
        res = linprog(cost, A_ub=A_ub, b_ub=np.zeros(m), bounds=bounds, method="highs")
        if res.status != 0 or res.x is None:
            return "unknown", None, None
        x = res.x
        y, t = x[:K], x[K]
        f = L.T @ y - float(c @ y)
        viol = np.flatnonzero(~in_active & ~guess & (f < t - 1e-6))
        if viol.size == 0:
            break
        add = viol[np.argsort(f[viol], kind="stable")[:batch]]
        in_active[add] = True
        active = np.concatenate([active, add])
    else:
        return "unknown", None, None
    y, t, v = x[:K], x[K], x[K + 1 :]
    if t < 0.5:
        return ("feasible" if only_feasibility else "unknown"), None, None
    keep = np.zeros(n, dtype=bool)
    keep[P[v < 0.5]] = True
    if not keep.any():
        return "infeasible", None, y
    return "support", keep, y


def _lp_max_support(L: np.ndarray, c: np.ndarray, is_in: np.ndarray) -> np.ndarray | None:
    """Maximal support of the feasible set ``F = {q >= 0 : views, sum q = 1}``.

    Solves (HiGHS)

        max sum_s y_s  s.t.  0 <= y_s <= 1,  y_s <= w_s,  w >= 0,
                             A w = b tau,  G w <= h tau,  1^T w = tau,  tau >= 0

    (rows already scaled).  Every scenario that is positive in some feasible ``q`` can
    be given ``y_s = 1`` simultaneously (average the feasible points and scale), and
    ``y_s = 0`` is forced for the others, so the optimal ``y`` is the indicator of the
    maximal support.

    Returns
    -------
    np.ndarray of bool, shape (n,), or None if the LP failed.
    """
    K, n = L.shape
    eq = np.flatnonzero(~is_in)
    ine = np.flatnonzero(is_in)
    ke, ki = eq.size, ine.size
    # variables: w (n), y (n), tau (1)
    cost = np.concatenate([np.zeros(n), -np.ones(n), [0.0]])
    eye = sparse.identity(n, format="csr")
    ub_blocks = [sparse.hstack([-eye, eye, sparse.csr_matrix((n, 1))])]
    b_ub = [np.zeros(n)]
    if ki:
        ub_blocks.append(
            sparse.hstack(
                [
                    sparse.csr_matrix(L[ine]),
                    sparse.csr_matrix((ki, n)),
                    sparse.csr_matrix(-c[ine][:, None]),
                ]
            )
        )
        b_ub.append(np.zeros(ki))
    A_ub = sparse.vstack(ub_blocks, format="csr")
    eq_blocks = [
        sparse.hstack(
            [
                sparse.csr_matrix(np.ones((1, n))),
                sparse.csr_matrix((1, n)),
                sparse.csr_matrix([[-1.0]]),
            ]
        )
    ]
    if ke:
        eq_blocks.insert(
            0,
            sparse.hstack(
                [
                    sparse.csr_matrix(L[eq]),
                    sparse.csr_matrix((ke, n)),
                    sparse.csr_matrix(-c[eq][:, None]),
                ]
            ),
        )
    A_eq = sparse.vstack(eq_blocks, format="csr")
    b_eq = np.zeros(A_eq.shape[0])
    bounds = np.zeros((2 * n + 1, 2))
    bounds[:, 1] = np.inf
    bounds[n : 2 * n, 1] = 1.0
    res = linprog(
        cost,
        A_ub=A_ub,
        b_ub=np.concatenate(b_ub),
        A_eq=A_eq,
        b_eq=b_eq,
        bounds=bounds,
        method="highs",
    )
    if res.status != 0 or res.x is None:
        return None
    return res.x[n : 2 * n] > 0.5



def _lp_arbitration(
    L: np.ndarray, inv_s: np.ndarray, c: np.ndarray, is_in: np.ndarray, score: np.ndarray
) -> tuple[str, np.ndarray | None, list[int]]:
    """Decide a stalled Newton run: infeasible views, a smaller support, or neither.

    First a certificate LP around the support suggested by the stalled iterate
    (constraint generation: cheap at any n, exact when it succeeds); if that is
    inconclusive, the elastic feasibility LP and the full maximal-support LP.

    Parameters
    ----------
    L : (K, n) centred rows on the support; inv_s : (K,) row scales (the LPs work on
    ``diag(inv_s) L``); c : (K,) scaled targets; is_in : (K,) inequality flags;
    score : (n,) ``log q_s - max log q`` at the stalled iterate.

    Returns
    -------
    status : ``"infeasible"``, ``"support"``, ``"feasible"`` or ``"unknown"``;
    keep : (n,) bool maximal support when one was found, else None;
    offending : indices into the rows of the views in conflict (``"infeasible"`` only;
        may be empty when the LPs could not name them).
    """
    Ls = L * inv_s[:, None]
    status, keep, ycert = "unknown", None, None
    for ratio in (_GUESS_LOG_RATIO, 3 * _GUESS_LOG_RATIO):
        status, keep, ycert = _lp_certificate(Ls, c, is_in, score, guess_log_ratio=ratio)
        if status != "unknown":
            break
    if status == "unknown":  # no certified support: at least decide feasibility
        status, keep, ycert = _lp_certificate(Ls, c, is_in, score, only_feasibility=True)
    small = L.shape[1] <= _FULL_LP_MAX_N
    offending: list[int] = []
    if status == "infeasible":
        assert ycert is not None
        offending = np.flatnonzero(np.abs(ycert) > 1e-9 * np.abs(ycert).max()).tolist()
    elif status == "unknown" and small:  # LP trouble: the textbook elastic LP
        feasible, offending = _lp_feasibility(Ls, c, is_in)
        status = "feasible" if feasible else "infeasible"
    if status == "feasible" and small:
        # no usable candidate support: the full maximal-support LP (2 n columns,
        # affordable for moderate supports only; above that Newton just continues)
        keep = _lp_max_support(Ls, c, is_in)
    return status, keep, offending
