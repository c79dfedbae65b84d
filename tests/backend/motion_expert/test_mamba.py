"""The PyTorch Mamba: chunked scan == sequential reference (values and gradients), mamba_ssm layout."""

from __future__ import annotations

import pytest
import torch

from backend.motion_expert.mamba import MambaBlock, selective_scan_chunked, selective_scan_sequential, set_scan


def _scan_inputs(length: int, channels: int = 24, state: int = 8, batch: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, length, channels, generator=g)
    delta = torch.nn.functional.softplus(torch.randn(batch, length, channels, generator=g) * 2 - 1)
    A = -torch.exp(torch.randn(channels, state, generator=g))
    B = torch.randn(batch, length, state, generator=g)
    C = torch.randn(batch, length, state, generator=g)
    D = torch.randn(channels, generator=g)
    return u, delta, A, B, C, D


@pytest.mark.parametrize("length", [1, 2, 5, 37, 100, 257])
def test_chunked_scan_matches_sequential_without_grad(length):
    inputs = _scan_inputs(length)
    with torch.no_grad():
        reference = selective_scan_sequential(*inputs)
        fast = selective_scan_chunked(*inputs)
    assert fast.shape == reference.shape == (2, length, 24)
    assert (fast - reference).abs().max().item() <= 1e-4


@pytest.mark.parametrize("chunk_size", [1, 3, 16, 64])
def test_chunk_size_does_not_change_the_result(chunk_size):
    inputs = _scan_inputs(50, seed=1)
    with torch.no_grad():
        reference = selective_scan_sequential(*inputs)
        fast = selective_scan_chunked(*inputs, chunk_size=chunk_size)
    assert (fast - reference).abs().max().item() <= 1e-4


def test_chunked_scan_gradients_match_sequential():
    leaves = [x.clone().requires_grad_(True) for x in _scan_inputs(45, seed=2)]
    copies = [x.detach().clone().requires_grad_(True) for x in leaves]
    weights = torch.randn(2, 45, 24)
    (selective_scan_sequential(*leaves) * weights).sum().backward()
    (selective_scan_chunked(*copies) * weights).sum().backward()
    for name, ref, fast in zip("u delta A B C D".split(), leaves, copies):
        err = (ref.grad - fast.grad).abs().max().item()
        assert err <= 1e-4 * max(1.0, ref.grad.abs().max().item()), f"gradient of {name} differs by {err}"


def test_scan_is_stable_for_large_steps():
    """Decays that underflow (delta * A << 0) must not give NaN in the chunked formulation."""
    u, delta, A, B, C, D = _scan_inputs(80, seed=3)
    delta = delta * 200
    with torch.no_grad():
        fast = selective_scan_chunked(u, delta, A, B, C, D)
        reference = selective_scan_sequential(u, delta, A, B, C, D)
    assert torch.isfinite(fast).all()
    assert (fast - reference).abs().max().item() <= 1e-3 * reference.abs().max().item()


def test_mamba_block_has_mamba_ssm_parameter_layout():
    block = MambaBlock(512, d_state=16, d_conv=4, expand=2)
    shapes = {name: tuple(p.shape) for name, p in block.state_dict().items()}
    assert shapes == {
        "A_log": (1024, 16), "D": (1024,), "in_proj.weight": (2048, 512), "conv1d.weight": (1024, 1, 4),
        "conv1d.bias": (1024,), "x_proj.weight": (64, 1024), "dt_proj.weight": (1024, 32),
        "dt_proj.bias": (1024,), "out_proj.weight": (512, 1024),
    }  # fmt: skip
    assert sum(p.numel() for p in block.parameters()) == 1_694_720


def test_mamba_block_scans_agree_and_are_causal():
    torch.manual_seed(0)
    block = MambaBlock(16, d_state=4).eval()
    x = torch.randn(2, 40, 16)
    with torch.no_grad():
        fast = block(x)
        set_scan(block, "sequential")
        reference = block(x)
        changed = x.clone()
        changed[:, 30:] += 1.0  # the future must not change the past
        later = block(changed)
    assert (fast - reference).abs().max().item() <= 1e-5
    assert torch.equal(later[:, :30], reference[:, :30])
    with pytest.raises(ValueError, match="unknown scan"):
        set_scan(block, "parallel")
