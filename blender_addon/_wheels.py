"""Make the bundled pyzmq/msgpack wheels importable for a *legacy* add-on install.

Blender 4.2+ installs an extension's wheels itself (manifest ``wheels``). A classic add-on zip gets no such
service, so on first use the wheel matching this platform is unpacked into ``<add-on>/_vendor/<tag>/``
(a wheel is a zip of importable files) and that folder goes on ``sys.path``. No pip, no network.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import zipfile

REQUIRED = {"zmq": "pyzmq", "msgpack": "msgpack"}


def platform_markers() -> tuple[str, tuple[str, ...]]:
    """(folder name, substrings a matching wheel file name contains)."""
    machine = platform.machine().lower()
    if sys.platform.startswith("linux"):
        return "linux", ("manylinux", "x86_64" if machine in ("x86_64", "amd64") else machine)
    if sys.platform == "win32":
        return "windows", ("win_amd64",)
    arch = "arm64" if machine in ("arm64", "aarch64") else "x86_64"
    return f"macos-{arch}", ("macosx",)


def _matches(name: str, markers: tuple[str, ...]) -> bool:
    if sys.platform == "darwin":
        arch = "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "x86_64"
        return "macosx" in name and (arch in name or "universal2" in name)
    return all(marker in name for marker in markers)


def ensure_wheels(addon_dir: str) -> list[str]:
    """Unpack and add to ``sys.path`` the wheels of modules that cannot be imported. Returns what was added."""
    missing = [dist for module, dist in REQUIRED.items() if importlib.util.find_spec(module) is None]
    wheels_dir = os.path.join(addon_dir, "wheels")
    if not missing or not os.path.isdir(wheels_dir):
        return []
    folder, markers = platform_markers()
    target = os.path.join(addon_dir, "_vendor", folder)
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    added = []
    for dist in missing:
        for name in sorted(os.listdir(wheels_dir)):
            if name.startswith(f"{dist}-") and f"-{tag}-" in name and _matches(name, markers):
                with zipfile.ZipFile(os.path.join(wheels_dir, name)) as wheel:
                    wheel.extractall(target)
                added.append(name)
                break
    if added and target not in sys.path:
        sys.path.insert(0, target)
    return added
