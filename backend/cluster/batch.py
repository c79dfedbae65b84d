"""``mace-dance batch``: many songs (and characters) from one manifest, here or across a Ray cluster.

A manifest is a CSV file with a header row, or JSON Lines (one object per line), with these columns:

=========== ============================================================================================
music       music file (required)
reference   photo of the person; with it the row makes a video (output ``.mp4``), without it a motion
            (output ``.npz``)
seed        whole number >= 0 (default 0)
genre       one of ``shared.genres.GENRES`` (default: none)
generator   auto / choreographer / motion_expert (default: the command's ``--generator``)
renderer    auto / puppet / wan (default: the command's ``--renderer``)
sampler     the Motion Expert's sampler, ``shared.sampling.SAMPLERS`` (default: the command's ``--sampler``)
steps       its denoising steps (default: the command's ``--steps``, else the sampler's default)
output      file to write (default ``<music stem>_seed<seed>.mp4|.npz`` beside the manifest)
options     JSON object: ``width``/``height``/``fps`` of the video (default: the photo's own frame, see
            ``RenderOptions.frame_size``) and the renderer's options (those a backend accepts over the wire,
            e.g. ``pose_style``, ``hands``, ``reference_keypoints``; the CPU renderer's ``body``: ``"2d"``/``"2.5d"``)
start_s     optional: start this many seconds into the music
duration_s  optional: dance only this many seconds
=========== ============================================================================================

Relative paths are relative to the manifest's folder. Every row is checked before anything runs; errors
name their row (the line number in the file). A video row also writes its motion beside the video
(``.npz``). Outputs are written atomically, so a row whose output exists is complete: a re-run skips it
(resume after a crash or a pre-empted node; decided on this machine). With Ray every row is a task asking
for one CPU, or one GPU when its generator or renderer wants one (a row that needs a GPU on a cluster
without one fails at once, saying so). The cluster shares no disk with this machine: a row's music and
photo travel through Ray's object store, the worker makes the outputs in a folder of its own and sends
them back, and they are written here. A worker process is reused across rows, so its engines (and their
models) load once. Ray runs a row again once if its worker dies (``max_retries=1``); a row that fails
twice, or fails by itself (bad music file …), is reported with its reason and the batch goes on.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from backend.progress import JobContext, ensure_context
from shared.errors import InvalidInputError, JobCancelledError, MaceError
from shared.genres import genre_index
from shared.sampling import SamplerChoice

from backend.generators import GENERATOR_CHOICES

logger = logging.getLogger(__name__)

COLUMNS = ("music", "reference", "seed", "genre", "generator", "renderer", "sampler", "steps", "output", "options",
           "start_s", "duration_s")
RENDERER_CHOICES = ("auto", "puppet", "wan")
VIDEO_OPTIONS = ("width", "height", "fps")
ROW_RETRIES = 1  # Ray runs a row once more when its worker dies
MAX_ERRORS_SHOWN = 20


@dataclass(frozen=True)
class BatchRow:
    """One checked manifest row (see the module docstring); ``number`` is its line in the manifest."""

    number: int
    music: Path
    output: Path
    reference: Path | None = None
    seed: int = 0
    genre: str | None = None
    generator: str = "auto"
    renderer: str = "auto"
    options: dict = field(default_factory=dict)
    start_s: float = 0.0
    duration_s: float | None = None
    sampling: SamplerChoice = field(default_factory=SamplerChoice)

    @property
    def makes_video(self) -> bool:
        return self.reference is not None

    @property
    def motion_path(self) -> Path:
        return self.output.with_suffix(".npz")

    def is_complete(self) -> bool:
        """Its output exists (outputs are written atomically, so an existing one is whole)."""
        return self.output.is_file() and self.output.stat().st_size > 0

    def wants_gpu(self, cluster_has_gpus: bool) -> bool:
        explicit = self.generator == "motion_expert" or (self.makes_video and self.renderer == "wan")
        automatic = self.generator == "auto" or (self.makes_video and self.renderer == "auto")
        return explicit or (cluster_has_gpus and automatic)


@dataclass(frozen=True)
class RowOutcome:
    number: int
    state: str  # "done", "failed" or "skipped"
    output: Path
    reason: str = ""
    seconds: float = 0.0


@dataclass
class BatchSummary:
    outcomes: list[RowOutcome]

    def count(self, state: str) -> int:
        return sum(outcome.state == state for outcome in self.outcomes)

    def report(self) -> str:
        lines = [f"batch: {self.count('done')} done, {self.count('failed')} failed, "
                 f"{self.count('skipped')} skipped (already complete)"]
        lines += [f"  row {o.number} failed: {o.reason}" for o in self.outcomes if o.state == "failed"]
        return "\n".join(lines)


# -- reading the manifest -----------------------------------------------------------------------------------
def _raw_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, {column: value}) for each data row of a CSV or JSON Lines manifest.

    A manifest that is not UTF-8 text, or a CSV field above csv's size limit, is an ``InvalidInputError``
    saying so in a line; a JSON line nested too deeply for the parser is that row's error.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: not UTF-8 text (byte {exc.start:,} is {exc.object[exc.start:exc.start + 1]!r})",
                                "save the manifest as UTF-8 (CSV with a header row, or JSON Lines)") from None
    if path.suffix.lower() in (".jsonl", ".ndjson") or text.lstrip().startswith("{"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, {"__error__": f"not valid JSON ({exc.msg} at column {exc.colno})"}
                continue
            except RecursionError:
                yield number, {"__error__": "JSON nested too deeply (a row is one flat object)"}
                continue
            yield number, value if isinstance(value, dict) else {"__error__": "each line must be a JSON object"}
        return
    reader = csv.DictReader(text.splitlines())
    try:
        yield from _csv_rows(path, reader)
    except csv.Error as exc:  # e.g. "field larger than field limit (131072)"
        raise InvalidInputError(f"{path}, line {reader.line_num}: not a readable CSV row ({exc})",
                                "a row holds a few short fields: music, reference, seed, genre, output …") from None


def _csv_rows(path: Path, reader: csv.DictReader) -> Iterator[tuple[int, dict]]:
    unknown = [_short(name) for name in reader.fieldnames or [] if name and name.strip() not in COLUMNS]
    if unknown or "music" not in [name.strip() for name in reader.fieldnames or []]:
        raise InvalidInputError(f"{path}: the header {_short(str(reader.fieldnames))} must name the columns "
                                f"({', '.join(COLUMNS)}); unknown: {unknown or 'none'}; `music` is required",
                                "put a header row first, e.g. `music,reference,seed,genre,output`")
    for row in reader:
        number = reader.line_num
        if None in row:
            yield number, {"__error__": f"{len(row[None]) + len(reader.fieldnames)} values for "
                                        f"{len(reader.fieldnames)} columns"}
            continue
        yield number, {key.strip(): value.strip() for key, value in row.items() if value is not None and value.strip()}


def _check_row(raw: dict, number: int, folder: Path, defaults: dict, option_names: dict) -> BatchRow:
    """A ``BatchRow`` from one raw row; raises ``ValueError`` with what is wrong."""
    if "__error__" in raw:
        raise ValueError(raw["__error__"])
    unknown = sorted(set(raw) - set(COLUMNS))
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(unknown)} (columns: {', '.join(COLUMNS)})")

    def path_of(name: str, must_exist: bool) -> Path | None:
        value = raw.get(name)
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise ValueError(f"`{name}` must be a file path, got {value!r}")
        # Resolved (".." and links followed), so two spellings of one file are seen as the same file.
        resolved = (folder / Path(value).expanduser()).resolve()
        if must_exist and not resolved.is_file():
            raise ValueError(f"{name} file not found: {resolved}")
        return resolved

    def number_of(name: str, kind, default, lo=None):
        value = raw.get(name, default)
        if value is None or value == "":
            return default
        wrong = ValueError(f"`{name}` must be a {'whole number' if kind is int else 'number'}, got {value!r}")
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            raise wrong
        try:
            parsed = kind(value)
        except (TypeError, ValueError):
            raise wrong from None
        if not math.isfinite(parsed) or (lo is not None and parsed < lo):
            raise ValueError(f"`{name}` must be a finite number >= {lo}, got {value!r}")
        return parsed

    music = path_of("music", must_exist=True)
    if music is None:
        raise ValueError("`music` is empty")
    reference = path_of("reference", must_exist=True)
    seed = number_of("seed", int, 0, lo=0)
    genre = raw.get("genre") or None
    try:
        genre_index(genre)
    except InvalidInputError as exc:  # the one genre check; a row's problems are ValueErrors here
        raise ValueError(f"{exc.message}: {exc.hint}") from None
    generator = raw.get("generator") or defaults["generator"]
    if generator not in GENERATOR_CHOICES:
        raise ValueError(f"unknown generator {generator!r} (choose {', '.join(GENERATOR_CHOICES)})")
    renderer = raw.get("renderer") or defaults["renderer"]
    if renderer not in RENDERER_CHOICES:
        raise ValueError(f"unknown renderer {renderer!r} (choose {', '.join(RENDERER_CHOICES)})")
    options = raw.get("options") or {}
    if isinstance(options, str):
        try:
            options = json.loads(options)
        except json.JSONDecodeError as exc:
            raise ValueError(f"`options` is not valid JSON ({exc.msg})") from None
    if not isinstance(options, dict):
        raise ValueError(f"`options` must be a JSON object, got {options!r}")
    allowed = set(VIDEO_OPTIONS) | set(option_names[renderer])
    bad = sorted(set(options) - allowed)
    if bad:
        raise ValueError(f"unknown option(s) {', '.join(map(repr, bad))} for renderer {renderer!r} "
                         f"(options: {', '.join(sorted(allowed))})")
    if options and reference is None:
        raise ValueError("`options` are video options, but the row has no `reference` (it makes a motion only)")
    output = path_of("output", must_exist=False)
    if output is None:
        output = (folder / f"{music.stem}_seed{seed}{'.mp4' if reference else '.npz'}").resolve()
    wanted = ".mp4" if reference else ".npz"
    if output.suffix.lower() != wanted:
        raise ValueError(f"output {output.name!r} must end in {wanted} "
                         f"({'a video: the row has a reference' if reference else 'a motion: the row has no reference'})")
    default_sampling = defaults["sampling"]
    try:
        sampling = SamplerChoice(raw.get("sampler") or default_sampling.sampler,
                                 number_of("steps", int, default_sampling.steps, lo=1))
    except InvalidInputError as exc:
        raise ValueError(f"{exc.message}: {exc.hint}") from None
    return BatchRow(number=number, music=music, output=output, reference=reference, seed=seed, genre=genre,
                    generator=generator, renderer=renderer, options=options, sampling=sampling,
                    start_s=number_of("start_s", float, 0.0, lo=0.0),
                    duration_s=number_of("duration_s", float, None, lo=1e-3))


def _short(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters: a hostile manifest must not make a 100 KB error message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_manifest(path: str | Path, *, generator: str = "auto", renderer: str = "auto",
                  sampling: SamplerChoice | None = None) -> list[BatchRow]:
    """Every row of the manifest at ``path``, checked; one ``InvalidInputError`` lists every bad row."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"manifest not found: {path}", "give a .csv (with a header row) or .jsonl file")
    rows, errors, outputs = [], [], {}
    names = _render_option_names()
    for number, raw in _raw_rows(path):
        try:
            defaults = {"generator": generator, "renderer": renderer, "sampling": sampling or SamplerChoice()}
            row = _check_row(raw, number, path.parent, defaults, names)
        except ValueError as exc:
            errors.append(f"row {number}: {_short(str(exc))}")
            continue
        if row.output in outputs:
            errors.append(f"row {number}: output {row.output} is also row {outputs[row.output]}'s")
            continue
        outputs[row.output] = number
        rows.append(row)
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN] + ([f"… and {len(errors) - MAX_ERRORS_SHOWN} more"]
                                             if len(errors) > MAX_ERRORS_SHOWN else [])
        raise InvalidInputError(f"{path}: {len(errors)} bad row(s):\n  " + "\n  ".join(shown),
                                "fix those rows (nothing was run)")
    if not rows:
        raise InvalidInputError(f"{path} has no rows", "add one row per song (see `mace-dance batch --help`)")
    return rows


