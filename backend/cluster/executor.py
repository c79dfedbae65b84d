"""``RayExecutor``: the server's jobs on Ray actors instead of the local worker thread.

It fulfils the executor contract of ``backend.server.jobs``: the server's I/O thread hands it jobs (at most
``capacity`` = the number of workers at once; the rest wait in the server's queue, which keeps sending queue
positions) and receives, on an inproc socket, the same encoded ``progress``/``result``/``error`` messages the
local worker sends. All Ray calls happen on this executor's own thread, never on the I/O thread.

* **Placement, per job.** A job goes to an idle worker of the kind its role is placed on
  (``RayWorkerPool.placement``: GPU workers for the Motion Expert and Wan-Animate, CPU workers for the
  choreographer and the puppet). When none is idle, the pool makes one more if the cluster has room for it
  (a GPU node that joined since is used now); otherwise the job waits here, and its client is told so. A
  GPU job on a cluster without a GPU fails at once with that reason, unless the backend was told to wait
  for one (``RayWorkerPool.wait_for_gpu_s``). A new worker builds its engines on its own node first; when
  it cannot (weights missing there), the jobs waiting for it fail with the worker's own message.
* **Progress.** Workers put (token, fraction, message) on a Ray queue; this thread drains it and forwards.
* **Cancel.** A job's ``cancel_event`` (set by the I/O thread) is forwarded once to its worker, whose
  ``JobContext`` then raises ``JobCancelledError`` at the job's next step.
* **A worker or node that dies mid-job: retry, then a clear error.** Ray restarts the actor (on another node
  if its node is gone); until it answers a probe again it takes no job. The job is run again from the start
  (a segmented render: from its last finished segment, kept on the head by the pool's ``SegmentKeeper``,
  which this executor tells to drop a job's segments when the job ends) on a live worker of its kind,
  ``max_retries`` times (default 1), and its client sees a progress message saying so. Jobs are
  deterministic for their seed, so a retry returns what the first try would have. When the retries are used
  up, or when no worker starts the job within ``start_timeout_s`` (e.g. the cluster lost every node that
  could host it), the job fails with ``BackendUnavailableError`` naming what happened —
  never a silent hang.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from backend.jobwork import checkpoint_folder
from backend.server.handlers import JobWork
from backend.server.jobs import FINAL_TAG, PROGRESS_TAG, Job
from shared import protocol
from shared.errors import BackendUnavailableError, JobCancelledError, MaceError, error_from_dict

from .runtime import import_ray
from .worker import JobLabel, read_folder

logger = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 1
DEFAULT_START_TIMEOUT_S = 120.0
TICK_S = 0.05  # longest wait for progress events in one turn of the loop
PROBE_INTERVAL_S = 1.0  # how often a restarting worker is asked whether it is back


@dataclass(eq=False)
class Attempt:
    """One try of a job on one worker."""

    job: Job
    number: int  # 1 = the first try
    token: str
    kind: str  # "gpu" or "cpu"
    actor: Any
    ref: Any
    submitted: float
    started: bool = False
    cancel_sent: bool = False
    answered: bool = False  # the job was already answered (start timeout); the task still holds its worker


class RayExecutor(threading.Thread):
    """Runs the server's jobs on a ``RayWorkerPool`` (module docstring: placement, progress, cancel, failures)."""

    def __init__(self, context, events_endpoint: str, pool, *, max_retries: int = DEFAULT_MAX_RETRIES,
                 start_timeout_s: float = DEFAULT_START_TIMEOUT_S):
        super().__init__(name="mace-dance-ray-executor", daemon=True)
        self._context = context
        self._events_endpoint = events_endpoint
        self._pool = pool
        self.max_retries = max_retries
        self.start_timeout_s = start_timeout_s
        self.capacity = pool.capacity
        self._inbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._waiting: collections.deque[tuple[Job, int, float]] = collections.deque()  # job, try, since
        self._told_waiting: dict[int, str] = {}  # job serial -> what its client was last told it waits for
        self._idle: dict[str, list] = {"gpu": [], "cpu": []}
        self._recovering: dict[Any, tuple[str, Any, float]] = {}  # probe ref -> kind, actor, when sent
        self._starting: set[Any] = set()  # new workers not yet answering
        self._attempts: dict[Any, Attempt] = {}  # by ObjectRef
        self._by_token: dict[str, Attempt] = {}
        self._inputs: dict[int, Any] = {}  # job serial -> ObjectRef of its files (kept for a retry)
        self._push = None

    @classmethod
    def factory(cls, pool, **options) -> Callable:
        """``executor(zmq_context, events_endpoint)`` for ``BackendServer(executor=...)``."""
        return lambda context, events_endpoint: cls(context, events_endpoint, pool, **options)

    # ---- the executor contract (called from the server's I/O thread) ----------------------------------
    def submit(self, job: Job) -> None:
        self._inbox.put(job)

    def stop(self) -> None:
        self._inbox.put(None)

    def describe(self) -> dict:
        return self._pool.describe()

    def worker_for(self, job_id: str):
        """The actor handle running job ``job_id`` now, or None (for tests and diagnostics)."""
        return next((a.actor for a in list(self._attempts.values()) if a.job.id == job_id and not a.answered), None)

    # ---- the loop ---------------------------------------------------------------------------------------
    def run(self) -> None:
        import zmq

        self._push = self._context.socket(zmq.PUSH)
        self._push.connect(self._events_endpoint)
        try:
            while self._take_new_jobs():
                self._pool.refresh()
                self._check_recovering_workers()
                self._start_waiting_jobs()
                self._forward_cancels()
                self._forward_progress()
                self._collect_finished()
                self._check_start_deadlines()
        except Exception:  # noqa: BLE001 - a dying executor must not leave clients waiting in silence
            logger.exception("the Ray executor failed")
            self._fail_everything(MaceError("the backend's Ray executor failed",
                                            "the backend log has the traceback; restart `mace-dance serve --ray`"))
            raise
        finally:
            for attempt in self._attempts.values():
                if not attempt.cancel_sent:
                    attempt.actor.cancel.remote(attempt.token)
            self._push.close(linger=2000)  # the last replies must reach the I/O thread

    def _take_new_jobs(self) -> bool:
        while True:
            try:
                job = self._inbox.get_nowait()
            except queue.Empty:
                return True
            if job is None:
                return False
            self._waiting.append((job, 1, time.monotonic()))

    def _start_waiting_jobs(self) -> None:
        short = {"gpu": 0, "cpu": 0}  # jobs left waiting for a worker, by kind
        for _ in range(len(self._waiting)):
            job, number, since = self._waiting.popleft()
            if job.cancel_event.is_set():
                self._finish(job, "cancelled", JobCancelledError(job.cancel_reason, "submit the job again to redo it"))
                continue
            work = job.run
            if not isinstance(work, JobWork):
                self._finish(job, "failed", MaceError(f"{job.kind} cannot run on Ray ({type(work).__name__})",
                                                      "this is a backend bug; please report it"))
                continue
            kind = self._pool.placement[work.role]
            if self._idle[kind]:
                self._launch(job, number, work, kind)
                continue
            waited = time.monotonic() - since
            if kind == "gpu" and self._pool.cluster_gpus == 0:
                wait_s = self._pool.wait_for_gpu_s
                if wait_s is not None and waited >= wait_s:
                    self._finish(job, "failed", BackendUnavailableError(
                        f"{job.kind} cannot run: {self._pool.no_gpu_reason()}",
                        "add a GPU node (`ray start --address HEAD:6379` on it), or start the backend with "
                        "--wait-for-gpu S (an autoscaler adds GPU nodes on demand), or --ray-gpu-engines-on-cpu "
                        "to run the GPU engines on CPU workers (very slow)"))
                    continue
                self._wait(job, number, since, "waiting for a GPU node to join the Ray cluster")
                continue
            if (not self._live_workers(kind) and not self._starting_count(kind) and not self._pool.can_grow(kind)
                    and waited > self.start_timeout_s):
                self._finish(job, "failed", BackendUnavailableError(
                    f"no Ray {kind.upper()} worker was alive to take this job for {self.start_timeout_s:g} s",
                    "the cluster lost the nodes that host its workers: check `ray status`, then submit again"))
                continue
            short[kind] += 1
            self._wait(job, number, since, f"waiting for a free {kind.upper()} worker")
        for kind, count in short.items():  # one more worker per waiting job, as far as the cluster has room
            for _ in range(count - self._starting_count(kind)):
                if not self._pool.can_grow(kind):
                    break
                actor = self._pool.grow(kind)
                self._starting.add(actor)
                self._probe(kind, actor)

    def _wait(self, job: Job, number: int, since: float, why: str) -> None:
        self._waiting.append((job, number, since))
        if self._told_waiting.get(job.serial) != why:
            self._told_waiting[job.serial] = why
            self._progress(job, 0.0, why)

    def _starting_count(self, kind: str) -> int:
        return sum(1 for probed_kind, actor, _ in self._recovering.values()
                   if probed_kind == kind and actor in self._starting)

    def _launch(self, job: Job, number: int, work: JobWork, kind: str) -> None:
        ray = import_ray()
        actor = self._idle[kind].pop(0)
        if job.serial not in self._inputs:
            self._inputs[job.serial] = ray.put(read_folder(job.workdir))
        token = f"{job.serial}.{number}"
        ref = actor.run.remote(token, JobLabel(job.kind, job.id, work.public_names), work.role, work.execute,
                               work.request, self._inputs[job.serial])
        attempt = Attempt(job, number, token, kind, actor, ref, time.monotonic())
        self._attempts[ref] = attempt
        self._by_token[token] = attempt

    def _forward_cancels(self) -> None:
        for attempt in self._attempts.values():
            if attempt.job.cancel_event.is_set() and not attempt.cancel_sent and not attempt.answered:
                attempt.actor.cancel.remote(attempt.token)
                attempt.cancel_sent = True

    def _forward_progress(self) -> None:
        from ray.util.queue import Empty

        progress, events = self._pool.progress, []
        try:
            events.append(progress.get(timeout=TICK_S))  # also the loop's pace
            while True:
                events.append(progress.get_nowait())
        except Empty:
            pass
        for token, fraction, message in events:
            attempt = self._by_token.get(token)
            if attempt is None or attempt.answered:
                continue  # a finished or abandoned try
            attempt.started = True
            if message == "started":
                message = f"running on a {attempt.kind.upper()} worker" + (
                    f" (try {attempt.number} of {self.max_retries + 1})" if attempt.number > 1 else "")
            self._progress(attempt.job, fraction, message)

    def _collect_finished(self) -> None:
        ray = import_ray()
        if not self._attempts:
            return
        ready, _ = ray.wait(list(self._attempts), num_returns=len(self._attempts), timeout=0)
        for ref in ready:
            attempt = self._attempts.pop(ref)
            del self._by_token[attempt.token]
            state, value = self._outcome(ref, attempt.job)
            if state == "lost":
                self._probe(attempt.kind, attempt.actor)  # back to work once Ray has restarted it
            else:
                self._idle[attempt.kind].append(attempt.actor)
            job = attempt.job
            if attempt.answered:
                continue
            if state == "lost":
                self._worker_lost(attempt, value)
            elif state == "done":
                self._finish(job, state, result=value)
            else:
                error = error_from_dict(value)
                if state == "cancelled":
                    error = JobCancelledError(job.cancel_reason, error.hint)
                self._finish(job, state, error)

    @staticmethod
    def _outcome(ref, job: Job) -> tuple[str, Any]:
        """The worker's (state, value), or ("lost", the Ray error) when its process or node died."""
        ray = import_ray()
        try:
            return ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                ray.exceptions.ObjectLostError) as exc:
            return "lost", exc
        except ray.exceptions.RayError as exc:
            logger.error("job %s failed in Ray", job.id, exc_info=exc)
            return "failed", MaceError(f"{job.kind} failed in Ray: {type(exc).__name__}",
                                       "the backend log has the details; submit the job again").to_dict()

    def _worker_lost(self, attempt: Attempt, exc: Exception) -> None:
        ray = import_ray()
        job = attempt.job
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if job.cancel_event.is_set():
            self._finish(job, "cancelled", JobCancelledError(job.cancel_reason, "submit the job again to redo it"))
        elif not attempt.started and isinstance(exc, ray.exceptions.ActorUnavailableError):
            # the worker was restarting and refused the job before running it: not a try
            self._waiting.appendleft((job, attempt.number, attempt.submitted))
        elif attempt.number <= self.max_retries:
            logger.warning("job %s: its %s worker died on try %d (%s); retrying", job.id, attempt.kind,
                           attempt.number, reason)
            resumes = isinstance(job.run, JobWork) and checkpoint_folder(job.run.request) is not None
            self._progress(job, 0.0, f"the {attempt.kind.upper()} worker running this job died; retrying from "
                                     f"{'its last finished segment' if resumes else 'the start'} "
                                     f"(try {attempt.number + 1} of {self.max_retries + 1})")
            self._waiting.appendleft((job, attempt.number + 1, time.monotonic()))
        else:
            self._finish(job, "failed", BackendUnavailableError(
                f"the Ray {attempt.kind.upper()} worker running this job died "
                f"({'once' if attempt.number == 1 else f'{attempt.number} times'}; "
                f"{'retries are off' if self.max_retries == 0 else 'no retry left'}): {reason}",
                "submit the job again; if it keeps happening the job may be killing its worker (host memory?) "
                "or the cluster is losing nodes: see `ray status` and the workers' logs"))

    # ---- workers that died: Ray restarts them; they take jobs again once they answer ----------------------
    def _probe(self, kind: str, actor) -> None:
        self._recovering[actor.describe.remote()] = (kind, actor, time.monotonic())

    def _live_workers(self, kind: str) -> int:
        recovering = sum(1 for probed_kind, _, _ in self._recovering.values() if probed_kind == kind)
        return len(self._pool.workers[kind]) - recovering

    def _check_recovering_workers(self) -> None:
        ray = import_ray()
        if not self._recovering:
            return
        ready, _ = ray.wait(list(self._recovering), num_returns=len(self._recovering), timeout=0)
        for ref in ready:
            kind, actor, sent = self._recovering.pop(ref)
            try:
                facts = ray.get(ref)
            except ray.exceptions.RayError:  # still restarting (or its node is gone): ask again later
                self._recovering[ref] = (kind, actor, sent)
                if time.monotonic() - sent >= PROBE_INTERVAL_S:
                    del self._recovering[ref]
                    self._probe(kind, actor)
                continue
            new = actor in self._starting
            self._starting.discard(actor)
            if facts["error"] is not None:  # its engines cannot be built on its node
                self._pool.forget(kind, actor)
                self._fail_waiting(kind, error_from_dict(facts["error"]))
                continue
            self._pool.facts[actor] = facts
            logger.info("a %s worker is %s on node %s", kind, "ready" if new else "back", facts["node"][:12])
            self._idle[kind].append(actor)

    def _fail_waiting(self, kind: str, error: MaceError) -> None:
        """Fail the jobs waiting for a worker of ``kind`` with ``error`` (no worker of it could start)."""
        for _ in range(len(self._waiting)):
            job, number, since = self._waiting.popleft()
            if isinstance(job.run, JobWork) and self._pool.placement[job.run.role] == kind:
                self._finish(job, "failed", error)
            else:
                self._waiting.append((job, number, since))

    def _check_start_deadlines(self) -> None:
        ray = import_ray()
        now = time.monotonic()
        for attempt in list(self._attempts.values()):
            if attempt.started or attempt.answered or now - attempt.submitted < self.start_timeout_s:
                continue
            attempt.answered = True  # its worker stays busy until Ray gives the task up
            try:
                ray.cancel(attempt.ref)
            except Exception:  # noqa: BLE001 - best effort; the job is answered either way
                logger.debug("could not cancel the Ray task of job %s", attempt.job.id, exc_info=True)
            self._finish(attempt.job, "failed", BackendUnavailableError(
                f"no Ray {attempt.kind.upper()} worker started this job within {self.start_timeout_s:g} s",
                "the cluster may have lost the nodes that host its workers: check `ray status`, then submit again"))

    # ---- messages to the I/O thread ---------------------------------------------------------------------
    def _progress(self, job: Job, fraction: float, message: str) -> None:
        job.progress, job.message = fraction, message
        payload = {"state": "running", "progress": fraction, "message": message, "queue_position": None}
        self._push.send_multipart([PROGRESS_TAG, str(job.serial).encode(),
                                   protocol.encode_message("progress", job.id, payload)])

    def _finish(self, job: Job, state: str, error: MaceError | None = None, result: dict | None = None) -> None:
        self._inputs.pop(job.serial, None)
        segments = checkpoint_folder(job.run.request) if isinstance(job.run, JobWork) else None
        if segments is not None:  # no try follows: the head's copy of its finished segments goes
            self._pool.keeper.drop.remote(segments.name)
        self._told_waiting.pop(job.serial, None)
        job.remove_workdir()
        message = (protocol.encode_message("result", job.id, result) if error is None
                   else protocol.encode_error(error, job.id))
        self._push.send_multipart([FINAL_TAG, str(job.serial).encode(), state.encode(), message],
                                  copy=len(message) < 65536)
        logger.info("job %s (%s) %s", job.id, job.kind, state)

    def _fail_everything(self, error: MaceError) -> None:
        jobs = [job for job, _, _ in self._waiting] + [a.job for a in self._attempts.values() if not a.answered]
        for job in jobs:
            self._finish(job, "failed", error)
