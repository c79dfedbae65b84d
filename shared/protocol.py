"""The wire protocol between a client (Blender add-on, CLI) and the generation backend.

Transport: ZeroMQ, the backend binds a ROUTER socket, clients connect DEALER sockets. Every message is one
frame holding one msgpack map, the *envelope*::

    {"protocol": PROTOCOL_VERSION, "type": "<message type>", "job": "<job id or request token>",
     "payload": {...}}

The envelope layout never changes between protocol versions, so a peer speaking another version can always
read the ``protocol`` field and answer with a ``version_mismatch`` error that says which side to upgrade.

Client → backend (``CLIENT_MESSAGES``)

=================  ===============================================  ==========================================
type               payload                                          replies (same ``job``)
=================  ===============================================  ==========================================
``hello``          ``{token?}`` (the token of an earlier ``hello``  ``hello`` (with this client's ``token``)
                   to keep, after a reconnect)
``status``         ``{token?}`` (``job`` = a job id, or a token)    ``status``
``generate_motion``  token, audio, audio_name, seed, genre,         ``accepted``, ``progress``…, then one
                   duration_s, start_s, keep, sampling (a           ``result`` or ``error``
                   ``shared.sampling.SamplerChoice`` map)
``render_video``   token, motion, reference_image, audio,           as above
                   audio_name, width, height, options
``cancel``         ``{token}`` (``job`` = the job to cancel)        ``cancel`` (then the job's own ``error``
                                                                    with code ``cancelled``)
``fetch``          ``{token}`` (``job`` = a job of this owner)      ``status``; then the job's ``progress``…
                                                                    and its ``result``/``error`` come here
``heartbeat``      ``{token}`` (``job`` = None), while the client   none (a client silent for the backend's
                   has live jobs                                    ``client_timeout_s`` has its jobs cancelled)
=================  ===============================================  ==========================================

Jobs belong to their *owner*: the client's CURVE key when the backend uses keys, else the secret ``token``
its ``hello`` returned. Progress and results go to the connection the owner last spoke from (never to a
route remembered from submission), so a client that reconnects, with its token or key, gets its jobs back
(``fetch``), and nobody else can.

Backend → client (``SERVER_MESSAGES``): the replies above plus ``heartbeat`` (``job`` = None), sent every
``HEARTBEAT_INTERVAL_S`` to each client with a queued or running job, from a thread that never computes,
so a client can tell a slow backend (heartbeats arrive) from a dead one (silence for its timeout).

Arrays travel as ``{"dtype": "<f4", "shape": [T, 24, 3], "data": <bytes>}`` (little-endian, C order); see
:func:`encode_array` / :func:`decode_array`. Motions travel as :func:`motion_to_wire` maps. The full
reference, with limits, error codes and the security model, is ``docs/protocol.md``.

This module is pure Python + numpy + msgpack: the Blender add-on bundles it.
"""

from __future__ import annotations

import io
import math
import uuid
from dataclasses import dataclass, field as dataclass_field, fields
from typing import Any, Mapping

import msgpack
import numpy as np

from .errors import InvalidInputError, MaceError, ProtocolError, TooLargeError, VersionMismatchError
from .motion import Motion

# 2: clients send `heartbeat` while they have live jobs (a silent client's jobs are cancelled).
# 3: jobs belong to an owner, not a connection: `hello` gives a secret `token` that every job, `cancel`,
#    `status` (of a job), `fetch` and `heartbeat` payload carries; `fetch` reattaches a job to a new connection.
PROTOCOL_VERSION = 3
DEFAULT_PORT = 7557
DEFAULT_ADDRESS = f"tcp://127.0.0.1:{DEFAULT_PORT}"

# How often the backend tells a client with live jobs that it is alive; a client declares the backend dead
# after its own ``timeout_s`` of silence (several intervals).
HEARTBEAT_INTERVAL_S = 1.0
# A client sends `heartbeat` at this interval while it has live jobs; the backend cancels the jobs of a client
# silent for its ``client_timeout_s`` (advertised in ``hello``), so a vanished client never holds the GPU.
CLIENT_TIMEOUT_S = 30.0

