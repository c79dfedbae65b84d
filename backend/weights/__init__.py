"""Getting the model weights in place: ``mace-dance weights download`` and ``mace-dance weights install``.

:mod:`.install` finds the pieces of a release by their content (archives, files, folders in any layout),
verifies each by loading it and places it atomically in the backend's weights layout
(:mod:`backend.config`); :mod:`.download` fetches the published releases with huggingface_hub first.
:func:`installed_summary` is what the server's ``hello`` reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .download import ALL, RELEASES, download, link_wan_folder
from .install import Installed, install_weights

__all__ = ["ALL", "RELEASES", "Installed", "download", "install", "install_weights", "installed_summary"]


def install(source: str | Path, config=None, report: Callable[[str], None] = print) -> list[Installed]:
    """Install whatever ``source`` holds: a Wan-Animate diffusers folder is linked, anything else unpacked,
    recognised and copied (see :func:`~backend.weights.install.install_weights`)."""
    from backend.config import BackendConfig

    config = config or BackendConfig()
    source = Path(source).expanduser()
    if source.is_dir() and (source / "model_index.json").is_file():
        return [link_wan_folder(source, config, report)]
    return install_weights(source, config, report)


def installed_summary(config=None) -> dict[str, bool]:
    """Which weights this backend has: ``{"motion_expert", "wan_animate", "mace_appearance"}`` -> bool."""
    from backend.appearance.wan import ADAPTER_FILE, LORA_FILE
    from backend.config import BackendConfig
    from backend.motion_expert.checkpoint import find_checkpoint
    from shared.errors import MaceError

    config = config or BackendConfig()
    try:
        find_checkpoint(config.motion_weights)
        motion = True
    except MaceError:
        motion = False
    mace = Path(config.mace_appearance_weights)
    return {
        "motion_expert": motion,
        "wan_animate": (Path(config.wan_weights) / "model_index.json").is_file(),
        "mace_appearance": (mace / ADAPTER_FILE).is_file() and (mace / LORA_FILE).is_file(),
    }
