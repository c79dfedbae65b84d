"""Loading and saving Motion Expert weights: the official MACE-Dance file and our own folder.

Layouts accepted in ``$MACE_DANCE_HOME/weights/motion/`` (or any path given)::

    train-3750.pt          official: a torch.save dict with model_state_dict, ema_state_dict,
                           optimizer_state_dict and a pickled EDGE ``Normalizer`` (dataset.preprocess)
    model.safetensors      ours: the denoiser weights (same key names as the official model_state_dict)
    config.json            ours: MotionExpertConfig
    normalizer.npz         ours: the MinMax scaler as arrays ``scale`` and ``offset`` (151,)

The official file is read with ``torch.load(weights_only=True)``. Its normaliser is a pickled object of
EDGE's classes ``dataset.preprocess.Normalizer`` and ``dataset.scaler.MinMaxScaler``; those two names,
and only those, are mapped onto inert stand-ins (torch's weights-only unpickler allows a class only when it
is registered, and never calls anything else), so no code from the file runs. As in the official
``EDGE.__init__``, ``model_state_dict`` (not the EMA copy) is loaded, with ``strict=True``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from shared.atomic import atomic_path, atomic_write
from shared.errors import MissingWeightsError

from .config import MotionExpertConfig
from .denoiser import MotionDenoiser
from .representation import Normalizer

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
NORMALIZER_NAME = "normalizer.npz"
OFFICIAL_PATTERN = re.compile(r"^train-(\d+)\.pt$")


class EdgeNormalizerStandIn:
    """Inert stand-in for EDGE's ``dataset.preprocess.Normalizer`` (holds ``scaler``)."""


class EdgeMinMaxScalerStandIn:
    """Inert stand-in for EDGE's ``dataset.scaler.MinMaxScaler`` (holds ``scale_``, ``min_`` …)."""


#: The only foreign classes an official checkpoint may name, and what they become.
OFFICIAL_PICKLE_CLASSES = (
    (EdgeNormalizerStandIn, "dataset.preprocess.Normalizer"),
    (EdgeMinMaxScalerStandIn, "dataset.scaler.MinMaxScaler"),
)


@dataclass(frozen=True)
class CheckpointLocation:
    """A found checkpoint: ``kind`` is "official" (a train-*.pt file) or "ours" (a folder)."""

    kind: str
    path: Path


def _missing(message: str, where: Path, install_from: Path | None = None) -> MissingWeightsError:
    from backend.config import MOTION_DOWNLOAD_HINT

    if install_from is not None:
        return MissingWeightsError(message, hint=f"run `mace-dance weights install {install_from}`: it finds the "
                                   "checkpoint by its content and puts it where the backend looks")
    layout = (
        f"expected in {where}: an official MACE-Dance `train-<epoch>.pt`, or `{WEIGHTS_NAME}` + `{CONFIG_NAME}` + "
        f"`{NORMALIZER_NAME}` written by `mace-dance train`"
    )
    return MissingWeightsError(message, hint=f"{layout}; {MOTION_DOWNLOAD_HINT.format(path=where)}")


def find_checkpoint(path: str | Path) -> CheckpointLocation:
    """Locate a checkpoint at ``path`` (a folder, an official checkpoint file of any name, or ``model.safetensors``).

    In a folder our layout wins over official files; among official files the highest epoch wins.
    Raises :class:`MissingWeightsError` (with the expected layout) when nothing usable is there.
    """
    path = Path(path).expanduser()
    if path.is_file():
        if path.name == WEIGHTS_NAME:
            path = path.parent
        else:  # any name (.pt, .pth, .ckpt …): read_official_file says whether it is one
            return CheckpointLocation("official", path)
    if not path.is_dir():
        raise _missing(f"no Motion Expert weights at {path}", path)
    if (path / WEIGHTS_NAME).is_file():
        for name in (CONFIG_NAME, NORMALIZER_NAME):
            if not (path / name).is_file():
                raise _missing(f"{path / WEIGHTS_NAME} is there but {name} is missing", path)
        return CheckpointLocation("ours", path)
    official = [(int(m.group(1)), p) for p in path.glob("train-*.pt") if (m := OFFICIAL_PATTERN.match(p.name))]
    if official:
        return CheckpointLocation("official", max(official)[1])
    nested = sorted(p for suffix in ("*.pt", "*.pth", "*.ckpt", "*.7z", "*.zip") for p in path.rglob(suffix))
    if nested:
        raise _missing(f"no Motion Expert weights at the top of {path}, but {nested[0]} is there",
                       path, install_from=nested[0])
    raise _missing(f"no Motion Expert weights in {path}", path)


