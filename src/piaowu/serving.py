"""``piaowu serve --workers N``: N uvicorn worker processes behind one listening socket, taking turns at accepting.

uvicorn's own multi-worker mode shares the socket too, but each worker's event loop accepts every connection
waiting when it wakes: keep-alive clients that connect together (a flash sale's API clients, a proxy's upstream
pool) all land on one worker and queue there while the other idles (docs/operations.md, "Several workers and
keep-alive connections"). Here a worker accepts only while no other worker holds fewer open connections (the
counts live in a small array of shared memory, one slot per worker, each written by its own worker only): the
worker with the fewest takes connections until it no longer has the fewest, the others leave them to it. A worker
whose event loop has not run for ``STALE_S`` (stuck, or starved of CPU) is not waited for, so a connection waits
for the balance at most that long, and only in that case.

A listening socket per worker (``SO_REUSEPORT``) was not chosen: the kernel spreads connections by a hash of their
addresses (at 16 connections 8/8 only one time in five), and the connections waiting in a dead worker's queue
are reset.

The supervisor (the parent process) binds and listens, starts the workers, replaces a worker that dies, and on
SIGTERM or SIGINT stops them all; each worker finishes its requests in flight first (uvicorn's graceful
shutdown). Logs are uvicorn's. With one worker there is no supervisor: the server runs in the command's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")

NOT_ACCEPTING = 1 << 30  # a slot's count while its worker starts, stops or is dead: never the fewest
DEFER_S = 0.001  # how long a worker with more connections than another leaves a waiting connection to it
BEAT_S = 0.1  # how often each worker's event loop notes that it runs
STALE_S = 2.0  # a worker whose loop has not run for this long (stuck, or starved of CPU) is not waited for
MAX_BATCH = 16  # connections accepted per wake-up at most, so that requests in flight are not held up long
MAX_FAILED_STARTS = 5  # a slot's workers dying this many times in a row before serving stop the server
RESTART_PAUSE_S = 1.0  # a worker that dies this soon after its start is restarted no sooner (no spinning)

_spawn = multiprocessing.get_context("spawn")
multiprocessing.allow_connection_pickling()  # the listening socket goes to each worker as it is spawned


class ConnectionCounts:
    """One slot per worker in shared memory: the connections it holds (``NOT_ACCEPTING`` when it does not
    accept) and when its event loop last ran (``time.monotonic``, one clock for every process). Each slot is
    written by its own worker only (and by the supervisor once the worker is gone)."""

    def __init__(self, workers: int) -> None:
        self.slots = _spawn.RawArray("i", [NOT_ACCEPTING] * workers)
        self.beats = _spawn.RawArray("d", [0.0] * workers)

    def fewest(self, now: float) -> int:
        """The fewest connections any worker that accepts and whose loop ran lately holds."""
        beats = self.beats
        return min((n for i, n in enumerate(self.slots) if now - beats[i] < STALE_S), default=NOT_ACCEPTING)

    def stalled(self, now: float, below: int) -> list[tuple[int, float]]:
        """(slot, seconds since its loop ran) of each worker passed over although it holds fewer than ``below``."""
        return [
            (i, now - self.beats[i]) for i, n in enumerate(self.slots) if n < below and now - self.beats[i] >= STALE_S
        ]


class BalancedListener:
    """Accepts from the shared listening socket into this worker's uvicorn while no other live worker holds
    fewer connections (at most ``MAX_BATCH`` per wake-up), else leaves them to it. Closed like an
    ``asyncio.Server``."""

    def __init__(
        self,
        sock: socket.socket,
        counts: ConnectionCounts,
        slot: int,
        protocol_factory: Callable[[], asyncio.Protocol],
        held: set[Any],
    ) -> None:
        self._sock, self._counts, self._slot = sock, counts, slot
        self._factory, self._held = protocol_factory, held
        self._loop = asyncio.get_running_loop()
        # Protocols of connections accepted but not yet made (not in ``held`` yet): counted once, neither missed
        # between the accept and connection_made nor counted twice after it (which would tilt the balance).
        self._pending: set[asyncio.Protocol] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._accepting = True  # False while paused after running out of descriptors
        self._beats: asyncio.TimerHandle | None = None
        self._reported: set[tuple[int, float]] = set()  # (slot, its last beat) of stalls already logged
        self._closed = False
        sock.setblocking(False)
        self.publish()
        self._beat()
        self._loop.add_reader(sock.fileno(), self._readable)

    def publish(self) -> None:
        """Writes this worker's count to its slot (on every accept and every connection opened or closed)."""
        if not self._closed:
            n = len(self._held) + sum(p not in self._held for p in self._pending)
            self._counts.slots[self._slot] = n if self._accepting else NOT_ACCEPTING

    def _beat(self) -> None:
        if not self._closed:
            self._counts.beats[self._slot] = time.monotonic()
            self._beats = self._loop.call_later(BEAT_S, self._beat)

    def _readable(self) -> None:
        now = time.monotonic()
        self._counts.beats[self._slot] = now
        for _ in range(MAX_BATCH):
            # Re-read every time: another worker may be accepting from the same queue at this moment.
            mine = self._counts.slots[self._slot]
            if mine > self._counts.fewest(now):
                self._pause(DEFER_S)  # the socket stays readable: without a pause this would spin
                return
            if mine > 0:
                self._report_stalls(now, mine)
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # nothing waiting any more (another worker took it, or the client gave up)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors or memory: retrying at once would spin; the others may have room.
                    logger.error("accepting a connection failed (%s); this worker stops accepting for 1 s", exc)
                    self._accepting = False
                    self.publish()
                    self._pause(1.0)
                    return
                raise
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._hand_over(conn)

    def _report_stalls(self, now: float, mine: int) -> None:
        for slot, idle in self._counts.stalled(now, mine):
            if (slot, key := self._counts.beats[slot]) not in self._reported:
                self._reported = {r for r in self._reported if r[0] != slot} | {(slot, key)}
                logger.warning(
                    "worker %d's event loop has not run for %.1f s (blocked, or starved of CPU): worker %d takes "
                    "the new connections meanwhile",
                    slot,
                    idle,
                    self._slot,
                )

    def _hand_over(self, conn: socket.socket) -> None:
        protocol = self._factory()
        self._pending.add(protocol)
        self.publish()
        task = self._loop.create_task(self._loop.connect_accepted_socket(lambda: protocol, conn))
        task.add_done_callback(lambda t: self._handed_over(t, protocol))

    def _handed_over(self, task: asyncio.Task[Any], protocol: asyncio.Protocol) -> None:
        self._pending.discard(protocol)
        self.publish()
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.warning("a connection could not be set up: %r", exc)

    def _pause(self, seconds: float) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._timer = self._loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        self._timer = None
        if self._closed:
            return
        if not self._accepting:
            self._accepting = True
            self.publish()
        self._loop.add_reader(self._sock.fileno(), self._readable)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._counts.slots[self._slot] = NOT_ACCEPTING
        if self._beats is not None:
            self._beats.cancel()
        if self._timer is not None:
            self._timer.cancel()
        else:
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()  # this worker's descriptor; the supervisor's stays open for the others

    async def wait_closed(self) -> None:
        return None


