"""Admission: the bounded worker that does what the server's I/O thread must not.

Decoding a large message, writing its uploads to the job's folder and checking the media (in child
processes, ``media.MediaChecker``) take from milliseconds to seconds; the I/O thread hands them here as
*tickets* and goes back to answering everyone. A few threads run the tickets; the requests waiting or running
hold at most ``max_bytes`` (``max_bytes_per_route`` of them from one connection) and ``max_tickets``, so a
flood of uploads is refused at the door instead of piling up in memory or on disk. A finished ticket wakes the I/O thread over the events pipe
(``ADMITTED_TAG``), which then takes it (:meth:`Admission.completed`) and goes on with the request; the tickets of
one connection are handed back in the order they came (its jobs queue in the order it sent them).
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from backend.out_of_memory import return_free_memory
from shared.errors import MaceError, TooLargeError, bug_hint

logger = logging.getLogger(__name__)

ADMITTED_TAG = b"admitted"
#: Requests at least this big are decoded by the admission worker, not the I/O thread.
INLINE_DECODE_BYTES = 256 * 1024


@dataclass(eq=False)
class Ticket:
    """One piece of admission work: ``work()`` runs on a worker; then ``value`` or ``error`` is set.

    ``step`` says what it was ("decode" or "prepare"), ``route`` whose request it serves, ``size`` the bytes
    it holds, ``context`` what the I/O thread needs to go on (the peer, the envelope, the job's key …).
    """

    step: str
    route: tuple[bytes, ...]
    size: int
    work: Callable[[], Any]
    context: dict = field(default_factory=dict)
    value: Any = None
    error: MaceError | None = None
    order: int = 0  # its place among its connection's tickets


class Admission:
    """Runs tickets on ``workers`` threads; see the module docstring."""

    def __init__(self, context, events_endpoint: str, *, workers: int = 2, max_tickets: int = 256,
                 max_bytes: int = 768 << 20, max_bytes_per_route: int = 384 << 20):
        import zmq

        self.max_tickets, self.max_bytes, self.max_bytes_per_route = max_tickets, max_bytes, max_bytes_per_route
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="mace-dance-admission")
        self._done: queue.SimpleQueue[Ticket] = queue.SimpleQueue()
        self._wake = context.socket(zmq.PUSH)
        self._wake.connect(events_endpoint)
        self._wake_lock = threading.Lock()  # the workers share the one wake-up socket, one at a time
        self._bytes: collections.Counter[tuple[bytes, ...]] = collections.Counter()  # held, by route
        self.in_flight = 0
        self._issued: collections.Counter[tuple[bytes, ...]] = collections.Counter()  # tickets given, by route
        self._released: collections.Counter[tuple[bytes, ...]] = collections.Counter()  # handed back, by route
        self._waiting: dict[tuple[tuple[bytes, ...], int], Ticket] = {}  # done, behind an earlier one
        self._closed = False

    def submit(self, ticket: Ticket) -> None:
        """Queue ``ticket`` (I/O thread); refused with ``TooLargeError`` when too much already waits."""
        held = sum(self._bytes.values())
        if self.in_flight >= self.max_tickets or held + ticket.size > self.max_bytes:
            raise TooLargeError(f"the backend is already checking {self.in_flight} requests ({held:,} bytes)",
                                "send the request again in a few seconds")
        if self._bytes[ticket.route] + ticket.size > self.max_bytes_per_route:
            raise TooLargeError(f"this connection's requests being checked already hold "
                                f"{self._bytes[ticket.route]:,} bytes", "wait for their replies before sending more")
        self.in_flight += 1
        self._bytes[ticket.route] += ticket.size
        ticket.order = self._issued[ticket.route]
        self._issued[ticket.route] += 1
        self._pool.submit(self._run, ticket)

    def completed(self) -> list[Ticket]:
        """The tickets finished since the last call whose connection's earlier tickets are all back (I/O thread)."""
        tickets = []
        while True:
            try:
                ticket = self._done.get_nowait()
            except queue.Empty:
                return tickets
            self._waiting[(ticket.route, ticket.order)] = ticket
            route = ticket.route
            while (ready := self._waiting.pop((route, self._released[route]), None)) is not None:
                self._released[route] += 1
                self.in_flight -= 1
                self._bytes[route] -= ready.size
                tickets.append(ready)
            if self._released[route] == self._issued[route]:  # nothing of this connection left in flight
                for counter in (self._bytes, self._issued, self._released):
                    counter.pop(route, None)

    def close(self) -> None:
        """Stop taking tickets; those running finish (their results are dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._wake_lock:
            self._closed = True
            self._wake.close(linger=0)

    def _run(self, ticket: Ticket) -> None:
        try:
            ticket.value = ticket.work()
        except MaceError as err:
            ticket.error = err
        except Exception as exc:  # noqa: BLE001 - a bug costs one reply, never the worker
            logger.exception("unexpected error while admitting a request")
            ticket.error = MaceError(f"the backend failed on this request: {type(exc).__name__}: {exc}",
                                     bug_hint("the traceback from the backend log"))
        ticket.work = None  # what it held (the request's bytes) can go now
        return_free_memory()
        self._done.put(ticket)
        with self._wake_lock:
            if not self._closed:
                self._wake.send_multipart([ADMITTED_TAG, b""])
