"""``mace-dance weights download``: fetch the published weights with huggingface_hub, then install them.

Downloads go through huggingface_hub, so they use the person's Hugging Face cache (``HF_HOME`` /
``HF_HUB_CACHE``; a release already there is used as is, also offline), endpoint (``HF_ENDPOINT``), token
(``HF_TOKEN`` or ``hf auth login``) and offline mode (``HF_HUB_OFFLINE=1``), and show huggingface_hub's own
progress bars. A release archive is fetched into ``weights/downloads`` and an interrupted download resumes
there where it stopped (:func:`download_file`).

* MACE-Dance (``GD-ML/MACE-Dance``, CC BY 4.0) publishes 7z archives; each is downloaded into the cache and
  installed from there (:func:`~backend.weights.install.install_weights`).
* The Wan base (``Wan-AI/Wan2.2-Animate-14B-Diffusers``, ~70 GB) is a diffusers folder. It stays in the
  Hugging Face cache; ``weights/appearance/wan`` becomes a link to the cached snapshot, so a copy the
  person already downloaded is reused and never duplicated.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from shared.errors import BackendUnavailableError, InvalidInputError, MissingWeightsError

from .install import ADAPTER, LORA, MOTION, Installed, _swap_in, install_weights

MACE_REPO = "GD-ML/MACE-Dance"
WAN_REPO = "Wan-AI/Wan2.2-Animate-14B-Diffusers"


@dataclass(frozen=True)
class Release:
    """One downloadable part: ``--NAME`` on the command line."""

    name: str
    repo: str
    filename: str | None  # None: the whole repository (a diffusers folder)
    pieces: tuple[str, ...]
    about: str


RELEASES = {
    "motion": Release("motion", MACE_REPO, "weight/Expert-Motion/Expert-Motion.7z", (MOTION,),
                      "MACE-Dance Motion Expert (music -> 3D dance), ~0.3 GB"),
    "appearance": Release("appearance", MACE_REPO, "weight/Expert-Appearance/Expert-Apprearance.7z",  # sic
                          (ADAPTER, LORA), "MACE-Dance Body Adapter + LoRA for Wan-Animate"),
    "wan": Release("wan", WAN_REPO, None, (), "Wan2.2-Animate-14B base (diffusers), ~70 GB, needs a large GPU"),
}
#: What ``--all`` downloads. The evaluation archives (ViTPose/YOLO/VBench for the paper's video metrics)
#: are not used by this project's `mace-dance eval`, which computes its metrics without them.
ALL = ("motion", "appearance", "wan")


def _hub_error(exc: Exception, release: Release) -> Exception:
    """huggingface_hub's errors -> ours, with the fix."""
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    target = release.repo + (f"/{release.filename}" if release.filename else "")
    if isinstance(exc, LocalEntryNotFoundError):
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return MissingWeightsError(f"{target} is not in the Hugging Face cache and offline mode is on",
                                       hint="unset HF_HUB_OFFLINE (or download on a connected machine and copy the cache)")
        return BackendUnavailableError(f"cannot reach huggingface.co for {target}, and it is not in the cache",
                                       hint="check the connection (or HF_ENDPOINT) and run the same command again")
    if isinstance(exc, GatedRepoError):
        return MissingWeightsError(f"{release.repo} needs you to accept its terms on huggingface.co",
                                   hint="accept them on the model page, then `hf auth login` or set HF_TOKEN")
    if isinstance(exc, RepositoryNotFoundError):
        return MissingWeightsError(f"{target}: not found or not accessible", hint="check HF_TOKEN / `hf auth login`")
    return BackendUnavailableError(f"downloading {target} failed: {exc}",
                                   hint="check the connection and run the same command again: it resumes")


