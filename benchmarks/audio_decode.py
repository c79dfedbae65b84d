#!/usr/bin/env python3
"""Time and memory of decoding a short span of a long music file, against decoding it all and cutting.

    .venv/bin/python benchmarks/audio_decode.py [--minutes 10] [--span 10]

Builds a FLAC file of ``--minutes`` of 44.1 kHz stereo music-like noise (in a temporary folder), then in one
run:

* the one decoder (``backend.features.audio``) decoding ``--span`` seconds from the middle, as analysis
  (mono, the file's rate) and as the video muxer (48 kHz stereo, streamed);
* the baseline, what the product did before: decode the whole file, then cut the span.

It prints wall time and peak sample memory of each (the decoder's own accounting, and Python's traced
allocations as a cross-check), and the ratios. Goal: the span's cost does not grow with the file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.features.audio import DecodeStats, decode_audio, stream_audio  # noqa: E402

RATE = 44100
MB = 1024 * 1024


def write_flac(path: Path, seconds: float) -> None:
    """Band-limited noise with a beat (compresses like music, not like a pure tone)."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=RATE)
        stream.layout = "stereo"
        block = RATE  # one second at a time
        for second in range(int(seconds)):
            t = np.arange(block) / RATE
            noise = np.convolve(rng.normal(0, 0.1, block + 15), np.ones(16) / 16, mode="valid")
            beat = np.exp(-np.mod(t, 0.5) * 20)
            left = (0.3 * noise * beat + 0.1 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.stack([left, 0.9 * left]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = RATE, second * block, Fraction(1, RATE)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def measure(run) -> tuple[float, float, float]:
    """(seconds, accounted peak MB, traced peak MB) of ``run() -> DecodeStats | None``."""
    tracemalloc.start()
    start = time.perf_counter()
    stats = run()
    elapsed = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1] / MB
    tracemalloc.stop()
    return elapsed, (stats.peak_bytes / MB if stats else float("nan")), traced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--span", type=float, default=10.0, help="seconds decoded")
    args = parser.parse_args()
    length = args.minutes * 60
    start = length / 2

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.flac"
        write_flac(path, length)
        print(f"{args.minutes:g} min of 44.1 kHz stereo FLAC ({path.stat().st_size / MB:.1f} MB); "
              f"decoding {args.span:g} s from {start:g} s")

        def analysis_span():
            return decode_audio(path, start_s=start, duration_s=args.span, channels="mono").stats

        def muxer_span():
            stats = DecodeStats()
            for _ in stream_audio(path, start_s=start, duration_s=args.span, sample_rate=48000, channels="stereo",
                                  stats=stats):
                pass
            return stats

        def whole_then_cut():  # the baseline: decode everything, keep the span
            decoded = decode_audio(path, channels="mono")
            first = round(start * RATE)
            decoded.samples[:, first : first + round(args.span * RATE)].copy()
            return decoded.stats

        rows = [("span, analysis (mono, 44.1 kHz)", measure(analysis_span)),
                ("span, video muxer (48 kHz stereo, streamed)", measure(muxer_span)),
                ("baseline: whole file, then cut", measure(whole_then_cut))]
    print(f"{'':46s} {'time':>8s} {'peak (accounted)':>17s} {'peak (traced)':>14s}")
    for label, (seconds, accounted, traced) in rows:
        print(f"{label:46s} {seconds:7.3f}s {accounted:14.1f} MB {traced:11.1f} MB")
    base = rows[2][1]
    span = rows[0][1]
    print(f"span vs baseline: {base[0] / span[0]:.0f}x faster, {base[1] / span[1]:.0f}x less sample memory")


if __name__ == "__main__":
    main()
