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
    properties.update_status({"origin": "backend"})
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
    job_origin = "backend"
    bl_label = "Check"

    @classmethod
    def poll(cls, context):
        return not jobs.SESSION.busy or common.refuse(cls, common.BUSY_MESSAGE)

    def execute(self, context):
        settings = preferences.connection_settings(context)
        settings.start_local = False
        return connect_and_show(self, context, settings)


class MACE_OT_backend_start(bpy.types.Operator):
    """Start a local backend: `mace-dance serve` on this machine (stopped again when Blender exits)"""

    bl_idname = "mace.backend_start"
    job_origin = "backend"
    bl_label = "Start Local"

    @classmethod
    def poll(cls, context):
        return not jobs.SESSION.busy or common.refuse(cls, common.BUSY_MESSAGE)

    def execute(self, context):
        settings = preferences.connection_settings(context)
        if not jobs.is_loopback(settings.address):
            return common.report_error(self, errors.InvalidInputError(
                f"{settings.address} is not on this machine", hint="set a 127.0.0.1 address in the preferences"))
        settings.start_local = True
        return connect_and_show(self, context, settings)  # answers at once if one already runs


class MACE_OT_backend_stop(bpy.types.Operator):
    """Stop the local backend this Blender started"""

    bl_idname = "mace.backend_stop"
    job_origin = "backend"
    bl_label = "Stop Local"

    @classmethod
    def poll(cls, context):
        return (jobs.SESSION.local is not None and jobs.SESSION.local.running) or common.refuse(
            cls, "No backend started by this Blender is running: a backend you started yourself is stopped where "
                 "it runs (Ctrl+C in its terminal)")

    def execute(self, context):
        if jobs.SESSION.local is None or not jobs.SESSION.local.running:
            return common.report_error(self, errors.InvalidInputError(
                "no backend started by this Blender is running", hint="a backend you started yourself is stopped "
                "where it runs (Ctrl+C in its terminal)"))
        jobs.SESSION.cancel()
        jobs.SESSION.close_client()
        jobs.SESSION.stop_local()
        properties.update_status({"backend": "stopped"})
        self.report({"INFO"}, "local backend stopped")
        return {"FINISHED"}
