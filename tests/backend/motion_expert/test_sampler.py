"""The fast sampler: DPM-Solver++ takes diffusers' own steps, one pass each, and keeps kept cells exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.motion_expert.scheduler import (FAST_SAMPLERS, DiffusionSchedule, log_snr_timesteps, make_sampler,
                                             randn_like)
from shared.errors import InvalidInputError
from shared.keep import KeepMask
from shared.keep import KeepSpec
from shared.sampling import DEFAULT_STEPS, SAMPLERS, SamplerChoice

from .conftest import dance_motion


def diffusers_reference(sampler: str, steps: int):
    """A fresh diffusers scheduler configured here, independently of ``FAST_SAMPLERS``, for ``sampler``."""
    from diffusers import DPMSolverMultistepScheduler, UniPCMultistepScheduler  # here: its import costs every worker

    common = dict(num_train_timesteps=1000, trained_betas=DiffusionSchedule().betas.numpy(), prediction_type="sample")
    if sampler == "unipc":
        scheduler = UniPCMultistepScheduler(**common, predict_x0=True, use_exponential_sigmas=True)
        scheduler.set_timesteps(steps)
    elif sampler == "dpmpp-sde":  # log-SNR steps from sigma 700 (their spacing is tested below)
        scheduler = DPMSolverMultistepScheduler(**common, algorithm_type="sde-dpmsolver++")
        scheduler.set_timesteps(timesteps=log_snr_timesteps(DiffusionSchedule(), steps, 700.0))
    else:
        scheduler = DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", use_lu_lambdas=True)
        scheduler.set_timesteps(steps)
    scheduler.set_begin_index(0)
    return scheduler


def test_every_sampler_name_but_ddim_is_a_fast_sampler():
    assert set(FAST_SAMPLERS) == set(SAMPLERS) - {"ddim"}


@pytest.mark.parametrize("sampler", list(FAST_SAMPLERS))
@pytest.mark.parametrize("steps", [1, 2, 7])
def test_fast_samplers_reproduce_diffusers_scheduler_step_for_step(tiny_pipeline, music, sampler, steps):
    """The pipeline's loop (GFT memory cached, clipping, our schedule) against a loop written here with a fresh
    diffusers scheduler calling the model directly: the same sample after every step (the SDE variant with
    the same noise drawn from the same seed)."""
    trajectory = []
    tiny_pipeline(music[:40], genre=3, seed=5, sampler=sampler, num_inference_steps=steps,
                  step_callback=lambda step, t, x0, x: trajectory.append((t, x.clone())))  # fmt: skip

    model, reference = tiny_pipeline.model, diffusers_reference(sampler, steps)
    generator = torch.Generator().manual_seed(5)
    x = randn_like(torch.zeros(1, 40, 151), generator)
    music_t, genre = torch.from_numpy(music[:40]).unsqueeze(0), torch.tensor([3])
    beta = torch.full((1,), tiny_pipeline.config.gft_beta)
    assert [t for t, _ in trajectory] == [int(t) for t in reference.timesteps]
    with torch.no_grad():
        for (t, ours), timestep in zip(trajectory, reference.timesteps):
            x0 = model(x, music_t, genre, torch.full((1,), int(timestep)), beta).clamp(-1, 1)
            noise = {"variance_noise": randn_like(x, generator)} if sampler == "dpmpp-sde" else {}
            x = reference.step(x0, timestep, x, **noise).prev_sample
            torch.testing.assert_close(ours, x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("steps", [1, 2, 8, 50, 1000])
def test_log_snr_timesteps_start_at_sigma_max_and_step_evenly_in_log_snr(steps):
    schedule = DiffusionSchedule()
    times = log_snr_timesteps(schedule, steps, 300.0)
    assert len(times) == steps and (times[-1] == 0 or steps == 1)
    assert all(a > b for a, b in zip(times, times[1:])) and 0 <= min(times) and max(times) <= 999
    alphas = schedule.alphas_cumprod.double()
    log_sigmas = (((1 - alphas) / alphas).sqrt()).log()[times]
    if steps <= 20:  # the whole time id nearest sigma 300 (sigma 321); more steps crowd the ids above it
        assert times[0] == 997 and abs(log_sigmas[0].exp() - 300.0) < 25
    if 2 < steps <= 20:  # rounding to whole time ids aside, equal steps in log sigma
        gaps = -log_sigmas.diff()
        assert gaps.min() > 0 and gaps[1:-1].max() / gaps[1:-1].min() < 1.6


def test_the_sde_variant_draws_its_noise_from_the_seed_alone(tiny_pipeline, music):
    """The SDE variant's fresh noise at every step comes from the request's seed, not torch's global RNG."""
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        runs.append(tiny_pipeline(music[:30], seed=4, sampler="dpmpp-sde", num_inference_steps=4).poses)
    other = tiny_pipeline(music[:30], seed=5, sampler="dpmpp-sde", num_inference_steps=4).poses
    assert np.array_equal(runs[0], runs[1]) and not np.allclose(runs[0], other)


