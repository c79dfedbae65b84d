"""What every operator needs: input checks that name the fix, reporting, and running a backend job."""

from __future__ import annotations

import os

import bpy

from .._shared import errors
from .. import jobs, preferences, properties


def existing_file(path: str, what: str, hint: str) -> str:
    """Absolute path of ``path`` (``//`` = next to the .blend) or InvalidInputError naming ``what``."""
    if not path:
        raise errors.InvalidInputError(f"no {what} chosen", hint=hint)
    absolute = bpy.path.abspath(path)
    if not os.path.isfile(absolute):
        raise errors.InvalidInputError(f"{what} not found: {absolute}", hint=hint)
    return absolute


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def report_error(operator, exc: BaseException) -> set[str]:
    """Show ``exc`` in the report line and in the panel; return ``{'CANCELLED'}``."""
    fields = jobs.error_fields(exc)
    properties.update_status(fields)
    operator.report({"ERROR"}, str(exc) if isinstance(exc, errors.MaceError) else fields["error"])
    return {"CANCELLED"}


def clear_error() -> None:
    properties.update_status({"error": "", "hint": ""})


def start_job(operator, context, kind: str, submit, finish) -> set[str]:
    """Hand a job to the session. Background mode: runs to the end here (``finish`` inside this operator,
    so it is part of its undo step). GUI: returns at once; ``finish`` runs later in a timer and pushes its
    own undo step."""
    status = properties.update_status
    try:
        jobs.SESSION.run(preferences.connection_settings(context), kind, submit, finish, status)
    except errors.JobCancelledError as exc:
        operator.report({"WARNING"}, exc.message)
        return {"CANCELLED"}
    except (errors.MaceError, OSError) as exc:
        return report_error(operator, exc)
    if bpy.app.background:
        operator.report({"INFO"}, properties.status(context).message or f"{kind} finished")
        return {"FINISHED"}
    operator.report({"INFO"}, f"{kind} started; progress is in the Dance panel")
    return {"FINISHED"}


def push_undo(message: str) -> None:
    """Make work finished in a timer one undo step (operators get theirs from bl_options)."""
    if bpy.app.background:
        return
    try:
        bpy.ops.ed.undo_push(message=message)
    except RuntimeError:  # no window to push from (e.g. while Blender closes)
        pass
