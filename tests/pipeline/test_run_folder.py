"""One run per folder: a folder that is not empty is refused unless --resume or --overwrite fits it,
and a rerun never leaves stale outputs (old report.html, PNGs, Parquet) behind."""

import copy
import json

import pytest
import yaml

import pipeline
from pipeline.cli import main
from pipeline.runner import RESUME_FILE, _check_out_dir, _clear_outputs, saved_parts
from pipeline.store import RunStore

SHA = "a" * 64


def _tiny(case_dict, tmp_path, **scenarios):
    d = copy.deepcopy(case_dict)
    d["scenarios"].update(count=300, block_size=300, **scenarios)
    d["optimization"].update(points=2, risk_measures=["MV"])
    d["views"] = []
    d["optimization"].pop("constraint_sets", None)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(d))
    return d, cfg


def _finished_run(folder):
    """What a finished run and its report leave (the refusals happen before anything is read)."""
    folder.mkdir(parents=True)
    for name in ("manifest.json", "frontier.parquet", "report.html", "frontier_MV.png"):
        (folder / name).write_text("earlier run")
    return {p.name: p.read_text() for p in folder.iterdir()}


def test_rerun_into_a_finished_run_is_refused_before_any_work(case_dict, tmp_path, capsys):
    _, cfg = _tiny(case_dict, tmp_path)
    out = tmp_path / "run"
    before = _finished_run(out)
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("config error:")
    assert "--out" in err[0] and "not empty" in err[0] and "--overwrite" in err[0]
    assert {p.name: p.read_text() for p in out.iterdir()} == before  # untouched

    # --resume needs an unfinished run of that config
    assert main(["run", str(cfg), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "no unfinished run" in err and "finished run" in err
    assert {p.name: p.read_text() for p in out.iterdir()} == before


def test_resume_and_overwrite_exclude_each_other(case_dict, tmp_path, capsys):
    _, cfg = _tiny(case_dict, tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["run", str(cfg), "--out", str(tmp_path / "r"), "--resume", "--overwrite"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(pipeline.ConfigError, match="not both"):
        _check_out_dir(tmp_path / "r", SHA, resume=True, overwrite=True, explicit=True)


def test_a_folder_with_files_no_run_writes_is_never_emptied(case_dict, tmp_path, capsys):
    _, cfg = _tiny(case_dict, tmp_path)
    out = tmp_path / "home"
    _finished_run(out)
    (out / "notes.txt").write_text("mine")
    assert main(["run", str(cfg), "--out", str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and "files that a run does not write" in err
    assert (out / "notes.txt").read_text() == "mine" and (out / "report.html").exists()


def test_unfinished_run_folder_rules(tmp_path):
    out = tmp_path / "run"
    RunStore(out).prepare(resume=False, config_sha256=SHA)  # what an interrupted run leaves
    with pytest.raises(pipeline.ConfigError, match="unfinished run: add --resume"):
        _check_out_dir(out, SHA, resume=False, overwrite=False, explicit=True)
    with pytest.raises(pipeline.ConfigError, match="different config"):
        _check_out_dir(out, "b" * 64, resume=True, overwrite=False, explicit=True)
    _check_out_dir(out, SHA, resume=True, overwrite=False, explicit=True)  # the same config: fine
    _check_out_dir(out, "b" * 64, resume=False, overwrite=True, explicit=True)  # start afresh: fine
    _check_out_dir(tmp_path / "new", SHA, resume=True, overwrite=False, explicit=True)  # nothing there: fine
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".tmp-x.parquet-1").write_text("stray temp file")
    _check_out_dir(tmp_path / "empty", SHA, resume=False, overwrite=False, explicit=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(pipeline.ConfigError, match="not a folder"):
        _check_out_dir(tmp_path / "file", SHA, resume=False, overwrite=True, explicit=False)


def test_clear_outputs_keeps_parts_only_for_a_resume(tmp_path):
    out = tmp_path / "run"
    RunStore(out).prepare(resume=False, config_sha256=SHA)
    _finished_run_files = ("manifest.json", "views.parquet", "report.html", "stress_CVaR.png")
    for name in _finished_run_files:
        (out / name).write_text("stale")
    _clear_outputs(out, keep_parts=True)
    assert sorted(p.name for p in out.iterdir()) == [".parts"]
    assert RunStore(out).parts_config() == SHA
    _clear_outputs(out, keep_parts=False)
    assert list(out.iterdir()) == []


def test_saved_parts_counts_what_an_interrupted_run_left(tmp_path):
    import pandas as pd

    out = tmp_path / "run"
    assert saved_parts(out) is None
    store = RunStore(out)
    store.prepare(resume=False, config_sha256=SHA)
    assert saved_parts(out) == {"views": 0, "portfolios": 0, "command": None, "cwd": None}
    store.write_part("views", "v0", pd.DataFrame([{"view_set": "prior"}]))
    store.write_part_batch("frontier", "b000000", pd.DataFrame({"x": [1.0, 2.0, 3.0]}), ["a", "b", "c"])
    store.write_part_batch("frontier", "b000001", pd.DataFrame({"x": [4.0]}), ["c"])  # a later batch wins
    (out / ".parts" / RESUME_FILE).write_text(json.dumps({"command": ["stressfrontier", "run", "c.yaml",
                                                                      "--resume"], "cwd": str(tmp_path)}))
    assert saved_parts(out) == {"views": 1, "portfolios": 3, "command": ["stressfrontier", "run", "c.yaml", "--resume"],
                                "cwd": str(tmp_path)}


@pytest.mark.cluster
def test_overwrite_replaces_every_output_of_the_earlier_run(case_dict, tmp_path, capsys):
    from pipeline.report import write_report

    d, _ = _tiny(case_dict, tmp_path, write=True)
    out = tmp_path / "run"
    pipeline.run(d, out=out, workers=1, log=lambda m: None)  # seed of the config, with scenarios.parquet
    write_report(out)  # report.html and PNGs of that run
    old = {p.name for p in out.iterdir()}
    assert {"report.html", "scenarios.parquet"} <= old and any(n.endswith(".png") for n in old)

    d2 = copy.deepcopy(d)
    d2["scenarios"]["write"] = False
    cfg = tmp_path / "c2.yaml"
    cfg.write_text(yaml.safe_dump(d2))
    capsys.readouterr()
    rc = main(["run", str(cfg), "--out", str(out), "--workers", "1", "--seed", "7", "--overwrite", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    new = {p.name for p in out.iterdir()}
    # nothing of the earlier run survives: no report of another seed, no scenarios of another config
    assert "report.html" not in new and "scenarios.parquet" not in new
    assert not any(n.endswith(".png") for n in new) and ".parts" not in new
    run = pipeline.read_run(out)
    assert run["manifest"]["seed"] == 7
    assert set(new) == {"manifest.json"} | {f"{t}.parquet" for t in run["manifest"]["rows"]}
    assert pipeline.store.parquet_metadata(out / "frontier.parquet")["config"]["seed"] == 7