def _render_option_names() -> dict[str, list[str]]:
    """renderer choice -> the options a row may give it (the same ones a backend accepts over the wire)."""
    from backend.appearance.puppet import PuppetRenderer
    from backend.appearance.request import render_option_names
    from backend.appearance.wan import WanAnimateRenderer

    puppet, wan = render_option_names(PuppetRenderer), render_option_names(WanAnimateRenderer)
    return {"puppet": puppet, "wan": wan, "auto": sorted(set(puppet) | set(wan))}


# -- running one row ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _engine(role: str, choice: str, device: str):
    """This process's generator or renderer for ``choice``: built (and its models loaded) once per process."""
    from backend.config import BackendConfig
    from backend.jobwork import EngineSpec

    spec = EngineSpec(BackendConfig(), generator=choice if role == "motion" else "auto",
                      renderer=choice if role == "video" else "auto")
    return spec.build(role, device)


def make_row_outputs(row: BatchRow, folder: Path, ctx: JobContext, *, device: str) -> dict[str, bytes]:
    """Make ``row``'s outputs from the inputs in ``folder`` (``music``, and ``reference`` for a video row),
    working in ``folder``; returns {"motion": npz bytes, "video": mp4 bytes (video rows)}. Reads no path
    of the row: where this runs (here or a Ray worker) needs nothing but ``folder``."""
    from backend.jobwork import reference_render_request
    from backend.appearance.request import parse_render_options
    from backend.motion_generation import MotionRequest
    from shared.motion_io import save_motion

    folder = Path(folder)
    generator = _engine("motion", row.generator, device)
    request = MotionRequest(audio_path=folder / "music", seed=row.seed, genre=row.genre, duration_s=row.duration_s,
                            start_s=row.start_s, sampling=row.sampling)
    result = generator.generate(request, ctx.subrange(0.0, 0.3 if row.makes_video else 1.0))
    motion = result.motion
    motion.metadata.update({"music": row.music.name, "seed": row.seed, "generator": result.generator})
    save_motion(motion, folder / "motion.npz")
    outputs = {"motion": (folder / "motion.npz").read_bytes()}
    if row.makes_video:
        renderer = _engine("video", row.renderer, device)
        sizes = {key: row.options[key] for key in VIDEO_OPTIONS if key in row.options}
        values = {"audio_offset_s": row.start_s, **{k: v for k, v in row.options.items() if k not in VIDEO_OPTIONS}}
        options, renderer_options = parse_render_options(values, renderer, remote=True, field_prefix="options.")
        renderer.render(reference_render_request(folder / "reference", options=options, motion=motion,
                                                 audio_path=folder / "music", out_path=folder / "video.mp4",
                                                 renderer_options=renderer_options, **sizes),
                        ctx.subrange(0.3, 1.0))
        outputs["video"] = (folder / "video.mp4").read_bytes()
    return outputs


