"""One error family for both sides of the wire.

Every error carries a short ``message`` (what is wrong, with the value received), an optional ``hint``
(how to fix it) and a stable ``code`` that travels in protocol ``error`` replies, so the client can raise
the same class the backend raised. The CLI maps each class to an exit code scripts can rely on.
"""

from __future__ import annotations


class MaceError(Exception):
    """Base class of every error MACE-Dance Studio reports to a person."""

    code = "internal"
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict:
        """Plain-data form used in protocol ``error`` replies."""
        return {"code": self.code, "message": self.message, "hint": self.hint or ""}


class InvalidInputError(MaceError, ValueError):
    """The caller gave data that cannot be used (file, array, option)."""

    code = "bad_input"
    exit_code = 3


class MotionFormatError(InvalidInputError):
    """A motion array or file does not follow the SMPL motion format; ``field`` names the culprit."""

    def __init__(self, field: str, message: str, hint: str | None = None):
        super().__init__(f"`{field}`: {message}", hint)
        self.field = field


class MissingWeightsError(MaceError, FileNotFoundError):
    """Model weights are not where they are looked for; the hint gives the layout and how to get them."""

    code = "missing_weights"
    exit_code = 4


class ProtocolError(MaceError):
    """A message on the wire is malformed (bad msgpack, unknown type, wrong fields)."""

    code = "protocol"
    exit_code = 5


class VersionMismatchError(ProtocolError):
    """Client and backend speak different protocol versions; the message says which side to upgrade."""

    code = "version_mismatch"


class TooLargeError(InvalidInputError):
    """A message, audio file or motion is above a hard limit."""

    code = "too_large"


class NotFoundError(InvalidInputError):
    """A referenced thing (job id, file) does not exist."""

    code = "not_found"


class BackendUnavailableError(MaceError, ConnectionError):
    """No backend answered within the timeout."""

    code = "backend_unavailable"
    exit_code = 6


class KeyRefusedError(BackendUnavailableError):
    """A backend is there but refuses this client's CURVE key (or wants keys it lacks): fix the keys, do not
    start another backend."""

    code = "key_refused"


class JobCancelledError(MaceError):
    """The job was cancelled by its client or by a backend shutdown."""

    code = "cancelled"
    exit_code = 130


class OutOfMemoryError(MaceError, MemoryError):
    """The device ran out of memory; the hint names the option that helps."""

    code = "out_of_memory"
    exit_code = 7


#: Where bugs are reported (``[project.urls]`` in pyproject.toml, the add-on manifest's website + /issues).
ISSUES_URL = "https://github.com/mace-dance/mace-dance-studio/issues"


def bug_hint(evidence: str) -> str:
    """The hint of an error that is a bug of ours: where to report it, and what to send (``evidence``)."""
    return f"this is a bug in MACE-Dance Studio; please report it at {ISSUES_URL} with {evidence}"


ERROR_CLASSES: dict[str, type[MaceError]] = {
    cls.code: cls
    for cls in (
        MaceError,
        InvalidInputError,
        MissingWeightsError,
        ProtocolError,
        VersionMismatchError,
        TooLargeError,
        NotFoundError,
        BackendUnavailableError,
        KeyRefusedError,
        JobCancelledError,
        OutOfMemoryError,
    )
}


def error_from_dict(data: dict) -> MaceError:
    """Rebuild the error a peer sent (``to_dict`` form); unknown codes become a plain ``MaceError``."""
    cls = ERROR_CLASSES.get(str(data.get("code", "internal")), MaceError)
    message, hint = str(data.get("message", "unknown error")), str(data.get("hint") or "") or None
    return cls(message, hint)
