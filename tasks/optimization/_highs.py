"""HiGHS without output on stdout: no banner, no log, from any of our solves.

HiGHS writes to the process's stdout (file descriptor 1, from C++), so neither ``--quiet`` nor
Python's ``sys.stdout`` can hold it back. Two sources:

* the log of a solve (and, in older releases, the banner before it): off with the options
  :data:`HIGHS_QUIET` set before the first method call that touches a model -- cvxpy passes
  ``highs_options`` before it passes the model (:func:`solve_options`), our own models are
  silenced first thing (:func:`quiet_highs`);
* the banner (``Running HiGHS 1.16.0 ...: Copyright ...``) that highspy >= 1.16 prints when the
  *first* ``Highs`` object of a process is constructed, before any option can be set: once per
  process. :func:`absorb_banner` constructs that first object with file descriptor 1 pointed at
  ``/dev/null`` (C stdio flushed on both sides), so no later object prints it.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from typing import Any

import highspy

__all__ = ["HIGHS_QUIET", "absorb_banner", "quiet_highs", "solve_options"]

#: HiGHS options that keep a solve off stdout, whatever the caller's verbosity.
HIGHS_QUIET: dict[str, Any] = {"output_flag": False, "log_to_console": False}

_lock = threading.Lock()
_absorbed = False


def _flush_c_stdio() -> None:
    """Flush the C library's stdio buffers (so nothing buffered crosses a redirection)."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library handle on this platform
        pass


def absorb_banner() -> None:
    """Construct the process's first ``highspy.Highs`` with stdout discarded (once per process).

    Call before anything that may construct a ``Highs`` object (our masters, a cvxpy solve with
    ``solver="HIGHS"``). Thread-safe; a no-op after the first call.
    """
    global _absorbed
    if _absorbed:
        return
    with _lock:
        if _absorbed:
            return
        try:
            sys.stdout.flush()
        except (AttributeError, ValueError, OSError):
            pass
        _flush_c_stdio()
        try:
            saved = os.dup(1)
        except OSError:  # no stdout at all: nothing to protect
            highspy.Highs()
            _absorbed = True
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            highspy.Highs()
            _flush_c_stdio()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _absorbed = True


def quiet_highs() -> highspy.Highs:
    """A new ``highspy.Highs`` with its output off (and the process's banner absorbed)."""
    absorb_banner()
    h = highspy.Highs()
    for name, value in HIGHS_QUIET.items():
        h.setOptionValue(name, value)
    return h


def solve_options(solver: str) -> dict[str, Any]:
    """Keyword arguments of ``cvxpy.Problem.solve`` that keep ``solver`` quiet; for HiGHS the
    banner is absorbed too (call right before the solve)."""
    if solver != "HIGHS":
        return {}
    absorb_banner()
    return {"highs_options": dict(HIGHS_QUIET)}
