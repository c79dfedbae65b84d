"""Mamba-1 in plain PyTorch, with mamba_ssm's parameter names and shapes.

MACE-Dance builds its bidirectional blocks from ``mamba_ssm.Mamba(d_model, d_state=16, d_conv=4,
expand=2)``, which needs CUDA. :class:`MambaBlock` is the same layer written with ordinary torch ops, so one
state dict serves both (``in_proj``, ``conv1d``, ``x_proj``, ``dt_proj``, ``A_log``, ``D``, ``out_proj``).
:func:`make_mamba` returns the CUDA kernel when ``mamba_ssm`` imports and CUDA is present, else this one.

The selective scan is the recurrence, per channel d and state n::

    h[t] = exp(delta[t] * A) * h[t-1] + delta[t] * B[t] * u[t]        y[t] = <C[t], h[t]> + D * u[t]

:func:`selective_scan_sequential` runs it step by step (the reference). :func:`selective_scan_chunked`
gets the same numbers with about ``2 * sqrt(L)`` Python steps instead of ``L``: the sequence is cut into
chunks of ``K`` frames; all chunks are scanned side by side from a zero state (``K`` steps); the state
entering each chunk is then carried across chunks (``L / K`` steps); and every frame adds the carried state
times its decay since the chunk start. Because ``A`` does not change over time, that decay is
``exp(cumsum(delta) * A)``, which lies in [0, 1], so the scan stays stable for any step size.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)

ScanFn = Callable[..., torch.Tensor]


def selective_scan_sequential(
    u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor
) -> torch.Tensor:
    """Reference selective scan: a plain loop over the L frames.

    Args:
        u: (batch, L, d) input after the causal convolution.
        delta: (batch, L, d) positive step sizes (after softplus).
        A: (d, n) negative state matrix diagonal (``-exp(A_log)``).
        B, C: (batch, L, n) input and output projections of the state.
        D: (d,) skip weight.
    Returns:
        (batch, L, d) output ``y`` in float32.
    """
    u, delta, B, C = u.float(), delta.float(), B.float(), C.float()
    decay = torch.exp(delta.unsqueeze(-1) * A)  # (batch, L, d, n)
    drive = (delta * u).unsqueeze(-1) * B.unsqueeze(2)  # (batch, L, d, n)
    state = u.new_zeros(u.shape[0], u.shape[2], A.shape[1])
    outputs = []
    for t in range(u.shape[1]):
        state = decay[:, t] * state + drive[:, t]
        outputs.append(torch.einsum("bdn,bn->bd", state, C[:, t]))
    return torch.stack(outputs, dim=1) + u * D


def selective_scan_chunked(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """The selective scan in chunks: same arguments and result as :func:`selective_scan_sequential`.

    ``chunk_size`` defaults to ``ceil(sqrt(L))``, which minimises the number of Python steps. Without
    autograd (sampling) the work happens in place in reused buffers; with autograd it is out of place.
    """
    u, delta, B, C = u.float(), delta.float(), B.float(), C.float()
    batch, length, channels = u.shape
    size = chunk_size or max(1, math.isqrt(max(length - 1, 0)) + 1)
    chunks = -(-length // size)
    pad = chunks * size - length
    if pad:  # padded frames have delta = 0: no decay, no input; they are cut off at the end
        u, delta, B, C = (F.pad(x, (0, 0, 0, pad)) for x in (u, delta, B, C))
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (u, delta, A, B, C))
    scan = _chunk_scan_autograd if needs_grad else _chunk_scan_in_place
    y = scan(u, delta, A, B, C, size)  # (batch, chunks * K, d)
    return y[:, :length] + u[:, :length] * D


def _chunk_scan_autograd(u, delta, A, B, C, size: int) -> torch.Tensor:
    """Out-of-place (differentiable) chunked scan of padded inputs; returns (b, L, d) without the D term."""
    batch, length, channels = u.shape
    chunks = length // size
    delta = delta.view(batch, chunks, size, channels, 1)
    decay = torch.exp(delta * A)  # (b, c, K, d, n)
    drive = delta * u.view(batch, chunks, size, channels, 1) * B.view(batch, chunks, size, 1, -1)
    # 1. Scan every chunk from a zero state, all chunks at once.
    state, local = torch.zeros_like(drive[:, :, 0]), []
    for k in range(size):
        state = decay[:, :, k] * state + drive[:, :, k]
        local.append(state)
    local_states = torch.stack(local, dim=2)
    # 2. Carry the state across chunk borders; decay_since_start[k] = prod of decay[0..k] in the chunk.
    decay_since_start = torch.exp(torch.cumsum(delta, dim=2) * A)
    carried = [torch.zeros_like(state[:, 0])]
    for c in range(chunks - 1):
        carried.append(decay_since_start[:, c, -1] * carried[-1] + local_states[:, c, -1])
    # 3. Full state = local state + decayed entering state; read it out through C.
    states = local_states + decay_since_start * torch.stack(carried, dim=1).unsqueeze(2)
    return torch.einsum("bckdn,bckn->bckd", states, C.view(batch, chunks, size, -1)).reshape(batch, length, channels)


def _chunk_scan_in_place(u, delta, A, B, C, size: int) -> torch.Tensor:
    """Same as :func:`_chunk_scan_autograd` without autograd, in two reused (K, b, c, d, n) buffers, laid out
    so that the slice the loop touches at step k is contiguous."""
    batch, length, channels = u.shape
    chunks = length // size

    def by_step(x: torch.Tensor) -> torch.Tensor:  # (b, L, f) -> (K, b, c, f)
        return x.view(batch, chunks, size, -1).permute(2, 0, 1, 3)

    shape = (size, batch, chunks, channels, A.shape[1])
    states = _workspace("states", shape, u.device)
    decay = _workspace("decay", shape, u.device)
    torch.mul(by_step(delta * u).unsqueeze(-1), by_step(B).unsqueeze(-2), out=states)
    torch.mul(by_step(delta).unsqueeze(-1), A, out=decay).exp_()
    for k in range(1, size):  # local scan and running decay product, all chunks at once
        states[k].addcmul_(decay[k], states[k - 1])
        decay[k].mul_(decay[k - 1])
    entering = torch.zeros_like(states[0])  # (b, c, d, n)
    for c in range(1, chunks):
        entering[:, c] = decay[-1, :, c - 1] * entering[:, c - 1] + states[-1, :, c - 1]
    states.addcmul_(decay, entering)
    y = torch.einsum("kbcdn,kbcn->kbcd", states, by_step(C))
    return y.permute(1, 2, 0, 3).reshape(batch, length, channels)


class _Workspaces(threading.local):
    def __init__(self) -> None:
        self.buffers: dict[tuple[str, torch.device], torch.Tensor] = {}


_WORKSPACES = _Workspaces()


def _workspace(name: str, shape: torch.Size, device: torch.device) -> torch.Tensor:
    """A reused float32 buffer of ``shape``: fresh 100-MB allocations cost more than the scan (page faults)."""
    numel = math.prod(shape)
    buffer = _WORKSPACES.buffers.get((name, device))
    if buffer is None or buffer.numel() < numel:
        with torch.inference_mode(False):
            buffer = torch.empty(numel, dtype=torch.float32, device=device)
        _WORKSPACES.buffers[(name, device)] = buffer
    return buffer[:numel].view(shape)


def release_workspaces() -> None:
    """Free the scan buffers of this thread (they are kept between calls for speed)."""
    _WORKSPACES.buffers.clear()


SCANS: dict[str, ScanFn] = {"chunked": selective_scan_chunked, "sequential": selective_scan_sequential}


class MambaBlock(nn.Module):
    """Mamba-1 mixer (Gu & Dao 2023) with ``mamba_ssm.Mamba``'s parameters, in plain PyTorch.

    Args:
        d_model: width of the input and output.
        d_state: state size per channel (n).
        d_conv: width of the causal depthwise convolution.
        expand: inner width factor (``d_inner = expand * d_model``).
        scan: "chunked" (fast) or "sequential" (reference).

    Input and output: (batch, L, d_model).
    """

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2, scan: str = "chunked"):
        super().__init__()
        d_inner = expand * d_model
        self.d_state = d_state
        self.dt_rank = -(-d_model // 16)
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, d_inner, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)
        self.scan = scan
        self._init_dt()

    @torch.no_grad()
    def _init_dt(self, dt_min: float = 1e-3, dt_max: float = 0.1, dt_floor: float = 1e-4) -> None:
        """mamba_ssm's initialisation: step sizes log-uniform in [dt_min, dt_max] through the bias."""
        std = self.dt_rank**-0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(self.dt_proj.out_features) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_floor)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse of softplus

    @property
    def scan(self) -> str:
        return self._scan

    @scan.setter
    def scan(self, name: str) -> None:
        if name not in SCANS:
            raise ValueError(f"unknown scan {name!r}; choose one of {', '.join(SCANS)}")
        self._scan = name

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        length = hidden.shape[1]
        x, z = self.in_proj(hidden).chunk(2, dim=-1)  # (batch, L, d_inner) each
        x = F.silu(self.conv1d(x.transpose(1, 2))[..., :length]).transpose(1, 2)
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        A = -torch.exp(self.A_log.float())
        y = SCANS[self._scan](x, delta, A, B, C, self.D.float()).to(hidden.dtype)
        return self.out_proj(y * F.silu(z))


