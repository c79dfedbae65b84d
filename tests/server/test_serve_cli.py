"""``mace-dance keys`` and ``mace-dance serve``, the latter end to end with the real embedded generators."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys

import av
import numpy as np
import pytest
import soundfile
import zmq.auth
from PIL import Image

from backend.cli import main
from shared.client import BackendClient
from tests.server.server_fakes import REPO


def test_keys_writes_a_loadable_pair_and_never_overwrites(tmp_path, capsys):
    assert main(["keys", str(tmp_path / "k")]) == 0
    public, secret = zmq.auth.load_certificate(tmp_path / "k" / "server.key_secret")
    assert len(public) == 40 and len(secret) == 40
    assert zmq.auth.load_certificate(tmp_path / "k" / "server.key")[0] == public
    assert (tmp_path / "k" / "authorized_clients").is_dir()
    assert (tmp_path / "k" / "server.key_secret").stat().st_mode & 0o077 == 0
    assert main(["keys", str(tmp_path / "k")]) == 3
    assert "--force" in capsys.readouterr().err
    assert zmq.auth.load_certificate(tmp_path / "k" / "server.key")[0] == public
    assert main(["keys", str(tmp_path / "k"), "--name", "../evil"]) == 3


def test_serve_refuses_an_open_bind_without_keys(capsys):
    assert main(["serve", "--address", "tcp://0.0.0.0:0"]) == 3
    assert "without CURVE keys" in capsys.readouterr().err


def click_track(seconds: float = 4.0, bpm: float = 120.0, rate: int = 22050) -> bytes:
    """A tone with a sharp click on every beat, as WAV bytes."""
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.1 * np.sin(2 * np.pi * 220 * t)
    click = 0.9 * np.hanning(800)[400:] * np.sin(2 * np.pi * 1000 * t[:400])
    for beat in np.arange(0, seconds, 60 / bpm):
        start = int(beat * rate)
        audio[start:start + 400] += click[: len(audio) - start]
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, format="WAV")
    return buffer.getvalue()


@pytest.mark.slow  # starts `mace-dance serve` (a process importing torch), analyses music, renders a video
def test_serve_end_to_end_with_the_choreographer_and_the_puppet(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), MACE_DANCE_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen(
        # Defaults ("auto"): with no weights in MACE_DANCE_HOME that is the choreographer and the puppet.
        [sys.executable, "-m", "backend.cli", "serve", "--address", "tcp://127.0.0.1:0", "--device", "cpu"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on tcp://127.0.0.1:" in line, proc.stderr.read()
        endpoint = line.split("listening on ")[1].split(" ")[0]
        with BackendClient(endpoint, timeout_s=10) as client:
            info = client.hello()
            assert (info.motion_generator, info.video_renderer, info.device) == (
                "choreographer", "puppet", "cpu")

            result = client.generate_motion(click_track(), "clicks.wav", seed=1, timeout_s=120)
            assert result.generator == "choreographer"
            assert result.motion.num_frames == pytest.approx(4.0 * 30, abs=2)
            tempo = result.tempo * 2 ** np.round(np.log2(120 / result.tempo))  # octave-invariant
            assert tempo == pytest.approx(120, rel=0.05)
            assert np.all(np.diff(result.beats) > 0)

            person = np.full((128, 96, 3), 235, np.uint8)
            person[16:124, 30:66] = (40, 60, 200)
            png = io.BytesIO()
            Image.fromarray(person).save(png, format="PNG")
            clip = result.motion.slice(0, 15)
            outcome = client.render_video(clip, png.getvalue(), width=96, height=128, audio_bytes=click_track(),
                                          audio_name="clicks.wav", options={"pose_video": True}, timeout_s=120)
            assert (outcome.renderer, outcome.frames) == ("puppet", 15)
            assert outcome.made_by in ("2.5-D body", "2D puppet")  # which body drew the person, in words
            with av.open(io.BytesIO(outcome.video_bytes)) as container:
                assert container.streams.video[0].codec_context.width == 96
                assert len(container.streams.audio) == 1
                assert sum(1 for _ in container.decode(video=0)) == 15
            assert outcome.pose_video_bytes and outcome.pose_video_bytes[4:8] == b"ftyp"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
