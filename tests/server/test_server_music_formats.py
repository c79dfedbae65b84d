"""Uploads are decoded by content: the client's file name (or none) does not decide the format."""

from __future__ import annotations

import pytest

from backend.choreography.generator import ChoreographerGenerator
from backend.server import ServerLimits
from shared.errors import InvalidInputError
from tests.audio_files import CASES, click_music, write_audio, write_vorbis_ffmpeg_refuses

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
