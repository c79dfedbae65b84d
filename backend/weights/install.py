"""``mace-dance weights install PATH``: find the pieces of a weights release by content, verify, place.

A release may come as a ``.7z`` (how MACE-Dance publishes it), a ``.zip``, a single checkpoint file or a
folder, with the files at the top, one folder down or deep in a training run's folders, under any name.
So files are recognised by what is inside them, never by their names:

* a torch checkpoint (zip or pickle bytes) whose dict holds ``model_state_dict``: the Motion Expert. It is
  read with ``torch.load(weights_only=True)`` by the loader the backend uses, and loaded strictly into the
  denoiser before it is accepted;
* a ``.safetensors`` whose keys are ``pose_patch_embedding.*`` (after MACE's wrapper prefixes): MACE's
  Body Adapter; one whose keys are ``lora_A``/``lora_B`` pairs: MACE's DiT LoRA. Each is read in full
  (the file's integrity) and checked for shape consistency.

Everything is extracted and verified in a staging folder beside the weights; only when every piece has
passed are the destination folders swapped in by renames, so a corrupt archive or a wrong file leaves the
weights folder exactly as it was. Anything the destination folder held before is kept in
``weights/replaced/<kind>-<time>/``, never deleted.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import shutil
import struct
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from shared.errors import InvalidInputError, MissingWeightsError

logger = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".7z", ".zip")
#: Piece kinds and the folder each is placed in (relative to BackendConfig properties).
MOTION, ADAPTER, LORA = "motion expert", "MACE adapter", "MACE LoRA"
_TORCH_MAGICS = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_EPOCH = re.compile(r"(\d+)")


@dataclass
class Piece:
    """One verified file of a release: what it is, where it was found, what was checked."""

    kind: str
    source: Path
    detail: str
    epoch: int = 0


@dataclass
class Installed:
    """A placed piece: ``path`` is where it now lives."""

    kind: str
    path: Path
    source: str
    detail: str


# --- recognising files -------------------------------------------------------------------------------------


def _head(path: Path, size: int = 8) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def safetensors_keys(path: Path) -> list[str] | None:
    """The tensor names of a safetensors file read from its header alone, or None if it is not one."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(8)
            if len(raw) < 8:
                return None
            (length,) = struct.unpack("<Q", raw)
            if not 2 <= length <= 100_000_000 or length > path.stat().st_size - 8:
                return None
            header = handle.read(length)
        if not header.lstrip().startswith(b"{"):
            return None
        return [key for key in json.loads(header) if key != "__metadata__"]
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def looks_like_torch_file(path: Path) -> bool:
    """torch.save writes a zip archive (new format) or a raw pickle (legacy)."""
    try:
        head = _head(path, 4)
    except OSError:
        return False
    return any(head.startswith(magic) for magic in _TORCH_MAGICS)


def _lora_pairs(keys: list[str]) -> list[str]:
    """Module names that have both a ``lora_A`` and a ``lora_B`` weight."""
    a = {k.replace("lora_A", "LORA") for k in keys if "lora_A" in k}
    b = {k.replace("lora_B", "LORA") for k in keys if "lora_B" in k}
    return sorted(a & b)


def identify(path: Path) -> Piece | None:
    """The piece ``path`` holds, verified by loading it; None when it is none of ours.

    Raises InvalidInputError naming the file and what it lacked when it looks like one of ours but is not
    usable (a checkpoint dict that does not load, an adapter without its bias, an unpaired LoRA ...).
    """
    keys = safetensors_keys(path)
    if keys is not None:
        from backend.appearance.wan import ADAPTER_KEY, ADAPTER_PREFIXES, _strip_prefix

        if any(_strip_prefix(key, ADAPTER_PREFIXES).startswith(ADAPTER_KEY) for key in keys):
            return _verify_adapter(path)
        if any("lora_A" in key or "lora_B" in key for key in keys):
            return _verify_lora(path, keys)
        return None
    if looks_like_torch_file(path):
        return _verify_motion(path)
    return None


