"""Wan-Animate at song length: segment by segment with the pipeline's own conditioning, frames written as
they are made, the model driven at its own frame rate, MACE's weights alive under every offload mode."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")
# Looked up, not imported: importing diffusers at collection would cost every test worker ~1.5 s.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("diffusers") is None, reason="needs diffusers")
from PIL import Image  # noqa: E402

from backend.appearance.request import RenderOptions  # noqa: E402
from backend.appearance.video_io import probe  # noqa: E402
from backend.appearance.wan import MACE_APPEARANCE_FPS, WAN_ANIMATE_FPS, WanAnimateRenderer, load_wan_animate_pipeline  # noqa: E402
from backend.appearance.wan_segments import FrameTiming, WanSegments, padded_index  # noqa: E402
from backend.config import BackendConfig  # noqa: E402
from backend.progress import JobContext  # noqa: E402
from shared.errors import MissingWeightsError  # noqa: E402
from tests.backend.appearance.test_wan_animate import request_for, tiny_options, write_mace_files  # noqa: E402


@pytest.mark.slow  # generates every segment twice (streamed and the pipeline's own) with the tiny Wan on CPU
@pytest.mark.parametrize("overlap,length,frames", [(1, 9, 20), (5, 13, 22)])
def test_segments_equal_the_pipelines_own_generation(tmp_path, tiny_wan_pipeline, make_dance, make_person, overlap,
                                                     length, frames):  # fmt: skip
    """Same inputs and seed: the streamed frames are the frames WanAnimatePipeline.__call__ returns."""
    options = tiny_options(prev_segment_conditioning_frames=overlap, segment_frame_length=length)
    request = request_for(tmp_path, make_dance, make_person, frames=frames)
    image = request.canvas_reference().image
    pose = request.pose_video(request.motion, None, hands=True)
    segments = WanSegments(tiny_wan_pipeline, image, pose, None, options)
    assert segments.num_segments >= 3
    streamed = np.stack(list(segments.frames(JobContext())))

    face = Image.fromarray(segments.face)
    result = tiny_wan_pipeline(
        image=Image.fromarray(image), pose_video=[Image.fromarray(f) for f in pose.frames()], face_video=[face] * frames,
        height=96, width=64, num_inference_steps=options.steps, segment_frame_length=options.segment_frame_length,
        prev_segment_conditioning_frames=overlap, generator=torch.Generator().manual_seed(options.seed),
        output_type="np", prompt_embeds=options.prompt_embeds, mode="animate",
    )  # fmt: skip
    expected = np.clip(np.asarray(result.frames[0]) * 255 + 0.5, 0, 255).astype(np.uint8)
    assert streamed.shape == expected.shape == (frames, 96, 64, 3)
    assert np.abs(streamed.astype(int) - expected.astype(int)).max() <= 1
    assert streamed.std() > 1  # not a blank video


@pytest.mark.slow  # a several-segment render of the tiny Wan on CPU
def test_frames_are_written_while_later_segments_are_still_to_come(tmp_path, tiny_wan_pipeline, make_dance,
                                                                    make_person, monkeypatch):  # fmt: skip
    from backend.appearance import video_io
    from backend.appearance.pose_video import PoseVideo

    events: list[str] = []
    write = video_io.VideoWriter.write
    monkeypatch.setattr(video_io.VideoWriter, "write", lambda self, frame: (events.append("write"), write(self, frame))[1])
    frame = PoseVideo.frame
    monkeypatch.setattr(PoseVideo, "frame", lambda self, i, out=None: (events.append("pose"), frame(self, i, out))[1])
    tiny_wan_pipeline.transformer.register_forward_pre_hook(lambda *a: events.append("step"))
    renderer = WanAnimateRenderer(pipeline=tiny_wan_pipeline, options=tiny_options(steps=1))
    result = renderer.render(request_for(tmp_path, make_dance, make_person, frames=30))
    assert probe(result.path).frames == 30

    # 30 frames in segments of 9 overlapping by 1: 4 segments. Each draws its own 9 pose frames, runs its
    # step, and its frames are written before the next segment starts.
    runs = [e for i, e in enumerate(events) if i == 0 or e != events[i - 1]]
    assert runs == ["pose", "step", "write"] * 4
    assert events.count("pose") == 4 * 9 and events.count("write") == 30


@pytest.mark.slow  # a several-segment render of the tiny Wan on CPU
def test_model_fps_and_output_fps_are_separate(tmp_path, tiny_wan_pipeline, make_dance, make_person):
    calls = []
    tiny_wan_pipeline.transformer.register_forward_pre_hook(
        lambda m, a, k: calls.append(k["pose_hidden_states"].shape[2]), with_kwargs=True)
    renderer = WanAnimateRenderer(pipeline=tiny_wan_pipeline, options=tiny_options(steps=1, model_fps=15))
    assert renderer.model_fps(renderer.options) == 15
    # 2 s of dance at 30 fps (61 frames) asked for at 30 fps: the model draws 31 frames at 15 fps.
    request = request_for(tmp_path, make_dance, make_person, frames=61, options=RenderOptions(pose_video=True))
    result = renderer.render(request)
    assert len(calls) == 4  # ceil((31 - 1) / 8) segments of 9 frames, one step each
    assert result.frames == 61 and result.fps == 30
    info = probe(result.path)
    assert info.frames == 61 and probe(result.pose_video_path).frames == 61


def test_default_model_fps_follows_the_weights():
    assert WanAnimateRenderer(options=tiny_options()).model_fps(tiny_options()) == WAN_ANIMATE_FPS == 30
    mace = WanAnimateRenderer(adapter_path="A.safetensors", options=tiny_options())
    assert mace.model_fps(tiny_options()) == MACE_APPEARANCE_FPS == 16


def test_frame_timing_picks_the_nearest_frame_in_time():
    timing = FrameTiming(model_frames=16, model_fps=16, output_frames=30, output_fps=30)
    mapping = [timing.source(j) for j in range(30)]
    assert mapping == [int(np.floor(j * 16 / 30 + 0.5)) for j in range(30)]
    emitted = [list(timing.outputs_for(k)) for k in range(16)]
    assert sum(emitted, []) == list(range(30))  # every output frame exactly once, in order
    assert all(mapping[j] == k for k, outs in enumerate(emitted) for j in outs)
    assert [padded_index(i, 5) for i in range(10)] == [0, 1, 2, 3, 4, 3, 2, 1, 0, 1]  # as pad_video_frames


def weight_in_use(module, name: str = "weight"):
    """The tensor a module computes with: under sequential offload the module holds a placeholder and the
    offload hook keeps the real weight, which it moves in for each forward pass."""
    hook = getattr(module, "_hf_hook", None)
    if hook is not None and getattr(hook, "weights_map", None) is not None:
        return hook.weights_map[name]
    return getattr(module, name)


@pytest.mark.slow  # saves and reloads the tiny Wan and renders under each offload mode
@pytest.mark.parametrize("offload", ["none", "model", "sequential"])
def test_mace_adapter_and_lora_take_effect_under_every_offload_mode(tmp_path, tiny_wan_pipeline, offload):
    home = tmp_path / "home"
    tiny_wan_pipeline.save_pretrained(str(home / "weights" / "appearance" / "wan"))
    base = load_wan_animate_pipeline(home / "weights" / "appearance" / "wan", dtype="float32").transformer
    adapter, lora = write_mace_files(home / "weights" / "appearance" / "mace", base)
    renderer = WanAnimateRenderer.from_config(BackendConfig(home=home, device="cpu"), tiny_options(offload=offload))
    transformer = renderer.load().transformer
    if offload == "sequential":
        assert transformer.pose_patch_embedding.weight.is_meta  # the offload really is in place

    prefix = "module.pipe.animate_adapter.pose_patch_embedding."
    embedding = transformer.pose_patch_embedding
    assert not torch.equal(weight_in_use(embedding), base.pose_patch_embedding.weight)
    torch.testing.assert_close(weight_in_use(embedding), adapter[prefix + "weight"])
    torch.testing.assert_close(weight_in_use(embedding, "bias"), adapter[prefix + "bias"])

    q = "pipe.dit.blocks.0.self_attn.q.lora_"
    delta = weight_in_use(transformer.blocks[0].attn1.to_q) - base.blocks[0].attn1.to_q.weight
    expected = 0.5 * lora[q + "B.default.weight"] @ lora[q + "A.default.weight"]
    assert expected.abs().max() > 1e-3
    torch.testing.assert_close(delta, expected, rtol=1e-4, atol=1e-4)
    if offload != "sequential":  # (accelerate cannot run sequential offload with a CPU execution device)
        pose = torch.randn(1, 16, 2, 4, 4)
        reference = torch.nn.functional.conv3d(pose, adapter[prefix + "weight"], adapter[prefix + "bias"], stride=(1, 2, 2))
        with torch.no_grad():
            torch.testing.assert_close(embedding(pose), reference, rtol=1e-4, atol=1e-4)


def test_mace_files_not_at_the_top_are_an_error_not_plain_wan(tmp_path, tiny_wan_pipeline):
    home = tmp_path / "home"
    tiny_wan_pipeline.save_pretrained(str(home / "weights" / "appearance" / "wan"))
    write_mace_files(home / "weights" / "appearance" / "mace" / "Expert-Appearance" / "models", tiny_wan_pipeline.transformer)
    with pytest.raises(MissingWeightsError) as info:
        WanAnimateRenderer.from_config(BackendConfig(home=home, device="cpu"), tiny_options())
    assert "Adapter.safetensors" in info.value.message and "mace-dance weights install" in info.value.hint


@pytest.mark.slow  # three tiny Wan renders of 4 segments each (about a minute on 2 busy cores)
def test_a_render_stopped_mid_way_resumes_from_its_last_segment_frame_for_frame(tmp_path, tiny_wan_pipeline,
                                                                              make_dance, make_person):  # fmt: skip
    """Killed during segment 3 of 4, a render run again with the same checkpoint folder denoises only the
    segments it had not finished and writes the very video an uninterrupted render writes."""
    from backend.appearance.video_io import read_frames
    from shared.errors import JobCancelledError

    renderer = WanAnimateRenderer(pipeline=tiny_wan_pipeline, options=tiny_options())
    steps: list[str] = []
    hook = tiny_wan_pipeline.transformer.register_forward_pre_hook(lambda *a: steps.append("step"))
    try:
        whole = renderer.render(request_for(tmp_path, make_dance, make_person, frames=30,
                                            out_path=tmp_path / "whole.mp4"))
        assert len(steps) == 4 * 2  # 4 segments x 2 steps

        checkpoints = tmp_path / "segments"
        stopped = request_for(tmp_path, make_dance, make_person, frames=30, out_path=tmp_path / "resumed.mp4",
                              checkpoint_dir=checkpoints)
        killed = JobContext(report=lambda fraction, message="": None,
                            is_cancelled=lambda: len(steps) >= 8 + 2 * 2 + 1)  # one step into segment 3
        with pytest.raises(JobCancelledError):
            renderer.render(stopped, killed)
        assert sorted(p.name for p in checkpoints.glob("segment-*.npz")) == ["segment-00000.npz", "segment-00001.npz"]
        assert not (tmp_path / "resumed.mp4").exists()

        steps.clear()
        messages = []
        resumed = renderer.render(dataclasses.replace(stopped), JobContext(report=lambda f, m="": messages.append(m)))
        assert len(steps) == 2 * 2  # only segments 3 and 4 were denoised
        assert "segment 2/4 kept from before" in messages
        assert not checkpoints.exists()  # the video is written: its checkpoints are gone
    finally:
        hook.remove()
    ours, theirs = list(read_frames(resumed.path)), list(read_frames(whole.path))
    assert len(ours) == len(theirs) == 30
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs))


def test_segment_checkpoints_of_another_render_are_never_reused(tmp_path):
    from backend.appearance.wan_segments import SegmentCheckpoints

    kept = SegmentCheckpoints(tmp_path, "render-a")
    kept.save(0, torch.zeros(1, 2, 3), torch.ones(1, 3, 1, 4, 4, dtype=torch.bfloat16), torch.Generator().get_state())
    assert SegmentCheckpoints(tmp_path, "render-a").finished() == 1
    saved = SegmentCheckpoints(tmp_path, "render-a").load(0)
    assert str(saved["previous_dtype"]) == "bfloat16" and saved["previous"].dtype == np.float32
    assert SegmentCheckpoints(tmp_path, "render-b").finished() == 0  # another render: emptied
