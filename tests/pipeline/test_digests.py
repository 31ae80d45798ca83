"""The example configs reproduce, bit for bit, the tables recorded in ``tests/digests_test_size.json``.

A refactor must not move a number. When a change is *meant* to move numbers, re-record with
``python -m tests.digests record`` and say why in the commit message.
"""

import json

import pytest

from tests.digests import CONFIGS, DIGEST_FILE, compare, config_digests

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("name", CONFIGS)
def test_example_config_tables_are_bit_identical(name, tmp_path):
    recorded = json.loads(DIGEST_FILE[False].read_text())[name]
    got = config_digests(name, tmp_path / name, full=False)
    assert compare(recorded, got) == []
