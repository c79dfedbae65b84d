"""Wan-Animate generation one segment at a time, so a whole song never sits in memory.

diffusers' ``WanAnimatePipeline.__call__`` generates a long video in segments of ``segment_frame_length``
frames, each conditioned on the last ``prev_segment_conditioning_frames`` decoded frames of the one
before, but it takes the whole pose and face videos as inputs, preprocesses them all onto the device as
float32 and concatenates every decoded segment before returning: about 36 MB per 720x1280 frame. This
module runs the same segment loop with the pipeline's own components and helpers
(``prepare_reference_image_latents``, ``prepare_pose_latents``, ``prepare_prev_segment_cond_latents``,
``prepare_latents``, the transformer, scheduler and VAE), in the same order, with the same random draws,
but draws the pose frames of one segment at a time and yields each segment's frames as soon as they are
decoded. Only the conditioning frames carry over, so memory is flat in the song's length.
A test checks that its frames equal the pipeline's own for the same inputs and seed.

With :class:`SegmentCheckpoints` every finished segment is kept on disk (its latents as denoised, and what
the next segment starts from: the conditioning frames as decoded and the random generator's state, all
lossless), so a render that stopped — a killed worker, Ctrl+C — continues from its last complete segment
and yields the very frames the uninterrupted render would have (the finished segments' latents are decoded
again, which costs a VAE pass instead of the denoising).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from shared.atomic import atomic_write
from shared.errors import InvalidInputError

from .face_crop import face_image

if TYPE_CHECKING:
    from .pose_video import PoseVideo
    from .wan_options import WanAnimateOptions


def padded_index(index: int, length: int) -> int:
    """The source frame of position ``index`` in a video padded the way the pipeline pads it
    (``pad_video_frames``: forwards, then backwards, then forwards again ...)."""
    if length == 1:
        return 0
    period = 2 * (length - 1)
    position = index % period
    return position if position < length else period - position


class FrameTiming:
    """Maps frames generated at ``model_fps`` to output frames at ``output_fps`` (nearest frame in time,
    as ffmpeg's fps filter does), in order, so frames can be written as they come."""

    def __init__(self, model_frames: int, model_fps: float, output_frames: int, output_fps: float):
        self.model_frames, self.ratio, self.output_frames = model_frames, model_fps / output_fps, output_frames
        self._next = 0

    def source(self, out_index: int) -> int:
        return min(int(math.floor(out_index * self.ratio + 0.5)), self.model_frames - 1)

    def outputs_for(self, model_index: int) -> range:
        """The output frames showing model frame ``model_index`` (call with 0, 1, 2 ... in turn)."""
        start = self._next
        while self._next < self.output_frames and self.source(self._next) <= model_index:
            self._next += 1
        return range(start, self._next)


class SegmentCheckpoints:
    """The finished segments of one render, kept in ``folder``: ``segment-00000.npz`` … (each written
    atomically, so one that exists is whole) holding the segment's ``latents`` as denoised, the ``previous``
    conditioning frames as decoded (float32; their dtype beside them) and the random generator's ``state``
    after the segment. ``key`` names the render (a digest of everything that decides its frames): a folder
    holding another render's segments is emptied, never reused.

    Disk: the latents of a 77-frame 720x1280 segment are 16 x 20 x 90 x 160 float32 values, 18 MB; a song's
    worth is removed by ``clear()`` when its video is written."""

    def __init__(self, folder: str | Path, key: str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        key_file = self.folder / "key.json"
        if key_file.is_file() and json.loads(key_file.read_text(encoding="utf-8")).get("key") != key:
            for stale in self.folder.glob("segment-*.npz"):
                stale.unlink()
        with atomic_write(key_file, "w") as handle:
            json.dump({"key": key}, handle)

    def _path(self, index: int) -> Path:
        return self.folder / f"segment-{index:05d}.npz"

    def finished(self) -> int:
        """How many segments, from the first on without a gap, are kept."""
        count = 0
        while self._path(count).is_file():
            count += 1
        return count

    def save(self, index: int, latents, previous, generator_state) -> None:
        with atomic_write(self._path(index)) as handle:
            np.savez(handle, latents=latents.float().cpu().numpy(), previous=previous.float().cpu().numpy(),
                     previous_dtype=np.array(str(previous.dtype).removeprefix("torch.")),
                     state=generator_state.cpu().numpy())

    def load(self, index: int) -> dict:
        """Segment ``index``: {"latents", "previous" (float32 numpy), "previous_dtype" (str), "state"}."""
        with np.load(self._path(index), allow_pickle=False) as data:
            return {name: data[name] for name in data.files}

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class WanSegments:
    """The frames of one render, generated segment by segment (see the module docstring).

    Args:
        pipe: a loaded (and placed/offloaded) ``WanAnimatePipeline``.
        image: (H, W, 3) uint8 reference on the output canvas.
        pose: the driving pose video (frames drawn on demand).
        face_box: the reference's face crop box, or None (then a black face).
        options: the Wan settings of this render.
        checkpoints: where finished segments are kept (and found again, to resume), or None.
    """

    def __init__(self, pipe, image: np.ndarray, pose: "PoseVideo", face_box, options: "WanAnimateOptions",
                 checkpoints: SegmentCheckpoints | None = None):
        self.pipe, self.image, self.pose, self.options = pipe, image, pose, options
        self.checkpoints = checkpoints
        self.num_frames = len(pose)
        overlap = options.prev_segment_conditioning_frames
        if self.num_frames <= overlap:
            raise InvalidInputError(f"the motion has {self.num_frames} frames; Wan-Animate needs more than {overlap}")
        self.effective = options.segment_frame_length - overlap
        self.num_segments = -(-(self.num_frames - overlap) // self.effective)
        size = int(pipe.transformer.config.motion_encoder_size)
        self.face = face_image(image, face_box if options.face == "reference" else None, size)

    def frames(self, ctx) -> Iterator[np.ndarray]:
        """Yield (H, W, 3) uint8 frames in order; ``ctx`` gets progress per step and may cancel between steps."""
        try:
            for segment in self.segments(ctx):
                yield from segment
        finally:  # also on cancel or error: model offload moves the components back to the CPU
            self.pipe.maybe_free_model_hooks()

    def segments(self, ctx) -> Iterator[np.ndarray]:
        """Yield each segment's new frames as a (n, H, W, 3) uint8 array."""
        import torch

        # No autograd: the conditioning frames chain the segments, so a graph would keep every segment alive.
        # (torch.no_grad wraps a generator so that grad mode is off only while it runs.)
        yield from torch.no_grad()(self._segments)(ctx)

    def _segments(self, ctx) -> Iterator[np.ndarray]:
        import torch
        from PIL import Image

        pipe, options = self.pipe, self.options
        height, width = self.image.shape[:2]
        length, overlap = options.segment_frame_length, options.prev_segment_conditioning_frames
        cfg = options.guidance_scale > 1
        pipe._guidance_scale = options.guidance_scale  # read by the pipeline's helpers
        pipe._attention_kwargs, pipe._interrupt = None, False
        device = pipe._execution_device
        generator = torch.Generator(device="cpu").manual_seed(options.seed)

        if options.prompt_embeds is None and getattr(pipe, "tokenizer", None) is None:
            raise InvalidInputError("this pipeline has no tokenizer", hint="pass prompt_embeds in the Wan options")
        given = options.prompt_embeds
        prompt_embeds, negative_embeds = pipe.encode_prompt(
            None if given is not None else options.prompt, prompt_embeds=given, do_classifier_free_guidance=cfg,
            num_videos_per_prompt=1, device=device)  # fmt: skip
        transformer_dtype = pipe.transformer.dtype
        prompt_embeds = prompt_embeds.to(transformer_dtype)
        if negative_embeds is not None:
            negative_embeds = negative_embeds.to(transformer_dtype)

        reference = Image.fromarray(self.image)
        pixels = pipe.vae_image_processor.preprocess(reference, height=height, width=width, resize_mode="fill")
        image_embeds = pipe.encode_image(reference, device).to(transformer_dtype)
        reference_latents = pipe.prepare_reference_image_latents(pixels.to(device, dtype=torch.float32), 1,
                                                                 generator=generator, device=device)  # fmt: skip
        size = self.face.shape[0]
        face = pipe.video_processor.preprocess_video([Image.fromarray(self.face)] * length, height=size, width=size)
        face = face.to(device, dtype=transformer_dtype)  # the same crop on every frame: one segment's worth

        total_steps, done = self.num_segments * options.steps, 0
        previous = None  # the last decoded frames of the previous segment, (1, 3, overlap, H, W) in [-1, 1]
        start = 0
        kept = self.checkpoints.finished() if self.checkpoints is not None else 0
        for segment in range(self.num_segments):
            if segment < kept:  # finished before: its latents as denoised, then what the next one starts from
                saved = self.checkpoints.load(segment)
                latents = torch.from_numpy(saved["latents"]).to(device)
                done += options.steps
                ctx.report(done / total_steps, f"segment {segment + 1}/{self.num_segments} kept from before")
                decoded = self._decode(latents)
                del latents
                if start > 0:
                    decoded = decoded[:, :, overlap:]
                previous = torch.from_numpy(saved["previous"]).to(device, getattr(torch, str(saved["previous_dtype"])))
                generator.set_state(torch.from_numpy(saved["state"]))
                keep = min(decoded.shape[2], self.num_frames - (start + overlap if start > 0 else 0))
                yield _to_uint8(decoded[:, :, :keep])
                del decoded
                start += self.effective
                continue
            pipe.scheduler.set_timesteps(options.steps, device=device)
            latents = pipe.prepare_latents(1, num_channels_latents=pipe.vae.config.z_dim, height=height, width=width,
                                           num_frames=length, dtype=torch.float32, device=device, generator=generator)  # fmt: skip
            pose_frames = [Image.fromarray(self.pose.frame(padded_index(i, self.num_frames)))
                           for i in range(start, start + length)]  # fmt: skip
            pose_video = pipe.video_processor.preprocess_video(pose_frames, height=height, width=width)
            pose_latents = pipe.prepare_pose_latents(pose_video.to(device, dtype=torch.float32), 1,
                                                     generator=generator, device=device).to(transformer_dtype)  # fmt: skip
            del pose_video, pose_frames
            condition = pipe.prepare_prev_segment_cond_latents(
                previous, batch_size=1, segment_frame_length=length, start_frame=start, height=height, width=width,
                prev_segment_cond_frames=overlap, task="animate", generator=generator, device=device)  # fmt: skip
            condition = torch.cat([reference_latents, condition], dim=2)

            for step, t in enumerate(pipe.scheduler.timesteps):
                model_input = torch.cat([latents, condition], dim=1).to(transformer_dtype)
                timestep = t.expand(latents.shape[0])
                common = dict(hidden_states=model_input, timestep=timestep, encoder_hidden_states_image=image_embeds,
                              pose_hidden_states=pose_latents, return_dict=False)  # fmt: skip
                with pipe.transformer.cache_context("cond"):
                    noise = pipe.transformer(encoder_hidden_states=prompt_embeds, face_pixel_values=face, **common)[0]
                if cfg:  # the pipeline's unconditional branch: no text, a blank (-1) face
                    with pipe.transformer.cache_context("uncond"):
                        uncond = pipe.transformer(encoder_hidden_states=negative_embeds, face_pixel_values=face * 0 - 1,
                                                  **common)[0]  # fmt: skip
                    noise = uncond + options.guidance_scale * (noise - uncond)
                latents = pipe.scheduler.step(noise, t, latents, return_dict=False)[0]
                done += 1
                ctx.report(done / total_steps,
                           f"segment {segment + 1}/{self.num_segments}, step {step + 1}/{options.steps}")
                ctx.check_cancelled()  # JobCancelledError between steps

            decoded = self._decode(latents)  # (1, 3, length, H, W) in [-1, 1]
            del condition, pose_latents
            if start > 0:
                decoded = decoded[:, :, overlap:]
            previous = decoded[:, :, -overlap:].clone()
            if self.checkpoints is not None:
                self.checkpoints.save(segment, latents, previous, generator.get_state())
            del latents
            keep = min(decoded.shape[2], self.num_frames - (start + overlap if start > 0 else 0))
            yield _to_uint8(decoded[:, :, :keep])
            del decoded
            start += self.effective

    def _decode(self, latents):
        import torch

        vae = self.pipe.vae
        latents = latents.to(vae.dtype)
        mean = torch.tensor(vae.config.latents_mean).view(1, vae.config.z_dim, 1, 1, 1).to(latents.device, latents.dtype)
        std = torch.tensor(vae.config.latents_std).view(1, vae.config.z_dim, 1, 1, 1).to(latents.device, latents.dtype)
        return vae.decode(latents[:, :, 1:] * std + mean, return_dict=False)[0]  # frame 0 is the conditioning


def _to_uint8(video) -> np.ndarray:
    """(1, 3, n, H, W) in [-1, 1] -> (n, H, W, 3) uint8, converted on the device (4x less to copy)."""
    import torch

    video = ((video[0].float() / 2 + 0.5).clamp(0, 1) * 255 + 0.5).to(torch.uint8)
    return video.permute(1, 2, 3, 0).cpu().numpy()
