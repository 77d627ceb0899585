"""The MDMS tick state saved beside the interval store: one Arrow IPC file of columns with
a tag (what the state is in step with) in its schema metadata.

The file is complete or absent: it is written under a temporary name, flushed to disk and
renamed over the old one, so a crash while saving leaves the previous snapshot (or none).
A file that cannot be read (cut short, foreign, another format version) is reported as
absent with a reason, never half-loaded.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

#: the layout of the file; a reader refuses any other
SNAPSHOT_FORMAT = 1
_TAG_KEY = b"openami.tick_state"


@dataclass(frozen=True)
class Snapshot:
    """A snapshot read back: its columns and the tag it was saved with."""

    table: pa.Table
    tag: dict[str, object]


class SnapshotUnreadable(Exception):
    """The snapshot file exists but cannot be used (the message says why)."""


def save_snapshot(path: Path, table: pa.Table, tag: dict[str, object]) -> int:
    """Write ``table`` with ``tag`` to ``path`` atomically (owner-only file); bytes written."""
    meta = {_TAG_KEY: json.dumps({"format": SNAPSHOT_FORMAT, **tag}).encode()}
    table = table.replace_schema_metadata(meta)
    tmp = path.with_name(path.name + ".partial")
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=1 << 22)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        _sync_directory(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path.stat().st_size


def load_snapshot(path: Path) -> Snapshot | None:
    """The snapshot at ``path`` (columns memory-mapped; copy what you keep), or None when
    there is none. Raises :class:`SnapshotUnreadable` for a file that is not a snapshot of
    this format."""
    if not path.exists():
        return None
    try:
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise SnapshotUnreadable(f"{path.name}: not a readable Arrow file ({exc})") from None
    raw = (table.schema.metadata or {}).get(_TAG_KEY)
    if raw is None:
        raise SnapshotUnreadable(f"{path.name}: no openami tick-state tag")
    try:
        tag = json.loads(raw)
    except ValueError:
        raise SnapshotUnreadable(f"{path.name}: its tag is not JSON") from None
    if not isinstance(tag, dict) or tag.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotUnreadable(f"{path.name}: format {tag!r} is not {SNAPSHOT_FORMAT}")
    return Snapshot(table.replace_schema_metadata(None), tag)


def remove_snapshot(path: Path) -> None:
    """Remove a snapshot that no longer matches its store (missing is fine)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX; ignored where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
