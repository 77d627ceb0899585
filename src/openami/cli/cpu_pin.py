"""One CPU per server process: ``openami serve hub --pin-cpus``.

A hub process runs Python on two busy threads at least: the event loop and the quick lane
(``hub/lanes.py``). Left to the scheduler on a multi-core machine, they run on two cores at
once and hand the GIL back and forth between them, and every hand-off costs both cores
time. Pinned to one core, they take turns there instead: on the 2-core benchmark machine one
process went from 2.5–2.7 ms of CPU per JSON point-day to 1.35–1.7 ms (docs/croute.md).

Each process takes the lowest-numbered CPU no other process holds, by an exclusive lock on
``<dir>/cpu-<n>.lock`` kept while it lives (the kernel lets the lock go when it dies, even
by ``kill -9``, so its replacement gets the same CPU). The directory is one per user and
machine by default (:func:`default_lock_dir`), so every pinned hub process of that user
there, whatever its data directory, takes a CPU of its own. With more processes than CPUs
the extra ones are not pinned, and say so in the log.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from openami.log import get_logger

log = get_logger(__name__)

#: the lock of this process's CPU, held open for the life of the process
_HELD: list[int] = []


def default_lock_dir() -> Path:
    """Where the pinned processes of this user on this machine hold their CPUs
    (``OPENAMI_CPU_LOCK_DIR`` to keep a group of processes apart, as the tests do)."""
    given = os.environ.get("OPENAMI_CPU_LOCK_DIR")
    return Path(given) if given else Path(tempfile.gettempdir()) / f"openami-cpus-{os.getuid()}"


def _pin_every_thread(cpu: int) -> None:
    """The process's threads (those there are, and those they start later) on ``cpu``."""
    os.sched_setaffinity(0, {cpu})
    for task in Path("/proc/self/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), {cpu})
        except (ProcessLookupError, ValueError):
            continue  # a thread that ended meanwhile


def pin_to_free_cpu(lock_dir: Path | None = None) -> int | None:
    """Pin this process to a CPU no other process pinned through ``lock_dir`` (default:
    :func:`default_lock_dir`) holds; the CPU, or None when every allowed CPU is taken (or
    the platform cannot pin)."""
    if not hasattr(os, "sched_setaffinity") or _HELD:
        return None
    lock_dir = lock_dir or default_lock_dir()
    allowed = sorted(os.sched_getaffinity(0))
    lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for cpu in allowed:
        fd = os.open(lock_dir / f"cpu-{cpu}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _HELD.append(fd)
        _pin_every_thread(cpu)
        log.info("cpu.pinned", cpu=cpu, pid=os.getpid())
        return cpu
    log.warning("cpu.not_pinned", reason="every CPU is held by another process", cpus=allowed)
    return None
