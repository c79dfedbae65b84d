"""The one audio decoder: every accepted format, content over name, the fallback, spans, memory, clear errors."""

from __future__ import annotations

import shutil
import struct
import tracemalloc

import av
import numpy as np
import pytest
import soundfile

from backend.features import load_audio
from backend.features.audio import DecodeStats, decode_audio, measure_audio, probe_audio, stream_audio
from shared.audio_formats import ACCEPTED_SUFFIXES
from shared.errors import InvalidInputError, NotFoundError, TooLargeError
from tests.audio_files import CASES, Case, click_music, write_audio, write_long_tone_flac, write_lying_flac
from tests.audio_files import write_vorbis_ffmpeg_refuses

from .conftest import SR, click_track

#: Raw ADTS AAC cannot say how many priming samples its encoder added (1024 for FFmpeg's), so every player,
#: FFmpeg included, plays them: its music starts 23 ms late. Containers (m4a, mp4, mov) carry the number.
ADTS_PRIMING = 1024


def _lag_and_correlation(reference: np.ndarray, decoded: np.ndarray, max_lag: int) -> tuple[int, float]:
    n = min(len(reference), len(decoded)) - 2 * max_lag
    ref = reference[max_lag : max_lag + n]
    scores = [np.dot(ref, decoded[max_lag + k : max_lag + k + n]) for k in range(-max_lag, max_lag + 1)]
    lag = int(np.argmax(scores)) - max_lag
    segment = decoded[max_lag + lag : max_lag + lag + n]
    return lag, float(np.dot(ref, segment) / (np.linalg.norm(ref) * np.linalg.norm(segment)))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_accepted_format_decodes_in_time_with_the_original(tmp_path, case):
    path = write_audio(tmp_path / case.name, case)
    assert path.suffix in ACCEPTED_SUFFIXES  # what the decoder reads, the shared list names
    info = probe_audio(path)
    assert (info.sample_rate, info.channels, info.decoder) == (case.rate, 2, "FFmpeg")
    # ADTS has no length in its headers: FFmpeg estimates it from the bit rate.
    assert info.duration_s == pytest.approx(4.0, abs=0.3 if case.muxer == "adts" else 0.05)

    decoded = decode_audio(path, channels="mono")
    assert decoded.sample_rate == case.rate and decoded.samples.dtype == np.float32
    assert decoded.duration_s == pytest.approx(4.0, abs=0.05)  # AAC may end on a whole 1024-sample frame
    lag, correlation = _lag_and_correlation(click_music(4.0, case.rate).mean(axis=0), decoded.samples[0], 1500)
    expected_lag = ADTS_PRIMING if case.muxer == "adts" else 0
    assert abs(lag - expected_lag) <= 2 and correlation > 0.99, (lag, correlation)


@pytest.mark.parametrize("case", [c for c in CASES if c.name in ("song.mp3", "song_aac.m4a", "song_opus.ogg",
                                                                  "song.flac", "clip.mkv")], ids=lambda c: c.name)
def test_the_content_decides_not_the_name(tmp_path, case):
    """An upload saved without its name, or a file with the wrong ending, decodes the same."""
    path = write_audio(tmp_path / case.name, case)
    named = decode_audio(path, channels="mono").samples
    for alias in ("music", "music.wav", "music.txt"):
        shutil.copy(path, tmp_path / alias)
        np.testing.assert_array_equal(decode_audio(tmp_path / alias, channels="mono").samples, named)


def test_a_vorbis_file_ffmpeg_refuses_is_read_by_the_fallback(tmp_path):
    music = click_music(4.0, 44100)
    path = write_vorbis_ffmpeg_refuses(tmp_path / "strict.ogg", music, 44100)
    with pytest.raises(av.error.FFmpegError):
        av.open(str(path))  # the file really is one FFmpeg refuses
    expected, rate = soundfile.read(str(path), dtype="float32", always_2d=True)

    info = probe_audio(path)
    assert (info.decoder, info.sample_rate, info.channels) == ("libsndfile", 44100, 2)
    whole = decode_audio(path)
    assert whole.stats.decoder == "libsndfile"
    np.testing.assert_array_equal(whole.samples, expected.T)
    span = decode_audio(path, start_s=1.5, duration_s=2.0)
    np.testing.assert_array_equal(span.samples, expected.T[:, 66150 : 66150 + 88200])
    # The fallback converts like FFmpeg does: the rate and the channels the caller asks for.
    video_audio = decode_audio(path, start_s=1.5, duration_s=2.0, sample_rate=48000, channels="stereo")
    assert video_audio.samples.shape == (2, 96000)
    lag, correlation = _lag_and_correlation(click_music(4.0, 48000)[0, 72000:168000], video_audio.samples[0], 200)
    assert abs(lag) <= 2 and correlation > 0.99


@pytest.mark.parametrize("name", ["song.wav", "song.flac", "song_alac.m4a", "song_vorbis.ogg", "song.opus",
                                  "song.mp3", "song_aac.m4a", "clip.mkv"])
