"""Uploads are decoded by content: the client's file name (or none) does not decide the format."""

from __future__ import annotations

import pytest

from backend.choreography.choreographer import ChoreographerGenerator
from backend.server import ServerLimits
from shared.errors import InvalidInputError
from tests.audio_files import CASES, click_music, write_audio, write_long_tone_flac, write_vorbis_ffmpeg_refuses

UPLOADS = [  # (format written, name the client sends)
    ("song_aac.m4a", "song.m4a"),
    ("song.mp3", "song.wav"),  # a wrong extension
    ("song_opus.ogg", "music"),  # no extension at all
    ("clip.mp4", "holiday.mp4"),  # the sound of a video
]


@pytest.fixture
def client(start_server, connect):
    server = start_server(ChoreographerGenerator(), limits=ServerLimits(max_audio_seconds=10.0))
    return connect(server, timeout_s=10)


@pytest.mark.parametrize("written, sent_as", UPLOADS)
def test_an_upload_decodes_whatever_its_name_says(tmp_path, client, written, sent_as):
    case = next(c for c in CASES if c.name == written)
    data = write_audio(tmp_path / written, case, seconds=3.0).read_bytes()
    result = client.generate_motion(data, sent_as, duration_s=2.0, timeout_s=120)
    assert result.motion.num_frames == pytest.approx(60, abs=1)
    assert len(result.beats) >= 3  # a click every half second was heard


def test_an_upload_ffmpeg_refuses_is_decoded_by_the_fallback(tmp_path, client):
    data = write_vorbis_ffmpeg_refuses(tmp_path / "strict.ogg", click_music(3.0, 44100), 44100).read_bytes()
    result = client.generate_motion(data, "strict.ogg", duration_s=2.0, timeout_s=120)
    assert result.motion.num_frames == pytest.approx(60, abs=1)


def test_an_undecodable_upload_is_refused_at_once_naming_the_clients_file(client, tmp_path):
    with pytest.raises(InvalidInputError) as err:
        client.generate_motion(b"<html>not music</html>" * 50, "track.mp3", timeout_s=10)
    message = str(err.value)
    assert "track.mp3" in message and "a text file" in message and "FFmpeg" in message
    assert str(tmp_path) not in message and "mace-dance-job" not in message  # no path of the server's


def test_a_short_span_of_an_hour_long_upload_decodes_only_the_span(tmp_path, client, monkeypatch):
    """Issue 16 case 3 through the server: the job's decoder holds the 10 s span, not the hour."""
    from backend.features import audio

    decodes = []
    real_decode = audio.decode_audio

    def recording_decode(*args, **kwargs):
        decoded = real_decode(*args, **kwargs)
        decodes.append(decoded.stats)
        return decoded

    monkeypatch.setattr(audio, "decode_audio", recording_decode)
    rate = 8000
    data = write_long_tone_flac(tmp_path / "hour.flac", 3600.0, rate).read_bytes()
    result = client.generate_motion(data, "hour.flac", start_s=1800.0, duration_s=10.0, timeout_s=120)
    assert result.motion.num_frames == pytest.approx(300, abs=1)
    assert len(decodes) == 1  # the analysis; the server's pre-check read headers only
    assert decodes[0].source_samples <= 11 * rate  # not 3600 * rate
    assert decodes[0].peak_bytes <= 10 * rate * 4 + 256 * 1024  # the span's samples + a chunk in flight