def test_one_network_pass_per_step_with_either_sampler(tiny_pipeline, music):
    for sampler, steps in (("dpmpp", 6), ("dpmpp-sde", 5), ("unipc", 5), ("ddim", 4)):
        calls = []
        handle = tiny_pipeline.model.register_forward_hook(lambda module, args, out: calls.append(out.shape[0]))
        try:
            tiny_pipeline(music[:30], sampler=sampler, num_inference_steps=steps)
        finally:
            handle.remove()
        assert calls == [1] * steps, sampler


@pytest.mark.parametrize("sampler", ["dpmpp", "dpmpp-sde", "unipc", "ddim"])
def test_kept_cells_are_exact_and_never_corrupt_the_solver_history(tiny_pipeline, music, sampler):
    """Kept cells: the clean estimate handed to the solver is the kept value at every step (so DPM-Solver's
    history holds no pasted-over predictions), x_t's kept cells stay on the kept values' forward process,
    and the result keeps them exactly."""
    edited = dance_motion(40, seed=2)
    frames = np.zeros(40, dtype=bool)
    frames[10:25] = True  # regenerate these frames, keep the rest
    keep = KeepSpec(edited, KeepMask.regenerate(40, frames=frames))
    kept = torch.from_numpy(np.repeat(~frames[:, None], 151, axis=1))
    kept[:, :4] = False  # contacts are derived, never pinned
    values = tiny_pipeline._keep_constraint(keep, 40)[0]
    steps = []
    motion = tiny_pipeline(music[:40], seed=1, keep=keep, sampler=sampler, num_inference_steps=5,
                           step_callback=lambda step, t, x0, x: steps.append((x0[0].clone(), x[0].clone())))  # fmt: skip
    sampler_obj = make_sampler(SamplerChoice(sampler, 5), tiny_pipeline.schedule)
    for index, (x0, x) in enumerate(steps):
        assert torch.equal(x0[kept], values[kept])  # what the solver remembers
    if sampler in ("dpmpp", "unipc"):  # ODE solvers: x_t's kept cells = the kept values + the start's noise, rescaled
        sigmas = sampler_obj.scheduler.sigmas.double()  # the level after step i is sigmas[i + 1]
        alpha, sigma = 1 / (sigmas**2 + 1).sqrt(), sigmas / (sigmas**2 + 1).sqrt()
        noise = [x[kept].double() - alpha[i + 1] * values[kept].double() for i, (_, x) in enumerate(steps[:-1])]
        for i in range(1, len(noise)):
            torch.testing.assert_close(noise[i], noise[0] * sigma[i + 1] / sigma[1], rtol=1e-3, atol=1e-4)
    assert torch.equal(steps[-1][1][kept], values[kept])  # the last step lands on the kept values
    assert np.array_equal(motion.poses[~frames], edited.poses[~frames])
    assert np.array_equal(motion.trans[~frames], edited.trans[~frames])
    assert not np.allclose(motion.poses[frames], edited.poses[frames])


def test_dpmpp_sde_is_the_default_and_ddim_stays_the_official_sampler(tiny_pipeline, music):
    fast = tiny_pipeline(music[:20], seed=3)
    assert fast.metadata["sampler"] == "dpmpp-sde"
    assert fast.metadata["num_inference_steps"] == 6 == DEFAULT_STEPS["dpmpp-sde"]
    official = tiny_pipeline(music[:20], seed=3, sampler="ddim")
    assert official.metadata["num_inference_steps"] == 50
    with pytest.raises(InvalidInputError, match="sampler"):
        tiny_pipeline(music[:20], sampler="euler")


def test_sampler_choice_on_the_wire():
    choice = SamplerChoice("ddim", 12)
    assert SamplerChoice.from_wire(choice.to_wire()) == choice
    assert SamplerChoice.from_wire({}) == SamplerChoice()
    for bad in ({"sampler": "euler"}, {"steps": 0}, {"steps": 1.5}, {"steps": True}, {"sampler": 3}, {"other": 1}, []):
        with pytest.raises(InvalidInputError):
            SamplerChoice.from_wire(bad)
