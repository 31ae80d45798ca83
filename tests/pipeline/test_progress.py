"""Progress display: plain log lines, quiet silence, live tty redraws, the log adapter, summaries."""

import io

import pytest

from pipeline.progress import Progress, final_summary


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class TtyBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_mode_writes_a_line_every_ten_percent_and_at_completion():
    buf, clock = io.StringIO(), FakeClock()
    p = Progress(buf, mode="plain", clock=clock)
    p.stage("frontier points", 20)
    for i in range(20):
        clock.t += 0.5
        p.advance("frontier points", failed=(i == 3))
    p.close()
    lines = buf.getvalue().splitlines()
    assert lines[0] == "frontier points: 0/20 started"
    progress = [ln for ln in lines[1:]]
    assert len(progress) == 10  # 10 %, 20 %, ..., 100 %
    assert progress[0] == "frontier points: 2/20 (10%)"
    assert progress[1] == "frontier points: 4/20 (20%), 1 failed"
    assert progress[-1] == "frontier points: 20/20 (100%), 1 failed, done in 10.0 s"
    assert "\r" not in buf.getvalue() and "\x1b" not in buf.getvalue()
    assert p.counts()["frontier points"] == {"done": 20, "total": 20, "failed": 1}


def test_plain_mode_small_stage_and_messages_and_unfinished_stage():
    buf = io.StringIO()
    p = Progress(buf, mode="plain")
    p.stage("views", 2)
    p.message("submitted: 4 scenario chunk(s)")
    p.advance("views")
    p.stage("chunks", 4)
    p.advance("chunks", 3)
    p.close()
    p.close()  # idempotent
    out = buf.getvalue().splitlines()
    assert "submitted: 4 scenario chunk(s)" in out
    assert "views: 1/2 (50%)" in out
    assert "chunks: 3/4 (75%)" in out
    assert out[-2:] == ["views: 1/2 (50%), stopped", "chunks: 3/4 (75%), stopped"]


def test_quiet_mode_writes_nothing():
    buf = io.StringIO()
    p = Progress(buf, mode="quiet", verbose=True)
    p.stage("views", 2)
    p.advance("views", 2, failed=True)
    p.message("hello")
    p.log("portfolios 10/52")
    text = p.summary({"views": {"ok": 2}})
    assert buf.getvalue() == ""
    assert "views: 2 of 2 solved" in text  # the text is still returned


def test_tty_mode_redraws_in_place_with_carriage_returns():
    buf = TtyBuffer()
    p = Progress(buf, mode="auto", min_interval=0.0)
    assert p.mode == "tty"
    p.stage("views", 2)
    p.stage("portfolios", 10)
    p.message("dashboard http://127.0.0.1:8787")
    for _ in range(10):
        p.advance("portfolios")
    p.advance("views", 2)
    p.close()
    out = buf.getvalue()
    assert "\r" in out and "\x1b[2K" in out and "\x1b[2A" in out  # clear line, move up the block
    assert "\rdashboard http://127.0.0.1:8787\n" in out
    last_frame = out.rsplit("\x1b[J", 1)[-1]
    assert "portfolios" in last_frame and "10/10 100%" in last_frame and "2/2 100%" in last_frame


def test_tty_redraws_are_throttled_but_completion_always_drawn():
    buf, clock = io.StringIO(), FakeClock()
    p = Progress(buf, mode="tty", clock=clock, min_interval=1.0)
    p.stage("portfolios", 100)
    for _ in range(100):
        p.advance("portfolios")  # clock does not move: only the completion forces a redraw
    assert buf.getvalue().count("portfolios") == 2  # stage start + completion
    assert "100/100" in buf.getvalue()


def test_auto_mode_on_a_file_is_plain():
    assert Progress(io.StringIO(), mode="auto").mode == "plain"
    with pytest.raises(ValueError, match="mode"):
        Progress(io.StringIO(), mode="fancy")


