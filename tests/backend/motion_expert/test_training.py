"""GFT training: the step's maths, loss going down on a tiny overfit set, the train loop with resume."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from backend.motion_expert.losses import LOSS_WEIGHTS, edge_losses
from backend.motion_expert.pipeline import MotionExpertPipeline
from backend.motion_expert.representation import motion_to_features
from backend.motion_expert.scheduler import DiffusionSchedule
from backend.motion_expert.training import (_update_ema, find_clips, gft_prediction, learning_rate_at, tiny_options,
                                               train, training_loss)
from shared.errors import InvalidInputError, JobCancelledError

from backend.progress import JobContext

from .conftest import dance_motion, write_dance_dataset


def _batch(normalizer, music, frames=48):
    motion = torch.stack([normalizer.normalize(torch.from_numpy(motion_to_features(dance_motion(frames, seed=s))))
                          for s in range(2)])  # fmt: skip
    return motion, torch.from_numpy(music[:frames]).expand(2, -1, -1).clone(), torch.tensor([3, 5])


def test_gft_prediction_mixes_conditional_and_detached_unconditional(tiny_model, normalizer, music):
    motion, music_t, genre = _batch(normalizer, music)
    t = torch.tensor([10, 500])
    prediction = gft_prediction(tiny_model, motion, music_t, genre, t, generator=torch.Generator().manual_seed(1))
    beta = torch.rand(2, generator=torch.Generator().manual_seed(1))
    cond = tiny_model(motion, music_t, genre, t, beta)
    uncond = tiny_model(motion, music_t, genre, t, beta, keep_music=torch.zeros(2))
    expected = beta.view(2, 1, 1) * cond + (1 - beta.view(2, 1, 1)) * uncond
    assert torch.allclose(prediction, expected, atol=1e-6)
    assert not torch.allclose(cond, uncond)  # the music matters
    # only the conditional pass carries gradient: d prediction / d null_cond_embed = beta * d cond / d null
    prediction.sum().backward()
    grad_mix = tiny_model.null_cond_embed.grad.clone()
    tiny_model.zero_grad()
    (beta.view(2, 1, 1) * tiny_model(motion, music_t, genre, t, beta)).sum().backward()
    assert torch.allclose(grad_mix, tiny_model.null_cond_embed.grad, atol=1e-5)


def test_edge_losses_weights_and_quirk(normalizer, music):
    motion, _, _ = _batch(normalizer, music)
    total, terms = edge_losses(motion, motion)
    assert set(terms) == set(LOSS_WEIGHTS)
    assert terms["simple"].item() == terms["velocity"].item() == terms["fk"].item() == 0.0
    # the foot term penalises predicted foot motion on predicted contacts; with EDGE's quirk (FK on
    # normalised values) data contacts do not imply still feet, so it is not zero even for a perfect match
    assert terms["foot"].item() > 0.0
    noisy = motion + 0.1 * torch.randn_like(motion)
    total, terms = edge_losses(noisy, motion)
    assert torch.isclose(total, sum(terms.values()))
    metric_total, metric_terms = edge_losses(noisy, motion, normalizer=normalizer, fk_on_normalized=False)
    assert torch.equal(metric_terms["simple"], terms["simple"])
    assert not torch.isclose(metric_terms["fk"], terms["fk"])  # FK on un-normalised values differs
    with pytest.raises(ValueError, match="normalizer"):
        edge_losses(noisy, motion, fk_on_normalized=False)


# 40 optimiser steps each (~3 s): the default GFT runs in the fast tier, the paper-faithful variant (its music
# dropping is checked step by step above) in the whole suite.
@pytest.mark.parametrize("faithful", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_gft_training_lowers_the_loss_on_a_tiny_overfit_set(tiny_model, normalizer, music, faithful):
    torch.manual_seed(0)
    motion, music_t, genre = _batch(normalizer, music)
    schedule = DiffusionSchedule()

    def loss(seed):
        return training_loss(tiny_model, schedule, motion, music_t, genre, normalizer, faithful=faithful,
                             generator=torch.Generator().manual_seed(seed))[0]  # fmt: skip

    tiny_model.train()
    with torch.no_grad():
        before = float(np.mean([loss(s).item() for s in range(8)]))
    optimizer = torch.optim.AdamW(tiny_model.parameters(), lr=3e-3, weight_decay=0.02)
    for step in range(40):
        optimizer.zero_grad()
        loss(100 + step).backward()
        optimizer.step()
    with torch.no_grad():
        after = float(np.mean([loss(s).item() for s in range(8)]))
    assert after < 0.7 * before, (before, after)


def test_find_clips_reads_motion_features_and_genres(tmp_path, music):
    write_dance_dataset(tmp_path, music)
    clips = find_clips(tmp_path)
    assert [c.name for c in clips] == ["gJZ_take0", "gJZ_take1"]
    assert [c.genre for c in clips] == [12, 5]
    assert clips[0].motion.shape == (120, 151) and clips[0].music.shape == (120, 35)
    with pytest.raises(InvalidInputError, match="no motion files"):
        find_clips(tmp_path / "baseline_feats")


def test_train_writes_checkpoints_resumes_and_exports(tmp_path, music):
    write_dance_dataset(tmp_path / "data", music)
    messages = []
    options = tiny_options(tmp_path / "data", tmp_path / "run", steps=6, save_every=3, batch_size=4)
    exported = train(options, JobContext(report=lambda f, m: messages.append((f, m))))
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step-0000003.pt", "step-0000006.pt"]
    assert any("step 6/6" in m for _, m in messages)

    resumed = []
    longer = tiny_options(tmp_path / "data", tmp_path / "run", steps=9, save_every=3, batch_size=4, lr_decay_from=6)
    train(longer, JobContext(report=lambda f, m: resumed.append(m)))
    assert any("step 7/9" in m for m in resumed) and not any("step 1/9" in m for m in resumed)
    # the resumed steps decay the learning rate (the optimiser state saved at step 6 held the constant one)
    saved = torch.load(tmp_path / "run" / "checkpoints" / "step-0000009.pt", weights_only=True)
    assert saved["optimizer_state_dict"]["param_groups"][0]["lr"] == pytest.approx(learning_rate_at(longer, 8))
    assert learning_rate_at(longer, 8) < longer.learning_rate

    pipeline = MotionExpertPipeline.from_pretrained(exported)
    motion = pipeline(music[:40], genre="Jazz", num_inference_steps=2)
    assert motion.num_frames == 40 and np.isfinite(motion.poses).all()


def test_learning_rate_holds_then_falls_along_a_half_cosine(tmp_path):
    options = tiny_options(tmp_path, tmp_path, steps=10, learning_rate=1e-3, lr_decay_from=4)
    rates = [learning_rate_at(options, step) for step in range(11)]
    assert rates[:5] == [1e-3] * 5
    assert all(earlier > later for earlier, later in zip(rates[4:], rates[5:]))
    assert rates[7] == pytest.approx(0.5e-3) and rates[10] == pytest.approx(0.0, abs=1e-12)
    constant = tiny_options(tmp_path, tmp_path, steps=10, learning_rate=1e-3)
    assert {learning_rate_at(constant, step) for step in range(11)} == {1e-3}


def test_the_ema_update_records_no_graph(tiny_model):
    """The moving average is updated outside autograd (else every step would chain onto the last one's graph)."""
    ema = copy.deepcopy(tiny_model).requires_grad_(False)
    tiny_model.requires_grad_(True)
    _update_ema(ema, tiny_model, 0.9)
    assert not any(p.requires_grad or p.grad_fn is not None for p in ema.parameters())


def test_training_can_be_cancelled(tmp_path, music):
    write_dance_dataset(tmp_path / "data", music)
    with pytest.raises(JobCancelledError):
        train(tiny_options(tmp_path / "data", tmp_path / "run"), JobContext(is_cancelled=lambda: True))


def test_train_command_line(tmp_path, music, capsys):
    from backend.cli import main

    write_dance_dataset(tmp_path / "data", music)
    code = main(["train", str(tmp_path / "data"), "-o", str(tmp_path / "run"), "--size", "tiny", "--steps", "2",
                 "--batch-size", "2", "--device", "cpu"])  # fmt: skip
    assert code == 0
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    assert "MACE_DANCE_MOTION_WEIGHTS" in capsys.readouterr().out
    assert main(["train", str(tmp_path / "missing"), "-o", str(tmp_path / "run2"), "--size", "tiny"]) == 3
