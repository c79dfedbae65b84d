"""Where the backend looks for weights, and its settings.

Weights layout (``$MACE_DANCE_HOME``, default the platform's user data dir, e.g.
``~/.local/share/mace-dance`` on Linux)::

    weights/motion/            official MACE-Dance `train-*.pt` (EDGE-style dict) or our
                               `model.safetensors` + `config.json` (+ `normalizer.npz`)
    weights/appearance/wan/    Wan2.2-Animate-14B-Diffusers folder (model_index.json, transformer/, vae/ …),
                               usually a link into the Hugging Face cache
    weights/appearance/mace/   MACE-Dance `Adapter.safetensors` and `LoRA.safetensors`
    weights/replaced/          what an install replaced (never deleted by the installer)

`mace-dance weights download/install` (:mod:`backend.weights`) fills this layout.

Each location can be overridden by an environment variable (``MACE_DANCE_MOTION_WEIGHTS``,
``MACE_DANCE_WAN_WEIGHTS``, ``MACE_DANCE_MACE_APPEARANCE_WEIGHTS``). An SMPL model file (body shapes) is used by
the Blender add-on only and is chosen in its preferences. Caches (numba's
compiled librosa kernels) go to the user cache dir or ``$MACE_DANCE_CACHE``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from shared.sampling import SamplerChoice

HOME_ENV = "MACE_DANCE_HOME"
APP_NAME = "mace-dance"

MOTION_DOWNLOAD_HINT = (
    "run `mace-dance weights download --motion` (or `mace-dance weights install ARCHIVE_OR_FILE` for a "
    "Expert-Motion.7z / train-*.pt you have; the result goes to {path}); without it the embedded choreographer is used"
)
WAN_DOWNLOAD_HINT = (
    "run `mace-dance weights download --wan` (or `mace-dance weights install FOLDER` for a "
    "Wan2.2-Animate-14B-Diffusers folder you have; it is linked at {path})"
)
MACE_APPEARANCE_DOWNLOAD_HINT = (
    "run `mace-dance weights download --appearance` (or `mace-dance weights install Expert-Apprearance.7z`); "
    "Adapter.safetensors and LoRA.safetensors go to {path}"
)


def default_home() -> Path:
    """``$MACE_DANCE_HOME`` or the platform's user data dir for mace-dance."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def _env_path(name: str, fallback: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else fallback


@dataclass
class BackendConfig:
    """Paths and device choices of one backend process."""

    home: Path = field(default_factory=default_home)
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1" …
    motion_generator: str = "auto"  # "auto", "choreographer", "motion_expert"
    video_renderer: str = "auto"  # "auto", "puppet", "wan"
    motion_sampling: SamplerChoice = field(default_factory=SamplerChoice)  # the Motion Expert's sampler and steps
    mocap_dir: Path | None = None  # a folder of the user's dance mocap: the choreographer's motion-graph mode

    def __post_init__(self) -> None:
        self.home = Path(self.home).expanduser()
        if self.mocap_dir is not None:
            self.mocap_dir = Path(self.mocap_dir).expanduser()
        if not isinstance(self.motion_sampling, SamplerChoice):
            from shared.errors import InvalidInputError

            raise InvalidInputError(f"`motion_sampling` must be a SamplerChoice, got {self.motion_sampling!r}")

    @property
    def weights_dir(self) -> Path:
        return self.home / "weights"

    @property
    def motion_weights(self) -> Path:
        return _env_path("MACE_DANCE_MOTION_WEIGHTS", self.weights_dir / "motion")

    @property
    def wan_weights(self) -> Path:
        return _env_path("MACE_DANCE_WAN_WEIGHTS", self.weights_dir / "appearance" / "wan")

    @property
    def mace_appearance_weights(self) -> Path:
        return _env_path("MACE_DANCE_MACE_APPEARANCE_WEIGHTS", self.weights_dir / "appearance" / "mace")

    @property
    def cache_dir(self) -> Path:
        from platformdirs import user_cache_dir

        return Path(os.environ.get("MACE_DANCE_CACHE", user_cache_dir(APP_NAME, appauthor=False)))

    def resolve_device(self) -> str:
        """The torch device to use: "cuda" when available for "auto", else "cpu"."""
        if self.device != "auto":
            return self.device
        try:
            import torch
        except ImportError:
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"
