"""Where slot files live, what they are called and what their manifests say.

Layout under the slot-file root (``DATA_DIR/slot-files``; directories 0700, files 0600)::

    <root>/retailer/<recipient dir>/<JST day>/<slot>-<kind>-<seq>.parquet | .csv
    <root>/_slots/<slot>/<kind>-<seq>.json      one manifest per pass over a slot
    <root>/_pending/<slot>-<kind>-<seq>         written before the manifest, removed once
                                               the pass's webhooks are queued

Every path component is built from validated values only: integers formatted here, one of
:data:`KINDS` and :data:`FORMATS`, and a recipient directory that is the retailer ID itself
when it matches :data:`_SAFE_ID` and ``~`` + the SHA-256 of the ID otherwise. A file ID
(``<slot>-<kind>-<seq>.<format>``) is parsed by :func:`parse_file_id`, never joined to a
path as text, and a file is looked up under the caller's own recipient directory only, so
one retailer's file ID names nothing under another's. Temporary files start with ``.`` and
never match :data:`FILE_ID`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from openami.clock import day_of_slot

KINDS = ("preliminary", "deadline", "correction")
FORMATS = ("parquet", "csv")
#: what a file ID looks like (also the API's path pattern)
FILE_ID = r"^(\d{1,12})-(preliminary|deadline|correction)-(\d{1,4})\.(parquet|csv)$"
_FILE_ID = re.compile(FILE_ID)
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
MEDIA_TYPES = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv"}


@dataclass(frozen=True)
class FileName:
    slot: int
    kind: str
    seq: int
    fmt: str

    @property
    def pass_name(self) -> str:
        return f"{self.kind}-{self.seq:03d}"

    @property
    def file_id(self) -> str:
        return f"{self.slot}-{self.kind}-{self.seq:03d}.{self.fmt}"


def parse_file_id(file_id: str) -> FileName | None:
    """The parts of a well-formed file ID, or None."""
    match = _FILE_ID.match(file_id)
    if match is None:
        return None
    slot, kind, seq, fmt = match.groups()
    return FileName(int(slot), kind, int(seq), fmt)


def recipient_dir(recipient: str) -> str:
    """A directory name for a retailer ID that can never leave its parent."""
    if _SAFE_ID.match(recipient):
        return recipient
    return "~" + hashlib.sha256(recipient.encode()).hexdigest()


@dataclass
class Manifest:
    """One pass over a slot: which files it wrote, as of when."""

    slot: int
    kind: str
    seq: int
    as_of_s: float  # values recorded up to this instant (the hub clock)
    changed_after_s: float | None  # a correction: only points changed after this instant
    written_at_s: float
    rows: dict[str, int] = field(default_factory=dict)  # retailer ID -> rows in its files

    @property
    def pass_name(self) -> str:
        return f"{self.kind}-{self.seq:03d}"


class Layout:
    """Paths under one root, and the small manifest files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def file_path(self, recipient: str, name: FileName) -> Path:
        day = day_of_slot(name.slot).isoformat()
        return self.root / "retailer" / recipient_dir(recipient) / day / name.file_id

    def manifest_path(self, slot: int, pass_name: str) -> Path:
        return self.root / "_slots" / str(int(slot)) / f"{pass_name}.json"

    def pending_path(self, slot: int, pass_name: str) -> Path:
        return self.root / "_pending" / f"{int(slot)}-{pass_name}"

    def make_dirs(self, path: Path) -> None:
        path.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)

    def write_small(self, path: Path, text: str) -> None:
        """Write-then-rename of a small text file (complete or absent)."""
        self.make_dirs(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with open(descriptor, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def save_manifest(self, manifest: Manifest) -> None:
        path = self.manifest_path(manifest.slot, manifest.pass_name)
        self.write_small(path, json.dumps(asdict(manifest), sort_keys=True))

    def manifests(self, slot: int) -> list[Manifest]:
        """The passes over ``slot`` that completed, in order of kind and sequence."""
        directory = self.root / "_slots" / str(int(slot))
        if not directory.is_dir():
            return []
        out = []
        for path in directory.glob("*.json"):
            if path.name.startswith("."):
                continue
            data = json.loads(path.read_text(encoding="utf-8"))
            out.append(Manifest(**data))
        return sorted(out, key=lambda m: (KINDS.index(m.kind), m.seq))

    def manifest(self, slot: int, pass_name: str) -> Manifest | None:
        path = self.manifest_path(slot, pass_name)
        if not path.exists():
            return None
        return Manifest(**json.loads(path.read_text(encoding="utf-8")))

    def pending(self) -> list[tuple[int, str]]:
        """(slot, pass name) of passes whose webhooks may not be queued yet."""
        directory = self.root / "_pending"
        if not directory.is_dir():
            return []
        out = []
        for path in directory.iterdir():
            slot, _, pass_name = path.name.partition("-")
            if slot.isdigit() and pass_name:
                out.append((int(slot), pass_name))
        return sorted(out)

    def clear_pending(self, slot: int, pass_name: str) -> None:
        self.pending_path(slot, pass_name).unlink(missing_ok=True)
