"""Motion files: our canonical ``.npz``, AMASS-style ``.npz``, AIST++ and EDGE/MACE ``.pkl``.

The canonical file (``FORMAT_VERSION`` 1) holds ``poses`` (T, 24, 3) axis-angle, ``trans`` (T, 3) metres,
``betas`` (10,), ``fps``, ``gender``, ``up_axis`` = "y", optional ``contacts`` (T, 4) and
``metadata_json``; ``mocap_framerate`` repeats ``fps`` for AMASS tools. Writes are atomic.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .axes import z_up_to_y_up
from .errors import InvalidInputError, MotionFormatError, NotFoundError
from .motion import Motion
from .safe_pickle import safe_pickle_loads
from .skeleton import NUM_JOINTS

FORMAT_VERSION = 1
SUPPORTED_SUFFIXES = (".npz", ".pkl")
_FORMAT_HINT = (
    "use a MACE-Dance .npz (poses, trans, fps), an AMASS .npz, an AIST++ .pkl (smpl_poses, smpl_trans, "
    "smpl_scaling) or an EDGE/MACE output .pkl (smpl_poses, smpl_trans)"
)


def save_motion(motion: Motion, path: str | Path) -> Path:
    """Write ``motion`` as a canonical ``.npz`` (atomically). Returns the path written."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
    arrays = {
        "format_version": np.int64(FORMAT_VERSION),
        "poses": motion.poses.astype(np.float32),
        "trans": motion.trans.astype(np.float32),
        "betas": np.pad(motion.betas, (0, 10 - len(motion.betas))).astype(np.float32),
        "fps": np.float64(motion.fps),
        "mocap_framerate": np.float64(motion.fps),
        "gender": np.str_(motion.gender),
        "up_axis": np.str_("y"),
        "metadata_json": np.str_(json.dumps(motion.metadata, default=str)),
    }
    if motion.contacts is not None:
        arrays["contacts"] = motion.contacts.astype(np.float32)
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def load_motion(path: str | Path, *, up_axis: str | None = None) -> Motion:
    """Read a motion file of any supported kind into a canonical (Y-up) :class:`Motion`.

    Args:
        path: ``.npz`` or ``.pkl`` file.
        up_axis: override the file's up axis ("y" or "z") when its own marker is missing or wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"motion file not found: {path}")
    if path.suffix not in SUPPORTED_SUFFIXES:
        raise InvalidInputError(f"unsupported motion file type {path.suffix!r} ({path})", hint=_FORMAT_HINT)
    try:
        if path.suffix == ".npz":
            return _motion_from_npz_fields(read_npz(path), up_axis, path)
        data = safe_pickle_loads(path.read_bytes())
        if not isinstance(data, dict):
            raise InvalidInputError(f"{path}: expected a dict of arrays, got {type(data).__name__}", hint=_FORMAT_HINT)
        return _motion_from_pickle_fields(data, up_axis, path)
    except MotionFormatError as exc:
        raise MotionFormatError(exc.field, f"{exc.message.split(': ', 1)[-1]} (in {path.name})", exc.hint) from exc
    except InvalidInputError:
        raise
    except Exception as exc:  # numpy/zipfile raise many types for truncated or foreign files
        raise InvalidInputError(f"cannot read motion file {path}: {exc}", hint=_FORMAT_HINT) from exc


#: The most a motion ``.npz`` may inflate to (all members together): two hours of 60 fps SMPL-X poses and
#: more. The sizes in a zip's headers are not trusted: bytes are counted as they are inflated.
MAX_NPZ_BYTES = 1 << 30
MAX_NPZ_MEMBERS = 256


def read_npz(path: str | Path, max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (no pickles), refusing one that inflates past ``max_bytes`` in all.

    Each member is inflated in pieces and counted, so a few-MB zip bomb stops at the budget instead of
    filling memory; ``InvalidInputError`` (naming the file, the member and the budget) otherwise.
    """
    import io
    import zipfile

    path = Path(path)
    arrays, total = {}, 0
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) > MAX_NPZ_MEMBERS:
                raise InvalidInputError(f"{path.name} holds {len(members)} arrays, more than {MAX_NPZ_MEMBERS}")
            for info in members:
                buffer = io.BytesIO()
                with archive.open(info) as member:
                    while piece := member.read(1 << 20):
                        total += len(piece)
                        if total > max_bytes:
                            raise InvalidInputError(
                                f"{path.name} inflates past {max_bytes:,} bytes (at member {info.filename!r})",
                                hint="a motion file this large is damaged or crafted; export the motion again")
                        buffer.write(piece)
                buffer.seek(0)
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                arrays[name] = np.lib.format.read_array(buffer, allow_pickle=False)
    except InvalidInputError:
        raise
    except Exception as exc:  # zipfile/numpy raise many types for truncated or foreign files
        raise InvalidInputError(f"cannot read {path.name} as .npz: {exc}", hint=_FORMAT_HINT) from exc
    return arrays


