"""Appearance Expert: an (edited) SMPL motion plus a reference photo -> the dance video with its music.

Two renderers share one interface, ``renderer.render(RenderRequest, ctx) -> RenderResult``:

* :class:`~backend.appearance.wan.WanAnimateRenderer` — Wan2.2-Animate-14B through diffusers, driven by a
  DWPose-style pose video of the motion, with MACE-Dance's Body Adapter and LoRA when present. Needs the
  weights and a large GPU.
* :class:`~backend.appearance.puppet.PuppetRenderer` — the default: the reference person cut out and
  deformed as a 2D puppet (ARAP), on the CPU, with no weights.

:func:`select_renderer` picks one from the backend configuration; ``RenderResult.renderer`` says which ran.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from shared.errors import InvalidInputError

from .request import RenderOptions, RenderRequest, RenderResult, parse_render_options

if TYPE_CHECKING:
    from backend.config import BackendConfig
    from backend.progress import JobContext

    from .wan_options import WanAnimateOptions

__all__ = ["RenderOptions", "RenderRequest", "RenderResult", "Renderer", "parse_render_options", "select_renderer",
           "RENDERER_CHOICES"]

logger = logging.getLogger(__name__)

RENDERER_CHOICES = ("auto", "puppet", "wan")


class Renderer(Protocol):
    """What every renderer has: a name, the names a flat mapping of its own options may use
    (``OPTION_NAMES``), ``request_options`` to build its options object from one, and ``render``. One that
    renders in segments and keeps the finished ones in ``request.checkpoint_dir`` says so with
    ``KEEPS_SEGMENTS = True`` (then a job gives it a checkpoint folder, to resume from)."""

    name: str
    OPTION_NAMES: tuple[str, ...]

    def request_options(self, values: dict): ...

    def render(self, request: RenderRequest, ctx: "JobContext | None" = None) -> RenderResult: ...


def wan_available(config: "BackendConfig") -> bool:
    """True when the Wan-Animate base weights are installed and a CUDA GPU is visible."""
    if not (config.wan_weights / "model_index.json").is_file():
        return False
    return config.resolve_device().startswith("cuda")


def select_renderer(config: "BackendConfig | None" = None, kind: str | None = None,
                    wan_options: "WanAnimateOptions | None" = None) -> Renderer:
    """The renderer to use.

    Args:
        config: backend configuration (weights paths, device); default ``BackendConfig()``.
        kind: "auto" (Wan-Animate when its weights and a GPU are there, else the puppet), "wan" (Wan-Animate
            or a MissingWeightsError naming the files) or "puppet"; default ``config.video_renderer``.
        wan_options: the Wan-Animate settings (None = the defaults); used as given, never copied into a dict.
    """
    from backend.config import BackendConfig

    config = config or BackendConfig()
    kind = kind or config.video_renderer
    if kind not in RENDERER_CHOICES:
        raise InvalidInputError(f"unknown renderer {kind!r}", hint=f"use one of {', '.join(RENDERER_CHOICES)}")
    if kind == "wan" or (kind == "auto" and wan_available(config)):
        from .wan import WanAnimateOptions, WanAnimateRenderer

        return WanAnimateRenderer.from_config(config, wan_options if wan_options is not None else WanAnimateOptions())
    if kind == "auto":
        logger.info("Wan-Animate weights or GPU not available: rendering with the CPU puppet")
    from .puppet import PuppetRenderer

    return PuppetRenderer()