def test_log_adapter_turns_graph_lines_into_stages():
    buf = io.StringIO()
    p = Progress(buf, mode="plain", verbose=True)
    for line in ["submitted: 4 scenario chunk(s), 1 view set(s), 20 portfolio optimisation(s)",
                 "views 1/2: prior ok (RE 0.0000, ENS 1.000)",
                 "portfolios 10/20",
                 "views 2/2: error_prone_view infeasible — no posterior",
                 "portfolios 20/20"]:
        p.log(line)
    c = p.counts()
    assert c["views"] == {"done": 2, "total": 2, "failed": 1}
    assert c["portfolios"] == {"done": 20, "total": 20, "failed": 0}
    out = buf.getvalue()
    assert out.splitlines()[0].startswith("submitted: 4 scenario chunk(s)")
    assert "views 2/2: error_prone_view infeasible — no posterior" in out  # verbose detail
    assert "portfolios: 20/20 (100%)" in out


def test_detail_messages_only_when_verbose():
    quiet_buf, loud_buf = io.StringIO(), io.StringIO()
    Progress(quiet_buf, mode="plain").message("chunk 3 on worker A", detail=True)
    Progress(loud_buf, mode="plain", verbose=True).message("chunk 3 on worker A", detail=True)
    assert quiet_buf.getvalue() == "" and loud_buf.getvalue() == "chunk 3 on worker A\n"


def test_final_summary_from_counts():
    text = final_summary({"views": {"ok": 2, "infeasible": 1},
                          "portfolios": {"optimal": 40, "optimal_inaccurate": 2, "infeasible": 3,
                                         "view_infeasible": 13}},
                         out_dir="runs/x", wall_seconds=75.0)
    assert text.splitlines() == [
        "views: 2 of 3 solved, 1 infeasible (incl. the prior)",
        "portfolios: 42 of 58 optimal (2 inaccurate), 3 infeasible, 13 view_infeasible",
        "wall time: 1 min 15 s",
        "outputs: runs/x",
    ]


def test_summary_of_own_stages_is_written():
    buf, clock = io.StringIO(), FakeClock()
    p = Progress(buf, mode="plain", clock=clock)
    p.stage("chunks", 2)
    p.advance("chunks", 2)
    clock.t = 3.0
    text = p.summary(out_dir="runs/y")
    assert text == "chunks: 2/2 done, 0 failed\nwall time: 3.0 s\noutputs: runs/y"
    assert buf.getvalue().endswith(text + "\n")


def test_stage_is_timed_from_when_its_work_started_not_when_it_was_announced():
    # the graph submits every task, then announces the stages: scenario chunks that ran during the
    # submission must not report "done in 0.0 s"
    buf, clock = io.StringIO(), FakeClock()
    p = Progress(buf, mode="plain", clock=clock)
    clock.t = 1.0
    p.work_started()
    clock.t = 5.5  # submission of the rest of the graph took 4.5 s; the chunks finished meanwhile
    p.stage("scenario chunks", 4)
    p.advance("scenario chunks", 4)
    assert buf.getvalue().splitlines()[-1] == "scenario chunks: 4/4 (100%), done in 4.5 s"
    clock.t = 7.0
    p.stage("portfolios", 2)  # a later stage also counts from the submission
    p.advance("portfolios", 2)
    assert buf.getvalue().splitlines()[-1] == "portfolios: 2/2 (100%), done in 6.0 s"


def test_stage_without_work_mark_is_timed_from_its_announcement():
    buf, clock = io.StringIO(), FakeClock()
    p = Progress(buf, mode="plain", clock=clock)
    clock.t = 3.0
    p.stage("views", 1)
    clock.t = 5.0
    p.advance("views")
    assert buf.getvalue().splitlines()[-1] == "views: 1/1 (100%), done in 2.0 s"


def test_close_after_interrupt_writes_no_stopped_lines():
    buf = io.StringIO()
    p = Progress(buf, mode="plain")
    p.stage("portfolios", 10)
    p.advance("portfolios", 3)
    before = buf.getvalue()
    p.close(interrupted=True)
    p.close()  # idempotent: still nothing
    assert buf.getvalue() == before  # the caller prints the one line that says what was saved

    tty = TtyBuffer()
    q = Progress(tty, mode="tty", min_interval=0.0)
    q.stage("portfolios", 10)
    q.advance("portfolios", 3)
    q.close(interrupted=True)
    assert tty.getvalue().endswith("\n\n")  # the block stays; the caller's line starts below it
    assert "stopped" not in tty.getvalue()
