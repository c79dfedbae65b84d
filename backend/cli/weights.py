"""``mace-dance weights``: download the published weights, or install a release you already have."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "weights", help="download or install model weights",
        description="Put the MACE-Dance and Wan-Animate weights where the backend looks for them "
        "($MACE_DANCE_HOME/weights). `mace-dance info` shows what is installed.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    down = actions.add_parser(
        "download", help="download from Hugging Face and install",
        description="Download with huggingface_hub (your HF cache and token; resumes an interrupted download; "
        "HF_HUB_OFFLINE=1 installs from the cache only), then install. Without a choice: --motion --appearance.",
    )
    from backend.weights.download import RELEASES

    for name, release in RELEASES.items():
        down.add_argument(f"--{name}", action="store_true", help=f"{release.about} ({release.repo})")
    down.add_argument("--all", action="store_true", help="all of the above")
    down.add_argument("--token", default=None, help="Hugging Face token (default: HF_TOKEN or `hf auth login`)")
    down.add_argument("--json-progress", action="store_true",
                      help="report on stdout as JSON lines for a program (the Blender add-on): {\"event\": \"size\", "
                      "\"bytes\", \"cached\"} per release, {\"event\": \"progress\", \"done\", \"total\"}, "
                      "{\"event\": \"message\", \"text\"} and finally {\"event\": \"installed\"}")
    down.set_defaults(func=run_download)
    inst = actions.add_parser(
        "install", help="install weights from an archive, a file or a folder",
        description="Install from PATH: a .7z or .zip release archive, a checkpoint (.pt/.pth/.ckpt), a "
        ".safetensors file, a folder in any layout, or a Wan2.2-Animate-14B-Diffusers folder (linked, not copied). "
        "Files are recognised by their content and verified by loading them; the weights folder changes only "
        "when everything is valid, and what it held before is kept in weights/replaced/.",
    )
    inst.add_argument("path", type=Path, help="archive, file or folder")
    inst.set_defaults(func=run_install)


def _print_installed(installed) -> None:
    print(f"installed {len(installed)} piece(s); `mace-dance info` shows what the backend will use")


def run_download(args: argparse.Namespace) -> int:
    from backend.config import BackendConfig
    from backend.weights import ALL, RELEASES, download

    names = ALL if args.all else tuple(n for n in RELEASES if getattr(args, n)) or ("motion", "appearance")
    if not args.json_progress:
        _print_installed(download(names, BackendConfig(), token=args.token))
        return 0
    import json
    import sys

    from backend.weights.download import json_progress_bar, release_size

    def emit(event: dict) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    for name in names:
        size, cached = release_size(RELEASES[name], args.token)
        emit({"event": "size", "release": name, "bytes": size, "cached": cached})
    installed = download(names, BackendConfig(), token=args.token, tqdm_class=json_progress_bar(emit),
                         report=lambda text: emit({"event": "message", "text": text}))
    emit({"event": "installed", "pieces": len(installed)})
    return 0


def run_install(args: argparse.Namespace) -> int:
    from backend.config import BackendConfig
    from backend.weights import install

    _print_installed(install(args.path, BackendConfig()))
    return 0