def load_checkpoint(
    path: str | Path, mamba_backend: str = "auto"
) -> tuple[MotionDenoiser, Normalizer, MotionExpertConfig]:
    """Load a checkpoint found by :func:`find_checkpoint` onto the CPU, in eval mode."""
    location = find_checkpoint(path)
    if location.kind == "official":
        return load_official_checkpoint(location.path, mamba_backend)
    return load_pretrained(location.path, mamba_backend)


# -- the official train-*.pt --------------------------------------------------------------------------------
def read_official_file(path: Path) -> dict:
    """``torch.load(weights_only=True)`` of an official checkpoint, EDGE's normaliser classes mapped to stand-ins."""
    try:
        with torch.serialization.safe_globals(list(OFFICIAL_PICKLE_CLASSES)):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for foreign globals, RuntimeError/EOFError for broken files
        raise _missing(f"cannot read {path.name} as a MACE-Dance checkpoint: {_first_line(exc)}", path.parent) from exc
    if not isinstance(data, dict) or not isinstance(data.get("model_state_dict"), dict):
        raise _missing(f"{path.name} has no `model_state_dict`; it is not a MACE-Dance/EDGE checkpoint", path.parent)
    return data


def normalizer_from_official(obj: object, where: Path) -> Normalizer:
    """The fitted MinMax scaler inside EDGE's pickled ``Normalizer`` (stand-in) as a :class:`Normalizer`."""
    scaler = getattr(obj, "scaler", None)
    scale, offset = getattr(scaler, "scale_", None), getattr(scaler, "min_", None)
    if not (isinstance(scale, torch.Tensor) and isinstance(offset, torch.Tensor)):
        raise _missing(f"{where.name}: the `normalizer` entry does not hold EDGE's fitted MinMaxScaler", where.parent)
    feature_range = tuple(getattr(scaler, "feature_range", (-1, 1)))
    if feature_range != (-1, 1):
        raise _missing(f"{where.name}: normaliser range {feature_range} is not (-1, 1)", where.parent)
    return Normalizer(scale.numpy(), offset.numpy())


def config_from_state_dict(state: dict[str, torch.Tensor], num_heads: int = 8) -> MotionExpertConfig:
    """Sizes read off the weight shapes (the official file stores no config; heads cannot be read: 8)."""
    latent, motion_dim = state["input_projection.weight"].shape
    layers = {prefix: len({k.split(".")[1] for k in state if k.startswith(prefix + ".")})
              for prefix in ("dancelayerstack", "musiclayerstack")}  # fmt: skip
    mamba = "dancelayerstack.0.bimamba.mamba_forward."
    d_inner, d_state = state[mamba + "A_log"].shape
    return MotionExpertConfig(
        motion_dim=int(motion_dim),
        music_dim=int(state["cond_projection.weight"].shape[1]),
        latent_dim=int(latent),
        ff_dim=int(state["dancelayerstack.0.transformer.linear1.weight"].shape[0]),
        num_heads=num_heads,
        num_dance_layers=layers["dancelayerstack"],
        num_music_layers=layers["musiclayerstack"],
        num_genres=int(state["musiclayerstack.0.genre_MLP.0.weight"].shape[0]),
        d_state=int(d_state),
        d_conv=int(state[mamba + "conv1d.weight"].shape[-1]),
        expand=int(d_inner) // int(latent),
    )


