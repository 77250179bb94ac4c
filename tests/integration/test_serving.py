"""``piaowu serve --workers N`` (piaowu.serving): the workers share the connections, a dead worker is replaced,
SIGTERM stops everything after the requests in flight are answered.

The listener's rule is tested in one process first (two listeners on one socket, as two workers have), with a
control where every listener believes it holds the fewest connections — the greedy accept of an event loop, which
is what crowded one worker before. Then the real supervisor in a subprocess, as an operator runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from piaowu import serving
from tests.servers import free_port, prepared, server_env

# --- the listener's rule, in one process ------------------------------------------------------------------------


class _Conn(asyncio.Protocol):
    def __init__(self, held: serving._CountedConnections) -> None:
        self.held = held

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.held.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.held.discard(self)


class _GreedyCounts(serving.ConnectionCounts):
    """The control: every worker believes no other holds fewer, i.e. each accepts whatever is waiting."""

    def fewest(self, now: float) -> int:
        return serving.NOT_ACCEPTING


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _listener(
    sock: socket.socket, counts: serving.ConnectionCounts, slot: int
) -> tuple[serving.BalancedListener, serving._CountedConnections]:
    held = serving._CountedConnections()
    # A descriptor of its own on the same socket, as each worker process has.
    listener = serving.BalancedListener(sock.dup(), counts, slot, lambda: _Conn(held), held)
    held.changed = listener.publish
    return listener, held


async def _split(counts: serving.ConnectionCounts, clients: int = 16) -> list[int]:
    sock = _listening()
    # Every client connects before either listener looks: they wait in the queue together, as a sale's do.
    waiting = [socket.create_connection(sock.getsockname()) for _ in range(clients)]
    listeners = [_listener(sock, counts, slot) for slot in range(2)]
    try:
        for _ in range(100):
            await asyncio.sleep(0.01)
            if sum(len(held) for _, held in listeners) == clients:
                break
        return sorted((len(held) for _, held in listeners), reverse=True)
    finally:
        for listener, _ in listeners:
            listener.close()
        for c in waiting:
            c.close()
        sock.close()


async def test_two_listeners_share_connections_that_wait_together() -> None:
    assert await _split(serving.ConnectionCounts(2)) == [8, 8]


async def test_control_greedy_accepts_crowd_one_listener() -> None:
    # What the test above catches: an event loop accepting whatever waits gives one worker (nearly) everything.
    first, second = await _split(_GreedyCounts(2))
    assert first + second == 16 and first - second >= 8


async def test_a_worker_whose_loop_stopped_is_not_waited_for() -> None:
    sock = _listening()
    counts = serving.ConnectionCounts(2)
    counts.slots[1], counts.beats[1] = 0, time.monotonic()  # a worker holding nothing, seen running just now
    waiting = [socket.create_connection(sock.getsockname()) for _ in range(4)]
    listener, held = _listener(sock, counts, 0)
    try:
        await asyncio.sleep(0.1)
        assert len(held) == 1  # one, then it leaves the rest to the worker with fewer
        counts.beats[1] = time.monotonic() - serving.STALE_S - 1  # that worker's loop has not run for a while
        await asyncio.sleep(0.1)
        assert len(held) == 4
    finally:
        listener.close()
        for c in waiting:
            c.close()
        sock.close()


# --- the supervisor, as an operator runs it ---------------------------------------------------------------------


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def workers(self) -> list[int]:
        """The worker processes (the supervisor's children running a server, not multiprocessing's helper)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                    if int(stat[stat.rfind(")") + 2 :].split()[1]) == self.proc.pid and b"spawn_main" in cmdline:
                        found.append(int(entry))
        return sorted(found)

    def started(self) -> int:
        return self.log.read_text(errors="replace").count("Application startup complete")

    def wait(self, what: str, ok: object, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if callable(ok) and ok():
                return
            assert self.proc.poll() is None, f"the server exited:\n{self.log.read_text(errors='replace')}"
            time.sleep(0.1)
        raise AssertionError(f"{what}: not within {timeout} s\n{self.log.read_text(errors='replace')}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'piaowu.db'}"
    prepared(db_url, tmp_path, demo=False)
    port = free_port()
    env = server_env(db_url, tmp_path, {"PIAOWU_RUN_BACKGROUND_JOBS": "false"})
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "piaowu", "serve", "--port", str(port), "--workers", "2", "--log-level", "info"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    s = Served(proc, port, log)
    try:
        s.wait("both workers started", lambda: s.started() >= 2 and len(s.workers()) == 2)
        yield s
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _held_by(pids: list[int], port: int) -> list[int]:
    """Established connections to ``port`` held by each of ``pids`` (from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(f"socket:[{f[9]}]")
    held = []
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        held.append(sum(os.readlink(fds / fd) in inodes for fd in os.listdir(fds)))
    return held


def _healthz(clients: int, port: int) -> list[socket.socket]:
    """``clients`` keep-alive connections opened at once, each answered once (all left open)."""
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(clients)]
    for c in conns:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    for c in conns:
        c.settimeout(30)
        assert c.recv(4096).startswith(b"HTTP/1.1 200")
    return conns


def _both_accept(s: Served) -> bool:
    conns = _healthz(16, s.port)
    try:
        held = _held_by(s.workers(), s.port)
        return sum(held) == 16 and min(held) >= 7
    finally:
        for c in conns:
            c.close()
        time.sleep(0.3)  # the workers see the connections go before the next try


@pytest.mark.slow
def test_both_workers_take_their_share_of_connections_opened_at_once(served: Served) -> None:
    # A worker's event loop starts accepting a moment after its app reports started: allow a few tries.
    served.wait("16 connections split 8/8 (±1) over the two workers", lambda: _both_accept(served), timeout=20)


@pytest.mark.slow
def test_a_killed_worker_is_replaced(served: Served) -> None:
    victim, survivor = served.workers()
    os.kill(victim, signal.SIGKILL)
    served.wait("a new worker", lambda: served.started() >= 3 and len(served.workers()) == 2)
    assert survivor in served.workers() and victim not in served.workers()
    assert f"Child process [{victim}] died" in served.log.read_text()
    served.wait("the new worker takes its share", lambda: _both_accept(served), timeout=20)


@pytest.mark.slow
def test_sigterm_answers_the_request_in_flight_then_stops_every_process(served: Served) -> None:
    workers = served.workers()
    body = b'{"items": [], "buyer": {"name": "x"}}'
    c = socket.create_connection(("127.0.0.1", served.port))
    c.sendall(b"POST /api/v1/orders HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n")
    c.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(body), body[:10]))
    # In flight once a worker holds the connection (until then it waits in the queue, which stopping resets).
    served.wait("a worker holds the connection", lambda: sum(_held_by(workers, served.port)) == 1, timeout=30)
    time.sleep(0.3)
    served.proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert served.proc.poll() is None  # still waiting for that request
    c.sendall(body[10:])
    c.settimeout(30)
    answer = c.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401") and b"connection: close" in answer.lower()
    assert served.proc.wait(30) == 0
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
