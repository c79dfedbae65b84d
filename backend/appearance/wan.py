"""Wan2.2-Animate through diffusers' ``WanAnimatePipeline``, with MACE-Dance's appearance weights.

MACE-Dance's Appearance Expert is Wan2.2-Animate-14B plus two files:

* ``Adapter.safetensors`` — the fine-tuned "Body Adapter". Only its ``pose_patch_embedding.*`` keys are used
  (MACE's own inference drops the rest); diffusers' transformer names the module identically, so after
  stripping DiffSynth's prefixes the two tensors load straight into ``transformer.pose_patch_embedding``.
* ``LoRA.safetensors`` — a DiffSynth (peft-injected) LoRA on the DiT, applied at a fixed weight of 0.5.
  Keys look like ``blocks.0.self_attn.q.lora_A.default.weight``; dropping ``.default`` and prefixing
  ``diffusion_model.`` gives the original-Wan LoRA layout that diffusers' Wan loader converts itself.

Base weights: a local ``Wan2.2-Animate-14B-Diffusers`` folder, optionally with the transformer replaced by
original-format (Wan / DiffSynth) weights — one file or the release's shards — converted with diffusers' own
key map and the folder's config, so nothing is fetched from the network. ``mace-dance weights`` installs
all of them (:mod:`backend.weights`).

Rendering streams: segment after segment with the pipeline's own conditioning (:mod:`.wan_segments`), the
model driven at its own frame rate and the frames written at the rate asked, so memory stays flat in the
song's length.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.out_of_memory import out_of_memory_as
from shared.errors import InvalidInputError, MissingWeightsError

from .face_crop import face_box_from_keypoints
from .wan_options import MACE_LORA_SCALE, WanAnimateOptions
from .wan_segments import FrameTiming, SegmentCheckpoints, WanSegments

if TYPE_CHECKING:
    from backend.config import BackendConfig
    from backend.progress import JobContext

    from .request import RenderRequest, RenderResult

logger = logging.getLogger(__name__)

#: Wan2.2-Animate's 720p budget: a default-size video keeps the photo's aspect within this many pixels.
WAN_MAX_PIXELS = 1280 * 720

ADAPTER_FILE = "Adapter.safetensors"
LORA_FILE = "LoRA.safetensors"
#: Prefixes MACE-Dance's training wrapper puts before the adapter keys (stripped, longest first).
ADAPTER_PREFIXES = ("module.pipe.animate_adapter.", "pipe.animate_adapter.", "module.animate_adapter.", "animate_adapter.")
ADAPTER_KEY = "pose_patch_embedding."
#: Prefixes DiffSynth puts before the DiT LoRA keys.
LORA_PREFIXES = ("module.pipe.dit.", "pipe.dit.", "module.dit.", "dit.", "module.")

#: WanAnimateOptions fields a single render may change (the others take effect when the model is loaded).
PER_REQUEST_OPTIONS = ("steps", "guidance_scale", "segment_frame_length", "prev_segment_conditioning_frames", "seed",
                       "prompt", "face", "model_fps")  # fmt: skip
#: Frame rate the model is driven at when none is set. Wan2.2-Animate was trained on, and its own
#: preprocessing resamples driving videos to, 30 fps (Wan2.2's animate_14B config: sample_fps = 30,
#: frame_num = 77; preprocess --fps default 30). MACE-Dance fine-tuned it on pose videos made by its
#: motion_to_pose_video tool at 16 fps (its default; outputs are saved at 15-16 fps and its video metrics
#: run at 16 fps), so with MACE's adapter the pose video is drawn at 16 fps: a 77-frame segment then covers
#: 4.8 s instead of 2.6 s. The frames are resampled to the requested output rate as they are written.
WAN_ANIMATE_FPS = 30.0
MACE_APPEARANCE_FPS = 16.0

WEIGHTS_LAYOUT = """\
$MACE_DANCE_HOME/weights/appearance/wan/    Wan2.2-Animate-14B-Diffusers folder:
    model_index.json, transformer/ (config.json + diffusion_pytorch_model*.safetensors), vae/, text_encoder/,
    tokenizer/, image_encoder/, image_processor/, scheduler/
