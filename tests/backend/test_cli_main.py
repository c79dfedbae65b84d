"""`mace-dance` turns every failure into an error line: ours with their fix and exit code, anything else (a
bug) with where to report it and the traceback saved for the report, never a bare traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import backend.cli.info
from backend.cli import main
from shared.errors import ISSUES_URL, InvalidInputError

REPO = Path(__file__).resolve().parents[2]


def failing_command(monkeypatch, exc: BaseException) -> None:
    def run(args):
        raise exc

    monkeypatch.setattr(backend.cli.info, "run", run)


def test_an_unexpected_exception_is_one_error_line_with_where_to_report_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    failing_command(monkeypatch, ZeroDivisionError("division by zero"))
    assert main(["info"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: unexpected ZeroDivisionError: division by zero"
    assert len(err) == 2 and err[1].startswith("  fix: this is a bug in MACE-Dance Studio") and ISSUES_URL in err[1]
    saved = Path(re.search(r"saved in (\S+)$", err[1]).group(1))
    assert saved.parent == tmp_path
    report = saved.read_text(encoding="utf-8")
    assert report.startswith("Traceback") and "ZeroDivisionError: division by zero" in report
    assert "raise exc" in report  # the real traceback, down to the line that raised


def test_our_errors_keep_their_fix_and_exit_code(monkeypatch, capsys):
    failing_command(monkeypatch, InvalidInputError("`x` is wrong", "pass a better x"))
    assert main(["info"]) == 3
    assert capsys.readouterr().err == "error: `x` is wrong\n  fix: pass a better x\n"


def test_interrupt_exits_130(monkeypatch, capsys):
    failing_command(monkeypatch, KeyboardInterrupt())
    assert main(["info"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_an_explicit_exit_is_not_a_bug(monkeypatch):
    failing_command(monkeypatch, SystemExit(5))
    with pytest.raises(SystemExit):
        main(["info"])


def test_the_real_command_line_prints_no_traceback(tmp_path):
    """In a real process, a command that hits a bug ends in our error line, not a Python traceback."""
    code = ("import backend.cli.info as info, sys\n"
            "info.run = lambda args: {}['missing']\n"
            "from backend.cli import main\n"
            "sys.exit(main(['info']))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    assert done.stderr.startswith("error: unexpected KeyError: 'missing'\n") and "Traceback" not in done.stderr
