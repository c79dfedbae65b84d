"""Diffusion schedule and samplers of the Motion Expert (no weights; EDGE's maths).

The model predicts the clean sample x0 directly (``predict_epsilon=False`` in EDGE). The schedule is
EDGE's cosine schedule (Nichol & Dhariwal, s = 0.008, betas clipped at 0.999) over 1000 steps, computed
in float64 and then used in float32 exactly as EDGE does, so sampling matches the official code.

Notation (variable -> DDIM paper, Song et al. 2021, eq. 12)::

    alpha, alpha_next   -> alpha_t, alpha_{t-1}   (cumulative products, "alphas_cumprod")
    x0                  -> f_theta(x_t): the model's clean prediction, clipped to [-1, 1]
    eps                 -> epsilon implied by x_t and x0
    sigma               -> eta * sqrt((1 - alpha_t / alpha_{t-1}) (1 - alpha_{t-1}) / (1 - alpha_t))

Samplers (:func:`make_sampler`, names from ``shared.sampling.SAMPLERS``) share one seam: ``timesteps`` (the
model's time ids, one network pass each) and ``step(x0, x_t, index, generator)`` (the next sample from the
clean prediction at ``timesteps[index]``). :class:`DDIMSampler` is the official sampler;
:class:`DPMSolverSampler` wraps diffusers' ``DPMSolverMultistepScheduler`` (DPM-Solver++ 2M,
``prediction_type="sample"``) on this very schedule, so it takes the steps diffusers takes.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from shared.sampling import SamplerChoice


def cosine_betas(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """(num_steps,) float64 betas of the cosine schedule."""
    steps = np.arange(num_steps + 1, dtype=np.float64) / num_steps + s
    alphas_cumprod = np.cos(steps / (1 + s) * math.pi / 2) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    return np.clip(1 - alphas_cumprod[1:] / alphas_cumprod[:-1], 0.0, max_beta)


class DiffusionSchedule:
    """Forward noising and DDIM reverse steps for an x0-predicting model.

    Args:
        num_train_timesteps: length of the training schedule (1000).
    """

    def __init__(self, num_train_timesteps: int = 1000):
        self.num_train_timesteps = int(num_train_timesteps)
        self.betas = torch.tensor(cosine_betas(self.num_train_timesteps), dtype=torch.float32)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)  # (num_train_timesteps,) float32

    def timestep_pairs(self, num_inference_steps: int) -> list[tuple[int, int]]:
        """DDIM's (t, t_next) pairs from T-1 down to (0, -1): EDGE's ``linspace(-1, T-1, n+1)`` cast to int."""
        if not 1 <= num_inference_steps <= self.num_train_timesteps:
            raise ValueError(
                f"`num_inference_steps` must be in [1, {self.num_train_timesteps}], got {num_inference_steps}"
            )
        times = torch.linspace(-1, self.num_train_timesteps - 1, steps=num_inference_steps + 1).int().tolist()
        times = times[::-1]
        return list(zip(times[:-1], times[1:]))

    def _alpha(self, timesteps: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        """alphas_cumprod at ``timesteps`` ((B,) or int), shaped to broadcast against ``like`` (B, ...)."""
        alphas = self.alphas_cumprod.to(like.device)
        if isinstance(timesteps, int):
            return alphas[timesteps]
        return alphas[timesteps.to(like.device)].view(-1, *([1] * (like.dim() - 1)))

    def add_noise(self, x0: torch.Tensor, timesteps: torch.Tensor | int, noise: torch.Tensor) -> torch.Tensor:
        """q(x_t | x0): ``sqrt(alpha) x0 + sqrt(1 - alpha) noise``; timesteps (B,) long or one int."""
        alpha = self._alpha(timesteps, x0)
        return alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise

    def noise_from_x0(self, x_t: torch.Tensor, x0: torch.Tensor, t: int) -> torch.Tensor:
        """The epsilon that x_t and x0 imply at step t."""
        alpha = self._alpha(t, x_t)
        return ((1.0 / alpha).sqrt() * x_t - x0) / (1.0 / alpha - 1).sqrt()

    def ddim_step(
        self,
        x0: torch.Tensor,
        x_t: torch.Tensor,
        t: int,
        t_next: int,
        eta: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One DDIM step from t to t_next (< 0 means "done": returns x0).

        Args:
            x0: (B, T, F) clean prediction at step t (already clipped by the caller if wanted).
            x_t: (B, T, F) current sample.
            eta: 0 = deterministic DDIM, 1 = EDGE/MACE's setting (DDPM-like variance).
            generator: CPU generator for the fresh noise (reproducible on any device).
        """
        if t_next < 0:
            return x0
        alpha, alpha_next = self._alpha(t, x_t), self._alpha(t_next, x_t)
        eps = self.noise_from_x0(x_t, x0, t)
        sigma = eta * ((1 - alpha / alpha_next) * (1 - alpha_next) / (1 - alpha)).sqrt()
        direction = (1 - alpha_next - sigma**2).clamp(min=0).sqrt()
        noise = randn_like(x_t, generator)
        return x0 * alpha_next.sqrt() + direction * eps + sigma * noise