$MACE_DANCE_HOME/weights/appearance/mace/   Adapter.safetensors, LoRA.safetensors (optional, MACE-Dance)"""


# --- loading -------------------------------------------------------------------------------------------------


def missing_wan_weights_error(folder: Path, what: str) -> MissingWeightsError:
    from backend.config import WAN_DOWNLOAD_HINT

    return MissingWeightsError(
        f"Wan-Animate weights not found: {what}",
        hint=f"{WAN_DOWNLOAD_HINT.format(path=folder)}. Expected layout:\n{WEIGHTS_LAYOUT}",
    )


def load_wan_animate_pipeline(model_dir: str | Path, transformer_file: str | Path | None = None,
                              dtype: str = "bfloat16", **kwargs):  # fmt: skip
    """Load ``WanAnimatePipeline`` from a local diffusers folder, offline.

    Args:
        model_dir: folder with ``model_index.json``.
        transformer_file: optional original-format transformer (Wan / DiffSynth ``.safetensors``, one file or a
            list of shards), converted with ``model_dir/transformer/config.json`` (:func:`load_original_transformer`).
        dtype: torch dtype name for the transformer, text and image encoders (the VAE stays float32).
        kwargs: passed to ``from_pretrained`` (e.g. ``tokenizer=None``).
    """
    import torch
    from diffusers import WanAnimatePipeline

    model_dir = Path(model_dir)
    if not (model_dir / "model_index.json").is_file():
        raise missing_wan_weights_error(model_dir, f"{model_dir / 'model_index.json'} does not exist")
    components = _model_index(model_dir)
    missing = [name for name, spec in components.items() if spec and spec[0] is not None
               and name not in kwargs and not (model_dir / name).is_dir()]  # fmt: skip
    if transformer_file is not None and "transformer" in missing:
        missing.remove("transformer")
    if missing:
        raise missing_wan_weights_error(model_dir, f"{model_dir} lacks the component folders {missing}")
    for name, spec in components.items():  # components saved as None (e.g. no tokenizer: prompt_embeds only)
        if spec and spec[0] is None:
            kwargs.setdefault(name, None)
    torch_dtype = getattr(torch, dtype)
    if transformer_file is not None:
        kwargs["transformer"] = load_original_transformer(transformer_file, model_dir / "transformer", torch_dtype)
    try:
        # Wan's VAE stays in float32 (it is unstable in half precision, and small).
        dtypes = {"default": torch_dtype, "vae": torch.float32}
        pipe = WanAnimatePipeline.from_pretrained(str(model_dir), torch_dtype=dtypes, local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise missing_wan_weights_error(model_dir, f"cannot load the pipeline from {model_dir}: {exc}") from exc
    return pipe


def load_original_transformer(files, config_dir: Path, torch_dtype):
    """A Wan-Animate transformer from original-format (Wan / DiffSynth) weights, offline.

    Args:
        files: one ``.safetensors`` file or a list of shards (the official release has four).
        config_dir: a diffusers ``transformer`` folder with ``config.json`` (the weights there are not read).
        torch_dtype: dtype of the loaded model.
    Keys are renamed by diffusers' own converter (``convert_wan_transformer_to_diffusers``, the one
    ``from_single_file`` uses, which also strips ``model.diffusion_model.``); every weight of the model must
    be present and every converted key used.
    """
    from accelerate import init_empty_weights
    from diffusers import WanAnimateTransformer3DModel
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    paths = [Path(files)] if isinstance(files, (str, Path)) else [Path(f) for f in files]
    missing_files = [str(p) for p in paths if not p.is_file()]
    if missing_files or not paths:
        raise missing_wan_weights_error(config_dir.parent, f"transformer files not found: {missing_files or paths}")
    if not (config_dir / "config.json").is_file():
        raise missing_wan_weights_error(config_dir.parent, f"{config_dir / 'config.json'} is needed to build the model")
    checkpoint: dict = {}
    for path in paths:
        checkpoint.update(_read_safetensors(path))
    converted = convert_wan_transformer_to_diffusers(checkpoint)
    with init_empty_weights():
        model = WanAnimateTransformer3DModel.from_config(WanAnimateTransformer3DModel.load_config(str(config_dir)))
    expected = set(model.state_dict())
    absent, unused = sorted(expected - set(converted)), sorted(set(converted) - expected)
    if absent or unused:
        raise InvalidInputError(
            f"{paths[0]} is not a Wan-Animate transformer for this config: {len(absent)} weights missing "
            f"(e.g. {absent[:3]}), {len(unused)} unexpected (e.g. {unused[:3]})",
            hint="give all shards of the original Wan2.2-Animate-14B DiT, with the matching diffusers config",
        )
    model.load_state_dict({k: v.to(torch_dtype) for k, v in converted.items()}, strict=True, assign=True)
    return model.to(torch_dtype)


def _model_index(model_dir: Path) -> dict:
    """Components of a diffusers folder: name -> [library, class] (``[None, None]`` = saved as None)."""
    try:
        index = json.loads((model_dir / "model_index.json").read_text())
    except (OSError, ValueError) as exc:
        raise missing_wan_weights_error(model_dir, f"unreadable model_index.json: {exc}") from exc
    return {name: spec for name, spec in index.items() if not name.startswith("_") and isinstance(spec, list)}


def _read_safetensors(path: Path) -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise InvalidInputError(f"cannot read {path}: {exc}", hint="download the file again") from exc


def _strip_prefix(key: str, prefixes: tuple[str, ...]) -> str:
    """``key`` without the first of ``prefixes`` it starts with."""
    for prefix in prefixes:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def adapter_state_dict(raw: dict) -> dict:
    """MACE's ``Adapter.safetensors`` -> ``{"weight": …, "bias": …}`` of ``pose_patch_embedding``."""
    result = {}
    for key, tensor in raw.items():
        key = _strip_prefix(key, ADAPTER_PREFIXES)
        if key.startswith(ADAPTER_KEY):
            result[key[len(ADAPTER_KEY) :]] = tensor
    return result


