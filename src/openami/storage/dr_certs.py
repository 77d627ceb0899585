"""The DR channel's certificate files: one directory (0700) holding the CA, the VTN's
server certificate and each VEN's client certificate, private keys 0600, each file written
to a temporary name and renamed (never half written)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(name: str) -> str:
    """A VEN or VTN name usable in a file name (letters, digits, ``.``, ``_``, ``-``)."""
    if not _NAME.match(name):
        raise ValueError("a name is 1–64 letters, digits, '.', '_' or '-', starting alphanumeric")
    return name


@dataclass(frozen=True)
class PemPair:
    cert: Path
    key: Path


class DrCertFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def pair(self, name: str) -> PemPair:
        check_name(name)
        return PemPair(self.directory / f"{name}.pem", self.directory / f"{name}.key")

    @property
    def ca(self) -> PemPair:
        return self.pair("ca")

    def exists(self, name: str) -> bool:
        pair = self.pair(name)
        return pair.cert.exists() and pair.key.exists()

    def read(self, name: str) -> tuple[bytes, bytes]:
        pair = self.pair(name)
        return pair.cert.read_bytes(), pair.key.read_bytes()

    def write(self, name: str, cert_pem: bytes, key_pem: bytes) -> PemPair:
        """Write a certificate (0644) and its key (0600); an existing pair is refused."""
        pair = self.pair(name)
        if pair.cert.exists() or pair.key.exists():
            raise FileExistsError(f"{pair.cert} exists already")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write(pair.key, key_pem, 0o600)
        _write(pair.cert, cert_pem, 0o644)
        return pair


def _write(path: Path, data: bytes, mode: int) -> None:
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
