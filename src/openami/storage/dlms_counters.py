"""DLMS invocation counters on disk, so a restart never lets a counter be used twice.

Both ends of a suite-0 association must remember counters across restarts (issue #15 §2):
the meter the highest counter it accepted from each client (else an old AARQ or a captured
ciphered ACTION is accepted again after a reboot) and the next counter it sends; the HES the
next counter it will use with each meter (else it must ask the meter's public value, which a
man in the middle controls).

:class:`CounterFiles` keeps one small JSON document per name (a meter, or a meter as seen by
one client system title) in a directory: the directory is 0700, each file 0600, written
atomically (a temporary file in the same directory, flushed and fsynced, then renamed over
the old one), so a crash leaves either the old or the new value, never a torn file. A file
that does not parse raises :class:`CounterFileError`: the caller must not guess a counter.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

DIR_MODE = 0o700
FILE_MODE = 0o600
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,120}$")


class CounterFileError(RuntimeError):
    """A counter file that cannot be read or written: never guess a counter instead."""


def write_private_atomically(path: Path, data: bytes, sync: bool = True) -> None:
    """Write ``data`` to ``path`` (mode 0600) by write-then-rename in the same directory;
    ``sync=False`` skips the fsyncs (the file survives a killed process, not a power loss)."""
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            if sync:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if not sync:
        return
    with contextlib.suppress(OSError):  # the rename itself durable where the OS allows
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def private_directory(directory: Path) -> Path:
    """Create ``directory`` (0700) if needed; tighten it if it exists."""
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(directory, DIR_MODE)
    return directory


class CounterFiles:
    """Named JSON counter documents in one private directory (``sync=False``: written
    without fsync, for emulated fields of thousands of meters in one process)."""

    def __init__(self, directory: Path, sync: bool = True) -> None:
        self.directory = private_directory(Path(directory))
        self.sync = sync

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"not a counter file name: {name!r}")
        return self.directory / f"{name}.json"

    def load(self, name: str) -> dict[str, Any] | None:
        """The document saved under ``name``, or None when there is none yet."""
        path = self._path(name)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CounterFileError(f"cannot read {path}: {exc}") from exc
        try:
            document = json.loads(raw)
        except ValueError as exc:
            raise CounterFileError(f"{path} is damaged ({exc}); refusing to guess") from exc
        if not isinstance(document, dict):
            raise CounterFileError(f"{path} is not a counter document")
        return document

    def save(self, name: str, document: dict[str, Any]) -> None:
        try:
            write_private_atomically(self._path(name), json.dumps(document).encode(), self.sync)
        except OSError as exc:
            raise CounterFileError(f"cannot write counters {name}: {exc}") from exc


class MeterCounterFiles:
    """The meter emulator's counters: one file per meter id (``meter-<id>.json``)."""

    def __init__(self, directory: Path, sync: bool = True) -> None:
        self.files = CounterFiles(directory, sync)

    def load(self, meter_id: int) -> dict[str, Any] | None:
        return self.files.load(f"meter-{int(meter_id)}")

    def save(self, meter_id: int, document: dict[str, Any]) -> None:
        self.files.save(f"meter-{int(meter_id)}", document)


class ClientCounterFiles:
    """The HES's next invocation counter per (our system title, meter key)."""

    def __init__(self, directory: Path) -> None:
        self.files = CounterFiles(directory)

    def _name(self, system_title: bytes, meter_key: str) -> str:
        return f"{system_title.hex()}@{meter_key}"

    def next_counter(self, system_title: bytes, meter_key: str) -> int | None:
        document = self.files.load(self._name(system_title, meter_key))
        if document is None:
            return None
        value = document.get("next")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CounterFileError(f"bad counter for {meter_key}: {value!r}")
        return value

    def save_next(self, system_title: bytes, meter_key: str, next_counter: int) -> None:
        self.files.save(self._name(system_title, meter_key), {"next": int(next_counter)})


__all__ = [
    "ClientCounterFiles",
    "CounterFileError",
    "CounterFiles",
    "MeterCounterFiles",
    "private_directory",
    "write_private_atomically",
]