def _verify_motion(path: Path) -> Piece | None:
    import torch

    from backend.motion_expert.checkpoint import OFFICIAL_PICKLE_CLASSES, load_official_checkpoint

    _check_torch_file(path)
    try:  # a cheap look first: many torch files in a release (detectors, pose models) are not ours
        with torch.serialization.safe_globals(list(OFFICIAL_PICKLE_CLASSES)):
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError:  # foreign classes (an ultralytics model ...): weights-only refuses them
        logger.info("%s: a torch file, but not a weights-only checkpoint dict; skipped", path)
        return None
    except Exception as exc:  # truncated data, a storage that does not match its record …
        raise InvalidInputError(f"{path}: the checkpoint is corrupt ({type(exc).__name__}: {str(exc)[:200]})",
                                hint="download it again") from None
    if not isinstance(data, dict) or "model_state_dict" not in data:
        return None
    del data
    try:
        _, _, config = load_official_checkpoint(path, mamba_backend="torch")
    except Exception as exc:  # MissingWeightsError with what is wrong, or a broken tensor
        message = getattr(exc, "message", str(exc))
        raise InvalidInputError(f"{path}: has `model_state_dict` but is not a usable Motion Expert checkpoint: "
                                f"{message}", hint="is it MACE-Dance's train-*.pt? download it again") from exc
    match = _EPOCH.findall(path.stem)
    epoch = int(match[-1]) if match else 0
    detail = (f"{config.num_dance_layers} dance + {config.num_music_layers} music layers, latent {config.latent_dim}; "
              "loaded strictly")
    return Piece(MOTION, path, detail, epoch)


#: The largest pickle read from a torch checkpoint (the tensors are stored beside it, not in it).
MAX_CHECKPOINT_PICKLE_BYTES = 64 << 20


def _check_torch_file(path: Path) -> None:
    """Before ``torch.load``: the archive must be intact (a corrupt checkpoint is reported as such) and its
    pickle may name no number larger than the file's bytes (``safe_pickle.check_pickle_integers``), so a
    1 KiB file cannot make the weights-only loader build gigabytes."""
    from shared.safe_pickle import check_pickle_integers

    if not zipfile.is_zipfile(path):  # torch's legacy format: pickles of its magic number, version, …
        return  # (torch.load refuses it under weights_only unless it is the legacy tensor layout)
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise zipfile.BadZipFile(f"CRC error in {bad}")
            pickles = [info for info in archive.infolist() if info.filename.endswith("data.pkl")]
            if not pickles or pickles[0].file_size > MAX_CHECKPOINT_PICKLE_BYTES:
                raise zipfile.BadZipFile("no data.pkl of a sensible size")
            size = sum(info.file_size for info in archive.infolist())
            data = archive.read(pickles[0])
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InvalidInputError(f"{path}: the checkpoint is corrupt ({exc})", hint="download it again") from None
    check_pickle_integers(data, size, str(path))


def _read_tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors' own error types for truncated data
        raise InvalidInputError(f"{path}: unreadable safetensors file ({exc})", hint="download it again") from exc


def _verify_adapter(path: Path) -> Piece:
    from backend.appearance.wan import adapter_state_dict

    weights = adapter_state_dict(_read_tensors(path))
    weight, bias = weights.get("weight"), weights.get("bias")
    if weight is None or bias is None:
        raise InvalidInputError(f"{path}: has pose_patch_embedding keys but lacks its "
                                f"{'weight' if weight is None else 'bias'}", hint="is it MACE-Dance's Adapter.safetensors?")
    if weight.ndim != 5 or tuple(bias.shape) != (weight.shape[0],):
        raise InvalidInputError(f"{path}: pose_patch_embedding weight {tuple(weight.shape)} and bias "
                                f"{tuple(bias.shape)} are not a Conv3d's", hint="is it MACE-Dance's Adapter.safetensors?")
    return Piece(ADAPTER, path, f"pose_patch_embedding {tuple(weight.shape)}")


def _verify_lora(path: Path, keys: list[str]) -> Piece:
    tensors = _read_tensors(path)
    pairs = _lora_pairs(keys)
    lone = sorted(k for k in keys if ("lora_A" in k or "lora_B" in k)
                  and k.replace("lora_A", "LORA").replace("lora_B", "LORA") not in pairs)  # fmt: skip
    if lone or not pairs:
        raise InvalidInputError(f"{path}: LoRA weights without their partner (e.g. {lone[:2]})",
                                hint="each lora_A needs its lora_B; download the file again")
    ranks = set()
    for name in pairs:
        down, up = tensors[name.replace("LORA", "lora_A")], tensors[name.replace("LORA", "lora_B")]
        if down.ndim != 2 or up.ndim != 2 or down.shape[0] != up.shape[1]:
            raise InvalidInputError(f"{path}: LoRA pair {name} has shapes {tuple(down.shape)} and "
                                    f"{tuple(up.shape)}, which do not multiply")
        ranks.add(int(down.shape[0]))
    return Piece(LORA, path, f"{len(pairs)} LoRA pairs, rank {'/'.join(map(str, sorted(ranks)))}")


# --- unpacking ---------------------------------------------------------------------------------------------


