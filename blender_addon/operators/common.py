"""What every operator needs: input checks that name the fix, reporting, and running a backend job."""

from __future__ import annotations

import os

import bpy

from .._shared import errors
from .. import _wheels, jobs, preferences, properties


#: What a greyed-out button says when a job is running.
BUSY_MESSAGE = "A dance job is running: wait for it to end, or press Cancel (the X beside its progress)"
NO_DANCER_MESSAGE = ("No SMPL dancer: Generate or Import Motion first, or pick one as Dancer at the top of the "
                     "Dance panel")


def refuse(operator_class, message: str) -> bool:
    """``False`` for a poll, with ``message`` (what is missing and how to fix it) shown on the greyed button."""
    operator_class.poll_message_set(message)
    return False


def dancer_or_refuse(operator_class, context) -> bool:
    """Poll helper: True when the panel has an SMPL dancer to work on."""
    from ..bpy_glue import armature as armature_glue

    return armature_glue.find_smpl_armature(context) is not None or refuse(operator_class, NO_DANCER_MESSAGE)


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
    """Show ``exc`` in the report line and in the panel of the operator's button (its ``job_origin``, default
    the Dance panel); return ``{'CANCELLED'}``."""
    fields = jobs.error_fields(exc)
    properties.update_status({**fields, "origin": getattr(operator, "job_origin", "dance")})
    operator.report({"ERROR"}, str(exc) if isinstance(exc, errors.MaceError) else fields["error"])
    return {"CANCELLED"}


def clear_error() -> None:
    properties.update_status({"error": "", "hint": ""})


def require_dependencies() -> None:
    """BackendUnavailableError naming the fix when pyzmq/msgpack cannot be imported (no backend can be reached)."""
    missing = _wheels.missing_dependencies()
    if missing:
        problem, fix = _wheels.missing_dependencies_message(missing)
        raise errors.BackendUnavailableError(problem, hint=fix)


def start_job(operator, context, kind: str, submit, finish, origin: str = "dance") -> set[str]:
    """Hand a job to the session. Background mode: runs to the end here (``finish`` inside this operator,
    so it is part of its undo step). GUI: returns at once; ``finish`` runs later in a timer and pushes its
    own undo step. ``origin`` names the panel whose button started it (its header shows the job)."""
    status = properties.update_status
    status({"origin": origin})
    try:
        require_dependencies()
        jobs.SESSION.run(preferences.connection_settings(context), kind, submit, finish, status)
    except errors.JobCancelledError as exc:
        operator.report({"WARNING"}, exc.message)
        return {"CANCELLED"}
    except (errors.MaceError, OSError) as exc:
        return report_error(operator, exc)
    if bpy.app.background:
        operator.report({"INFO"}, properties.status(context).message or f"{kind} finished")
        return {"FINISHED"}
    operator.report({"INFO"}, f"{kind} started; progress is in the status bar and the Dance panel")
    return {"FINISHED"}


def push_undo(message: str) -> None:
    """Make work finished in a timer one undo step (operators get theirs from bl_options)."""
    if bpy.app.background:
        return
    try:
        bpy.ops.ed.undo_push(message=message)
    except RuntimeError:  # no window to push from (e.g. while Blender closes)
        pass
