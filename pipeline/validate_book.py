"""Cross-field checks of the user's book: ``book``, ``shocks``, ``limits`` and ``rebalance``.

Like :mod:`pipeline.validate`, each check reads the config and raises
:class:`pipeline.errors.ConfigError` naming the key path, the reason and the likely fix. The
checks that need files read or objects built (a positions file's columns and instruments, the
book's budget, a replay file's drivers and rows) run where those are made, in
:mod:`pipeline.resolve_book`.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.errors import ConfigError, did_you_mean
from pipeline.schema import BOOK_VARIABLE, INSTRUMENT_KINDS, RunConfig, ShockSpec

__all__ = ["check_book", "unknown_name", "shock_slip_paths"]

#: ``|move|`` of a shock beyond which it reads as typed in percent (log-returns / log-changes of
#: spot, FX and vol drivers; a rate change in decimals)
_SHOCK_SCALE = {"spot": (3.0, "a log-return"), "fx": (3.0, "a log-return"), "vol": (3.0, "a log-change"),
                "rate": (0.5, "a rate change in decimals (-0.01 = -100 bp)")}


def unknown_name(what: str, name: str, known: Iterable[str], plural: str | None = None) -> str:
    """``unknown <what> 'x': did you mean 'y'? (<plural>: a, b, c)`` (plural default ``<what>s``)."""
    known = list(known)
    guess = did_you_mean(name, known)
    hint = f": did you mean {guess!r}?" if guess else ""
    return f"unknown {what} {name!r}{hint} ({plural or what + 's'}: {', '.join(known)})"


def check_book(cfg: RunConfig, kinds: dict[str, str]) -> None:
    """Raise :class:`ConfigError` for the first problem of the book's sections.

    Parameters
    ----------
    cfg : a config that passed the schema.
    kinds : driver name -> kind (``spot``, ``fx``, ``vol``, ``rate``).
    """
    for key, names in (("scenarios.drivers", cfg.driver_names), ("instruments", cfg.instrument_names)):
        if BOOK_VARIABLE in names:
            raise ConfigError(key, f"the name {BOOK_VARIABLE!r} is reserved for the P&L of your book "
                                   f"(views on: book); rename it")
    _check_holdings(cfg)
    _check_shocks(cfg, kinds)
    _check_limits(cfg)
    _check_rebalance(cfg)


# ---- book ---------------------------------------------------------------------------------------

def _check_holdings(cfg: RunConfig) -> None:
    book = cfg.book
    if book is None:
        return
    if (book.holdings is None) == (book.file is None):
        raise ConfigError("book", "give exactly one of holdings (inline exposures) or file (a positions file)")
    for name in book.holdings or {}:
        if name not in cfg.instrument_names:
            raise ConfigError(f"book.holdings.{name}", unknown_name("instrument", name, cfg.instrument_names))
    if book.cash is not None and book.cash not in cfg.instrument_names:
        raise ConfigError("book.cash", unknown_name("instrument", book.cash, cfg.instrument_names))
    if book.file is not None and not cfg.path(book.file).is_file():
        raise ConfigError("book.file", f"no such file: {cfg.path(book.file)} (paths are relative to the "
                                       f"config file's folder)")


# ---- shocks -------------------------------------------------------------------------------------

def _check_shocks(cfg: RunConfig, kinds: dict[str, str]) -> None:
    seen: set[str] = set()
    for i, s in enumerate(cfg.shocks):
        key = f"shocks[{i}]"
        if s.name in seen:
            raise ConfigError(f"{key}.name", f"shock name {s.name!r} is used twice")
        seen.add(s.name)
        if bool(s.drivers) == (s.from_history is not None):
            raise ConfigError(key, "give exactly one of drivers (named moves, e.g. {SPX: -0.30}) or "
                                   "from_history (rows of a driver-returns file)")
        if s.from_history is None:
            _check_moves(cfg, key, s, kinds)
        else:
            _check_replay(cfg, key, s)


def _check_moves(cfg: RunConfig, key: str, s: ShockSpec, kinds: dict[str, str]) -> None:
    allowed = set(cfg.allow_unusual)
    for name, x in s.drivers.items():
        path = f"{key}.drivers.{name}"
        if name not in kinds:
            raise ConfigError(path, unknown_name("driver", name, kinds))
        kind = kinds[name]
        if s.as_ == "simple" and kind in ("spot", "fx") and not x > -1.0:
            hint = f": looks like percent: did you mean {x / 100:.4g}?" if x < -1.0 and x / 100 > -1.0 else ""
            raise ConfigError(path, f"a simple return must be > -1 (-100 %), got {x:g}{hint}")
        bound, what = _SHOCK_SCALE[kind]
        if abs(x) > bound and path not in allowed:
            raise ConfigError(path, f"{x:g} as {what} is far beyond any market move: looks like percent: did "
                                    f"you mean {x / 100:.4g}? (if it is meant, list {path} under allow_unusual)")


def _check_replay(cfg: RunConfig, key: str, s: ShockSpec) -> None:
    h = s.from_history
    assert h is not None
    if not cfg.path(h.file).is_file():
        raise ConfigError(f"{key}.from_history.file", f"no such file: {cfg.path(h.file)} (paths are relative "
                                                      f"to the config file's folder)")
    if h.rows is not None and h.worst is not None:
        raise ConfigError(f"{key}.from_history", "give rows (the rows to replay) or worst (the k rows in "
                                                 "which the book loses most), not both")
    if h.rows is not None and not h.rows:
        raise ConfigError(f"{key}.from_history.rows", "lists no row; remove it to replay every row")
    if h.worst is not None and cfg.book is None:
        raise ConfigError(f"{key}.from_history.worst", "the worst rows are those in which your book loses "
                                                       "most: add a book: section")
    if s.as_ != "log":
        raise ConfigError(f"{key}.as", "applies to named driver moves; a replay reads the file's "
                                       "from_history.returns")
    for j, row in enumerate(h.rows or []):
        if isinstance(row, int) and row < 1:
            raise ConfigError(f"{key}.from_history.rows[{j}]", f"row numbers start at 1 (the first data row), "
                                                               f"got {row}")


def shock_slip_paths(cfg: RunConfig) -> set[str]:
    """Key paths of shock moves the unit check questions (so ``allow_unusual`` may name them)."""
    sc = cfg.scenarios
    kinds = {d.name: d.kind for d in sc.drivers} if sc.source is None else dict.fromkeys(cfg.driver_names, "spot")
    return {f"shocks[{i}].drivers.{name}" for i, s in enumerate(cfg.shocks) for name, x in s.drivers.items()
            if name in kinds and abs(x) > _SHOCK_SCALE[kinds[name]][0]}


def _check_keyed(cfg: RunConfig, key: str, names: Iterable[str]) -> None:
    """Keys of a per-instrument mapping (``limits.bounds``, ``rebalance.costs``) must be an
    instrument name, an instrument kind or ``default``."""
    known = set(cfg.instrument_names) | set(INSTRUMENT_KINDS) | {"default"}
    for name in names:
        if name not in known:
            raise ConfigError(f"{key}.{name}", unknown_name("instrument or kind", name, sorted(known),
                                                           "instruments, kinds, default"))


# ---- limits and rebalance -----------------------------------------------------------------------

def _check_limits(cfg: RunConfig) -> None:
    lim = cfg.limits
    if lim is None:
        return
    if cfg.book is None:
        raise ConfigError("limits", "limits apply to your book: add a book: section with its holdings")
    _check_keyed(cfg, "limits.bounds", lim.bounds)
    for name, (lo, hi) in lim.bounds.items():
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError(f"limits.bounds.{name}", f"lower bound {lo} exceeds upper bound {hi}")
    views = ["prior"] + [vs.name for vs in cfg.views]
    for name, caps in lim.view_caps.items():
        if name not in views:
            raise ConfigError(f"limits.view_caps.{name}", unknown_name("view set", name, views))
        for rm, cap in caps.items():
            if not cap > 0:
                raise ConfigError(f"limits.view_caps.{name}.{rm}", f"cap on {rm} must be > 0")
    if lim.holdings or lim.turnover is not None:
        raise ConfigError("limits.turnover" if lim.turnover is not None else "limits.holdings",
                          "turnover limits the trade of an optimisation; a book's limits have no trade "
                          "(the rebalance minimises its cost instead): remove this key")


def _check_rebalance(cfg: RunConfig) -> None:
    reb = cfg.rebalance
    if reb is None:
        return
    if cfg.limits is None:
        raise ConfigError("rebalance", "the rebalancing trade restores the limits: add a limits: section")
    _check_keyed(cfg, "rebalance.costs", reb.costs)
    for name, rate in reb.costs.items():
        if not rate >= 0:
            raise ConfigError(f"rebalance.costs.{name}", f"a cost rate must be >= 0, got {rate:g}")
