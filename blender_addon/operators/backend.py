"""Check the backend, start a local one, stop it."""

from __future__ import annotations

import bpy

from .._shared import errors
from .. import jobs, preferences, properties
from . import common


def connect_and_show(operator, context, settings) -> set[str]:
    """Handshake (starting a local backend if ``settings`` allow it) and show the answer in the panel.

    In the interface this runs off the main thread (a local backend can take a minute to load its
    models); in background mode it blocks."""
    if not bpy.app.background:
        try:
            jobs.SESSION.run(settings, "connect", None, None, properties.update_status)
        except errors.MaceError as exc:
            return common.report_error(operator, exc)
        operator.report({"INFO"}, "contacting the backend; the answer appears in the Dance panel")
        return {"FINISHED"}
    try:
        line = jobs.SESSION.connect(settings)
    except errors.MaceError as exc:
        properties.update_status({"backend": "not connected"})
        return common.report_error(operator, exc)
    properties.update_status({"backend": line, "error": "", "hint": ""})
    operator.report({"INFO"}, line)
    return {"FINISHED"}


class MACE_OT_backend_check(bpy.types.Operator):
    """Ask the backend who it is (protocol handshake) and show the answer in the panel"""

    bl_idname = "mace.backend_check"
    bl_label = "Check Backend"

    @classmethod
    def poll(cls, context):
        return not jobs.SESSION.busy

    def execute(self, context):
        settings = preferences.connection_settings(context)
        settings.start_local = False
        return connect_and_show(self, context, settings)


class MACE_OT_backend_start(bpy.types.Operator):
    """Start `mace-dance serve` on this machine (stopped again when Blender exits)"""

    bl_idname = "mace.backend_start"
    bl_label = "Start Local Backend"

    @classmethod
    def poll(cls, context):
        return not jobs.SESSION.busy

    def execute(self, context):
        settings = preferences.connection_settings(context)
        if not jobs.is_loopback(settings.address):
            return common.report_error(self, errors.InvalidInputError(
                f"{settings.address} is not on this machine", hint="set a 127.0.0.1 address in the preferences"))
        settings.start_local = True
        return connect_and_show(self, context, settings)  # answers at once if one already runs


class MACE_OT_backend_stop(bpy.types.Operator):
    """Stop the backend this Blender started"""

    bl_idname = "mace.backend_stop"
    bl_label = "Stop Local Backend"

    @classmethod
    def poll(cls, context):
        return jobs.SESSION.local is not None

    def execute(self, context):
        jobs.SESSION.cancel()
        jobs.SESSION.close_client()
        jobs.SESSION.stop_local()
        properties.update_status({"backend": "stopped"})
        self.report({"INFO"}, "local backend stopped")
        return {"FINISHED"}
