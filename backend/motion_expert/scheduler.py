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
:class:`MultistepSampler` wraps one of diffusers' multistep schedulers (DPM-Solver++ 2M, its SDE variant or
UniPC; ``prediction_type="sample"``) on this very schedule, so it takes the steps diffusers takes.
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


#: The fast samplers: diffusers' multistep schedulers on the model's own schedule with x0-prediction, by name.
#: Each takes one model pass per step (a multistep solver reuses its previous clean predictions), so GFT stays
#: single-pass. "dpmpp-sde" is stochastic like the official DDIM (eta = 1); the others are ODE solvers, whose
#: only randomness is the starting noise. Steps are uniform in log-SNR: over the whole schedule
#: (``use_lu_lambdas``; UniPC's ``use_exponential_sigmas`` is the same spacing, sigma = exp(-lambda)), or from
#: ``sigma_max`` down (:func:`log_snr_timesteps`); the choice for each is measured (docs/motion_expert.md).
FAST_SAMPLERS = {
    "dpmpp-sde": ("DPMSolverMultistepScheduler", dict(algorithm_type="sde-dpmsolver++", sigma_max=700.0)),
    "dpmpp": ("DPMSolverMultistepScheduler", dict(algorithm_type="dpmsolver++", use_lu_lambdas=True)),
    "unipc": ("UniPCMultistepScheduler", dict(predict_x0=True, solver_type="bh2", use_exponential_sigmas=True)),
}


class MultistepSampler:
    """A diffusers multistep scheduler from :data:`FAST_SAMPLERS` (DPM-Solver++ 2M, its SDE variant, UniPC-2).

    The last step lands on sigma = 0, i.e. returns the clean estimate. (With linear time spacing the last
    model pass, at t = 1000/N, leaves visible jitter on a small model: docs/motion_expert.md.) The SDE
    variant draws its fresh noise from the pipeline's CPU generator (``variance_noise``), so a seed gives the
    same dance everywhere. ``scheduler.model_outputs`` holds the solver's history (the x0 predictions it was
    given), which is why the pipeline pins kept cells in x0 before each step (see its ``_denoise``).
    """

    def __init__(self, schedule: DiffusionSchedule, name: str, num_inference_steps: int):
        import diffusers

        class_name, options = FAST_SAMPLERS[name]
        options = dict(solver_order=2, lower_order_final=True, final_sigmas_type="zero") | options
        sigma_max = options.pop("sigma_max", None)
        self.scheduler = getattr(diffusers, class_name)(
            num_train_timesteps=schedule.num_train_timesteps, trained_betas=schedule.betas.numpy(),
            prediction_type="sample", **options,
        )  # fmt: skip
        if sigma_max is None:
            self.scheduler.set_timesteps(num_inference_steps)
        else:
            self.scheduler.set_timesteps(timesteps=log_snr_timesteps(schedule, num_inference_steps, sigma_max))
        self.scheduler.set_begin_index(0)  # steps are taken in order (the spacing may repeat a time id)
        self.timesteps = [int(t) for t in self.scheduler.timesteps]
        self.stochastic = options.get("algorithm_type", "").startswith("sde")

    def step(self, x0: torch.Tensor, x_t: torch.Tensor, index: int, generator: torch.Generator | None) -> torch.Tensor:
        if self.stochastic:
            noise = randn_like(x_t, generator)
            return self.scheduler.step(x0, self.timesteps[index], x_t, variance_noise=noise, return_dict=False)[0]
        return self.scheduler.step(x0, self.timesteps[index], x_t, return_dict=False)[0]


def log_snr_timesteps(schedule: DiffusionSchedule, steps: int, sigma_max: float) -> list[int]:
    """``steps`` distinct time ids, descending to 0, uniform in log-SNR from the noise level ``sigma_max``
    (sigma = sqrt((1 - alpha) / alpha)) down to t = 0.

    The cosine schedule's last ids lie orders of magnitude above any useful noise level (sigma 20,000 at
    t = 999, 640 at t = 998, 320 at t = 997, 80 at t = 991); uniform log-SNR over the whole range spends a few
    of a handful of steps there, where the model sees nothing but noise. The first id is the one nearest
    ``sigma_max`` in log sigma, so nominal levels from ~450 to 1000 all start at t = 998 and differ in the
    spacing below it.
    """
    alphas = schedule.alphas_cumprod.double().numpy()
    log_sigmas = np.log(np.sqrt((1 - alphas) / alphas))  # increasing in t
    top = min(math.log(sigma_max), log_sigmas[-1])
    times = np.interp(np.linspace(top, log_sigmas[0], steps), log_sigmas, np.arange(len(alphas))).round().astype(int)
    for i in range(steps - 2, -1, -1):  # distinct ids (a repeated id would be a step of length zero) ...
        times[i] = max(times[i], times[i + 1] + 1)
    return np.minimum(times, len(alphas) - 1 - np.arange(steps)).tolist()  # ... that exist


def make_sampler(
    choice: SamplerChoice, schedule: DiffusionSchedule, eta: float = 1.0
) -> DDIMSampler | MultistepSampler:
    """The sampler ``choice`` names (``eta`` is DDIM's noise; the fast samplers have their own, see above)."""
    if choice.sampler == "ddim":
        return DDIMSampler(schedule, choice.num_steps, eta)
    return MultistepSampler(schedule, choice.sampler, choice.num_steps)


def randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, drawn on the CPU so a seed gives the same noise everywhere."""
    return torch.randn(x.shape, generator=generator, dtype=torch.float32).to(device=x.device, dtype=x.dtype)
