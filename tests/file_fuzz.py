"""File fuzzing: mutated music, photos, mocap and archives through the loaders, in a process of its own.

Run as a script (``python tests/file_fuzz.py OUT_DIR [COUNT]``) under an address-space limit: every mutation must
load or raise a ``shared.errors`` error (the rule "check cheaply, decode with a budget, fail cleanly"); anything
else, a crash, or memory past the limit fails the run. Prints one JSON line of counts and the peak RSS (MiB).
``tests/test_file_fuzz.py`` runs it.
"""

from __future__ import annotations

import io
import json
import pickle
import resource
import sys
import zipfile
from pathlib import Path

import numpy as np

ADDRESS_SPACE_LIMIT = 3 << 30


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """Flip bytes, write big numbers, cut or repeat a part: what a damaged or crafted file looks like."""
    data = bytearray(data)
    for _ in range(int(rng.integers(1, 6))):
        kind = int(rng.integers(0, 4))
        at = int(rng.integers(0, max(len(data), 1)))
        if kind == 0 and data:
            data[at] ^= int(rng.integers(1, 256))
        elif kind == 1:
            data[at : at + 4] = bytes(rng.choice([b"\xff\xff\xff\x7f", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff"]))
        elif kind == 2:
            data = data[:at]
        else:
            data[at:at] = data[at : at + int(rng.integers(1, 4096))]
    return bytes(data)


def seeds(folder: Path) -> dict[str, tuple[str, bytes]]:
    """One small valid file of each kind: kind -> (file name, bytes)."""
    import soundfile
    from PIL import Image

    tone = 0.3 * np.sin(np.linspace(0, 800, 16000))
    files = {}
    for name, fmt in (("music.wav", "WAV"), ("music.flac", "FLAC"), ("music.ogg", "OGG")):
        buffer = io.BytesIO()
        soundfile.write(buffer, np.stack([tone, tone], 1), 8000, format=fmt)
        files[name] = buffer.getvalue()
    for name, fmt in (("photo.png", "PNG"), ("photo.jpg", "JPEG")):
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 80, 3), dtype=np.uint8)).save(buffer, fmt)
        files[name] = buffer.getvalue()
    rows = "\n".join(f"0 {90 + k % 7} 0 {k} 0 0" for k in range(30))
    files["take.bvh"] = ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation "
                         "Xrotation Yrotation\n End Site\n {\n  OFFSET 0 10 0\n }\n}\nMOTION\nFrames: 30\n"
                         f"Frame Time: 0.0333333\n{rows}\n").encode()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, joints=np.zeros((30, 24, 3)), fps=np.float64(30))
    files["take.npz"] = buffer.getvalue()
    files["take.pkl"] = pickle.dumps({"smpl_poses": np.zeros((30, 72), np.float32),
                                      "smpl_trans": np.zeros((30, 3), np.float32), "smpl_scaling": np.ones(1)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("release/notes.txt", "weights " * 1000)
        archive.writestr("release/train-1.pt", bytes(20000))
    files["release.zip"] = buffer.getvalue()
    return files


def load(path: Path, scratch: Path) -> None:
    """The loader each kind of file meets in the product."""
    suffix = path.suffix
    if suffix in (".wav", ".flac", ".ogg"):
        from backend.features.audio import measure_audio

        measure_audio(path, 60.0)
    elif suffix in (".png", ".jpg"):
        from backend.appearance.reference import load_reference_image

        load_reference_image(path)
    elif suffix in (".bvh", ".npz", ".pkl"):
        from backend.choreography.mocap import load_clip

        load_clip(path)
    else:
        import shutil

        from backend.weights.install import extract

        target = scratch / "unpacked"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        extract(path, target)


def _peak_rss_mib() -> float:
    """This process's peak resident memory. Linux's ``ru_maxrss`` keeps the parent's size at fork across the
    exec (a child of a 2 GiB pytest reports 2 GiB), so read the peak of this process's own memory map."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    from shared.errors import MaceError

    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
    folder, count = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 30
    rng = np.random.default_rng(2024)
    outcome = {"loaded": 0, "refused": 0}
    for name, data in seeds(folder).items():
        for index in range(count):
            path = folder / f"{index}-{name}"
            path.write_bytes(mutate(data, rng))
            try:
                load(path, folder)
                outcome["loaded"] += 1
            except MaceError:
                outcome["refused"] += 1
            except Exception as exc:  # noqa: BLE001 - the finding: report which file, then fail
                raise SystemExit(f"{path.name}: {type(exc).__name__}: {exc}") from exc
            path.unlink()
    outcome["peak_rss_mib"] = _peak_rss_mib()
    print(json.dumps(outcome))


if __name__ == "__main__":
    main()
