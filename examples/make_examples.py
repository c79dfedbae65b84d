"""Make the example assets from scratch: a 24 s groove at 120 BPM and a reference character image.

Nothing here is third-party material: the music is synthesised (kick, snare, hats, bass and a chord pad, a
calm verse then a louder chorus, so the choreographer has sections to follow) and the reference is a drawn
character in an A-pose with its body keypoints saved beside it.

    python examples/make_examples.py          # rewrites examples/music/groove_120bpm.ogg and examples/reference.*
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLE_RATE = 22050
BPM = 120.0
BARS = 12  # 4/4: 12 bars = 24 s


def _envelope(length: int, decay_s: float) -> np.ndarray:
    return np.exp(-np.arange(length) / (decay_s * SAMPLE_RATE))


def _kick(length: int) -> np.ndarray:
    t = np.arange(length) / SAMPLE_RATE
    freq = 45 + 90 * np.exp(-t * 30)  # pitch drop
    return np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE) * _envelope(length, 0.12)


def _noise_hit(length: int, decay_s: float, rng: np.random.Generator, brightness: float) -> np.ndarray:
    noise = rng.normal(size=length)
    if brightness > 0.5:  # crude high-pass for hats: difference of the noise
        noise = np.diff(noise, prepend=0.0)
    return noise * _envelope(length, decay_s)


def make_music(path: Path, seed: int = 0) -> None:
    import soundfile

    rng = np.random.default_rng(seed)
    beat = 60.0 / BPM
    total = int(BARS * 4 * beat * SAMPLE_RATE)
    mix = np.zeros(total)
    hit = int(0.4 * SAMPLE_RATE)
    bass_notes = [41.2, 41.2, 49.0, 36.7]  # E1 E1 G1 D1, one per bar
    chords = [(164.8, 196.0, 246.9), (164.8, 196.0, 246.9), (196.0, 246.9, 293.7), (146.8, 185.0, 220.0)]
    for bar in range(BARS):
        chorus = bar >= BARS // 2
        gain = 1.0 if chorus else 0.55
        for step in range(8):  # eighth notes
            start = int((bar * 4 + step / 2) * beat * SAMPLE_RATE)
            end = min(start + hit, total)
            n = end - start
            if step % 2 == 0:
                mix[start:end] += 0.9 * gain * _kick(n)
            if step in (2, 6):
                mix[start:end] += 0.5 * gain * _noise_hit(n, 0.08, rng, 0.2)
            if chorus or step % 2 == 1:
                mix[start:end] += 0.12 * gain * _noise_hit(n, 0.03, rng, 1.0)
        # bass: root note on every beat, octave jump on the off-beats in the chorus
        for quarter in range(4):
            start = int((bar * 4 + quarter) * beat * SAMPLE_RATE)
            n = min(int(beat * SAMPLE_RATE), total - start)
            t = np.arange(n) / SAMPLE_RATE
            freq = bass_notes[bar % 4] * (2 if chorus and quarter % 2 else 1)
            mix[start:start + n] += 0.35 * gain * np.sign(np.sin(2 * np.pi * freq * t)) * _envelope(n, 0.25) * 0.6
        # chord pad for the whole bar
        start = int(bar * 4 * beat * SAMPLE_RATE)
        n = min(int(4 * beat * SAMPLE_RATE), total - start)
        t = np.arange(n) / SAMPLE_RATE
        pad = sum(np.sin(2 * np.pi * f * t) for f in chords[bar % 4]) / 3
        mix[start:start + n] += 0.12 * (1.3 if chorus else 1.0) * pad * np.minimum(1, t * 8)
    mix /= np.abs(mix).max() * 1.1
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, mix.astype(np.float32), SAMPLE_RATE, format="OGG", subtype="VORBIS")


# Body keypoints of the drawn character, (x, y) in pixels of a 512x768 image, COCO-18 names.
KEYPOINTS = {
    "nose": (256, 118), "neck": (256, 178), "right_shoulder": (206, 188), "right_elbow": (166, 276),
    "right_wrist": (130, 356), "left_shoulder": (306, 188), "left_elbow": (346, 276), "left_wrist": (382, 356),
    "right_hip": (228, 390), "right_knee": (222, 530), "right_ankle": (218, 670), "left_hip": (284, 390),
    "left_knee": (290, 530), "left_ankle": (294, 670), "right_eye": (244, 108), "left_eye": (268, 108),
    "right_ear": (232, 116), "left_ear": (280, 116),
}  # fmt: skip


def make_reference(path: Path) -> None:
    from PIL import Image, ImageDraw

    width, height = 512, 768
    y = np.linspace(0, 1, height)[:, None, None]
    background = (np.array([214, 222, 232]) * (1 - 0.25 * y) + np.array([40, 40, 50]) * 0.25 * y)
    image = Image.fromarray(np.broadcast_to(background, (height, width, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    k = KEYPOINTS
    skin, shirt, trousers, shoes, hair = (224, 172, 140), (200, 60, 70), (40, 60, 120), (30, 30, 30), (60, 40, 30)

    def limb(a, b, width_px, colour):
        draw.line([k[a], k[b]], fill=colour, width=width_px)
        for p in (k[a], k[b]):
            draw.ellipse([p[0] - width_px / 2, p[1] - width_px / 2, p[0] + width_px / 2, p[1] + width_px / 2], fill=colour)

    # legs and shoes
    for side in ("left", "right"):
        limb(f"{side}_hip", f"{side}_knee", 46, trousers)
        limb(f"{side}_knee", f"{side}_ankle", 40, trousers)
        ax, ay = k[f"{side}_ankle"]
        toe = 28 if side == "left" else -28
        draw.ellipse([min(ax, ax + toe) - 14, ay - 8, max(ax, ax + toe) + 14, ay + 24], fill=shoes)
    # torso
    draw.polygon([k["right_shoulder"], k["left_shoulder"], (k["left_hip"][0] + 14, k["left_hip"][1] + 10),
                  (k["right_hip"][0] - 14, k["right_hip"][1] + 10)], fill=shirt)
    # arms: sleeves then skin
    for side in ("left", "right"):
        limb(f"{side}_shoulder", f"{side}_elbow", 32, shirt)
        limb(f"{side}_elbow", f"{side}_wrist", 24, skin)
        wx, wy = k[f"{side}_wrist"]
        draw.ellipse([wx - 14, wy - 6, wx + 14, wy + 24], fill=skin)
    # neck and head
    limb("neck", "nose", 30, skin)
    cx, cy = k["nose"][0], k["nose"][1] - 10
    draw.ellipse([cx - 42, cy - 52, cx + 42, cy + 50], fill=skin)
    draw.chord([cx - 44, cy - 56, cx + 44, cy + 30], 180, 360, fill=hair)
    for eye in ("left_eye", "right_eye"):
        ex, ey = k[eye]
        draw.ellipse([ex - 5, ey - 4, ex + 5, ey + 4], fill=(30, 30, 40))
    draw.arc([cx - 16, cy + 14, cx + 16, cy + 34], 20, 160, fill=(120, 40, 40), width=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    # The format `mace-dance render --keypoints` reads: COCO-18 name -> [x, y] pixels of the image.
    keypoint_file = path.with_name(path.stem + "_keypoints.json")
    keypoint_file.write_text(json.dumps({name: list(xy) for name, xy in KEYPOINTS.items()}, indent=1))


if __name__ == "__main__":
    make_music(HERE / "music" / "groove_120bpm.ogg")
    make_reference(HERE / "reference.png")
    print("wrote", HERE / "music" / "groove_120bpm.ogg", "and", HERE / "reference.png")
