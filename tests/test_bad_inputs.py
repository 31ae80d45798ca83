"""The bad-input catalogue: every case exits 2 before any work, with one line naming the key path."""

from pathlib import Path

import pytest
import yaml

from pipeline.cli import main

CASES = Path(__file__).parent / "bad_inputs"
EXPECTED = yaml.safe_load((CASES / "expected.yaml").read_text())


def test_catalogue_is_complete():
    files = sorted(p.name for p in CASES.glob("*.yaml") if p.name != "expected.yaml")
    assert files == sorted(EXPECTED) and len(files) >= 25


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_bad_input_exits_2_with_key_path(case, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["run", str(CASES / case), "--out", str(out)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2
    assert len(lines) == 1, err
    exp = EXPECTED[case]
    assert exp["path"] in lines[0] and exp["fragment"] in lines[0], lines[0]
    assert lines[0].startswith("config error:")
    assert not out.exists()
