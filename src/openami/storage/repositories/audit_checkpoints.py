"""Signed checkpoints of the audit chain, kept outside the database.

A checkpoint names one entry of the chain (its sequence number and keyed hash), when it was
taken (wall clock, epoch s) and which audit key the chain was keyed with (its public key
id), signed with the Ed25519 audit signing key. Checkpoints are appended, one JSON object a
line, to ``audit-checkpoints.jsonl`` in the key directory (0600), never to the database:
whoever can rewrite the database cannot rewrite them, nor sign new ones.

:meth:`openami.storage.repositories.audit.AuditLog.verify` checks every checkpoint's
signature and that the chain still holds the entry it names with the same hash: cutting the
log back past a checkpoint, or re-hashing it, is detected. Copy the file (or just the newest
line) somewhere the database's administrators cannot write to make it stronger still.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DOMAIN = b"openami-audit-checkpoint/1\n"
_write_lock = threading.Lock()


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: float  # wall clock, epoch s
    key_id: str  # public id of the audit key the chain is keyed with
    sig: str = ""  # Ed25519 signature, hex

    def payload(self) -> bytes:
        body = {"seq": self.seq, "hash": self.hash, "at": self.at, "key_id": self.key_id}
        return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(private: Ed25519PrivateKey, seq: int, digest: str, at: float, key_id: str) -> Checkpoint:
    unsigned = Checkpoint(int(seq), digest, float(at), key_id)
    return Checkpoint(
        unsigned.seq, digest, unsigned.at, key_id, private.sign(unsigned.payload()).hex()
    )


def append(path: Path, checkpoint: Checkpoint) -> None:
    """Append one checkpoint line (0600 file, flushed to disk before this returns)."""
    line = (json.dumps(asdict(checkpoint), sort_keys=True, separators=(",", ":")) + "\n").encode()
    with _write_lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def count(path: Path | None) -> int:
    """How many checkpoint lines the file holds (0 when there is none)."""
    if path is None or not path.is_file():
        return 0
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def read(path: Path | None, public: Ed25519PublicKey | None) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints whose signature holds, and a problem for every other line."""
    if path is None or not path.exists():
        return [], []
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"cannot read the checkpoints {path}: {exc}"]
    checkpoints: list[Checkpoint] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            checkpoint = Checkpoint(
                int(fields["seq"]),
                str(fields["hash"]),
                float(fields["at"]),
                str(fields["key_id"]),
                str(fields["sig"]),
            )
            signature = bytes.fromhex(checkpoint.sig)
        except (ValueError, KeyError, TypeError):
            problems.append(f"checkpoint line {number} of {path.name} is damaged")
            continue
        if public is None:
            problems.append(
                f"checkpoint line {number}: no public key (audit-signing.pub) to check it"
            )
            continue
        try:
            public.verify(signature, checkpoint.payload())
        except InvalidSignature:
            problems.append(f"checkpoint line {number}: the signature does not hold (forged)")
            continue
        checkpoints.append(checkpoint)
    return checkpoints, problems