class _CountedConnections(set[Any]):
    """uvicorn's set of a worker's open connections (each protocol adds itself when its connection is made and
    removes itself when it is lost, a websocket's protocol too); every change is published to the worker's slot."""

    def __init__(self) -> None:
        super().__init__()
        self.changed: Callable[[], None] = lambda: None

    def add(self, item: Any) -> None:
        super().add(item)
        self.changed()

    def discard(self, item: Any) -> None:
        super().discard(item)
        self.changed()

    def remove(self, item: Any) -> None:
        super().remove(item)
        self.changed()


# A young collection once this many more container objects were made than freed, rather than CPython's 700. A
# request's objects (ASGI scope, SQLAlchemy session, pydantic models, rows) live for the request, a few to tens of
# milliseconds: at 700 a collection came every ~5 orders of a worker and caught 16 requests' objects alive, which
# it moved up until they reached the oldest generation, whose collections walk everything a worker keeps (a
# stadium's seats and their index: tens of milliseconds each). A gc.callbacks probe of the seat-order bench: GC
# 0.16 ms of CPU per order at 700, 0.01 ms at 20,000. A young collection of 20,000 objects takes ~1-2 ms.
YOUNG_COLLECTION_THRESHOLD = 20_000


class _Server(uvicorn.Server):
    """uvicorn's server; once the app has started, what exists then (modules, the app, its caches) is moved out of
    the garbage collector's sight (``gc.freeze``). Without it each worker ran a full collection while serving
    (0.8-1.2 s on a loaded 2-core machine, ~0.2 s quiet: all requests of that worker wait), and those pauses set
    the 64-client p99 (docs/benchmarks.md, "Create path: workers take turns at accepting"). Frozen objects are
    still freed by reference counting; only cycles among them would stay. Then young collections are made rarer
    (``YOUNG_COLLECTION_THRESHOLD``): what is made later (a session's seats, loaded by its first buyer) is not
    frozen, and requests' short-lived objects no longer climb to the oldest generation on the way."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            gc.collect()  # what start-up left behind goes now, not into the frozen generation
            gc.freeze()
            gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


class _WorkerServer(_Server):
    """The server of one worker, accepting through a ``BalancedListener`` instead of its event loop's greedy accept."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket, counts: ConnectionCounts, slot: int) -> None:
        super().__init__(config)
        self._listen_sock, self._counts, self._slot = sock, counts, slot
        self._connections = _CountedConnections()
        self.server_state.connections = self._connections

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the app's lifespan; no listener of uvicorn's own
        if not self.started:
            return
        config = self.config

        def create_protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        listener = BalancedListener(self._listen_sock, self._counts, self._slot, create_protocol, self._connections)
        self._connections.changed = listener.publish
        self.servers.append(listener)  # type: ignore[arg-type]  # closed by uvicorn's shutdown, first thing


