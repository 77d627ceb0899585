"""What a meter holds from the utility's B-route provisioning, for the emulated meters.

``openami broute wisun --provisioned DATA_DIR|URL --meter-id N`` reads the pair the HES
confirmed writing to meter N (:meth:`BrouteApplicationStore.meter_credentials`) from the
transactional store, so the virtual module answers joins with what the utility issued.
Read at most every :data:`REFRESH_S` seconds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from openami.broute.wisun import CredentialSource
from openami.meter.broute_credentials import BrouteCredentials
from openami.storage.repositories import open_database, open_in_data_dir
from openami.storage.repositories.broute_apps import BrouteApplicationStore

REFRESH_S = 2.0


def provisioned_source(where: str, meter_id: int) -> CredentialSource:
    """What meter ``meter_id`` holds, from a data directory or a database URL."""
    if "://" not in where and not Path(where).is_dir():
        raise ValueError(f"{where} is not a data directory")
    database = open_in_data_dir(where) if "://" not in where else open_database(where)
    store = BrouteApplicationStore(database)
    lock = threading.Lock()
    cached: list[tuple[float, BrouteCredentials | None]] = []

    def held() -> BrouteCredentials | None:
        with lock:
            now = time.monotonic()
            if not cached or now - cached[0][0] >= REFRESH_S:
                cached[:] = [(now, store.meter_credentials(meter_id))]
            return cached[0][1]

    return held