# ---- hard limits, checked before any work starts --------------------------------------------------------
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # one frame; also the backend socket's ZMQ_MAXMSGSIZE
MAX_AUDIO_BYTES = 192 * 1024 * 1024  # an encoded music file (10 min of 16-bit 48 kHz stereo WAV ≈ 110 MiB)
MAX_AUDIO_SECONDS = 600.0  # 10 minutes of music per job
MAX_FRAMES = 36_000  # 10 minutes at 60 fps
MAX_IMAGE_BYTES = 64 * 1024 * 1024  # an encoded reference image
MAX_IMAGE_PIXELS = 8192 * 8192  # decoded reference image
MAX_VIDEO_SIDE = 4096  # requested output width / height, pixels
MAX_QUEUED_JOBS = 64  # across all clients
MAX_QUEUED_PER_CLIENT = 16  # one client's share of the queue; the rest is first come, first served
MAX_CLIENT_DISK_BYTES = 512 * 1024 * 1024  # one client's uploads held on the backend's disk at once
MAX_TEXT_CHARS = 1024  # names, genres, messages
MAX_ARRAY_DIMS = 8
MIN_MOTION_FPS, MAX_MOTION_FPS = 1.0, 1000.0  # a motion's frame rate on the wire
# What one decoded message may hold, enforced while msgpack unpacks (before anything bigger is allocated).
# Bulk data travels as `bin` (one object per array or file), so real messages hold a few hundred objects;
# a "container bomb" (millions of empty arrays in a few MiB) is refused after at most this many.
MAX_CONTAINER_ITEMS = 32_768  # entries of one msgpack array or map
MAX_MESSAGE_ITEMS = 50_000  # entries of all arrays and maps of one message together
MAX_STRING_BYTES = 65_536  # one msgpack str (text fields are further held to MAX_TEXT_CHARS)

CLIENT_MESSAGES = ("hello", "status", "generate_motion", "render_video", "cancel", "fetch", "heartbeat")
SERVER_MESSAGES = ("hello", "status", "accepted", "progress", "result", "error", "cancel", "heartbeat")
FINISHED_STATES = ("done", "failed", "cancelled")

# dtypes an array on the wire may have; anything else (object, strings, structured) is refused.
ALLOWED_DTYPES = frozenset(
    np.dtype(name).str for name in ("bool", "u1", "i1", "<u2", "<i2", "<u4", "<i4", "<i8", "<f2", "<f4", "<f8")
)


def new_job_id() -> str:
    """A fresh job id / request token (32 hex characters); clients choose them, the backend keeps them."""
    return uuid.uuid4().hex


# ---- envelopes --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Envelope:
    """One decoded message: ``type``, ``job`` (job id / request token or None) and its ``payload`` map."""

    type: str
    job: str | None
    payload: dict
    protocol: int = PROTOCOL_VERSION


def encode_message(msg_type: str, job: str | None = None, payload: Mapping | None = None) -> bytes:
    """Pack one envelope. ``payload`` may hold numpy arrays only through :func:`encode_array`."""
    return msgpack.packb(
        {"protocol": PROTOCOL_VERSION, "type": msg_type, "job": job, "payload": dict(payload or {})},
        use_bin_type=True,
    )


def encode_error(error: MaceError, job: str | None = None) -> bytes:
    """Pack an ``error`` reply carrying ``error.to_dict()`` (code, message, hint)."""
    return encode_message("error", job, error.to_dict())


def peek_job(data: bytes) -> str | None:
    """Best-effort job id of a message that failed to decode, so the error reply reaches the right job.

    Reads only the envelope's head (the entries before ``payload``, as :func:`encode_message` writes them)
    from a small window of ``data``: a hostile payload is never unpacked, and never unpacked twice.
    """
    unpacker = msgpack.Unpacker(io.BytesIO(data), raw=False, read_size=4096, max_buffer_size=65_536,
                                max_str_len=4 * MAX_TEXT_CHARS, max_bin_len=0, max_array_len=0, max_map_len=0,
                                max_ext_len=0)
    try:
        for _ in range(min(unpacker.read_map_header(), 4)):
            key = unpacker.unpack()
            if key == "job":
                job = unpacker.unpack()
                return job if isinstance(job, str) and 0 < len(job) <= MAX_TEXT_CHARS else None
            if key not in ("protocol", "type"):
                return None
            unpacker.skip()
    except Exception:  # noqa: BLE001 - any garbage simply has no job id
        return None
    return None