def _worker_main(config: uvicorn.Config, sock: socket.socket, counts: ConnectionCounts, slot: int) -> None:
    config.configure_logging()  # logging is set up again in each spawned process, as uvicorn's workers do
    try:
        _WorkerServer(config, sock, counts, slot).run(sockets=[])
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group; the supervisor knows


class Supervisor:
    """Starts ``workers`` processes on one listening socket, replaces a worker that dies, stops all on SIGTERM
    or SIGINT (a second signal kills what is left)."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config
        self.workers = config.workers
        self.counts = ConnectionCounts(self.workers)
        self.procs: list[Any] = [None] * self.workers
        self.started_at = [0.0] * self.workers
        self.failed_starts = [0] * self.workers  # deaths in a row of a slot's workers before they served
        self._signals: list[int] = []
        self._wake = threading.Event()

    def run(self) -> int:
        """Serves until a signal stops it; → the exit status (``STARTUP_FAILURE`` when a worker cannot start)."""
        sock = self.config.bind_socket()  # logs "Uvicorn running on ...", as uvicorn's supervisor does
        sock.listen(self.config.backlog)  # connections queue here even while a worker is being replaced
        self.sock = sock
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        logger.info("Started parent process [%d]", os.getpid())
        status = 0
        try:
            for slot in range(self.workers):
                self._start(slot)
            while not self._signals:
                self._wake.wait(0.2)
                if not self._signals and (status := self._replace_dead()) != 0:
                    break
        finally:
            self._stop_all()
            sock.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("Stopping parent process [%d]", os.getpid())
        return status

    def _on_signal(self, sig: int, _frame: object) -> None:
        self._signals.append(sig)
        self._wake.set()

    def _start(self, slot: int) -> None:
        self.counts.slots[slot] = NOT_ACCEPTING
        proc = _spawn.Process(target=_worker_main, args=(self.config, self.sock, self.counts, slot), daemon=False)
        proc.start()
        self.procs[slot], self.started_at[slot] = proc, time.monotonic()

    def _replace_dead(self) -> int:
        for slot, proc in enumerate(self.procs):
            if proc.is_alive():
                continue
            proc.join()
            self.counts.slots[slot] = NOT_ACCEPTING  # its connections are gone; the others must not wait for it
            served = self.counts.beats[slot] >= self.started_at[slot]  # its listener ran at least once
            self.failed_starts[slot] = 0 if served else self.failed_starts[slot] + 1
            if proc.exitcode == STARTUP_FAILURE or self.failed_starts[slot] >= MAX_FAILED_STARTS:
                # The app (settings, code, database) fails before serving: every restart would fail the same way.
                logger.error("Child process [%s] failed to start (exit code %s); stopping.", proc.pid, proc.exitcode)
                return STARTUP_FAILURE
            if time.monotonic() - self.started_at[slot] < RESTART_PAUSE_S:
                time.sleep(RESTART_PAUSE_S)
            logger.warning("Child process [%s] died (exit code %s); starting another", proc.pid, proc.exitcode)
            self._start(slot)
        return 0

    def _stop_all(self) -> None:
        alive = [p for p in self.procs if p is not None and p.is_alive()]
        for proc in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            logger.info("Terminated child process [%s]", proc.pid)
        seen = len(self._signals)
        for proc in alive:
            logger.info("Waiting for child process [%s]", proc.pid)
            while proc.is_alive():
                if len(self._signals) > seen:
                    # A second signal after the one that stopped us: stop waiting for requests in flight.
                    for p in alive:
                        with contextlib.suppress(ProcessLookupError):
                            p.kill()
                proc.join(0.2)


def serve(app: str, *, host: str, port: int, workers: int, log_level: str) -> int:
    """Serves ``app`` (an ``module:factory`` path) on ``host:port`` with uvloop and httptools: in this process
    when ``workers`` is 1, else under a ``Supervisor``. → the exit status."""
    if workers == 1:  # no supervisor: the server runs in this process, as uvicorn.run does
        server = _Server(
            uvicorn.Config(
                app, factory=True, host=host, port=port, loop="uvloop", http="httptools", log_level=log_level
            )
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        return 0 if server.started else STARTUP_FAILURE
    config = uvicorn.Config(
        app, factory=True, host=host, port=port, workers=workers, loop="uvloop", http="httptools", log_level=log_level
    )
    return Supervisor(config).run()
