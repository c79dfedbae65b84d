"""AIST++ and FineDance as published: prepared into training folders with the official splits, then
trained on for a step (one of them with bf16 autocast, on the CPU)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import soundfile
import torch

from backend.cli import main
from backend.motion_expert.datasets import prepare, read_finedance_motion
from backend.motion_expert.training import tiny_options, train
from shared.errors import InvalidInputError
from shared.motion_io import load_motion
from shared.rotations import axis_angle_to_rotation_6d
from tests.audio_files import click_music

from .conftest import dance_motion

RATE = 22050


def _music(path, seconds: float = 3.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, click_music(seconds, RATE).T, RATE)


def aistpp_layout(raw, train=("gBR_sBM_cAll_d04_mBR0_ch01", "gJS_sBM_cAll_d01_mJS1_ch02"),
                  test=("gBR_sBM_cAll_d05_mBR0_ch03",), ignored=("gJS_sBM_cAll_d01_mJS1_ch02",)):
    """motions/*.pkl at 60 fps with AIST++'s scaling, wavs/<music id>.wav, splits/*.txt."""
    (raw / "motions").mkdir(parents=True)
    for seed, name in enumerate(train + test):
        motion = dance_motion(180, fps=60.0, seed=seed)
        with open(raw / "motions" / f"{name}.pkl", "wb") as handle:  # as AIST++ ships them
            pickle.dump({"smpl_poses": motion.poses.reshape(-1, 72).astype(np.float64),
                         "smpl_trans": motion.trans.astype(np.float64) * 95.0, "smpl_scaling": np.array([95.0])}, handle)
    for music in {name.split("_")[4] for name in train + test}:
        _music(raw / "wavs" / f"{music}.wav")
    (raw / "splits").mkdir()
    (raw / "splits" / "crossmodal_train.txt").write_text("\n".join(train) + "\n")
    (raw / "splits" / "crossmodal_test.txt").write_text("\n".join(test) + "\n")
    (raw / "splits" / "ignore_list.txt").write_text("\n".join(ignored) + "\n")


def finedance_layout(raw, takes=("001", "002", "063", "116")):
    """motion/<id>.npy (T, 315), music_wav/<id>.wav, label_json/<id>.json."""
    for seed, take in enumerate(takes):
        motion = dance_motion(90, seed=seed)
        hands = np.zeros((90, 30, 3))
        rotations = axis_angle_to_rotation_6d(np.concatenate([motion.poses[:, :22], hands], axis=1)).reshape(90, -1)
        (raw / "motion").mkdir(parents=True, exist_ok=True)
        np.save(raw / "motion" / f"{take}.npy", np.concatenate([motion.trans, rotations], axis=1))
        _music(raw / "music_wav" / f"{take}.wav")
        (raw / "label_json").mkdir(exist_ok=True)
        (raw / "label_json" / f"{take}.json").write_text(json.dumps({"style1": "Modern", "style2": "Popping"}))


@pytest.mark.slow  # music analysis of the prepared takes and a tiny training step (about 10 s on 2 cores)
def test_aistpp_as_published_is_prepared_with_its_splits_and_trained_on(tmp_path, capsys):
    aistpp_layout(tmp_path / "aist")
    assert main(["prepare-data", "aistpp", str(tmp_path / "aist"), str(tmp_path / "data")]) == 0
    assert "1 train takes" in capsys.readouterr().out
    train_dir, test_dir = tmp_path / "data" / "train", tmp_path / "data" / "test"
    assert sorted(p.name for p in train_dir.iterdir()) == [
        "gBR_sBM_cAll_d04_mBR0_ch01.npz", "gBR_sBM_cAll_d04_mBR0_ch01.wav", "genres.json"]  # the ignored take is out
    assert sorted(p.name for p in test_dir.glob("*.npz")) == ["gBR_sBM_cAll_d05_mBR0_ch03.npz"]
    motion = load_motion(train_dir / "gBR_sBM_cAll_d04_mBR0_ch01.npz")
    source = dance_motion(180, fps=60.0, seed=0)
    assert motion.fps == 30.0 and motion.num_frames == 90
    assert np.allclose(motion.trans[10], source.trans[20], atol=1e-5)  # 60 -> 30 fps, AIST++'s scale undone
    assert json.loads((train_dir / "genres.json").read_text()) == {"gBR_sBM_cAll_d04_mBR0_ch01": "Breaking"}
    run = train(tiny_options(train_dir, tmp_path / "run", steps=1, batch_size=2, save_every=1))
    assert (run / "model.safetensors").is_file()


@pytest.mark.slow  # music analysis of the prepared takes and a tiny bf16 training step (about 10 s on 2 cores)
def test_finedance_as_published_is_prepared_with_its_splits_and_trained_on_in_bf16(tmp_path, monkeypatch):
    from backend.motion_expert import training

    autocast = []
    loss = training.training_loss
    monkeypatch.setattr(training, "training_loss", lambda *a, **k: (
        autocast.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"))), loss(*a, **k))[1])
    finedance_layout(tmp_path / "fd")
    counts = prepare("finedance", tmp_path / "fd", tmp_path / "data")
    assert counts == {"train": 2, "test": 1}  # 063 is a test song, 116 is ignored
    assert sorted(p.stem for p in (tmp_path / "data" / "test").glob("*.npz")) == ["063"]
    motion = read_finedance_motion(tmp_path / "fd" / "motion" / "001.npy")
    source = dance_motion(90, seed=0)
    assert np.allclose(motion.poses[:, :22], source.poses[:, :22], atol=1e-5)
    assert np.allclose(motion.trans, source.trans) and np.all(motion.poses[:, 22:] == 0)
    run = train(tiny_options(tmp_path / "data" / "train", tmp_path / "run", steps=1, batch_size=2, save_every=1,
                             mixed_precision="bf16"))  # CPU autocast: what a GPU does in bf16
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "losses.jsonl").read_text().splitlines()]
    assert len(losses) == 1 and np.isfinite(losses[0])
    assert autocast == [(True, torch.bfloat16)]
    assert (run / "model.safetensors").is_file()


def test_a_dataset_folder_missing_its_pieces_is_named(tmp_path):
    (tmp_path / "aist" / "motions").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match="crossmodal_train.txt"):
        prepare("aistpp", tmp_path / "aist", tmp_path / "out")
    finedance_layout(tmp_path / "fd", takes=("001",))
    (tmp_path / "fd" / "music_wav" / "001.wav").unlink()
    with pytest.raises(InvalidInputError, match="missing"):
        prepare("finedance", tmp_path / "fd", tmp_path / "out")
    np.save(tmp_path / "bad.npy", np.zeros((4, 151)))
    with pytest.raises(InvalidInputError, match="315"):
        read_finedance_motion(tmp_path / "bad.npy")