def download_file(release: Release, folder: Path, token: str | None = None, tqdm_class=None) -> Path:
    """The release's archive: from the Hugging Face cache when it is there (also offline), else fetched into
    ``folder`` and resumed there across runs.

    huggingface_hub (>= 2) writes each download to a process-unique temporary file, so a download that was
    cancelled or cut off starts again from zero in its cache. Here the bytes go to ``folder/<etag>-<name>.part``
    with huggingface_hub's own transfer (``http_get``: endpoint, token, retries), and a later run asks
    for the rest with an HTTP Range; the finished file is renamed into place. ``tqdm_class`` replaces the
    progress bar (see :func:`json_progress_bar`)."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import LocalEntryNotFoundError
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    try:
        return Path(hf_hub_download(release.repo, release.filename, token=token, local_files_only=True))
    except LocalEntryNotFoundError as exc:
        if constants.HF_HUB_OFFLINE:
            raise _hub_error(exc, release) from exc
    try:
        meta = get_hf_file_metadata(hf_hub_url(release.repo, release.filename), token=token)
        name = f"{(meta.etag or 'unknown').strip(chr(34))[:16]}-{Path(release.filename).name}"
        target, part = folder / name, folder / (name + ".part")
        if target.is_file() and target.stat().st_size == meta.size:
            return target
        folder.mkdir(parents=True, exist_ok=True)
        with open(part, "ab") as handle:
            http_get(meta.location, handle, resume_size=handle.tell(), headers=build_hf_headers(token=token),
                     expected_size=meta.size, displayed_filename=name, tqdm_class=tqdm_class)  # fmt: skip
        os.replace(part, target)
        return target
    except Exception as exc:
        raise _hub_error(exc, release) from exc


def release_size(release: Release, token: str | None = None) -> tuple[int | None, bool]:
    """(bytes of the release's file, whether it is already complete in the cache), asking the hub only for
    the file's metadata (huggingface_hub's dry run). The Wan folder has no single size: (None, False)."""
    from huggingface_hub import hf_hub_download

    if release.filename is None:
        return None, False
    try:
        info = hf_hub_download(release.repo, release.filename, token=token, dry_run=True)
    except Exception as exc:
        raise _hub_error(exc, release) from exc
    return int(info.file_size), not info.will_download


def json_progress_bar(emit: Callable[[dict], None], min_interval_s: float = 0.2):
    """A tqdm class for :func:`download_file` that reports ``{"event": "progress", "done", "total"}`` through
    ``emit`` (at most every ``min_interval_s``, and at the end) instead of drawing a bar; a resumed download
    starts at the bytes already there."""
    import time

    from tqdm.auto import tqdm

    class JsonProgress(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.update(disable=False, file=open(os.devnull, "w"))  # noqa: SIM115 - closed with the bar
            super().__init__(*args, **kwargs)
            self._last = 0.0

        def update(self, n=1):
            result = super().update(n)
            now = time.monotonic()
            if now - self._last >= min_interval_s or (self.total and self.n >= self.total):
                self._last = now
                emit({"event": "progress", "done": int(self.n), "total": int(self.total or 0)})
            return result

        def close(self):
            super().close()
            self.fp.close()

    return JsonProgress


def download_wan(token: str | None = None) -> Path:
    """The Wan-Animate diffusers snapshot in the Hugging Face cache."""
    from huggingface_hub import snapshot_download

    release = RELEASES["wan"]
    try:
        return Path(snapshot_download(release.repo, token=token))
    except Exception as exc:
        raise _hub_error(exc, release) from exc


def check_wan_folder(folder: Path) -> str:
    """Raise unless ``folder`` is a Wan-Animate diffusers folder; returns its pipeline class name."""
    index = folder / "model_index.json"
    try:
        name = json.loads(index.read_text()).get("_class_name", "")
    except (OSError, ValueError) as exc:
        raise MissingWeightsError(f"{folder}: no readable model_index.json ({exc})",
                                  hint=f"give the {WAN_REPO} folder") from exc
    if name != "WanAnimatePipeline":
        raise InvalidInputError(f"{folder} holds a {name or 'unknown'} pipeline, not WanAnimatePipeline",
                                hint=f"use {WAN_REPO}")
    missing = [n for n in ("transformer", "vae", "scheduler") if not (folder / n).is_dir()]
    if missing:
        raise MissingWeightsError(f"{folder} lacks the component folders {missing}",
                                  hint="the download is incomplete: run `mace-dance weights download --wan` again")
    return name


def link_wan_folder(folder: Path, config, report: Callable[[str], None] = print) -> Installed:
    """Point ``config.wan_weights`` at a Wan-Animate folder (a symlink, swapped in atomically).

    A real folder already at that place is moved aside to ``weights/replaced/`` (never deleted).
    """
    folder = Path(folder).resolve()
    check_wan_folder(folder)
    destination = Path(config.wan_weights)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".install-", dir=destination.parent) as tmp:
        staged = Path(tmp) / "wan"
        try:
            os.symlink(folder, staged, target_is_directory=True)
        except OSError as exc:  # e.g. Windows without developer mode
            raise InvalidInputError(f"cannot link {destination} to {folder}: {exc}",
                                    hint=f"set MACE_DANCE_WAN_WEIGHTS={folder} instead") from exc
        previous = _swap_in(staged, destination, Path(config.weights_dir) / "replaced")
    if previous is not None:
        report(f"kept the previous wan folder as {previous}")
    report(f"installed Wan-Animate base: {destination} -> {folder}")
    return Installed("Wan-Animate base", destination, str(folder), "diffusers WanAnimatePipeline")


def download(names: tuple[str, ...], config=None, token: str | None = None,
             report: Callable[[str], None] = print, tqdm_class=None) -> list[Installed]:  # fmt: skip
    """Download and install each named release (see :data:`RELEASES`); ``tqdm_class`` as in :func:`download_file`."""
    from backend.config import BackendConfig

    config = config or BackendConfig()
    installed: list[Installed] = []
    for name in names:
        release = RELEASES[name]
        report(f"{name}: {release.about} from huggingface.co/{release.repo}")
        if release.filename is None:
            installed.append(link_wan_folder(download_wan(token), config, report))
        else:
            archive = download_file(release, Path(config.weights_dir) / "downloads", token, tqdm_class)
            installed += install_weights(archive, config, report, expect=release.pieces)
    return installed