def load_official_checkpoint(
    path: str | Path, mamba_backend: str = "auto"
) -> tuple[MotionDenoiser, Normalizer, MotionExpertConfig]:
    """Load MACE-Dance's ``train-*.pt``: ``model_state_dict`` with strict=True, plus its normaliser."""
    path = Path(path)
    data = read_official_file(path)
    state = _strip_module_prefix(data["model_state_dict"])
    try:
        config = config_from_state_dict(state)
    except (KeyError, ValueError, IndexError) as exc:
        raise _missing(f"{path.name} does not have the MACE-Dance denoiser layout ({exc})", path.parent) from exc
    if "normalizer" not in data:
        raise _missing(f"{path.name} has no `normalizer` entry", path.parent)
    normalizer = normalizer_from_official(data["normalizer"], path)
    model = _build_and_load(config, state, path, mamba_backend)
    _check_normalizer(normalizer, config, path)
    return model, normalizer, config


# -- our folder --------------------------------------------------------------------------------------------
def load_pretrained(
    folder: str | Path, mamba_backend: str = "auto"
) -> tuple[MotionDenoiser, Normalizer, MotionExpertConfig]:
    """Load ``model.safetensors`` + ``config.json`` + ``normalizer.npz`` from ``folder``."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        config = MotionExpertConfig.from_json((folder / CONFIG_NAME).read_text(encoding="utf-8"))
        state = load_file(folder / WEIGHTS_NAME)
        with np.load(folder / NORMALIZER_NAME, allow_pickle=False) as arrays:
            normalizer = Normalizer.from_arrays(dict(arrays))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _missing(f"cannot read the Motion Expert checkpoint in {folder}: {_first_line(exc)}", folder) from exc
    model = _build_and_load(config, state, folder / WEIGHTS_NAME, mamba_backend)
    _check_normalizer(normalizer, config, folder)
    return model, normalizer, config


def save_pretrained(folder: str | Path, model: MotionDenoiser, normalizer: Normalizer) -> Path:
    """Write our layout into ``folder`` (each file atomically). Returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt", "model": "mace-dance-motion-expert"})
    with atomic_path(folder / NORMALIZER_NAME) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **normalizer.to_arrays())
    with atomic_write(folder / CONFIG_NAME, "w") as handle:
        handle.write(model.config.to_json())
    return folder


def convert_official_checkpoint(source: str | Path, folder: str | Path) -> Path:
    """Rewrite an official ``train-*.pt`` into our safetensors layout (no pickle needed afterwards)."""
    model, normalizer, _ = load_official_checkpoint(source, mamba_backend="torch")
    return save_pretrained(folder, model, normalizer)


# -- helpers -----------------------------------------------------------------------------------------------
def _build_and_load(
    config: MotionExpertConfig, state: dict[str, torch.Tensor], source: Path, mamba_backend: str
) -> MotionDenoiser:
    model = MotionDenoiser(config, mamba_backend=mamba_backend)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        expected, given = set(model.state_dict()), set(state)
        details = []
        if missing := sorted(expected - given):
            details.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected := sorted(given - expected):
            details.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if not details:
            details.append(_first_line(exc))
        raise _missing(f"{source.name} does not match the Motion Expert layout: {'; '.join(details)}", source.parent) from exc
    return model.eval()


def _check_normalizer(normalizer: Normalizer, config: MotionExpertConfig, source: Path) -> None:
    if normalizer.num_features != config.motion_dim:
        raise _missing(
            f"{source.name}: normaliser has {normalizer.num_features} channels, the model {config.motion_dim}",
            source.parent if source.is_file() else source,
        )


def _strip_module_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Checkpoints saved from a DDP-wrapped model prefix every key with ``module.``."""
    if state and all(key.startswith("module.") for key in state):
        return {key[len("module."):]: value for key, value in state.items()}
    return dict(state)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
