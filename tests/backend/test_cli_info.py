"""`mace-dance info` reports what the loaders find, and where missing weights belong."""

import json

from backend.cli import main


def run_info(capsys, monkeypatch, home) -> dict:
    monkeypatch.setenv("MACE_DANCE_HOME", str(home))
    for name in ("MACE_DANCE_MOTION_WEIGHTS", "MACE_DANCE_WAN_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    assert main(["info", "--json"]) == 0
    sections = json.loads(capsys.readouterr().out)
    return {item["name"]: item for items in sections.values() for item in items}


def test_info_on_an_empty_home_names_every_missing_location(tmp_path, capsys, monkeypatch):
    items = run_info(capsys, monkeypatch, tmp_path)
    assert items["choreographer"]["ok"] and items["CPU puppet renderer"]["ok"]
    assert not items["Motion Expert"]["ok"]
    assert str(tmp_path / "weights" / "motion") in items["Motion Expert"]["hint"]
    assert not items["Wan2.2-Animate base"]["ok"]
    assert "mace-dance weights download --wan" in items["Wan2.2-Animate base"]["hint"]
    dancer = items["dances with"]["detail"]
    assert dancer.startswith("choreographer: the Motion Expert is not installed")
    assert "mace-dance weights download --motion" in dancer


def test_info_finds_an_official_motion_checkpoint_and_the_mace_files(tmp_path, capsys, monkeypatch):
    (tmp_path / "weights" / "motion").mkdir(parents=True)
    (tmp_path / "weights" / "motion" / "train-3750.pt").write_bytes(b"not loaded by info")
    mace = tmp_path / "weights" / "appearance" / "mace"
    mace.mkdir(parents=True)
    (mace / "Adapter.safetensors").write_bytes(b"")
    items = run_info(capsys, monkeypatch, tmp_path)
    assert items["Motion Expert"]["ok"] and "train-3750.pt" in items["Motion Expert"]["detail"]
    dancer = items["dances with"]["detail"]
    assert dancer.startswith("Motion Expert: installed, so `auto` uses it") and "dpmpp" in dancer
    assert items["MACE Adapter.safetensors"]["ok"] and not items["MACE LoRA.safetensors"]["ok"]


def test_info_text_output(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MACE_DANCE_HOME", str(tmp_path))
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "[ok] choreographer" in out and "[--] Motion Expert" in out


def test_help_lists_every_command(capsys):
    import pytest

    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("serve", "generate", "render", "train", "eval", "eval-video", "info", "keys", "weights"):
        assert command in out


def test_unknown_command_is_a_usage_error(capsys):
    import pytest

    with pytest.raises(SystemExit) as info:
        main(["dance-please"])
    assert info.value.code == 2
