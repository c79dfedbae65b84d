"""What this backend can use right now: device, models found, where it looks for weights.

Shared by ``mace-dance info`` and anything else that must explain to a person why a model is or is not
used. Each check asks the loader that will really load the model, so the answer cannot drift from it.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from shared.errors import MaceError

from . import __version__
from .config import BackendConfig


@dataclass
class Item:
    """One line of the inventory: ``ok`` says whether it is usable, ``hint`` how to make it so."""

    name: str
    ok: bool
    detail: str
    hint: str = ""


def device_items(config: BackendConfig) -> list[Item]:
    import torch

    from .motion_expert.mamba import mamba_ssm_usable

    cuda = torch.cuda.is_available()
    fast_mamba = mamba_ssm_usable()
    gpu = f"CUDA: {torch.cuda.get_device_name(0)}" if cuda else "no CUDA GPU"
    return [
        Item("python", True, f"{platform.python_version()} ({platform.machine()})"),
        Item("torch", True, f"{torch.__version__}; {gpu}; using {config.resolve_device()}"),
        Item("mamba-ssm kernels", fast_mamba,
             "fast CUDA Mamba kernels" if fast_mamba else "pure-PyTorch Mamba (same weights)",
             "" if fast_mamba else "on a CUDA machine: pip install '.[cuda]'"),
    ]


def motion_items(config: BackendConfig) -> list[Item]:
    from .motion_expert.checkpoint import find_checkpoint

    items = [Item("choreographer", True, "embedded default, no weights needed")]
    try:
        found = find_checkpoint(config.motion_weights)
        items.append(Item("Motion Expert", True, f"{found.kind} checkpoint {found.path} (used by `auto`, on CPU too)"))
    except MaceError as exc:
        items.append(Item("Motion Expert", False, f"not found in {config.motion_weights}; `auto` uses the choreographer",
                          exc.hint or ""))
    return [*items, dancer_item(config)]


def dancer_item(config: BackendConfig) -> Item:
    """Which generator ``generate``/``serve`` will dance with for ``config``, and why (``backend.generators``)."""
    from .generators import pick_motion_generator

    try:
        pick = pick_motion_generator(config)
    except MaceError as exc:
        return Item("dances with", False, exc.message, exc.hint or "")
    names = {"motion_expert": "Motion Expert", "choreographer": "choreographer"}
    hint = "" if pick.name == "motion_expert" else "the Motion Expert dances like the paper; it runs on a CPU too"
    return Item("dances with", True, f"{names[pick.name]}: {pick.reason}", hint)


def appearance_items(config: BackendConfig) -> list[Item]:
    from .appearance import wan_available
    from .appearance.wan import ADAPTER_FILE, LORA_FILE, missing_wan_weights_error

    wan_dir = config.wan_weights
    has_wan = (wan_dir / "model_index.json").is_file()
    items = [Item("CPU puppet renderer", True, "embedded default, no weights needed")]
    items.append(Item("Wan2.2-Animate base", has_wan, str(wan_dir) if has_wan else f"not found in {wan_dir}",
                      "" if has_wan else (missing_wan_weights_error(wan_dir, "model_index.json").hint or "")))
    from .config import MACE_APPEARANCE_DOWNLOAD_HINT

    mace_dir = config.mace_appearance_weights
    nested = mace_dir.is_dir() and any(p.is_file() for p in mace_dir.rglob("*"))
    for name in (ADAPTER_FILE, LORA_FILE):
        present = (mace_dir / name).is_file()
        hint = "optional, MACE-Dance's fine-tune of Wan-Animate: " + MACE_APPEARANCE_DOWNLOAD_HINT.format(path=mace_dir)
        if nested:  # files are there, not where they are looked for: the Wan renderer refuses to guess
            hint = f"{mace_dir} holds other files: run `mace-dance weights install {mace_dir}`"
        items.append(Item(f"MACE {name}", present, str(mace_dir / name) if present else f"not found in {mace_dir}",
                          "" if present else hint))
    if has_wan and not wan_available(config):
        items.append(Item("Wan-Animate usable", False, "weights found but no CUDA GPU", "Wan-Animate-14B needs a >= 80 GB GPU"))
    return items


def inventory(config: BackendConfig | None = None) -> dict[str, list[Item]]:
    """Every check, grouped by section."""
    config = config or BackendConfig()
    return {
        f"MACE-Dance Studio {__version__} — home {config.home}": device_items(config),
        "motion": motion_items(config),
        "appearance": appearance_items(config),
    }