def mamba_ssm_usable() -> bool:
    """True when the CUDA kernels of ``mamba_ssm`` import and a CUDA device is present."""
    if not torch.cuda.is_available():
        return False
    try:
        import mamba_ssm  # noqa: F401
    except Exception as exc:  # ImportError, missing .so, triton problems …
        logger.info("mamba_ssm not usable (%s); using the PyTorch Mamba", exc)
        return False
    return True


def make_mamba(d_model: int, d_state: int, d_conv: int, expand: int, backend: str = "auto") -> nn.Module:
    """A Mamba-1 block: ``mamba_ssm.Mamba`` for backend "cuda" (or "auto" when usable), else :class:`MambaBlock`.

    Both have the same state-dict keys and shapes.
    """
    if backend not in ("auto", "cuda", "torch"):
        raise ValueError(f"unknown Mamba backend {backend!r}; choose auto, cuda or torch")
    if backend == "cuda" or (backend == "auto" and mamba_ssm_usable()):
        from mamba_ssm import Mamba

        return Mamba(d_model=d_model, d_state=d_state, d_conv=d_conv, expand=expand)
    return MambaBlock(d_model, d_state=d_state, d_conv=d_conv, expand=expand)


def set_scan(module: nn.Module, scan: str) -> None:
    """Switch every :class:`MambaBlock` inside ``module`` to the named scan ("chunked" or "sequential")."""
    for block in module.modules():
        if isinstance(block, MambaBlock):
            block.scan = scan
