"""Wan-Animate through diffusers on a tiny random pipeline: loading, MACE weights, rendering, errors."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import pytest

torch = pytest.importorskip("torch")
# Looked up, not imported: importing diffusers at collection would cost every test worker ~1.5 s.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("diffusers") is None, reason="needs diffusers")
import numpy as np  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from backend.appearance import RenderOptions, RenderRequest, parse_render_options, select_renderer  # noqa: E402
from backend.appearance.video_io import probe  # noqa: E402
from backend.appearance.wan import (  # noqa: E402
    WanAnimateOptions,
    WanAnimateRenderer,
    adapter_state_dict,
    diffsynth_lora_to_wan,
    load_mace_adapter,
    load_wan_animate_pipeline,
)
from backend.config import BackendConfig  # noqa: E402
from backend.progress import JobContext  # noqa: E402
from shared.errors import InvalidInputError, JobCancelledError, MissingWeightsError, OutOfMemoryError  # noqa: E402

TEXT_DIM = 32  # the tiny text encoder's width


def tiny_options(**overrides) -> WanAnimateOptions:
    torch.manual_seed(0)
    fields = dict(steps=2, segment_frame_length=9, prompt_embeds=torch.randn(1, 16, TEXT_DIM), dtype="float32",
                  device="cpu")  # fmt: skip
    fields.update(overrides)
    return WanAnimateOptions(**fields)


def request_for(tmp_path, make_dance, make_person, frames: int = 20, **kwargs) -> RenderRequest:
    fields = dict(width=64, height=96, out_path=tmp_path / "wan.mp4")
    fields.update(kwargs)
    return RenderRequest(make_dance(frames), make_person(64, 96), **fields)


def write_mace_files(folder, transformer, rank: int = 4):
    """Adapter and LoRA files laid out as MACE-Dance's training scripts save them (DiffSynth key names)."""
    generator = torch.Generator().manual_seed(1)
    conv = transformer.pose_patch_embedding
    adapter = {
        "module.pipe.animate_adapter.pose_patch_embedding.weight": torch.randn(conv.weight.shape, generator=generator),
        "module.pipe.animate_adapter.pose_patch_embedding.bias": torch.randn(conv.bias.shape, generator=generator),
        # MACE's inference ignores everything else in the file:
        "module.pipe.animate_adapter.face_encoder.conv1_local.weight": torch.randn(3, 3, generator=generator),
        "module.pipe.animate_adapter.motion_encoder.dec.direction.weight": torch.randn(4, 4, generator=generator),
    }
    inner = transformer.blocks[0].attn1.to_q.weight.shape[0]
    ffn_hidden, dim = transformer.blocks[0].ffn.net[0].proj.weight.shape
    lora = {
        "pipe.dit.blocks.0.self_attn.q.lora_A.default.weight": torch.randn(rank, dim, generator=generator),
        "pipe.dit.blocks.0.self_attn.q.lora_B.default.weight": torch.randn(inner, rank, generator=generator),
        "pipe.dit.blocks.1.ffn.0.lora_A.default.weight": torch.randn(rank, dim, generator=generator),
        "pipe.dit.blocks.1.ffn.0.lora_B.default.weight": torch.randn(ffn_hidden, rank, generator=generator),
    }
    folder.mkdir(parents=True, exist_ok=True)
    save_file(adapter, str(folder / "Adapter.safetensors"))
    save_file(lora, str(folder / "LoRA.safetensors"))
    return adapter, lora


@pytest.fixture
def tiny_wan_folder(tmp_path, tiny_wan_pipeline):
    """A MACE_DANCE_HOME with the tiny pipeline saved where the real Wan weights go."""
    home = tmp_path / "home"
    folder = home / "weights" / "appearance" / "wan"
    tiny_wan_pipeline.save_pretrained(str(folder))
    return home


