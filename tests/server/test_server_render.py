"""``render_video`` through a live backend: the request the renderer sees and the bytes that come back."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from shared.client import ReceivedRender
from tests.server.server_fakes import FakeRenderer, StepGenerator, make_motion, png_bytes, wav_bytes


def test_render_video_round_trip(start_server, connect, tmp_path):
    renderer = FakeRenderer()
    server = start_server(StepGenerator(), video_renderer=renderer)
    client = connect(server)
    info = client.hello()
    assert info.video_renderer == "fake-renderer" and info.capabilities.render_video is True
    options = info.capabilities.render_options
    assert {"pose_video", "fake_option", "reference_keypoints"} <= set(options)
    assert "pose_video_path" not in options
    motion = make_motion(40, seed=3)
    outcome = client.render_video(motion, png_bytes(64, 96), audio_bytes=wav_bytes(2.0), audio_name="m.wav",
                                  width=64, height=128,
                                  options={"pose_video": True, "fake_option": [1, 2],
                                           "reference_keypoints": np.full((18, 2), np.nan)})
    assert isinstance(outcome, ReceivedRender)
    assert outcome.video_bytes == b"video:40" and outcome.pose_video_bytes == b"pose"
    assert (outcome.renderer, outcome.frames, outcome.fps) == ("fake-renderer", 40, 30.0)
    request = renderer.requests[0]
    assert request.motion.allclose(motion)
    assert request.reference_image.shape == (96, 64, 3) and request.reference_image.dtype == np.uint8
    assert (request.width, request.height) == (64, 128)
    assert request.renderer_options.fake_option == [1, 2]
    assert np.isnan(request.options.reference_keypoints).all()
    assert list(tmp_path.iterdir()) == []  # job folder (audio, image, videos) removed


def test_render_keeps_a_png_alpha_as_the_person_mask(start_server, connect):
    renderer = FakeRenderer()
    server = start_server(StepGenerator(), video_renderer=renderer)
    rgba = np.zeros((128, 96, 4), np.uint8)
    rgba[16:120, 24:72] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    connect(server).render_video(make_motion(5), buffer.getvalue(), width=96, height=128)
    alpha = renderer.requests[0].options.reference_alpha
    assert alpha.shape == (128, 96) and alpha[60, 40] == 255 and alpha[2, 2] == 0
