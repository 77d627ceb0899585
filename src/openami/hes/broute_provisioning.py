"""Writing B-route credentials into meters over the A route, confirmed by read-back.

The command ``SET_BROUTE_CREDENTIALS`` carries no secret: its argument is the credential
version of the supply point's B-route application. When the command reaches the meter the
HES asks its :data:`CredentialSource` (the application store, wired in
:mod:`openami.wiring`) for that version's pair, writes it, and reads back the ID and a
proof of the password over a fresh challenge
(:func:`openami.meter.broute_credentials.password_proof`), so the password never travels
back nor enters the HES journal. Version 0 clears the pair (revocation); its read-back is
"no ID". A version the source no longer knows (superseded by a rotation, or revoked
meanwhile) ends the command ``FAILED``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from openami.meter.broute_credentials import BrouteCredentials, password_proof
from openami.meter.fleet import MeterFleet

#: (meter_id, credential version) -> the pair to write, None when unknown
CredentialSource = Callable[[int, int], BrouteCredentials | None]
CLEAR_VERSION = 0


def expected_credentials(
    source: CredentialSource | None,
    meter_ids: npt.NDArray[np.int64],
    versions: npt.NDArray[np.int64],
) -> list[BrouteCredentials | None]:
    """The pair each command should write (None: clear, or unknown: see :func:`confirmed`)."""
    if source is None:
        return [None] * len(meter_ids)
    return [
        None if int(v) == CLEAR_VERSION else source(int(m), int(v))
        for m, v in zip(meter_ids.tolist(), versions.tolist(), strict=True)
    ]


def write(
    fleet: MeterFleet,
    positions: npt.NDArray[np.int64],
    versions: npt.NDArray[np.int64],
    expected: list[BrouteCredentials | None],
) -> None:
    """The meters at ``positions`` take their pair (or forget theirs for version 0)."""
    for pos, version, pair in zip(positions.tolist(), versions.tolist(), expected, strict=True):
        if int(version) == CLEAR_VERSION:
            fleet.broute.clear(pos)
        elif pair is not None:
            fleet.broute.set(pos, pair)


def confirmed(
    fleet: MeterFleet,
    positions: npt.NDArray[np.int64],
    versions: npt.NDArray[np.int64],
    expected: list[BrouteCredentials | None],
) -> npt.NDArray[np.bool_]:
    """The read-back: does each meter hold what was to be written?"""
    out = np.zeros(len(positions), dtype=np.bool_)
    for i, (pos, version, pair) in enumerate(
        zip(positions.tolist(), versions.tolist(), expected, strict=True)
    ):
        if int(version) == CLEAR_VERSION:
            out[i] = fleet.broute.rbid(pos) is None
            continue
        if pair is None or fleet.broute.rbid(pos) != pair.rbid:
            continue
        challenge = secrets.token_bytes(16)
        proof = fleet.broute.proof(pos, challenge)
        out[i] = proof is not None and hmac.compare_digest(
            proof, password_proof(pair.password, challenge)
        )
    return out


def restore(fleet: MeterFleet, held: dict[int, BrouteCredentials]) -> int:
    """Give the meter models back the pairs they were confirmed to hold (after a restart:
    the simulated meters keep them in memory only); meters not in the fleet are skipped."""
    restored = 0
    for meter_id, pair in held.items():
        try:
            position = int(fleet.index_of([meter_id])[0])
        except KeyError:
            continue
        fleet.broute.set(position, pair)
        restored += 1
    return restored