def test_tiny_pipeline_renders_an_mp4_on_cpu_with_progress_per_step(tmp_path, tiny_wan_pipeline, make_dance,
                                                                     make_person, make_music):  # fmt: skip
    renderer = WanAnimateRenderer(pipeline=tiny_wan_pipeline, options=tiny_options())
    music = make_music(tmp_path / "music.wav", 2.0)
    request = request_for(tmp_path, make_dance, make_person, audio_path=music, options=RenderOptions(pose_video=True))
    messages = []
    result = renderer.render(request, JobContext(report=lambda f, m="": messages.append((f, m))))
    assert result.renderer == "wan-animate" and result.frames == 20
    info = probe(result.path)
    assert (info.frames, info.width, info.height) == (20, 64, 96)
    assert info.audio_duration_s == pytest.approx(20 / 30, abs=0.03)
    assert probe(result.pose_video_path).frames == 20
    # 20 frames in segments of 9 with 1 frame of overlap: 3 segments x 2 steps, one report per step.
    steps = [m for _, m in messages if "step" in m]
    assert steps == [f"segment {s}/3, step {k}/2" for s in (1, 2, 3) for k in (1, 2)]
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_mace_weights_load_into_a_saved_pipeline_and_render(tmp_path, tiny_wan_folder, make_dance, make_person):
    mace = tiny_wan_folder / "weights" / "appearance" / "mace"
    base = load_wan_animate_pipeline(tiny_wan_folder / "weights" / "appearance" / "wan", dtype="float32")
    adapter, lora = write_mace_files(mace, base.transformer)
    renderer = WanAnimateRenderer.from_config(BackendConfig(home=tiny_wan_folder, device="cpu"), tiny_options())
    assert renderer.adapter_path == mace / "Adapter.safetensors" and renderer.name == "wan-animate+mace"
    pipe = renderer.load()
    transformer = pipe.transformer

    prefix = "module.pipe.animate_adapter.pose_patch_embedding."
    torch.testing.assert_close(transformer.pose_patch_embedding.weight, adapter[prefix + "weight"])
    torch.testing.assert_close(transformer.pose_patch_embedding.bias, adapter[prefix + "bias"])

    # The LoRA is fused at MACE's weight 0.5: W' = W + 0.5 * B @ A, and nothing else changes.
    q = "pipe.dit.blocks.0.self_attn.q.lora_"
    expected_q = base.transformer.blocks[0].attn1.to_q.weight + 0.5 * lora[q + "B.default.weight"] @ lora[q + "A.default.weight"]
    torch.testing.assert_close(transformer.blocks[0].attn1.to_q.weight, expected_q, rtol=1e-5, atol=1e-5)
    f = "pipe.dit.blocks.1.ffn.0.lora_"
    expected_f = base.transformer.blocks[1].ffn.net[0].proj.weight + 0.5 * lora[f + "B.default.weight"] @ lora[f + "A.default.weight"]
    torch.testing.assert_close(transformer.blocks[1].ffn.net[0].proj.weight, expected_f, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(transformer.blocks[0].attn1.to_k.weight, base.transformer.blocks[0].attn1.to_k.weight)
    assert not any("lora" in name for name, _ in transformer.named_parameters())  # fused, wrappers removed

    result = renderer.render(request_for(tmp_path, make_dance, make_person, frames=12))
    assert probe(result.path).frames == 12 and result.renderer == "wan-animate+mace"


def test_key_conversions():
    tensor = torch.zeros(1)
    assert set(adapter_state_dict({
        "pipe.animate_adapter.pose_patch_embedding.weight": tensor, "animate_adapter.pose_patch_embedding.bias": tensor,
        "pipe.animate_adapter.face_adapter.fuser_blocks.0.linear1_kv.weight": tensor,
    })) == {"weight", "bias"}  # fmt: skip
    assert list(diffsynth_lora_to_wan({"blocks.3.cross_attn.o.lora_B.default.weight": tensor})) == [
        "diffusion_model.blocks.3.cross_attn.o.lora_B.weight"
    ]


def test_wrong_adapter_files_are_clear_errors(tmp_path, tiny_wan_pipeline):
    save_file({"pose_patch_embedding.weight": torch.zeros(5120, 16, 1, 2, 2), "pose_patch_embedding.bias": torch.zeros(5120)},
              str(tmp_path / "big.safetensors"))  # fmt: skip
    with pytest.raises(InvalidInputError, match="14B"):
        load_mace_adapter(tiny_wan_pipeline.transformer, tmp_path / "big.safetensors")
    save_file({"something.else": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(InvalidInputError, match="pose_patch_embedding"):
        load_mace_adapter(tiny_wan_pipeline.transformer, tmp_path / "other.safetensors")
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_mace_adapter(tiny_wan_pipeline.transformer, tmp_path / "corrupt.safetensors")


def test_missing_weights_name_the_files_and_layout(tmp_path):
    config = BackendConfig(home=tmp_path / "nothing")
    with pytest.raises(MissingWeightsError) as info:
        select_renderer(config, "wan")
    hint = info.value.hint
    assert "model_index.json" in str(info.value) and "Adapter.safetensors" in hint and "LoRA.safetensors" in hint
    assert "mace-dance weights download --wan" in hint
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text(json.dumps({"_class_name": "WanAnimatePipeline",
                                                         "vae": ["diffusers", "AutoencoderKLWan"]}))  # fmt: skip
    with pytest.raises(MissingWeightsError, match="vae"):
        load_wan_animate_pipeline(broken)


def test_auto_selection_needs_weights_and_a_gpu(tmp_path, tiny_wan_folder):
    assert select_renderer(BackendConfig(home=tmp_path / "nothing")).name == "puppet"
    # Weights present but no GPU: still the puppet; asking for Wan explicitly gets Wan.
    assert select_renderer(BackendConfig(home=tiny_wan_folder, device="cpu")).name == "puppet"
    assert isinstance(select_renderer(BackendConfig(home=tiny_wan_folder, device="cpu"), "wan"), WanAnimateRenderer)
    with pytest.raises(InvalidInputError):
        select_renderer(BackendConfig(home=tmp_path), "vace")


def test_cancel_between_steps(tmp_path, tiny_wan_pipeline, make_dance, make_person):
    renderer = WanAnimateRenderer(pipeline=tiny_wan_pipeline, options=tiny_options())
    reports = []
    ctx = JobContext(report=lambda f, m="": reports.append(m), is_cancelled=lambda: any("step" in m for m in reports))
    with pytest.raises(JobCancelledError):
        renderer.render(request_for(tmp_path, make_dance, make_person), ctx)
    assert sum("step" in m for m in reports) == 1  # stopped right after the first step
    assert not (tmp_path / "wan.mp4").exists()


def _out_of_memory(*args, **kwargs):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.mark.parametrize("options,fix", [
    (dict(), "offload"),
    pytest.param(dict(offload="model", segment_frame_length=77), "segment",
                 marks=pytest.mark.slow),  # slow: the VAE encodes a whole 77-frame segment before the first step
    (dict(offload="model", segment_frame_length=33), "resolution"),
])  # fmt: skip
def test_out_of_memory_names_the_option_that_helps(tmp_path, tiny_wan_pipeline, make_dance, make_person, options, fix):
    tiny_wan_pipeline.transformer.forward = _out_of_memory  # a GPU that is too small
    renderer = WanAnimateRenderer(pipeline=tiny_wan_pipeline, options=tiny_options(**options))
    with pytest.raises(OutOfMemoryError) as info:
        renderer.render(request_for(tmp_path, make_dance, make_person))
    assert fix in info.value.hint


def test_bad_wan_settings_are_errors(tmp_path, tiny_wan_pipeline, make_dance, make_person):
    with pytest.raises(InvalidInputError, match="4n"):
        WanAnimateOptions(segment_frame_length=20)
    with pytest.raises(InvalidInputError, match="1 or 5"):
        WanAnimateOptions(prev_segment_conditioning_frames=3)
    renderer = WanAnimateRenderer(pipeline=tiny_wan_pipeline, options=tiny_options())
    with pytest.raises(InvalidInputError, match="16"):
        renderer.render(request_for(tmp_path, make_dance, make_person, width=72, height=96))
    no_text = WanAnimateRenderer(pipeline=tiny_wan_pipeline, options=tiny_options(prompt_embeds=None))
    with pytest.raises(InvalidInputError, match="tokenizer"):
        no_text.render(request_for(tmp_path, make_dance, make_person))


def test_original_format_transformer_is_checked_key_by_key(tmp_path, tiny_wan_folder):
    from backend.appearance.wan import load_original_transformer

    config_dir = tiny_wan_folder / "weights" / "appearance" / "wan" / "transformer"
    with pytest.raises(MissingWeightsError, match="not found"):
        load_original_transformer([tmp_path / "shard-1.safetensors"], config_dir, torch.float32)
    # Original Wan key names for a few weights (self_attn.q, ffn.0 ...), the rest absent: named, not half-loaded.
    save_file({"model.diffusion_model.blocks.0.self_attn.q.weight": torch.zeros(24, 24),
               "model.diffusion_model.blocks.0.ffn.0.weight": torch.zeros(32, 24),
               "model.diffusion_model.some.other.weight": torch.zeros(1)}, str(tmp_path / "partial.safetensors"))  # fmt: skip
    with pytest.raises(InvalidInputError) as info:
        load_original_transformer(tmp_path / "partial.safetensors", config_dir, torch.float32)
    message = str(info.value)
    assert "weights missing" in message and "1 unexpected" in message and "some.other.weight" in message


def record_transformer_inputs(pipe) -> list[dict]:
    """Every call of the pipeline's transformer, with the conditioning it was given."""
    calls: list[dict] = []

    def hook(module, args, kwargs):
        calls.append({k: kwargs[k] for k in ("pose_hidden_states", "face_pixel_values", "hidden_states")})
        calls[-1]["grad"] = torch.is_grad_enabled()

    pipe.transformer.register_forward_pre_hook(hook, with_kwargs=True)
    return calls


@pytest.mark.parametrize("face", ["reference", "black"])
def test_conditioning_pose_video_and_face_frames(tmp_path, tiny_wan_pipeline, make_dance, make_person, face):
    calls = record_transformer_inputs(tiny_wan_pipeline)
    renderer = WanAnimateRenderer(pipeline=tiny_wan_pipeline, options=tiny_options(steps=1, face=face))
    renderer.render(request_for(tmp_path, make_dance, make_person, frames=9))
    assert len(calls) == 1  # one segment, one step
    # No autograd graph inside (it would chain every segment through the conditioning frames), none leaked out.
    assert calls[0]["grad"] is False and torch.is_grad_enabled()
    faces = calls[0]["face_pixel_values"]  # (1, 3, T, S, S) in [-1, 1]
    size = tiny_wan_pipeline.transformer.config.motion_encoder_size
    assert faces.shape == (1, 3, 9, size, size)
    assert calls[0]["pose_hidden_states"].shape[2] == 3  # 9 pose frames -> 1 + 8/4 latent frames
    assert (faces == faces[:, :, :1]).all()  # one static expression, repeated
    rgb = ((faces[0, :, 0].permute(1, 2, 0) + 1) * 127.5).numpy()
    if face == "black":
        assert rgb.max() < 0.5
    else:  # the drawn person's skin-coloured head fills the crop
        skin = np.array([224, 172, 140])
        assert (np.abs(rgb - skin).sum(-1) < 40).mean() > 0.3


def test_per_video_options_override_only_generation_settings(tmp_path, tiny_wan_pipeline, make_dance, make_person):
    calls = record_transformer_inputs(tiny_wan_pipeline)
    renderer = WanAnimateRenderer(pipeline=tiny_wan_pipeline, options=tiny_options())
    common, own = parse_render_options({"steps": 1, "seed": 7, "pose_style": "dwpose"}, renderer)
    request = request_for(tmp_path, make_dance, make_person, frames=9, options=common, renderer_options=own)
    renderer.render(request)
    assert len(calls) == 1 and renderer.options.steps == 2
    with pytest.raises(InvalidInputError, match=r"unknown render option.*device"):
        parse_render_options({"device": "cuda:3"}, renderer, remote=False)
    request.renderer_options = dataclasses.replace(own, device="cuda:3")
    with pytest.raises(InvalidInputError, match="per video"):
        renderer.render(request)


def test_out_of_memory_while_loading_is_reported_too(tiny_wan_pipeline, tmp_path, make_dance, make_person):
    class TooBig(WanAnimateRenderer):
        def load(self):
            raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(OutOfMemoryError, match="out of memory"):
        TooBig(options=tiny_options()).render(request_for(tmp_path, make_dance, make_person))
