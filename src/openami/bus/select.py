"""Which bus adapter a running openami uses: in-process unless ``bus_url`` is set."""

from __future__ import annotations

from openami.bus.inprocess import InProcessBus
from openami.bus.port import Bus
from openami.bus.route import Loader, MeterRoute
from openami.settings import Settings


def open_bus(settings: Settings, installations: Loader) -> Bus:
    """The bus of ``settings``: NATS JetStream at ``bus_url`` (rows partitioned by the
    supply point each meter is installed at, from ``installations``), else in-process."""
    if settings.bus_url is None:
        return InProcessBus()
    from openami.bus.jetstream import JetStreamBus, JetStreamConfig  # only when asked for

    config = JetStreamConfig(
        url=settings.bus_url, prefix=settings.bus_prefix, partitions=settings.bus_partitions
    )
    return JetStreamBus(config, route=MeterRoute(installations))
