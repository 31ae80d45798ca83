"""Progress display for a run: one counter per stage (scenario chunks, view sets, frontier points).

Three renderings of the same state, chosen by ``mode``:

``tty``
    a live block of one line per stage, redrawn in place with carriage returns and ANSI cursor
    movement (no external dependency); messages scroll above the block.
``plain``
    log lines for files and CI: one when a stage starts, one at every 10 % step, one on completion
    (with the elapsed time and the failures), and one for every failure when ``verbose``.
``quiet``
    nothing at all (the caller prints errors and the output folder itself).

``auto`` picks ``tty`` when the stream is a terminal (and ``TERM`` is not ``dumb``), else
``plain``.

The existing ``log(str)`` callback of :func:`pipeline.graph.execute` can drive a display
unchanged: pass :meth:`Progress.log`, which turns lines such as ``"views 1/2: prior ok ..."`` and
``"portfolios 10/52"`` into stage updates and everything else into messages.

A stage's clock starts when its work starts: :meth:`Progress.work_started` marks the moment the
run's tasks are submitted, and every stage announced after it times itself from there (the
scenario chunks run while the rest of the graph is still being submitted, so a clock started at
the announcement would report "done in 0.0 s" for work that took seconds).

:func:`final_summary` turns a finished run (folder, :func:`pipeline.read_run` dict, or the
manifest's ``status_counts``) into the closing text: views solved/infeasible, portfolios
optimal/infeasible, wall time and where the outputs are.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tasks.vocabulary import OK_STATUSES

__all__ = ["Progress", "LogProgress", "final_summary", "MODES"]

MODES = ("auto", "tty", "plain", "quiet")
_OK_PORTFOLIO = tuple(sorted(s.value for s in OK_STATUSES))
_FAILED_WORDS = ("infeasible", "view_infeasible", "error", "failed", "unbounded", "solver_error")
_COUNTER_LINE = re.compile(r"^\s*(?P<name>[A-Za-z][\w .-]*?)\s+(?P<done>\d+)\s*/\s*(?P<total>\d+)"
                           r"\s*(?::\s*(?P<rest>.*))?$")


@dataclass
class _Stage:
    """Counters of one stage."""

    name: str
    total: int | None
    done: int = 0
    failed: int = 0
    started: float = 0.0
    finished: float | None = None
    reported_step: int = -1  # last 10 % step written in plain mode

    @property
    def complete(self) -> bool:
        return self.total is not None and self.done >= self.total


class LogProgress:
    """Minimal progress reporter: plain log lines through a ``log(str)`` callable.

    Any object with ``stage(name, total)``, ``advance(name, n=1, failed=False)`` and
    ``message(text)`` can stand in (:class:`Progress` is the full one).
    """

    def __init__(self, log: Callable[[str], None] = print) -> None:
        self.log = log
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.failed: dict[str, int] = {}

    def stage(self, name: str, total: int) -> None:
        self.totals[name], self.done[name], self.failed[name] = total, 0, 0

    def advance(self, name: str, n: int = 1, failed: bool = False) -> None:
        self.done[name] += n
        self.failed[name] += n if failed else 0
        d, t = self.done[name], self.totals[name]
        if d == t or d % max(1, t // 10) == 0:
            extra = f" ({self.failed[name]} failed)" if self.failed[name] else ""
            self.log(f"{name} {d}/{t}{extra}")

    def message(self, text: str) -> None:
        self.log(text)


class Progress:
    """Per-stage progress display: live lines on a terminal, periodic log lines elsewhere.

    Parameters
    ----------
    stream : text stream to write to (default ``sys.stderr``).
    mode : ``"auto"``, ``"tty"``, ``"plain"`` or ``"quiet"`` (see the module docstring).
    verbose : also write detail messages and (plain mode) one line per failure.
    min_interval : seconds between two redraws of the live block (tty mode); completions, failures
        and new stages always redraw.
    clock : monotonic clock in seconds (injectable for tests).

    Examples
    --------
    >>> import io
    >>> buf = io.StringIO()
    >>> p = Progress(buf, mode="plain")
    >>> p.stage("views", 2)
    >>> p.advance("views"); p.advance("views", failed=True)
    >>> p.close()
    >>> "views: 2/2 (100%)" in buf.getvalue()
    True
    """

    def __init__(self, stream: TextIO | None = None, mode: str = "auto", verbose: bool = False, *,
                 min_interval: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.mode = _resolve_mode(self.stream, mode)
        self.verbose = verbose
        self.min_interval = min_interval
        self._clock = clock
        self._t0 = clock()
        self._stages: dict[str, _Stage] = {}
        self._lock = threading.RLock()
        self._drawn = 0          # lines of the live block currently on screen (tty)
        self._last_draw = -1e18
        self._closed = False
        self._work_t0: float | None = None  # set by work_started(): stages announced later start here
        self._unicode = "utf" in (getattr(self.stream, "encoding", None) or "").lower()

    # -- public API --------------------------------------------------------------------------
    def work_started(self) -> None:
        """Mark now as the moment the run's tasks start: stages announced later are timed from it.

        The graph submits every task first and announces the stages afterwards, so without this
        mark a stage whose tasks finished during the submission would report 0.0 s.
        """
        with self._lock:
            self._work_t0 = self._clock()

    def stage(self, name: str, total: int) -> None:
        """Start (or restart with a new total) the stage ``name`` with ``total`` items.

        Its clock starts at :meth:`work_started` when that was called, else now.
        """
        with self._lock:
            now = self._clock()
            st = self._stages.get(name)
            if st is None:
                start = now if self._work_t0 is None else min(self._work_t0, now)
                st = self._stages[name] = _Stage(name, max(0, int(total)), started=start)
            else:
                st.total = max(0, int(total))
                st.finished = None
            if self.mode == "plain":
                self._write_line(f"{name}: 0/{st.total} started" if st.total else f"{name}: nothing to do")
                st.reported_step = 0 if st.total else 10
            if st.complete:
                st.finished = now
            self._redraw(force=True)

    def advance(self, name: str, n: int = 1, failed: bool = False) -> None:
        """Record ``n`` finished items of stage ``name``; ``failed`` marks them as failures.

        An unknown stage is created with an unknown total (shown as a bare count).
        """
        with self._lock:
            st = self._get(name)
            self._set(st, st.done + n, st.failed + (n if failed else 0), failed_now=failed)

    def update(self, name: str, done: int, total: int | None = None, failed: int | None = None) -> None:
        """Set the absolute counters of stage ``name`` (for callers that report ``k/n``)."""
        with self._lock:
            st = self._get(name)
            if total is not None and st.total != total:
                st.total = max(0, int(total))
            new_failed = st.failed if failed is None else failed
            self._set(st, done, new_failed, failed_now=new_failed > st.failed)

    def message(self, text: str, *, detail: bool = False) -> None:
        """Write a free-form line above the live block (``detail`` lines only when verbose)."""
        if detail and not self.verbose:
            return
        with self._lock:
            for line in str(text).splitlines() or [""]:
                self._write_line(line)
            self._redraw(force=True)

    def log(self, line: str) -> None:
        """Adapter for the ``log(str)`` callback of :func:`pipeline.graph.execute`.

        ``"<stage> k/n[: <item> <status> ...]"`` updates the stage (a status such as
        ``infeasible`` or ``error`` counts as a failure; the detail itself is written when
        verbose); any other line is a message.
        """
        m = _COUNTER_LINE.match(str(line))
        if m is None:
            self.message(line)
            return
        name, done, total, rest = m["name"], int(m["done"]), int(m["total"]), m["rest"] or ""
        with self._lock:
            st = self._stages.get(name)
            is_failure = any(t.strip("(),:;.").lower() in _FAILED_WORDS for t in rest.split()[1:])
            if st is None:
                self.stage(name, total)
                st = self._stages[name]
            if rest and self.verbose:
                self.message(f"{name} {done}/{total}: {rest}")
            self.update(name, done, total, st.failed + (1 if is_failure else 0))

    def close(self, *, interrupted: bool = False) -> None:
        """Final redraw (tty) or completion lines for unfinished stages (plain); idempotent.

        ``interrupted`` (Ctrl-C): write nothing more; the caller prints the one line that says what
        was saved and how to resume.
        """
        with self._lock:
            if self._closed:
                return
            if interrupted:
                if self.mode == "tty" and self._drawn:
                    self.stream.write("\n")  # keep the block; the caller's line goes below it
                self._drawn = 0
            elif self.mode == "tty":
                self._redraw(force=True)
                self._drawn = 0  # leave the final block on screen
            elif self.mode == "plain":
                for st in self._stages.values():
                    if not st.complete:
                        self._write_line(self._plain_text(st, stopped=True))
            self._closed = True
            self._flush()

    def summary(self, run: Mapping[str, Any] | str | Path | None = None, *,
                out_dir: str | Path | None = None, wall_seconds: float | None = None) -> str:
        """Close the display, write the closing summary (not in quiet mode) and return its text.

        Parameters
        ----------
        run : a finished run (folder, :func:`pipeline.read_run` dict, or status counts); None
            summarises this display's own stage counters.
        out_dir : where the outputs are (default: ``run`` when it is a folder).
        wall_seconds : wall time (default: the manifest's, else the time since construction).
        """
        self.close()
        if wall_seconds is None and not _has_manifest_wall(run):
            wall_seconds = self.elapsed
        if run is None:
            text = self._stage_summary(out_dir, wall_seconds)
        else:
            text = final_summary(run, out_dir=out_dir, wall_seconds=wall_seconds)
        if self.mode != "quiet":
            with self._lock:
                for line in text.splitlines():
                    self._write_line(line)
                self._flush()
        return text

    @property
    def elapsed(self) -> float:
        """Seconds since the display was created."""
        return self._clock() - self._t0

    def counts(self) -> dict[str, dict[str, int | None]]:
        """``{stage: {"done", "total", "failed"}}`` — the raw counters."""
        with self._lock:
            return {n: {"done": s.done, "total": s.total, "failed": s.failed}
                    for n, s in self._stages.items()}

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _get(self, name: str) -> _Stage:
        st = self._stages.get(name)
        if st is None:
            st = self._stages[name] = _Stage(name, None, started=self._clock())
        return st

    def _set(self, st: _Stage, done: int, failed: int, *, failed_now: bool = False) -> None:
        """Store new counters and write whatever the mode shows for the change."""
        was_complete = st.complete
        st.done, st.failed = max(0, int(done)), max(0, int(failed))
        now_complete = st.complete
        if now_complete and not was_complete:
            st.finished = self._clock()
        if self.mode == "plain":
            if failed_now and self.verbose:
                self._write_line(f"{st.name}: failure ({st.failed} so far, {st.done}/{st.total})")
            if st.total:
                step = min(10, int(10 * st.done / st.total))
                if step > st.reported_step and (step < 10 or now_complete):
                    st.reported_step = step
                    self._write_line(self._plain_text(st))
            elif st.total is None and self.verbose:
                self._write_line(self._plain_text(st))
        elif self.mode == "tty":
            self._redraw(force=failed_now or (now_complete and not was_complete))

    def _stage_summary(self, out_dir: str | Path | None, wall: float | None) -> str:
        lines = []
        for st in self._stages.values():
            total = "?" if st.total is None else st.total
            lines.append(f"{st.name}: {st.done}/{total} done, {st.failed} failed")
        if wall is not None:
            lines.append(f"wall time: {_fmt_seconds(wall)}")
        if out_dir is not None:
            lines.append(f"outputs: {out_dir}")
        return "\n".join(lines)

    def _plain_text(self, st: _Stage, stopped: bool = False) -> str:
        if st.total is None:
            text = f"{st.name}: {st.done} done"
        else:
            pct = 100.0 * min(st.done, st.total) / st.total if st.total else 100.0
            text = f"{st.name}: {st.done}/{st.total} ({pct:.0f}%)"
        if st.failed:
            text += f", {st.failed} failed"
        if stopped:
            text += ", stopped"
        elif st.complete:
            text += f", done in {_fmt_seconds((st.finished or self._clock()) - st.started)}"
        return text

    def _tty_text(self, st: _Stage, width: int) -> str:
        elapsed = (st.finished if st.finished is not None else self._clock()) - st.started
        if st.total:
            frac = min(1.0, st.done / st.total)
            counter = f"{st.done:>{len(str(st.total))}}/{st.total} {100 * frac:3.0f}%"
        elif st.total == 0:
            frac, counter = 1.0, "nothing to do"
        else:
            frac, counter = 0.0, f"{st.done} done"
        fail = f"  {st.failed} failed" if st.failed else ""
        state = "done" if st.complete else ""
        tail = f" {counter}{fail}  {_fmt_seconds(elapsed)} {state}".rstrip()
        name = f"{st.name:<{self._name_width()}}"
        bar_w = max(0, min(30, width - len(name) - len(tail) - 4))
        if bar_w >= 5:
            full, empty = ("\u2588", "\u2591") if self._unicode else ("#", "-")
            filled = int(round(frac * bar_w))
            bar = f" [{full * filled}{empty * (bar_w - filled)}]"
        else:
            bar = ""
        return (name + bar + tail)[: max(1, width - 1)]

    def _name_width(self) -> int:
        return max((len(n) for n in self._stages), default=0)

    def _redraw(self, force: bool = False) -> None:
        if self.mode != "tty" or self._closed:
            return
        now = self._clock()
        if not force and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        width = shutil.get_terminal_size((100, 24)).columns
        out = [self._clear_block()]
        for st in self._stages.values():
            out.append("\r\x1b[2K" + self._tty_text(st, width) + "\n")
        self._drawn = len(self._stages)
        self.stream.write("".join(out))
        self._flush()

    def _clear_block(self) -> str:
        if self._drawn == 0:
            return ""
        return f"\x1b[{self._drawn}A\r\x1b[J"

    def _write_line(self, line: str) -> None:
        if self.mode == "quiet":
            return
        if self.mode == "tty":
            self.stream.write(self._clear_block() + "\r" + line + "\n")
            self._drawn = 0
        else:
            self.stream.write(line + "\n")
        self._flush()

    def _flush(self) -> None:
        flush = getattr(self.stream, "flush", None)
        if flush is not None:
            try:
                flush()
            except (OSError, ValueError):
                pass



def _resolve_mode(stream: TextIO, mode: str) -> str:
    if mode != "auto":
        return mode
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty()) if isatty is not None else False
    except (OSError, ValueError):
        tty = False
    return "tty" if tty and os.environ.get("TERM", "") != "dumb" else "plain"


def _fmt_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    return f"{m} min {sec:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def _has_manifest_wall(run: Any) -> bool:
    if isinstance(run, (str, Path)):
        return (Path(run) / "manifest.json").is_file()
    if isinstance(run, Mapping):
        man = run.get("manifest")
        return isinstance(man, Mapping) and "wall" in (man.get("timings_seconds") or {})
    return False


def _status_counts(run: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """``{"views": {status: n}, "portfolios": {status: n}}`` from a run dict or counts."""
    if "views" in run and hasattr(run["views"], "columns"):
        out: dict[str, dict[str, int]] = {
            "views": {str(k): int(v) for k, v in run["views"]["status"].value_counts().items()}}
        fr = run.get("frontier")
        if fr is not None and hasattr(fr, "columns") and "status" in fr.columns:
            out["portfolios"] = {str(k): int(v) for k, v in fr["status"].value_counts().items()}
        return out
    if "status_counts" in run:
        return {k: dict(v) for k, v in run["status_counts"].items() if isinstance(v, Mapping)}
    man = run.get("manifest")
    if isinstance(man, Mapping) and "status_counts" in man:
        return {k: dict(v) for k, v in man["status_counts"].items() if isinstance(v, Mapping)}
    return {k: dict(v) for k, v in run.items() if isinstance(v, Mapping)}


def _book_line(run: Mapping[str, Any]) -> str | None:
    """``book: 2 limits breached; rebalance optimal`` from the counts (``limits_breached``,
    ``rebalance``) of a run dict, a manifest or status counts; None without limits."""
    for src in (run.get("status_counts"), (run.get("manifest") or {}).get("status_counts")
                if isinstance(run.get("manifest"), Mapping) else None, run):
        if isinstance(src, Mapping) and "limits_breached" in src:
            text = f"book: {int(src['limits_breached'])} limit(s) breached"
            rb = src.get("rebalance")
            if isinstance(rb, Mapping) and rb:
                text += f"; rebalance {', '.join(str(k) for k in rb)}"
            return text
    return None


def final_summary(run: Mapping[str, Any] | str | Path, *, out_dir: str | Path | None = None,
                  wall_seconds: float | None = None) -> str:
    """Closing text of a run: views solved/infeasible, portfolios by status, wall time, outputs.

    Parameters
    ----------
    run : a run folder, a :func:`pipeline.read_run` dict, a manifest dict (its
        ``status_counts`` are used) or the counts themselves
        (``{"views": {"ok": 2}, "portfolios": {"optimal": 52}}``).
    out_dir : where the outputs are (default: ``run`` when it is a folder).
    wall_seconds : wall time (default: ``manifest["timings_seconds"]["wall"]`` when available).

    Returns
    -------
    str, several lines without a trailing newline.
    """
    if isinstance(run, (str, Path)):
        from pipeline.store import read_run

        out_dir = run if out_dir is None else out_dir
        run = read_run(run)
    counts = _status_counts(run)
    man = run.get("manifest") if isinstance(run.get("manifest"), Mapping) else (
        run if "timings_seconds" in run else {})
    if wall_seconds is None:
        wall_seconds = (man.get("timings_seconds") or {}).get("wall")
    lines = []
    v = counts.get("views", {})
    n_views = sum(v.values())
    if n_views:
        solved = v.get("ok", 0)
        other = {k: n for k, n in v.items() if k not in ("ok", "infeasible") and n}
        text = f"views: {solved} of {n_views} solved, {v.get('infeasible', 0)} infeasible"
        text += "".join(f", {n} {k}" for k, n in sorted(other.items()))
        lines.append(text + " (incl. the prior)")
    pf = counts.get("portfolios", {})
    n_p = sum(pf.values())
    if n_p:
        ok = sum(pf.get(k, 0) for k in _OK_PORTFOLIO)
        text = f"portfolios: {ok} of {n_p} optimal"
        if pf.get("optimal_inaccurate"):
            text += f" ({pf['optimal_inaccurate']} inaccurate)"
        text += f", {pf.get('infeasible', 0)} infeasible"
        other = {k: n for k, n in pf.items() if k not in (*_OK_PORTFOLIO, "infeasible") and n}
        text += "".join(f", {n} {k}" for k, n in sorted(other.items()))
        lines.append(text)
    book = _book_line(run)
    if book:
        lines.append(book)
    if wall_seconds is not None:
        lines.append(f"wall time: {_fmt_seconds(float(wall_seconds))}")
    if out_dir is not None:
        lines.append(f"outputs: {out_dir}")
    return "\n".join(lines)