class DDIMSampler:
    """The official sampler: EDGE's DDIM with ``eta`` over :meth:`DiffusionSchedule.timestep_pairs`."""

    def __init__(self, schedule: DiffusionSchedule, num_inference_steps: int, eta: float):
        self.schedule, self.eta = schedule, float(eta)
        self.pairs = schedule.timestep_pairs(num_inference_steps)
        self.timesteps = [t for t, _ in self.pairs]

    def step(self, x0: torch.Tensor, x_t: torch.Tensor, index: int, generator: torch.Generator | None) -> torch.Tensor:
        t, t_next = self.pairs[index]
        return self.schedule.ddim_step(x0, x_t, t, t_next, self.eta, generator)


class DPMSolverSampler:
    """DPM-Solver++ (2M) through diffusers' ``DPMSolverMultistepScheduler`` on the cosine schedule.

    One model pass per step (a multistep solver reuses the previous clean predictions); the steps are
    uniform in log-SNR (``use_lu_lambdas``, the spacing the DPM-Solver paper recommends), so the last model
    pass sees little noise — with linear time spacing the last pass at t = 1000/N leaves visible jitter on a
    small model (docs/motion_expert.md); the last step lands on sigma = 0, i.e. returns the clean estimate. Deterministic: the seed acts through the
    starting noise only. ``scheduler.model_outputs`` holds the solver's history (the x0 predictions it was
    given), which is why the pipeline pins kept cells in x0 before each step (see its ``_denoise``).
    """

    def __init__(self, schedule: DiffusionSchedule, num_inference_steps: int):
        from diffusers import DPMSolverMultistepScheduler

        self.scheduler = DPMSolverMultistepScheduler(
            num_train_timesteps=schedule.num_train_timesteps, trained_betas=schedule.betas.numpy(),
            prediction_type="sample", algorithm_type="dpmsolver++", solver_order=2, lower_order_final=True,
            final_sigmas_type="zero", use_lu_lambdas=True,
        )  # fmt: skip
        self.scheduler.set_timesteps(num_inference_steps)
        self.scheduler.set_begin_index(0)  # steps are taken in order (the spacing may repeat a time id)
        self.timesteps = [int(t) for t in self.scheduler.timesteps]

    def step(self, x0: torch.Tensor, x_t: torch.Tensor, index: int, generator: torch.Generator | None) -> torch.Tensor:
        return self.scheduler.step(x0, self.timesteps[index], x_t, return_dict=False)[0]


def make_sampler(choice: SamplerChoice, schedule: DiffusionSchedule, eta: float = 1.0) -> DDIMSampler | DPMSolverSampler:
    """The sampler ``choice`` names (``eta`` is DDIM's noise; DPM-Solver++ is deterministic)."""
    if choice.sampler == "ddim":
        return DDIMSampler(schedule, choice.num_steps, eta)
    return DPMSolverSampler(schedule, choice.num_steps)


def randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, drawn on the CPU so a seed gives the same noise everywhere."""
    return torch.randn(x.shape, generator=generator, dtype=torch.float32).to(device=x.device, dtype=x.dtype)