def load_mace_adapter(transformer, path: str | Path) -> None:
    """Load MACE-Dance's Body Adapter (its ``pose_patch_embedding``) into a Wan-Animate transformer."""
    path = Path(path)
    weights = adapter_state_dict(_read_safetensors(path))
    if not weights:
        raise InvalidInputError(f"{path} has no pose_patch_embedding.* keys", hint="is this MACE-Dance's Adapter.safetensors?")
    module = transformer.pose_patch_embedding
    expected = {name: tuple(p.shape) for name, p in module.state_dict().items()}
    got = {name: tuple(t.shape) for name, t in weights.items()}
    if expected != got:
        raise InvalidInputError(
            f"{path}: pose_patch_embedding shapes {got} do not match the transformer's {expected}",
            hint="the adapter belongs to a different Wan-Animate size (MACE-Dance's is for the 14B model)",
        )
    reference = next(module.parameters())
    module.load_state_dict({k: v.to(reference.device, reference.dtype) for k, v in weights.items()}, strict=True)


def diffsynth_lora_to_wan(raw: dict) -> dict:
    """DiffSynth peft LoRA keys -> original-Wan LoRA keys that diffusers' Wan loader converts.

    ``pipe.dit.blocks.0.self_attn.q.lora_A.default.weight`` -> ``diffusion_model.blocks.0.self_attn.q.lora_A.weight``
    """
    result = {}
    for key, tensor in raw.items():
        key = _strip_prefix(key, LORA_PREFIXES).replace(".default.", ".")
        if not key.startswith("diffusion_model."):
            key = "diffusion_model." + key
        result[key] = tensor
    return result


