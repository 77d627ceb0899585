"""The MDMS tick state saved beside the interval store: one Arrow IPC file of columns with
a tag (what the state is in step with) in its schema metadata.

The file is complete or absent: it is written under a temporary name, flushed to disk and
renamed over the old one, so a crash while saving leaves the previous snapshot (or none).
A file that cannot be read (cut short, foreign, another format version) is reported as
absent with a reason, never half-loaded. :func:`open_snapshot` reads the tag first and the
record batches one at a time (a national state is 6-7 GiB: a reader keeps one batch of it
beside its own copy, not the whole file).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

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
    tag = {**tag, "rows": table.num_rows}
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
    """The snapshot at ``path`` read whole, or None when there is none. Raises
    :class:`SnapshotUnreadable` for a file that is not a snapshot of this format."""
    reader = open_snapshot(path)
    if reader is None:
        return None
    with reader:
        batches = list(reader.batches())
        table = pa.Table.from_batches(batches, schema=reader.schema)
        return Snapshot(table, reader.tag)


class SnapshotReader:
    """An open snapshot: its tag and schema (read first), then its record batches one by
    one (:meth:`batches`); close it (or use it as a context manager)."""

    def __init__(self, path: Path) -> None:
        self._file = pa.OSFile(str(path), "rb")
        try:
            self._reader = pa.ipc.open_file(self._file)
            self.tag = _tag_of(path, self._reader.schema)
        except (pa.ArrowInvalid, OSError) as exc:
            self._file.close()
            raise SnapshotUnreadable(f"{path.name}: not a readable Arrow file ({exc})") from None
        except SnapshotUnreadable:
            self._file.close()
            raise
        self._name = path.name
        self.schema = self._reader.schema.remove_metadata()

    @property
    def num_rows(self) -> int:
        """Rows of the snapshot (from its tag; counted batch by batch for a file without)."""
        rows = self.tag.get("rows")
        if isinstance(rows, int):
            return rows
        return sum(batch.num_rows for batch in self.batches())

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The record batches in order, each read when asked for."""
        for i in range(self._reader.num_record_batches):
            try:
                batch = self._reader.get_batch(i)
            except (pa.ArrowInvalid, OSError) as exc:
                raise SnapshotUnreadable(f"{self._name}: batch {i} unreadable ({exc})") from None
            yield batch.replace_schema_metadata(None)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SnapshotReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_snapshot(path: Path) -> SnapshotReader | None:
    """The snapshot at ``path`` opened (tag checked, no batch read yet), or None when there
    is none. Raises :class:`SnapshotUnreadable` for a file that is not a snapshot of this
    format."""
    if not path.exists():
        return None
    return SnapshotReader(path)


def _tag_of(path: Path, schema: pa.Schema) -> dict[str, object]:
    raw = (schema.metadata or {}).get(_TAG_KEY)
    if raw is None:
        raise SnapshotUnreadable(f"{path.name}: no openami tick-state tag")
    try:
        tag = json.loads(raw)
    except ValueError:
        raise SnapshotUnreadable(f"{path.name}: its tag is not JSON") from None
    if not isinstance(tag, dict) or tag.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotUnreadable(f"{path.name}: format {tag!r} is not {SNAPSHOT_FORMAT}")
    return tag


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