def extract(archive: Path, into: Path) -> None:
    """Unpack a .7z (py7zr) or .zip into ``into``; a broken archive is an InvalidInputError naming it."""
    suffix = archive.suffix.lower()
    try:
        if suffix == ".7z":
            import py7zr

            with py7zr.SevenZipFile(archive, mode="r") as handle:
                # 7z decoders write exactly the sizes its headers give (unlike zip's), so they bound the work.
                entries = handle.list()
                declared = sum(entry.uncompressed or 0 for entry in entries)
                if len(entries) > MAX_ARCHIVE_ENTRIES or declared > MAX_ARCHIVE_BYTES:
                    raise InvalidInputError(f"{archive}: {len(entries):,} entries of {declared:,} bytes, more than a "
                                            f"release holds", hint="is it the right archive?")
                handle.reset()
                handle.extractall(path=into)  # py7zr refuses member paths outside ``into``
        elif suffix == ".zip":
            with zipfile.ZipFile(archive) as handle:
                _extract_zip_counted(handle, into, archive.name)
        else:
            raise InvalidInputError(f"{archive}: not an archive this installer reads", hint="give a .7z or .zip")
    except InvalidInputError:
        raise
    except Exception as exc:  # py7zr.Bad7zFile, zipfile.BadZipFile, CRC errors, truncated data, EOFError
        raise InvalidInputError(f"{archive}: cannot extract the archive ({type(exc).__name__}: {exc})",
                                hint="the download is probably incomplete or corrupt: download it again") from exc


#: What an archive may unpack to. A release is a few checkpoints, which barely compress: a member inflating
#: past ``MAX_INFLATION`` times its compressed size (once past 64 MiB) is a zip bomb.
MAX_ARCHIVE_BYTES = 64 << 30
MAX_ARCHIVE_ENTRIES = 10_000
MAX_INFLATION = 100
_DISK_RESERVE = 1 << 30


def _extract_zip_counted(handle: zipfile.ZipFile, into: Path, name: str) -> None:
    """Unpack every member, counting bytes as they are written (a zip's headers may lie): past the entry
    count, the inflation or total budget, or the free disk, extraction stops with a clear error (CRC errors
    surface as each member is read)."""
    members = handle.infolist()
    if len(members) > MAX_ARCHIVE_ENTRIES:
        raise InvalidInputError(f"{name}: {len(members):,} entries, more than a release holds "
                                f"({MAX_ARCHIVE_ENTRIES:,})", hint="is it the right archive?")
    total = 0
    for info in members:
        if info.is_dir():
            handle.extract(info, into)
            continue
        # zipfile's rule for member names: ``..``, ``.`` and absolute parts dropped.
        parts = [part for part in info.filename.replace("\\", "/").split("/") if part not in ("", ".", "..")]
        target = into.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        allowed = max(64 << 20, MAX_INFLATION * info.compress_size)
        written = 0
        with handle.open(info) as source, open(target, "wb") as out:
            while piece := source.read(1 << 20):
                written += len(piece)
                total += len(piece)
                if written > allowed or total > MAX_ARCHIVE_BYTES:
                    raise InvalidInputError(f"{name}: {info.filename} inflates past {min(allowed, MAX_ARCHIVE_BYTES):,} "
                                            f"bytes from {info.compress_size:,} (a zip bomb, not a weights release)",
                                            hint="is it the right archive? download it again")
                if written % (64 << 20) < len(piece) and shutil.disk_usage(into).free < _DISK_RESERVE:
                    raise InvalidInputError(f"{name}: unpacking {info.filename} would fill the disk",
                                            hint="free some disk space, then install again")
                out.write(piece)


def _files_under(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def find_pieces(root: Path, report: Callable[[str], None] = lambda _: None) -> list[Piece]:
    """Every recognised piece under ``root`` (a file or a folder)."""
    pieces = []
    for path in _files_under(root):
        piece = identify(path)
        if piece is not None:
            report(f"found {piece.kind}: {path} ({piece.detail})")
            pieces.append(piece)
    return pieces


def _choose(pieces: list[Piece]) -> dict[str, Piece]:
    """One piece per kind; several Motion Expert checkpoints -> the highest epoch (as the loader does)."""
    chosen: dict[str, Piece] = {}
    for kind in (MOTION, ADAPTER, LORA):
        of_kind = [p for p in pieces if p.kind == kind]
        if not of_kind:
            continue
        if kind != MOTION and len(of_kind) > 1:
            raise InvalidInputError(f"several {kind} files: {[str(p.source) for p in of_kind]}",
                                    hint="install one release at a time (give the file you mean)")
        chosen[kind] = max(of_kind, key=lambda p: p.epoch)
    return chosen


# --- placing -----------------------------------------------------------------------------------------------


def _swap_in(staged: Path, destination: Path, replaced_root: Path) -> Path | None:
    """Rename ``staged`` over ``destination``; an existing destination moves to ``replaced_root`` first.

    Returns where the previous content went (None when there was none). Both renames stay on the weights
    file system, so each is atomic.
    """
    previous = None
    if destination.is_symlink():
        destination.unlink()
    elif destination.exists():
        if destination.is_dir() and not any(destination.iterdir()):
            destination.rmdir()
        else:
            replaced_root.mkdir(parents=True, exist_ok=True)
            previous = replaced_root / f"{destination.name}-{time.strftime('%Y%m%d-%H%M%S')}"
            while previous.exists():
                previous = previous.with_name(previous.name + "-1")
            os.replace(destination, previous)
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, destination)
    return previous


