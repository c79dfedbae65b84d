"""Mutated files of every kind the product reads (music, photos, mocap, archives) load or fail cleanly, in a
process of their own under an address-space limit (``tests/file_fuzz.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_PEAK_RSS_MIB = 1500


@pytest.mark.slow  # 270 decodes and loads in a fresh interpreter: about 8 s on 2 shared cores
def test_mutated_files_load_or_fail_cleanly_within_memory(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, str(REPO / "tests" / "file_fuzz.py"), str(tmp_path), "30"], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]  # a crash (negative code) or an unexpected exception
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["loaded"] + outcome["refused"] == 30 * 9
    assert outcome["refused"] > 0 and outcome["loaded"] > 0
    assert outcome["peak_rss_mib"] < MAX_PEAK_RSS_MIB, outcome