def _text(value) -> str:
    value = np.asarray(value).item() if isinstance(value, np.ndarray) else value
    return value.decode() if isinstance(value, bytes) else str(value)


def _body_poses(poses: np.ndarray, name: str) -> np.ndarray:
    """(T, 24, 3) body poses from (T, 24, 3), (T, 72) or SMPL-H/X layouts (first 22 joints, hands zero)."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim == 3 and poses.shape[1:] == (NUM_JOINTS, 3):
        return poses
    if poses.ndim == 2 and poses.shape[1] == NUM_JOINTS * 3:
        return poses.reshape(-1, NUM_JOINTS, 3)
    if poses.ndim == 2 and poses.shape[1] in (156, 165):  # SMPL-H (52 joints) / SMPL-X (55 joints)
        body = np.zeros((len(poses), NUM_JOINTS, 3))
        body[:, :22] = poses[:, :66].reshape(-1, 22, 3)
        return body
    raise MotionFormatError(name, f"expected (T, 24, 3), (T, 72), (T, 156) or (T, 165), got {poses.shape}")


def _to_canonical(poses, trans, up: str):
    if up == "z":
        return z_up_to_y_up(poses, trans)
    if up != "y":
        raise InvalidInputError(f"up axis must be 'y' or 'z', got {up!r}")
    return poses, trans


def _motion_from_npz_fields(fields: dict, up_axis: str | None, path: Path) -> Motion:
    if "poses" in fields:
        poses = _body_poses(fields["poses"], "poses")
    elif "root_orient" in fields and "pose_body" in fields:  # newer AMASS split layout
        poses = np.zeros((len(fields["root_orient"]), NUM_JOINTS, 3))
        poses[:, 0] = fields["root_orient"]
        poses[:, 1:22] = np.asarray(fields["pose_body"]).reshape(-1, 21, 3)
    else:
        raise MotionFormatError("poses", f"missing in {path.name}", hint=_FORMAT_HINT)
    trans = fields.get("trans", np.zeros((len(poses), 3)))
    fps = next((fields[k] for k in ("fps", "mocap_framerate", "mocap_frame_rate") if k in fields), None)
    if fps is None:
        raise MotionFormatError("fps", f"missing in {path.name} (also looked for mocap_framerate)", hint=_FORMAT_HINT)
    # Our files say their up axis; AMASS files (which carry mocap_framerate and no marker) are Z-up.
    up = up_axis or (_text(fields["up_axis"]) if "up_axis" in fields else
                     "z" if ("mocap_framerate" in fields or "mocap_frame_rate" in fields) else "y")
    poses, trans = _to_canonical(poses, trans, up)
    metadata = json.loads(_text(fields["metadata_json"])) if "metadata_json" in fields else {}
    betas = np.asarray(fields.get("betas", np.zeros(10)), dtype=np.float64).ravel()[:10]
    return Motion(
        poses=poses, trans=trans, fps=float(np.asarray(fps).item()), betas=betas,
        gender=_text(fields.get("gender", "neutral")) or "neutral", contacts=fields.get("contacts"),
        metadata=metadata,
    )


def _motion_from_pickle_fields(data: dict, up_axis: str | None, path: Path) -> Motion:
    if "smpl_poses" in data:
        poses = _body_poses(data["smpl_poses"], "smpl_poses")
        trans = np.asarray(data.get("smpl_trans", np.zeros((len(poses), 3))), dtype=np.float64)
        if "smpl_scaling" in data:  # AIST++ annotation: Y-up, 60 fps, translation in scaled units
            scaling = float(np.asarray(data["smpl_scaling"]).ravel()[0])
            if not np.isfinite(scaling) or scaling <= 0:
                raise MotionFormatError("smpl_scaling", f"must be a positive number, got {scaling}")
            trans = trans / scaling
            up, fps, source = "y", 60.0, "aist++"
        else:  # EDGE / MACE-Dance output: Z-up, 30 fps
            up, fps, source = "z", 30.0, "edge"
    elif "q" in data and "pos" in data:  # MACE/FineDance sliced training motion: Y-up, 30 fps
        poses = _body_poses(data["q"], "q")
        trans, up, fps, source = np.asarray(data["pos"], dtype=np.float64), "y", 30.0, "finedance"
    else:
        raise MotionFormatError("smpl_poses", f"missing in {path.name}", hint=_FORMAT_HINT)
    fps = float(data.get("fps", fps))
    poses, trans = _to_canonical(poses, trans, up_axis or up)
    return Motion(poses=poses, trans=trans, fps=fps, metadata={"source_format": source, "source_file": path.name})