def row_inputs(row: BatchRow) -> dict[str, bytes]:
    """The bytes of the row's input files, by their names in a row's folder."""
    inputs = {"music": row.music.read_bytes()}
    if row.reference is not None:
        inputs["reference"] = row.reference.read_bytes()
    return inputs


def write_row_outputs(row: BatchRow, outputs: dict[str, bytes]) -> None:
    """Write what a row made where the manifest says, each file atomically, the output last (so an existing
    output means a complete row)."""
    from shared.atomic import atomic_write

    files = [(row.motion_path, outputs["motion"])] + ([(row.output, outputs["video"])] if row.makes_video else [])
    for path, data in files:
        with atomic_write(path) as handle:
            handle.write(data)


def _outcome_of(row: BatchRow, started: float, work) -> RowOutcome:
    """Run ``work()``; its failure becomes a ``failed`` outcome (cancellation raises)."""
    try:
        work()
    except JobCancelledError:
        raise
    except MaceError as err:
        return RowOutcome(row.number, "failed", row.output, str(err), time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - one bad row must not stop the batch
        logger.exception("row %d failed", row.number)
        return RowOutcome(row.number, "failed", row.output, f"{type(exc).__name__}: {exc}", time.monotonic() - started)
    return RowOutcome(row.number, "done", row.output, seconds=time.monotonic() - started)


def _in_own_folder(row: BatchRow, inputs: dict[str, bytes], work):
    """``work(folder)`` in a fresh temporary folder holding ``inputs``, removed afterwards; its errors name
    the row's own files, not the folder's."""
    from backend.jobwork import public_error

    with tempfile.TemporaryDirectory(prefix="mace-dance-row-") as folder:
        for name, data in inputs.items():
            (Path(folder) / name).write_bytes(data)
        try:
            return work(Path(folder))
        except MaceError as exc:
            raise public_error(exc, Path(folder), {"music": str(row.music), "reference": str(row.reference)}) from exc


def run_row(row: BatchRow, ctx: JobContext | None = None, *, device: str = "auto") -> RowOutcome:
    """Make ``row``'s output here; failures come back as a ``failed`` outcome (cancellation raises)."""
    ctx = ensure_context(ctx)
    started = time.monotonic()
    if row.is_complete():
        return RowOutcome(row.number, "skipped", row.output)

    def work() -> None:
        outputs = _in_own_folder(row, row_inputs(row), lambda folder: make_row_outputs(
            row, folder, ctx, device=device))
        write_row_outputs(row, outputs)

    return _outcome_of(row, started, work)


def _run_row_on_ray_worker(row: BatchRow, inputs: dict[str, bytes]):
    """A Ray task: the row made from ``inputs`` (bytes from the object store) in a folder of this worker,
    on its device (its GPU when the task was given one). Returns ("done", outputs) or ("failed", reason);
    the driver writes the outputs."""
    import ray

    device = "cuda" if ray.get_gpu_ids() else "cpu"
    box = {}

    def work() -> None:
        box["outputs"] = _in_own_folder(row, inputs, lambda folder: make_row_outputs(
            row, folder, JobContext(), device=device))

    outcome = _outcome_of(row, time.monotonic(), work)
    return ("done", box["outputs"]) if outcome.state == "done" else ("failed", outcome.reason)


# -- running the batch ---------------------------------------------------------------------------------------
class BatchProgress:
    """One progress display for the whole batch: rows finished out of rows to run, and what runs now."""

    def __init__(self, total: int, enabled: bool | None = None):
        import sys

        from tqdm import tqdm

        self.counts = {"done": 0, "failed": 0}
        self.bar = tqdm(total=total, desc="batch", unit="row", leave=True,
                        disable=not (sys.stderr.isatty() if enabled is None else enabled))

    def row_context(self, row: BatchRow) -> JobContext:
        def report(fraction: float, message: str) -> None:
            self.bar.set_postfix_str(f"{self._counts()} | row {row.number} {fraction:4.0%} {message}"[:100])

        return JobContext(report=report)

    def running(self, count: int) -> None:
        self.bar.set_postfix_str(f"{self._counts()} | {count} running", refresh=True)

    def finished(self, outcome: RowOutcome) -> None:
        self.counts[outcome.state] = self.counts.get(outcome.state, 0) + 1
        if outcome.state == "failed":
            self.bar.write(f"row {outcome.number} failed: {outcome.reason}")
        self.bar.update(1)
        self.bar.set_postfix_str(self._counts())

    def _counts(self) -> str:
        return f"{self.counts['done']} done, {self.counts['failed']} failed"

    def close(self) -> None:
        self.bar.close()


def run_batch(rows: list[BatchRow], *, ray_address: str | None = None, device: str = "auto",
              progress: bool | None = None) -> BatchSummary:
    """Run every row whose output is missing, here (one after another) or as Ray tasks on the cluster."""
    skipped = [RowOutcome(row.number, "skipped", row.output) for row in rows if row.is_complete()]
    todo = [row for row in rows if not row.is_complete()]
    display = BatchProgress(len(todo), progress)
    try:
        if ray_address is None:
            outcomes = [_finish(display, run_row(row, display.row_context(row), device=device)) for row in todo]
        else:
            outcomes = _run_on_ray(todo, ray_address, display)
    finally:
        display.close()
    return BatchSummary(sorted(skipped + outcomes, key=lambda outcome: outcome.number))


def _finish(display: BatchProgress, outcome: RowOutcome) -> RowOutcome:
    display.finished(outcome)
    return outcome


def _run_on_ray(rows: list[BatchRow], address: str, display: BatchProgress) -> list[RowOutcome]:
    """Each row a Ray task given its inputs through the object store (the workers share no disk with this
    machine); what a task makes comes back here and is written atomically. A row that needs a GPU on a
    cluster without one fails at once, saying so."""
    from shared.protocol import ClusterInfo

    from .runtime import cluster_nodes, connect, import_ray

    ray = import_ray()
    outcomes = []
    with connect(address, log_to_driver=False):
        cluster = ClusterInfo(nodes=cluster_nodes())
        has_gpus = cluster.gpus > 0
        task = ray.remote(_run_row_on_ray_worker)
        pending = {}
        for row in rows:
            wants_gpu = row.wants_gpu(has_gpus)
            if wants_gpu and not has_gpus:
                outcomes.append(_finish(display, RowOutcome(
                    row.number, "failed", row.output,
                    f"it needs a GPU ({row.generator} / {row.renderer}) and the Ray cluster has none "
                    f"({len(cluster.nodes)} node(s), {cluster.cpus:g} CPU(s)): add a GPU node, or choose the "
                    f"choreographer / puppet for this row")))
                continue
            ref = task.options(num_cpus=1, num_gpus=1 if wants_gpu else 0, max_retries=ROW_RETRIES,
                               name=f"mace-dance-batch-row-{row.number}").remote(row, ray.put(row_inputs(row)))
            pending[ref] = row
        try:
            while pending:
                display.running(len(pending))
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in ready:
                    outcomes.append(_finish(display, _collect_row(ray, ref, pending.pop(ref))))
        finally:
            for ref in pending:  # interrupted: stop what still runs (finished rows are already on disk)
                ray.cancel(ref, force=True)
    return outcomes


def _collect_row(ray, ref, row: BatchRow) -> RowOutcome:
    """A finished row task's outcome; a done row's outputs written here."""
    started = time.monotonic()
    try:
        state, value = ray.get(ref)
    except ray.exceptions.RayError as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return RowOutcome(row.number, "failed", row.output, f"its Ray worker failed {ROW_RETRIES + 1} times: {first_line}")
    if state != "done":
        return RowOutcome(row.number, "failed", row.output, value)
    return _outcome_of(row, started, lambda: write_row_outputs(row, value))
