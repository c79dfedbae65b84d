"""Get Motion Expert: download and install its weights through the backend, with progress and cancel."""

from __future__ import annotations

import bpy

from .._shared import errors
from .. import local_backend, motion_expert_download, preferences, properties
from . import common

#: The download in flight (or the last one, for its outcome); one at a time.
DOWNLOAD: motion_expert_download.MotionExpertDownload | None = None
POLL_INTERVAL_S = 0.5


def _argv(context) -> list[str]:
    settings = preferences.connection_settings(context)
    launch = local_backend.LaunchSettings(settings.address, settings.backend_command, settings.backend_python)
    return local_backend.backend_command(launch, "weights", "download", "--motion", "--json-progress")


def _tick() -> float | None:
    """Timer: redraw the progress; report the outcome once."""
    state = DOWNLOAD.poll() if DOWNLOAD is not None else None
    if state is None:
        return None
    if state.running:
        properties.update_status({"message": f"getting the Motion Expert: {state.fraction:.0%} of "
                                             f"{motion_expert_download.format_size(state.size)}"})
        return POLL_INTERVAL_S
    properties.update_status(_outcome(state))
    return None


def _outcome(state) -> dict:
    if state.finished:
        return {"message": "Motion Expert installed: restart the local backend (Stop, then Start) to dance with it",
                "error": "", "hint": ""}
    if state.cancelled:
        return {"message": "download cancelled: Get Motion Expert again to resume where it stopped"}
    return {"error": state.error, "hint": "check the connection and try again: the download resumes"}


class MACE_OT_get_motion_expert(bpy.types.Operator):
    """Download the Motion Expert's weights (about 0.3 GB, CC BY 4.0) and install them for the backend
    (`mace-dance weights download --motion`); an interrupted download resumes where it stopped"""

    bl_idname = "mace.get_motion_expert"
    bl_label = "Get Motion Expert"

    @classmethod
    def poll(cls, context):
        return DOWNLOAD is None or not DOWNLOAD.poll().running or common.refuse(
            cls, "The Motion Expert is downloading: wait for it, or Cancel the download")

    def execute(self, context):
        global DOWNLOAD
        try:
            DOWNLOAD = motion_expert_download.MotionExpertDownload(_argv(context))
            DOWNLOAD.start()
        except errors.MaceError as exc:
            return common.report_error(self, exc)
        if bpy.app.background:  # no timers in `blender -b`: wait here
            outcome = _outcome(DOWNLOAD.wait(24 * 3600))
            properties.update_status(outcome)
            if outcome.get("error"):
                return common.report_error(self, errors.BackendUnavailableError(outcome["error"], outcome["hint"]))
            return {"FINISHED"}
        bpy.app.timers.register(_tick, first_interval=POLL_INTERVAL_S)
        self.report({"INFO"}, "getting the Motion Expert; progress appears in the Dance panel")
        return {"FINISHED"}


class MACE_OT_cancel_motion_expert_download(bpy.types.Operator):
    """Stop the Motion Expert download (what arrived is kept: the next Get resumes it)"""

    bl_idname = "mace.cancel_motion_expert_download"
    bl_label = "Cancel Download"

    @classmethod
    def poll(cls, context):
        return (DOWNLOAD is not None and DOWNLOAD.poll().running) or common.refuse(
            cls, "No download is running: Get Motion Expert starts one")

    def execute(self, context):
        DOWNLOAD.cancel()
        properties.update_status(_outcome(DOWNLOAD.poll()))
        return {"FINISHED"}
