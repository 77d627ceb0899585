"""The registry's DLMS endpoints: where the HES reaches each meter (host, port, logical
device). Written by provisioning (``openami dlms register-field``), read by the HES service."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from openami.storage.sql.database import Database
from openami.storage.sql.endpoint_tables import meter_endpoints
from openami.storage.sql.upsert import insert_statement

_e = meter_endpoints
MAX_WPORT = 0xFFFF


@dataclass(frozen=True)
class EndpointTable:
    """Every meter's endpoint, one row per meter, sorted by meter id (columnar)."""

    meter_id: npt.NDArray[np.int64]
    host: list[str]
    port: npt.NDArray[np.int64]
    logical_device: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.meter_id)


class MeterEndpoints:
    def __init__(self, database: Database) -> None:
        self.database = database

    def put(
        self,
        meter_ids: npt.ArrayLike,
        host: str | list[str],
        port: int | npt.ArrayLike,
        logical_device: npt.ArrayLike,
    ) -> int:
        """Record (or change) meters' endpoints in one transaction; returns rows written.

        Raises ValueError for a port or logical device outside 1…65535 or an empty host."""
        ids = np.asarray(meter_ids, dtype=np.int64).ravel()
        ports = np.broadcast_to(np.asarray(port, dtype=np.int64), ids.shape)
        devices = np.broadcast_to(np.asarray(logical_device, dtype=np.int64), ids.shape)
        hosts = [host] * len(ids) if isinstance(host, str) else list(host)
        if len(hosts) != len(ids) or len(devices) != len(ids):
            raise ValueError("one host, port and logical device per meter")
        if len(ids) and (ports.min() < 1 or ports.max() > MAX_WPORT):
            raise ValueError("ports are 1…65535")
        if len(ids) and (devices.min() < 1 or devices.max() > MAX_WPORT):
            raise ValueError("logical devices (wPorts) are 1…65535")
        if any(not h or len(h) > 255 for h in hosts):
            raise ValueError("a host is a name or address of 1…255 characters")
        now = time.time()
        rows = [
            {
                "meter_id": int(m),
                "host": h,
                "port": int(p),
                "logical_device": int(d),
                "updated_at": now,
            }
            for m, h, p, d in zip(
                ids.tolist(), hosts, ports.tolist(), devices.tolist(), strict=True
            )
        ]
        if not rows:
            return 0
        with self.database.write() as connection:
            statement = insert_statement(connection, _e)
            changed = {k: statement.excluded[k] for k in rows[0] if k != "meter_id"}
            connection.execute(
                statement.on_conflict_do_update(index_elements=["meter_id"], set_=changed), rows
            )
        return len(rows)

    def remove(self, meter_ids: npt.ArrayLike) -> None:
        ids = [int(m) for m in np.asarray(meter_ids, dtype=np.int64).ravel()]
        with self.database.write() as connection:
            connection.execute(sa.delete(_e).where(_e.c.meter_id.in_(ids)))

    def all(self) -> EndpointTable:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_e.c.meter_id, _e.c.host, _e.c.port, _e.c.logical_device).order_by(
                    _e.c.meter_id
                )
            ).all()
        return EndpointTable(
            np.array([r[0] for r in rows], dtype=np.int64),
            [str(r[1]) for r in rows],
            np.array([r[2] for r in rows], dtype=np.int64),
            np.array([r[3] for r in rows], dtype=np.int64),
        )
