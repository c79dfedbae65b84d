"""Checkpoints: the official MACE-Dance layout loads strictly and safely; our own layout round-trips."""

from __future__ import annotations

import os
import sys
import types
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from backend.motion_expert.checkpoint import (
    convert_official_checkpoint,
    find_checkpoint,
    load_checkpoint,
    load_official_checkpoint,
    save_pretrained,
)
from backend.motion_expert.config import MotionExpertConfig
from backend.motion_expert.denoiser import MotionDenoiser
from shared.errors import MissingWeightsError


def official_key_shapes(latent=512, ff=1024, motion=151, music=35, genres=16, dance_layers=8, music_layers=2,
                        d_state=16, d_conv=4, expand=2) -> dict[str, tuple[int, ...]]:  # fmt: skip
    """Every parameter of the official ``DanceDecoder`` (Expert-Motion/model/model.py) with its shape,
    written out from the official module definitions, independently of our model code."""
    inner, rank = expand * latent, -(-latent // 16)
    mamba = {"in_proj.weight": (2 * inner, latent), "conv1d.weight": (inner, 1, d_conv), "conv1d.bias": (inner,),
             "x_proj.weight": (rank + 2 * d_state, inner), "dt_proj.weight": (inner, rank), "dt_proj.bias": (inner,),
             "A_log": (inner, d_state), "D": (inner,), "out_proj.weight": (latent, inner)}  # fmt: skip
    bimamba = {f"bimamba.{m}.{k}": s for m in ("mamba_forward", "mamba_backward") for k, s in mamba.items()}
    bimamba |= {"bimamba.norm.weight": (latent,), "bimamba.norm.bias": (latent,)}
    film = {"block.1.weight": (2 * latent, latent), "block.1.bias": (2 * latent,)}
    keys: dict[str, tuple[int, ...]] = {"null_cond_embed": (1, 1, latent)}
    for mlp in ("time_mlp", "beta_mlp"):
        keys |= {f"{mlp}.1.weight": (4 * latent, latent), f"{mlp}.1.bias": (4 * latent,),
                 f"{mlp}.3.weight": (latent, 4 * latent), f"{mlp}.3.bias": (latent,)}  # fmt: skip
    keys |= {"input_projection.weight": (latent, motion), "input_projection.bias": (latent,),
             "cond_projection.weight": (latent, music), "cond_projection.bias": (latent,),
             "final_layer.weight": (motion, latent), "final_layer.bias": (motion,)}  # fmt: skip
    for i in range(dance_layers):
        p = f"dancelayerstack.{i}."
        keys |= {p + k: s for k, s in bimamba.items()}
        keys |= {p + f"film{n}.{k}": s for n in (1, 2) for k, s in film.items()}
        t = p + "transformer."
        keys |= {t + "cross_attn.in_proj_weight": (3 * latent, latent), t + "cross_attn.in_proj_bias": (3 * latent,),
                 t + "cross_attn.out_proj.weight": (latent, latent), t + "cross_attn.out_proj.bias": (latent,),
                 t + "linear1.weight": (ff, latent), t + "linear1.bias": (ff,),
                 t + "linear2.weight": (latent, ff), t + "linear2.bias": (latent,)}  # fmt: skip
        keys |= {t + f"{norm}.{k}": (latent,) for norm in ("norm_dance", "norm_music", "norm") for k in ("weight", "bias")}
    for i in range(music_layers):
        p = f"musiclayerstack.{i}."
        keys |= {p + k: s for k, s in bimamba.items()}
        keys |= {p + f"film.{k}": s for k, s in film.items()}
        keys |= {p + "genre_MLP.0.weight": (genres, latent), p + "genre_MLP.1.weight": (ff, latent),
                 p + "genre_MLP.1.bias": (ff,), p + "genre_MLP.3.weight": (latent, ff), p + "genre_MLP.3.bias": (latent,)}  # fmt: skip
    return keys


@contextmanager
def edge_modules():
    """Importable ``dataset.preprocess.Normalizer`` / ``dataset.scaler.MinMaxScaler`` look-alikes, so the
    test can pickle an object exactly as EDGE's training script does."""

    class MinMaxScaler:
        def __init__(self, feature_range=(0, 1), *, copy=True, clip=False):
            self.feature_range, self.copy, self.clip = feature_range, copy, clip

    class Normalizer:
        def __init__(self, data):
            flat = data.reshape(-1, data.shape[-1])
            self.scaler = MinMaxScaler((-1, 1), clip=True)
            low, high = flat.min(0)[0], flat.max(0)[0]
            self.scaler.scale_ = 2 / (high - low)
            self.scaler.min_ = -1 - low * self.scaler.scale_
            self.scaler.data_min_, self.scaler.data_max_, self.scaler.n_samples_seen_ = low, high, flat.shape[0]

    package, preprocess, scaler = (types.ModuleType(n) for n in ("dataset", "dataset.preprocess", "dataset.scaler"))
    MinMaxScaler.__module__, Normalizer.__module__ = "dataset.scaler", "dataset.preprocess"
    MinMaxScaler.__qualname__, Normalizer.__qualname__ = "MinMaxScaler", "Normalizer"
    scaler.MinMaxScaler, preprocess.Normalizer = MinMaxScaler, Normalizer
    saved = {name: sys.modules.get(name) for name in ("dataset", "dataset.preprocess", "dataset.scaler")}
    sys.modules.update({"dataset": package, "dataset.preprocess": preprocess, "dataset.scaler": scaler})
    try:
        yield Normalizer
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def write_official_checkpoint(path, shapes: dict, seed: int = 0, normalizer=None) -> dict[str, torch.Tensor]:
    """An official-format ``train-N.pt``: random weights of the given shapes, EMA copy, optimiser state and a
    pickled EDGE normaliser. Returns the model state dict written."""
    g = torch.Generator().manual_seed(seed)
    data = torch.rand(40, 151, generator=g) * 4 - 2
    state = OrderedDict((k, torch.randn(s, generator=g) * 0.02) for k, s in shapes.items())
    with edge_modules() as Normalizer:
        checkpoint = {
            "ema_state_dict": state,  # same tensors: torch.save stores them once
            "model_state_dict": state,
            "optimizer_state_dict": {"state": {}, "param_groups": [{"lr": 4e-4, "weight_decay": 0.02, "params": [0]}]},
            "normalizer": normalizer if normalizer is not None else Normalizer(data),
        }
        torch.save(checkpoint, path)
    return state


def test_our_model_has_exactly_the_official_keys_and_shapes():
    model = MotionDenoiser(MotionExpertConfig(), mamba_backend="torch")
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = official_key_shapes()
    assert set(ours) - set(expected) == set(), "keys the official model does not have"
    assert set(expected) - set(ours) == set(), "official keys we lack"
    assert ours == expected
    total = sum(p.numel() for p in model.parameters())
    assert abs(total - 66.7e6) < 0.05e6, total


def test_full_size_official_checkpoint_loads_strictly(tmp_path):
    path = tmp_path / "train-3750.pt"
    state = write_official_checkpoint(path, official_key_shapes())
    model, normalizer, config = load_official_checkpoint(path, mamba_backend="torch")
    assert config == MotionExpertConfig()
    loaded = model.state_dict()
    for key in ("dancelayerstack.7.transformer.cross_attn.in_proj_weight", "musiclayerstack.1.genre_MLP.0.weight",
                "dancelayerstack.0.bimamba.mamba_backward.A_log", "null_cond_embed"):  # fmt: skip
        assert torch.equal(loaded[key], state[key])
    assert normalizer.num_features == 151
    assert np.all(normalizer.scale > 0)


def test_official_normaliser_values_survive(tmp_path):
    shapes = official_key_shapes(latent=32, ff=48, dance_layers=1, music_layers=1, d_state=4)
    path = tmp_path / "train-10.pt"
    write_official_checkpoint(path, shapes)
    model, normalizer, config = load_checkpoint(tmp_path, mamba_backend="torch")  # folder -> newest train-*.pt
    assert (config.latent_dim, config.num_dance_layers, config.d_state) == (32, 1, 4)
    # write_official_checkpoint fits EDGE's scaler on rand(40, 151) * 4 - 2 from the same generator
    data = torch.rand(40, 151, generator=torch.Generator().manual_seed(0)) * 4 - 2
    normalized = normalizer.normalize(data)
    assert torch.allclose(normalized.min(0)[0], torch.full((151,), -1.0), atol=1e-5)
    assert torch.allclose(normalized.max(0)[0], torch.full((151,), 1.0), atol=1e-5)
    assert torch.allclose(normalizer.unnormalize(normalized), data, atol=1e-5)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_in_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "train-1.pt"
    shapes = official_key_shapes(latent=32, ff=48, dance_layers=1, music_layers=1, d_state=4)
    write_official_checkpoint(path, shapes, normalizer=_Exploit(marker))
    with pytest.raises(MissingWeightsError, match="cannot read train-1.pt"):
        load_official_checkpoint(path, mamba_backend="torch")
    assert not marker.exists()


def test_mismatched_checkpoint_names_the_problem_and_layout(tmp_path):
    shapes = official_key_shapes(latent=32, ff=48, dance_layers=1, music_layers=1, d_state=4)
    del shapes["final_layer.bias"]
    shapes["extra.weight"] = (3,)
    write_official_checkpoint(tmp_path / "train-5.pt", shapes)
    with pytest.raises(MissingWeightsError) as info:
        load_checkpoint(tmp_path / "train-5.pt", mamba_backend="torch")
    message = str(info.value)
    assert "final_layer.bias" in message and "extra.weight" in message
    assert "model.safetensors" in message and "train-" in message  # the hint states the layout


def test_missing_weights_error_states_layout(tmp_path):
    with pytest.raises(MissingWeightsError) as info:
        find_checkpoint(tmp_path / "nothing")
    assert "train-<epoch>.pt" in info.value.hint and "config.json" in info.value.hint
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(MissingWeightsError, match="config.json is missing"):
        find_checkpoint(tmp_path)


def test_garbage_file_is_a_clear_error(tmp_path):
    path = tmp_path / "train-2.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(MissingWeightsError, match="cannot read train-2.pt"):
        load_checkpoint(path)


def test_our_layout_round_trips_and_conversion(tmp_path, tiny_model, normalizer):
    folder = save_pretrained(tmp_path / "ours", tiny_model, normalizer)
    assert find_checkpoint(folder).kind == "ours"
    model, loaded_norm, config = load_checkpoint(folder, mamba_backend="torch")
    assert config == tiny_model.config
    for key, value in tiny_model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    assert np.array_equal(loaded_norm.scale, normalizer.scale)

    shapes = official_key_shapes(latent=32, ff=48, dance_layers=1, music_layers=1, d_state=4)
    state = write_official_checkpoint(tmp_path / "train-7.pt", shapes)
    converted = convert_official_checkpoint(tmp_path / "train-7.pt", tmp_path / "converted")
    model, _, _ = load_checkpoint(converted, mamba_backend="torch")
    assert torch.equal(model.state_dict()["final_layer.weight"], state["final_layer.weight"])