def load_mace_lora(pipe, path: str | Path, scale: float = MACE_LORA_SCALE, adapter_name: str = "mace") -> None:
    """Load MACE-Dance's DiT LoRA at ``scale`` and fuse it into the weights (W += scale * B @ A)."""
    path = Path(path)
    state = diffsynth_lora_to_wan(_read_safetensors(path))
    try:
        pipe.load_lora_weights(state, adapter_name=adapter_name)
    except ValueError as exc:
        if "PEFT" in str(exc) or "peft" in str(exc):
            raise InvalidInputError("loading the MACE-Dance LoRA needs the `peft` package", hint="pip install peft") from exc
        raise InvalidInputError(f"{path} is not a LoRA for this Wan-Animate transformer: {exc}") from exc
    pipe.set_adapters([adapter_name], adapter_weights=[scale])
    pipe.fuse_lora(components=["transformer"], adapter_names=[adapter_name])
    pipe.unload_lora_weights()  # keeps the fused weights, drops the peft wrappers (faster inference)


# --- rendering -----------------------------------------------------------------------------------------------


@dataclass
class WanAnimateRenderer:
    """Render with Wan-Animate (+ MACE-Dance's adapter and LoRA when given).

    Either pass a ready ``pipeline`` or a ``model_dir``; the pipeline is loaded on first use.

    Attributes:
        model_dir: diffusers folder of Wan2.2-Animate-14B.
        transformer_file: optional original-format transformer file.
        adapter_path, lora_path: MACE-Dance's files (each optional).
        options: generation settings.
        pipeline: an already loaded ``WanAnimatePipeline``.
    """

    model_dir: Path | None = None
    transformer_file: Path | None = None
    adapter_path: Path | None = None
    lora_path: Path | None = None
    options: WanAnimateOptions = field(default_factory=WanAnimateOptions)
    pipeline: Any = None
    #: Its own options: a :class:`WanAnimateOptions` in ``request.renderer_options``; per video only these
    #: fields may differ from the renderer's (the others are fixed when the model is loaded).
    OPTION_NAMES = PER_REQUEST_OPTIONS
    #: It renders in segments and keeps the finished ones in ``request.checkpoint_dir`` (to resume from).
    KEEPS_SEGMENTS = True

    @classmethod
    def from_config(cls, config: "BackendConfig", options: WanAnimateOptions | None = None) -> "WanAnimateRenderer":
        """The renderer for the configured weights; raises MissingWeightsError when the base model is absent
        or MACE's appearance folder is there but does not hold both files at its top."""
        from backend.config import MACE_APPEARANCE_DOWNLOAD_HINT

        model_dir = Path(config.wan_weights)
        if not (model_dir / "model_index.json").is_file():
            raise missing_wan_weights_error(model_dir, f"no model_index.json in {model_dir}")
        mace = Path(config.mace_appearance_weights)
        adapter, lora = mace / ADAPTER_FILE, mace / LORA_FILE
        present = [p for p in (adapter, lora) if p.is_file()]
        if mace.is_dir() and any(mace.iterdir()) and len(present) < 2:
            # Someone meant to install MACE's weights: rendering plain Wan-Animate instead would be a silent downgrade.
            missing = [p.name for p in (adapter, lora) if not p.is_file()]
            found = sorted(str(p.relative_to(mace)) for p in mace.rglob("*") if p.is_file())[:5]
            raise MissingWeightsError(
                f"{mace} lacks {' and '.join(missing)} at its top (it holds {found})",
                hint=f"run `mace-dance weights install {mace}`: it finds the files by content; or empty the "
                "folder to render with plain Wan-Animate",
            )
        if not present:
            logger.warning("MACE-Dance appearance weights not found in %s; using plain Wan-Animate (%s)",
                           mace, MACE_APPEARANCE_DOWNLOAD_HINT.format(path=mace))  # fmt: skip
        options = options or WanAnimateOptions()
        if options.device == "auto":  # a copy: the caller's settings object stays as it was given
            options = dataclasses.replace(options, device=config.resolve_device())
        return cls(model_dir=model_dir, adapter_path=adapter if present else None,
                   lora_path=lora if present else None, options=options)  # fmt: skip

    @property
    def name(self) -> str:
        return "wan-animate+mace" if (self.adapter_path or self.lora_path) else "wan-animate"

    @property
    def defaults(self) -> dict:
        """What a client sees in the server's ``hello``: the frame rate the model is driven at."""
        return {"wan_model_fps": self.model_fps(self.options)}

    def model_fps(self, options: WanAnimateOptions) -> float:
        if options.model_fps is not None:
            return float(options.model_fps)
        return MACE_APPEARANCE_FPS if (self.adapter_path or self.lora_path) else WAN_ANIMATE_FPS

    def load(self):
        """Load the pipeline and MACE's weights once; returns the pipeline.

        MACE's weights go in before CPU offload is set up: offload hooks (sequential offload above all)
        replace the modules' weights with placeholders, and anything written into those is lost. Without
        offload the pipeline is moved to the GPU first, so the LoRA is fused there (fast).
        """
        if self.pipeline is None:
            if self.model_dir is None:
                raise missing_wan_weights_error(Path("."), "no Wan-Animate model folder was configured")
            pipe = load_wan_animate_pipeline(self.model_dir, self.transformer_file, self.options.dtype)
            if self.options.offload == "none":
                self._place(pipe)
            self._load_mace(pipe)
            if self.options.offload != "none":
                self._place(pipe)
            self.pipeline = pipe
        return self.pipeline

    def _load_mace(self, pipe) -> None:
        if self.adapter_path is not None:
            load_mace_adapter(pipe.transformer, self.adapter_path)
        if self.lora_path is not None:
            load_mace_lora(pipe, self.lora_path, self.options.lora_scale)

    def _place(self, pipe) -> None:
        device = self.options.device if self.options.device != "auto" else _default_device()
        if self.options.offload == "model":
            pipe.enable_model_cpu_offload(device=device)
        elif self.options.offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=device)
        else:
            pipe.to(device)

    def render(self, request: "RenderRequest", ctx: "JobContext | None" = None) -> "RenderResult":
        """Render segment after segment, writing frames as they are decoded: memory does not grow with the song."""
        from backend.progress import ensure_context

        from .request import OutputVideos

        ctx = ensure_context(ctx)
        request.fit_size(16, max_pixels=WAN_MAX_PIXELS)  # the photo's aspect at Wan's nearest supported size
        request.validate()
        if request.width % 16 or request.height % 16:
            raise InvalidInputError(
                f"Wan-Animate needs width and height divisible by 16, got {request.width}x{request.height}",
                hint="use 720x1280, 480x832 or another multiple of 16",
            )
        options = self._request_options(request)
        model_fps = self.model_fps(options)
        reference = request.canvas_reference()
        for note in reference.person.notes:
            logger.warning("%s", note)
        image, keypoints = reference.image, reference.keypoints
        # The model is driven at model_fps; the files are written at the requested rate.
        pose = request.pose_video(request.motion.resample(model_fps), keypoints, hands=True)
        face_box = face_box_from_keypoints(keypoints, image.shape[:2]) if keypoints is not None else None
        ctx.report(0.0, "loading Wan-Animate")
        pipe = self._guard_memory(self.load, options, (request.height, request.width))
        ctx.check_cancelled()
        checkpoints = None if request.checkpoint_dir is None else SegmentCheckpoints(
            request.checkpoint_dir, self._render_key(request, options, image, keypoints))
        segments = WanSegments(pipe, image, pose, face_box, options, checkpoints)
        with OutputVideos(request) as outputs:
            output_pose = request.pose_video(request.timed_motion(), keypoints, hands=True) if outputs.wants_pose_frames else None
            count = len(output_pose) if output_pose is not None else request.timed_motion().num_frames
            timing = FrameTiming(len(pose), model_fps, count, request.output_fps)
            with out_of_memory_hint(options, (request.height, request.width)):
                for index, frame in enumerate(segments.frames(ctx.subrange(0.02, 0.98))):
                    for out_index in timing.outputs_for(index):
                        outputs.write(frame, output_pose.frame(out_index) if output_pose is not None else None)
        if checkpoints is not None:
            checkpoints.clear()  # the video is written
        ctx.report(1.0, "done")
        return outputs.result(self.name, count, request.output_fps)

    def _render_key(self, request: "RenderRequest", options: WanAnimateOptions, image, keypoints) -> str:
        """A digest of everything that decides a render's frames (its segment checkpoints belong to it alone)."""
        digest = hashlib.sha256()
        settings = {name: value for name, value in options.__dict__.items() if name not in ("prompt_embeds", "device",
                                                                                           "offload")}
        digest.update(json.dumps([settings, request.width, request.height, str(self.model_dir), str(self.adapter_path),
                                  str(self.lora_path)], sort_keys=True, default=str).encode())
        embeds = options.prompt_embeds
        arrays = [image, request.motion.poses, request.motion.trans, np.asarray(request.motion.fps), keypoints,
                  None if embeds is None else embeds.detach().float().cpu().numpy()]
        for array in arrays:
            digest.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def request_options(self, values: dict) -> WanAnimateOptions:
        """This renderer's options with per-video overrides (PER_REQUEST_OPTIONS fields) from a flat mapping."""
        unknown = sorted(set(values) - set(PER_REQUEST_OPTIONS))
        if unknown:
            raise InvalidInputError(
                f"Wan-Animate options {unknown} cannot be set per video",
                hint=f"per video: {', '.join(PER_REQUEST_OPTIONS)}; dtype, device, offload and lora_scale are set "
                "when the backend starts",
            )
        return WanAnimateOptions(**{**self.options.__dict__, **values})

    def _request_options(self, request: "RenderRequest") -> WanAnimateOptions:
        """The options for this video: ``request.renderer_options`` (per-video fields only may differ)."""
        options = request.options_for(WanAnimateOptions) if request.renderer_options is not None else self.options
        def differs(name: str) -> bool:
            mine, theirs = getattr(self.options, name), getattr(options, name)
            return mine is not theirs and (not isinstance(mine, (str, int, float)) or mine != theirs)

        fixed = [name for name in WanAnimateOptions.__dataclass_fields__
                 if name not in PER_REQUEST_OPTIONS and differs(name)]  # fmt: skip
        if fixed:
            raise InvalidInputError(
                f"Wan-Animate options {fixed} cannot be set per video",
                hint=f"per video: {', '.join(PER_REQUEST_OPTIONS)}; dtype, device, offload and lora_scale are set "
                "when the backend starts",
            )
        return options

    @staticmethod
    def _guard_memory(work, options: WanAnimateOptions, size: tuple[int, int]):
        """Run ``work()`` under :func:`out_of_memory_hint`."""
        with out_of_memory_hint(options, size):
            return work()


@contextmanager
def out_of_memory_hint(options: WanAnimateOptions, size: tuple[int, int]):
    """Running out of GPU memory inside becomes OutOfMemoryError naming the option that helps.

    ``size`` is the video's (height, width), for the hint.
    """
    with out_of_memory_as("the GPU ran out of memory while generating the video", _out_of_memory_hint(options, *size)):
        yield


def _out_of_memory_hint(options: WanAnimateOptions, height: int, width: int) -> str:
    """The next thing to try: CPU offload, then shorter segments, then a lower resolution."""
    if options.offload == "none":
        return "turn on CPU offload (--offload model, or sequential on < 24 GB GPUs)"
    if options.segment_frame_length > 33:
        return f"use shorter segments (--segment-frames 33 instead of {options.segment_frame_length})"
    return f"render at a lower resolution than {width}x{height} (e.g. 480x832)"


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