def _stage_copy(source: Path, target: Path) -> None:
    """Copy (or, inside the staging folder, move) ``source`` to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def install_weights(source: str | Path, config=None, report: Callable[[str], None] = print,
                    expect: tuple[str, ...] = ()) -> list[Installed]:  # fmt: skip
    """Install the weights found in ``source`` (archive, checkpoint file or folder) into ``config``'s layout.

    Args:
        source: a ``.7z``/``.zip`` archive, a checkpoint or safetensors file, or a folder.
        config: the BackendConfig whose weight folders receive the pieces (default: ``BackendConfig()``).
        report: called with one line per step (found, placed, kept aside).
        expect: piece kinds that must be present (e.g. (ADAPTER, LORA) for the appearance archive).
    Returns the placed pieces. Raises InvalidInputError / MissingWeightsError naming the file and what it
    lacked; in that case nothing in the weights folder has changed.
    """
    from backend.appearance.wan import ADAPTER_FILE, LORA_FILE
    from backend.config import BackendConfig

    config = config or BackendConfig()
    source = Path(source).expanduser()
    if not source.exists():
        raise InvalidInputError(f"{source} does not exist", hint="give a .7z/.zip archive, a checkpoint file or a folder")
    weights = config.weights_dir
    weights.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".install-", dir=weights) as tmp:
        staging = Path(tmp)
        root = source
        if source.is_file() and source.suffix.lower() in ARCHIVE_SUFFIXES:
            report(f"extracting {source}")
            root = staging / "extracted"
            extract(source, root)
        pieces = _choose(find_pieces(root, report))
        if not pieces:
            raise MissingWeightsError(
                f"{source}: no MACE-Dance weights inside (looked for a torch checkpoint with `model_state_dict`, and "
                "safetensors with `pose_patch_embedding.*` keys or lora_A/lora_B pairs)",
                hint="give MACE-Dance's Expert-Motion / Expert-Appearance archive, or `mace-dance weights download`",
            )
        lacking = [kind for kind in expect if kind not in pieces]
        if lacking:
            raise MissingWeightsError(f"{source}: no {' or '.join(lacking)} inside",
                                      hint="the archive is not the one expected; download it again")
        # Stage each destination folder whole, then swap them in: all pieces verified before anything moves.
        plan: list[tuple[Path, Path, list[tuple[str, Path, Piece]]]] = []
        if MOTION in pieces:
            piece = pieces[MOTION]
            plan.append((staging / "motion", Path(config.motion_weights),
                         [(MOTION, Path(f"train-{piece.epoch}.pt"), piece)]))
        mace = [(kind, Path(name), pieces[kind]) for kind, name in ((ADAPTER, ADAPTER_FILE), (LORA, LORA_FILE))
                if kind in pieces]  # fmt: skip
        if mace:
            destination = Path(config.mace_appearance_weights)
            kept = [(kind, name, p) for kind, name, p in _existing_mace(destination) if kind not in pieces]
            plan.append((staging / "mace", destination, mace + kept))
        for staged, _, files in plan:
            for _, name, piece in files:
                _stage_copy(piece.source, staged / name)
        installed = []
        for staged, destination, files in plan:
            previous = _swap_in(staged, destination, weights / "replaced")
            if previous is not None:
                report(f"kept the previous {destination.name} folder as {previous}")
            for kind, name, piece in files:
                installed.append(Installed(kind, destination / name, str(piece.source), piece.detail))
                report(f"installed {kind}: {destination / name}")
    return installed


def _existing_mace(folder: Path) -> list[tuple[str, Path, Piece]]:
    """MACE files already installed (kept when an install brings only the other one)."""
    from backend.appearance.wan import ADAPTER_FILE, LORA_FILE

    found = []
    for kind, name in ((ADAPTER, ADAPTER_FILE), (LORA, LORA_FILE)):
        if (folder / name).is_file():
            found.append((kind, Path(name), Piece(kind, folder / name, "kept from the previous install")))
    return found