def test_a_span_is_the_same_samples_as_the_whole_file_cut(tmp_path, name):
    case = next(c for c in CASES if c.name == name)
    path = write_audio(tmp_path / name, case, seconds=6.0)
    whole = decode_audio(path).samples
    start = round(3.3 * case.rate)
    span = decode_audio(path, start_s=3.3, duration_s=1.0)
    assert span.samples.shape == (2, case.rate)
    assert span.stats.source_samples < 2.5 * case.rate  # it sought; it did not decode the first 3.3 s
    expected = whole[:, start : start + case.rate]
    if case.codec in ("pcm_s16le", "flac", "alac", "vorbis", "libopus") and case.muxer != "matroska":
        np.testing.assert_array_equal(span.samples, expected)  # sample-exact after the seek
    else:
        # MP3 and AAC decoders need a frame or two after a seek to settle (overlap, bit reservoir), and
        # Matroska stores times in whole milliseconds: the same music, placed within a millisecond.
        lag, correlation = _lag_and_correlation(expected[0], span.samples[0], case.rate // 100)
        assert abs(lag) <= case.rate // 1000 and correlation > 0.99, (lag, correlation)


def test_a_short_span_of_an_hour_long_file_holds_only_the_span(tmp_path):
    """Issue 16 case 3: memory follows the span, not the file, counted by the decoder's own accounting."""
    rate = 8000
    path = write_long_tone_flac(tmp_path / "hour.flac", 3600.0, rate)
    whole_file_bytes = 3600 * rate * 4  # 115 MB of float32 samples, what decoding it all would hold
    span_bytes = 10 * rate * 4
    # Bound: the 10 s span itself, plus at most 256 KiB in flight (one FLAC frame decoded and converted).
    bound = span_bytes + 256 * 1024

    tracemalloc.start()
    decoded = decode_audio(path, start_s=1800.0, duration_s=10.0)
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert decoded.samples.shape == (1, 10 * rate)
    assert 0.2 < np.abs(decoded.samples).max() < 0.3
    assert decoded.stats.peak_bytes <= bound < whole_file_bytes / 100
    assert decoded.stats.source_samples <= 11 * rate  # the seek landed near 30 min; the hour was not decoded
    assert python_peak < 4 * bound  # numpy's allocations (traced) agree with the accounting

    # The video muxer's stream (48 kHz stereo) holds one chunk at a time, not the span.
    stats = DecodeStats()
    chunks = sum(c.shape[1] for c in stream_audio(path, start_s=3000.0, duration_s=10.0, sample_rate=48000,
                                                  channels="stereo", stats=stats))
    assert chunks == 480000 and stats.peak_bytes <= 1024 * 1024 and stats.source_samples <= 11 * rate

    # The analysis path decodes the same way.
    samples, sr = load_audio(path, start_s=1800.0, duration_s=10.0)
    assert (len(samples), sr) == (10 * rate, rate)


def test_the_whole_of_an_over_long_file_is_refused_before_decoding(tmp_path):
    path = write_long_tone_flac(tmp_path / "long.flac", 3700.0, 500)
    with pytest.raises(TooLargeError, match="longer than 3600 s") as err:
        load_audio(path)
    assert "start and a duration" in err.value.hint
    assert len(load_audio(path, start_s=200.0)[0]) == 3500 * 500  # less than an hour from the start: fine


def test_each_accepted_format_decodes_to_mono_for_analysis(tmp_path):
    stereo = np.stack([click_track(120, 2.0), 0.5 * click_track(120, 2.0)], axis=1)
    path = tmp_path / "music.flac"
    soundfile.write(str(path), stereo, SR)
    audio, sr = load_audio(path)
    assert sr == SR and audio.dtype == np.float32 and audio.ndim == 1
    np.testing.assert_allclose(audio, stereo.mean(axis=1), atol=1e-4)  # librosa's mono: the mean


def test_hi_res_music_is_analysed_at_48_khz_while_decoding(tmp_path):
    path = write_audio(tmp_path / "hires.flac", Case("hires.flac", "flac", "flac", 96000), seconds=3.0)
    assert probe_audio(path).sample_rate == 96000
    samples, sr = load_audio(path)
    assert sr == 48000 and len(samples) == 3 * 48000
    lag, correlation = _lag_and_correlation(click_music(3.0, 48000).mean(axis=0), samples, 200)
    assert lag == 0 and correlation > 0.99


def test_resampling_changes_the_rate_and_length(write_wav):
    path = write_wav("clicks.wav", click_track(100, 3.0))
    audio, sr = load_audio(path, sr=15360)
    assert sr == 15360
    assert abs(len(audio) - 3.0 * 15360) <= 2


@pytest.mark.parametrize(
    "name, content, what",
    [
        ("notes.txt", b"shopping list: milk, eggs\n" * 20, "a text file"),
        ("song.m4a", b"\x00" * 1000, "all zero bytes"),
        ("cover.mp3", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "a PNG image"),
        ("noext", bytes(range(128, 256)) * 6, "data of no format"),
    ],
)
def test_a_file_no_decoder_reads_says_what_was_tried_and_what_it_is(tmp_path, name, content, what):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as err:
        load_audio(path)
    message = str(err.value)
    assert name in message and what in message and "FFmpeg: " in message and "libsndfile: " in message
    assert err.value.hint and "ffmpeg -i" in err.value.hint and "MP3" in err.value.hint


def test_a_video_without_sound_is_refused_by_name(tmp_path):
    path = tmp_path / "silent_film.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    expected = r"no audio stream in this QuickTime / MOV file \(streams: video \(h264\)\)"
    with pytest.raises(InvalidInputError, match=expected):
        decode_audio(path)


def test_a_wav_of_an_unknown_codec_is_refused_like_any_undecodable_file(tmp_path):
    """FFmpeg opens a WAV whose format tag it does not know, with no codec for its stream (the fuzzer's find)."""
    data = b"\x00\x01" * 800
    fmt = struct.pack("<HHIIHH", 0x1234, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path = tmp_path / "odd.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    for read in (load_audio, lambda p: measure_audio(p, 10.0)):
        with pytest.raises(InvalidInputError) as err:
            read(path)
        assert "odd.wav" in str(err.value) and "codec FFmpeg does not know" in str(err.value)


def test_corrupt_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" + bytes(range(256)) * 4)
    with pytest.raises(InvalidInputError) as err:
        load_audio(path)
    assert "broken.wav" in str(err.value) and "a WAV file" in str(err.value)


def test_a_span_outside_the_music_and_bad_spans(tmp_path, write_wav):
    path = write_wav("clicks.wav", click_track(120, 3.0))
    with pytest.raises(InvalidInputError, match=r"start 5 s lies outside .*clicks.wav \(3.0 s long\)"):
        load_audio(path, start_s=5.0)
    with pytest.raises(InvalidInputError, match="must be a number >= 0"):
        decode_audio(path, start_s=-1.0)
    with pytest.raises(InvalidInputError, match="must be a positive number"):
        decode_audio(path, duration_s=float("nan"))
    assert decode_audio(path, start_s=2.5, duration_s=10.0).samples.shape == (1, SR // 2)  # ends with the file


def test_empty_and_silent_files_are_refused(write_wav):
    with pytest.raises(InvalidInputError, match="no audio samples"):
        load_audio(write_wav("empty.wav", np.zeros(0, dtype=np.float32)))
    with pytest.raises(InvalidInputError, match="silent"):
        load_audio(write_wav("silence.wav", np.zeros(SR, dtype=np.float32)))


def test_missing_file(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        load_audio(tmp_path / "nowhere.wav")


# ---- hostile files: any channel count, lying headers ---------------------------------------------------
@pytest.mark.parametrize("suffix, channels", [(".wav", 8), (".flac", 8), (".ogg", 8), (".wav", 12)])
def test_surround_files_of_any_channel_count_decode_in_every_layout(tmp_path, suffix, channels):
    """7.1 music used to crash the process (PyAV's planes of a planar frame of 8+ channels): decoded packed,
    it comes out right as mono (the mean), stereo and all its channels."""
    rng = np.random.default_rng(channels)
    samples = (rng.uniform(-0.4, 0.4, (SR, channels))).astype(np.float32)
    path = tmp_path / f"surround{suffix}"
    soundfile.write(path, samples, SR)
    original = soundfile.read(path, dtype="float32")[0]
    everything = decode_audio(path)
    assert everything.samples.shape == (channels, SR)
    tolerance = 1e-6 if suffix != ".ogg" else 0.2  # Vorbis is lossy (and orders surround channels its own way)
    if suffix != ".ogg":
        np.testing.assert_allclose(everything.samples.T, original, atol=tolerance)
    np.testing.assert_allclose(decode_audio(path, channels="mono").samples[0], original.mean(1), atol=tolerance)
    assert decode_audio(path, channels="stereo").samples.shape == (2, SR)
    resampled, rate = load_audio(path, sr=11025)
    assert rate == 11025 and abs(len(resampled) - SR // 2) <= 1


@pytest.mark.parametrize("announced", [0, 8000])
def test_measured_length_is_counted_while_decoding_not_read_from_the_header(tmp_path, announced):
    from backend.features.audio import measure_audio

    path = write_lying_flac(tmp_path / "lying.flac", 30.0, announced)
    assert probe_audio(path).duration_s in (None, 1.0)  # what the header says
    assert measure_audio(path, 60.0).duration_s == pytest.approx(30.0)
    assert measure_audio(path, 10.0).duration_s == pytest.approx(11.0)  # "at least": counting stops there
    stats = DecodeStats()
    assert sum(chunk.shape[1] for chunk in stream_audio(path, duration_s=11.0, stats=stats)) == 11 * 8000
    assert stats.source_samples < 13 * 8000  # the decode stopped at the limit, not at the file's end


def test_an_open_decode_stops_at_the_longest_music_analysed(tmp_path, monkeypatch):
    from backend.features import audio

    monkeypatch.setattr(audio, "MAX_DURATION_S", 5.0)
    path = write_lying_flac(tmp_path / "lying.flac", 20.0, 8000)
    with pytest.raises(TooLargeError, match="longer than 5 s"):
        decode_audio(path)