class _ItemBudget:
    """msgpack hooks counting the entries of every decoded array and map; past ``limit`` unpacking stops."""

    def __init__(self, limit: int):
        self.limit = self.left = limit

    def _spend(self, count: int) -> None:
        self.left -= count + 1
        if self.left < 0:
            raise TooLargeError(f"message holds more than {self.limit:,} msgpack objects",
                                "send bulk data as `bin` arrays (shared.protocol.encode_array)")

    def list(self, value: list) -> list:
        self._spend(len(value))
        return value

    def map(self, value: dict) -> dict:
        self._spend(len(value))
        return value


def unpack_limited(data: bytes, max_items: int = MAX_MESSAGE_ITEMS) -> Any:
    """``msgpack.unpackb`` with every length bounded before allocation.

    Each str/bin/array/map header is checked against the frame's size and the MAX_* limits above before
    msgpack allocates for it, and the entries of all containers together may not exceed ``max_items``
    (hooks count them as they complete), so memory stays proportional to the real content of a message.
    Extension types are refused. Raises ``TooLargeError`` past a limit, ``ProtocolError`` for bad msgpack.
    """
    size = len(data)
    budget = _ItemBudget(max_items)
    try:
        return msgpack.unpackb(
            data, raw=False, strict_map_key=True, max_bin_len=size, max_ext_len=0,
            max_str_len=min(size, MAX_STRING_BYTES), max_array_len=min(size, MAX_CONTAINER_ITEMS),
            max_map_len=min(size // 2, MAX_CONTAINER_ITEMS), list_hook=budget.list, object_hook=budget.map)
    except MaceError:
        raise
    except ValueError as exc:
        if "exceeds max_" in str(exc):  # msgpack's wording for a header above a limit
            raise TooLargeError(f"message refused: a msgpack length {exc}",
                                f"arrays and maps hold at most {MAX_CONTAINER_ITEMS:,} entries, strings "
                                f"{MAX_STRING_BYTES:,} bytes; send bulk data as `bin`") from None
        raise _not_msgpack(exc) from None
    except Exception as exc:  # msgpack raises several unrelated classes (ExtraData, StackError, …)
        raise _not_msgpack(exc) from None


def _not_msgpack(exc: Exception) -> ProtocolError:
    return ProtocolError(f"message is not valid msgpack ({type(exc).__name__}: {str(exc)[:200]})",
                         "send one msgpack map per ZeroMQ frame")


def decode_message(
    data: bytes,
    *,
    expected_types: tuple[str, ...] | None = None,
    max_bytes: int = MAX_MESSAGE_BYTES,
    peer: str = "client",
) -> Envelope:
    """Unpack and check one envelope.

    Unpacks once, within :func:`unpack_limited`'s bounds. Raises ``TooLargeError`` above ``max_bytes`` or a
    decoding limit, ``ProtocolError`` for bad msgpack, a missing or mistyped
    field or a ``type`` outside ``expected_types``, and ``VersionMismatchError`` when the peer speaks
    another protocol version (its message says which side to upgrade; ``peer`` names the sender).
    """
    if len(data) > max_bytes:
        raise TooLargeError(
            f"message of {len(data):,} bytes is above the limit of {max_bytes:,} bytes",
            "send a shorter audio file, a smaller image or fewer frames",
        )
    obj = unpack_limited(data)
    if not isinstance(obj, dict):
        raise ProtocolError(f"message must be a msgpack map, got {type(obj).__name__}",
                            'send {"protocol", "type", "job", "payload"}')
    version = obj.get("protocol")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError("message has no integer `protocol` field",
                            f"every envelope carries protocol={PROTOCOL_VERSION}")
    if version != PROTOCOL_VERSION:
        raise version_mismatch(version, peer)
    msg_type = obj.get("type")
    if not isinstance(msg_type, str):
        raise ProtocolError("message has no string `type` field", f"one of {', '.join(expected_types or ())}")
    if expected_types is not None and msg_type not in expected_types:
        raise ProtocolError(f"unknown message type {msg_type[:64]!r}",
                            f"the {'backend' if peer == 'client' else 'client'} understands: "
                            f"{', '.join(expected_types)}")
    job = obj.get("job")
    if job is not None and not (isinstance(job, str) and 0 < len(job) <= MAX_TEXT_CHARS):
        raise ProtocolError("`job` must be a non-empty string or nil", "use shared.protocol.new_job_id()")
    payload = obj.get("payload", {})
    if not isinstance(payload, dict):
        raise ProtocolError(f"`payload` must be a map, got {type(payload).__name__}", None)
    unknown = set(obj) - {"protocol", "type", "job", "payload"}
    if unknown:
        raise ProtocolError(f"unknown envelope fields: {', '.join(sorted(map(str, unknown)))[:200]}",
                            'an envelope has exactly "protocol", "type", "job" and "payload"')
    return Envelope(msg_type, job, payload, version)


def version_mismatch(their_version: int, peer: str) -> VersionMismatchError:
    """The error for a peer speaking ``their_version``, naming the side that must be upgraded."""
    if peer == "client":  # we are the backend
        if their_version > PROTOCOL_VERSION:
            hint = "upgrade the backend (pip install -U mace-dance-studio) to match the add-on"
        else:
            hint = "upgrade the Blender add-on / client to match the backend"
    else:  # we are the client
        if their_version > PROTOCOL_VERSION:
            hint = "upgrade the Blender add-on / client to match the backend"
        else:
            hint = "upgrade the backend (pip install -U mace-dance-studio) to match the add-on"
    mine, theirs = ("backend", "client") if peer == "client" else ("client", "backend")
    return VersionMismatchError(
        f"protocol version mismatch: the {theirs} speaks {their_version}, the {mine} speaks {PROTOCOL_VERSION}",
        hint,
    )


# ---- payload fields ---------------------------------------------------------------------------------------
_MISSING = object()


def get_field(payload: Mapping, name: str, kinds: type | tuple[type, ...], default: Any = _MISSING, *,
              field: str | None = None) -> Any:
    """``payload[name]`` checked against ``kinds`` (bool is never an int); ``default`` when absent or nil.

    Errors name ``field`` (e.g. ``options.camera.yaw_deg`` for a nested map), ``name`` by default.
    """
    field = field or name
    value = payload.get(name, None)
    if value is None:
        if default is _MISSING:
            raise InvalidInputError(f"`{field}` is missing", f"the request needs a `{field}` field")
        return default
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) and bool not in kinds:
        value = _MISSING  # msgpack bools are Python ints; do not let `true` pass as 1
    if value is _MISSING or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise InvalidInputError(f"`{field}` must be {names}, got {type(payload.get(name)).__name__}", None)
    if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
        raise TooLargeError(f"`{field}` is {len(value)} characters long", f"at most {MAX_TEXT_CHARS}")
    return value


def get_number(payload: Mapping, name: str, default: Any = _MISSING, *, lo: float | None = None,
               hi: float | None = None, field: str | None = None) -> float | Any:
    """A finite float field within ``[lo, hi]``; errors name ``field`` (``name`` by default)."""
    field = field or name
    value = get_field(payload, name, (int, float), default, field=field)
    if value is default:
        return value
    value = float(value)
    if not math.isfinite(value):
        raise InvalidInputError(f"`{field}` must be finite, got {value}", None)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = " and ".join(f"{sign} {bound:g}" for sign, bound in ((">=", lo), ("<=", hi)) if bound is not None)
        raise InvalidInputError(f"`{field}` = {value:g} must be {bounds}", None)
    return value


# ---- arrays -----------------------------------------------------------------------------------------------
def encode_array(array: np.ndarray) -> dict:
    """``{"dtype", "shape", "data"}`` for a numeric or bool array (little-endian, C order)."""
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    if dtype.str not in ALLOWED_DTYPES:
        raise InvalidInputError(f"arrays of dtype {array.dtype} cannot be sent",
                                f"use one of {', '.join(sorted(ALLOWED_DTYPES))}")
    data = np.asarray(array, dtype=dtype, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    return {"dtype": dtype.str, "shape": list(data.shape), "data": data.tobytes()}


def decode_array(
    obj: Any,
    field: str,
    *,
    allow_nonfinite: bool = False,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> np.ndarray:
    """Rebuild an array sent by :func:`encode_array`; errors name ``field``.

    Refuses unknown dtypes (object, strings, structured), a shape that does not match the byte count,
    more than ``MAX_ARRAY_DIMS`` dimensions, more than ``max_bytes`` bytes, and NaN/Inf unless
    ``allow_nonfinite``. Returns a writable native-order copy.
    """
    if not isinstance(obj, dict):
        raise InvalidInputError(f"`{field}` must be an array map {{dtype, shape, data}}, got {type(obj).__name__}",
                                "encode arrays with shared.protocol.encode_array")
    dtype_str, shape, data = obj.get("dtype"), obj.get("shape"), obj.get("data")
    if not isinstance(dtype_str, str) or dtype_str not in ALLOWED_DTYPES:
        raise InvalidInputError(f"`{field}` has unsupported dtype {str(dtype_str)[:32]!r}",
                                f"use one of {', '.join(sorted(ALLOWED_DTYPES))}")
    if (not isinstance(shape, list) or len(shape) > MAX_ARRAY_DIMS
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise InvalidInputError(f"`{field}` has an invalid shape {str(shape)[:64]}",
                                f"a list of at most {MAX_ARRAY_DIMS} non-negative integers")
    if any(n > max_bytes for n in shape):  # even an empty array may not declare an absurd extent
        raise TooLargeError(f"`{field}` declares shape {str(shape)[:96]}, a dimension above {max_bytes:,}",
                            "send the array's real shape")
    if not isinstance(data, bytes):
        raise InvalidInputError(f"`{field}` data must be bytes, got {type(data).__name__}", None)
    dtype = np.dtype(dtype_str)
    count = math.prod(shape)
    if count * dtype.itemsize > max_bytes:
        raise TooLargeError(f"`{field}` of shape {tuple(shape)} is above {max_bytes:,} bytes", None)
    if count * dtype.itemsize != len(data):
        raise InvalidInputError(
            f"`{field}` has {len(data)} bytes but shape {tuple(shape)} of {dtype_str} needs "
            f"{count * dtype.itemsize}", "send the array's full C-order bytes")
    array = np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=True)
    if not allow_nonfinite and array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidInputError(f"`{field}` contains NaN or Inf", "send finite values only")
    return array


# ---- motions ----------------------------------------------------------------------------------------------
def _plain(value: Any, where: str) -> Any:
    """``value`` as msgpack-native data (numpy scalars/arrays become Python numbers/lists)."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    raise InvalidInputError(f"`{where}` holds a {type(value).__name__}, which cannot be sent",
                            "keep motion metadata to numbers, strings, lists and maps")


def motion_to_wire(motion: Motion) -> dict:
    """A :class:`shared.motion.Motion` as a msgpack-ready map (arrays via :func:`encode_array`)."""
    return {
        "poses": encode_array(np.asarray(motion.poses, dtype=np.float32)),
        "trans": encode_array(np.asarray(motion.trans, dtype=np.float32)),
        "fps": float(motion.fps),
        "betas": encode_array(np.asarray(motion.betas, dtype=np.float32)),
        "gender": str(motion.gender),
        "contacts": None if motion.contacts is None else encode_array(np.asarray(motion.contacts)),
        "metadata": _plain(dict(motion.metadata), "metadata"),
    }


def motion_from_wire(obj: Any, field: str = "motion", *, max_frames: int = MAX_FRAMES) -> Motion:
    """Rebuild a Motion from :func:`motion_to_wire`'s map; shape/value errors come from ``Motion``."""
    if not isinstance(obj, dict):
        raise InvalidInputError(f"`{field}` must be a motion map, got {type(obj).__name__}",
                                "encode motions with shared.protocol.motion_to_wire")
    poses = decode_array(get_field(obj, "poses", dict), f"{field}.poses")
    if poses.ndim >= 1 and poses.shape[0] > max_frames:
        raise TooLargeError(f"`{field}` has {poses.shape[0]} frames, above the limit of {max_frames}",
                            "split the motion or lower its fps")
    contacts = obj.get("contacts")
    metadata = get_field(obj, "metadata", dict, {})
    return Motion(
        poses=poses,
        trans=decode_array(get_field(obj, "trans", dict), f"{field}.trans"),
        fps=get_number(obj, "fps", lo=MIN_MOTION_FPS, hi=MAX_MOTION_FPS, field=f"{field}.fps"),
        betas=decode_array(get_field(obj, "betas", dict), f"{field}.betas"),
        gender=get_field(obj, "gender", str, "neutral"),
        contacts=None if contacts is None else decode_array(contacts, f"{field}.contacts"),
        metadata=dict(metadata),
    )


# ---- typed replies: hello and status ---------------------------------------------------------------------
def _known_fields(cls, obj: Any, where: str) -> dict:
    """The entries of the map ``obj`` that name fields of the dataclass ``cls``: a newer peer may send more
    (they are ignored), an older one fewer (the defaults fill in)."""
    if not isinstance(obj, Mapping):
        raise ProtocolError(f"`{where}` must be a map, got {type(obj).__name__}", "upgrade the older side")
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in obj.items() if key in names}


@dataclass(frozen=True)
class ClusterNode:
    """One alive node of a Ray cluster: its id, address and resources."""

    node_id: str
    address: str = ""
    cpus: float = 0.0
    gpus: float = 0.0


@dataclass(frozen=True)
class ClusterWorker:
    """One model-keeping worker: where it runs (``node_id``, ``device``), which engines it has ``loaded``
    and which job kinds it ``can_run`` ("generate_motion", "render_video")."""

    node_id: str
    device: str
    loaded: tuple[str, ...] = ()
    can_run: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterInfo:
    """What a ``serve --ray`` backend runs on: the cluster's nodes, its workers, where each job kind runs
    ("gpu" or "cpu": ``placement``), and how long a GPU job waits for a GPU the cluster does not have yet
    (``wait_for_gpu_s``; None = as long as an autoscaler may add one)."""

    nodes: tuple[ClusterNode, ...] = ()
    workers: tuple[ClusterWorker, ...] = ()
    placement: dict = dataclass_field(default_factory=dict)
    wait_for_gpu_s: float | None = 0.0
    engine: str = "ray"

    @property
    def cpus(self) -> float:
        return sum(node.cpus for node in self.nodes)

    @property
    def gpus(self) -> float:
        return sum(node.gpus for node in self.nodes)

    def workers_on(self, device_kind: str) -> int:
        """How many workers run on ``device_kind`` ("gpu" or "cpu")."""
        return sum((worker.device != "cpu") == (device_kind == "gpu") for worker in self.workers)

    def to_wire(self) -> dict:
        return {"engine": self.engine, "nodes": [node.__dict__ for node in self.nodes],
                "workers": [{**worker.__dict__, "loaded": list(worker.loaded), "can_run": list(worker.can_run)}
                            for worker in self.workers],
                "placement": dict(self.placement), "wait_for_gpu_s": self.wait_for_gpu_s,
                "cpus": self.cpus, "gpus": self.gpus}

    @classmethod
    def from_wire(cls, obj: Any) -> "ClusterInfo":
        values = _known_fields(cls, obj, "cluster")
        values["nodes"] = tuple(ClusterNode(**_known_fields(ClusterNode, node, "cluster.nodes"))
                                for node in values.get("nodes", ()))
        values["workers"] = tuple(
            ClusterWorker(**{**(known := _known_fields(ClusterWorker, worker, "cluster.workers")),
                             "loaded": tuple(known.get("loaded", ())), "can_run": tuple(known.get("can_run", ()))})
            for worker in values.get("workers", ()))
        return cls(**values)


@dataclass(frozen=True)
class Capabilities:
    """What a backend accepts: its message types, whether it renders videos (and the ``render_options`` it
    takes), its ``limits`` (``ServerLimits`` fields), heartbeat interval and client timeout."""

    messages: tuple[str, ...] = CLIENT_MESSAGES
    generate_motion: bool = True
    keep: bool = True
    render_video: bool = False
    render_options: tuple[str, ...] = ()
    limits: dict = dataclass_field(default_factory=dict)
    heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S
    client_timeout_s: float = CLIENT_TIMEOUT_S

    def to_wire(self) -> dict:
        return {**self.__dict__, "messages": list(self.messages), "render_options": list(self.render_options)}

    @classmethod
    def from_wire(cls, obj: Any) -> "Capabilities":
        values = _known_fields(cls, obj, "capabilities")
        for name in ("messages", "render_options"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


@dataclass(frozen=True)
class Hello:
    """The ``hello`` reply: what the backend is and can do. ``defaults`` holds the backend's defaults
    (``seed``, ``fps``, a renderer's own such as ``wan_model_fps``); ``weights`` which model weights are
    installed (name -> bool); ``motion_generator_reason`` says why that generator dances (e.g. "the Motion
    Expert's weights are not installed"); ``cluster`` is set when jobs run on a Ray cluster; ``token`` is the
    secret that makes this client the owner of its jobs when the backend uses no CURVE keys (see
    ``backend.server.ownership``)."""

    protocol_version: int
    backend_version: str
    motion_generator: str
    motion_generator_reason: str = ""
    video_renderer: str | None = None
    device: str = "cpu"
    capabilities: Capabilities = dataclass_field(default_factory=Capabilities)
    defaults: dict = dataclass_field(default_factory=dict)
    genres: tuple[str, ...] = ()
    weights: dict = dataclass_field(default_factory=dict)
    cluster: ClusterInfo | None = None
    token: str | None = None

    def to_wire(self) -> dict:
        wire = {**self.__dict__, "capabilities": self.capabilities.to_wire(), "genres": list(self.genres),
                "cluster": None if self.cluster is None else self.cluster.to_wire()}
        return wire

    @classmethod
    def from_wire(cls, obj: Any) -> "Hello":
        values = _known_fields(cls, obj, "hello")
        values["capabilities"] = Capabilities.from_wire(values.get("capabilities") or {})
        values["genres"] = tuple(values.get("genres") or ())
        if values.get("cluster") is not None:
            values["cluster"] = ClusterInfo.from_wire(values["cluster"])
        try:
            return cls(**values)
        except TypeError as exc:  # a required field is missing
            raise ProtocolError(f"the backend's `hello` is incomplete ({exc})", "upgrade the older side") from None


@dataclass(frozen=True)
class ServerStatus:
    """The ``status`` reply: the backend's queue (``queued`` jobs, the ``running`` job's kind, ``stopping``)
    and, when a job was named, its ``job_state`` (None: not this client's, or unknown), ``progress``,
    ``message`` and ``queue_position``; ``admitting`` requests being checked and ``io_longest_gap_ms``, the
    longest pause of the server's I/O loop so far (how promptly it answers everyone)."""

    queued: int = 0
    running: str | None = None
    stopping: bool = False
    job_state: str | None = None
    progress: float | None = None
    message: str | None = None
    queue_position: int | None = None
    admitting: int = 0
    io_longest_gap_ms: float | None = None

    def to_wire(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if value is not None}

    @classmethod
    def from_wire(cls, obj: Any) -> "ServerStatus":
        return cls(**_known_fields(cls, obj, "status"))
