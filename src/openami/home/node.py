"""A home's appliances as one ECHONET Lite node: node profile 0x0EF001 listing each device
object (AC 0x013001, battery 0x027D01, EV charger 0x027E01, water heater 0x026B01,
PV 0x027901, as the home has them).

:class:`ApplianceResponder` answers frames with the same node machine and service rules as
the meter (:func:`openami.broute.responder.respond_with`); :class:`ApplianceNode` is the
meter's UDP node (:class:`openami.broute.node.MeterNode`: IPv4/IPv6, reply-from-the-asked
address, multicast group, the instance-list INF at start) plus the status-change
announcements (状変アナウンス) of the Appendix: whenever an announced property (0x9D map)
changes, by a Set or by the model (an EV arriving, the battery starting to discharge), the
node sends an INF of it to the group and to its known peers. Appliances have no fixed-time
INF (that is a meter's).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from openami.broute.node import MeterNode
from openami.broute.responder import ResponderStats, respond_with
from openami.clock import Clock
from openami.home.model import HomeFleet
from openami.home.objects import EXPERIMENTAL_MANUFACTURER_CODE, home_objects
from openami.protocols.echonet import objects as obj
from openami.protocols.echonet.frame import Esv, Property
from openami.protocols.echonet.node import EchonetNode, Notification
from openami.protocols.echonet.objects import DeviceObject, node_profile

log = logging.getLogger(__name__)


class ApplianceResponder:
    """The ECHONET Lite side of home ``index`` of ``homes``."""

    def __init__(self, homes: HomeFleet, index: int, clock: Clock) -> None:
        self.homes = homes
        self.index = index
        self.clock = clock
        self.stats = ResponderStats()
        self.node = EchonetNode(clock.timestamp)
        self.devices = home_objects(homes, index)
        meter_id = int(homes.p.meter_ids[index])
        self.node_profile = node_profile(
            self.devices,
            manufacturer_code=EXPERIMENTAL_MANUFACTURER_CODE,
            unique_id=b"openhome" + (meter_id % 2**40).to_bytes(5, "big"),
            product_code=b"openami-home",
        )
        self.objects: tuple[DeviceObject, ...] = (self.node_profile, *self.devices)
        self._announced = self._announced_values()

    def device(self, eoj: int) -> DeviceObject:
        return next(d for d in self.devices if d.eoj == eoj)

    def respond(self, frame: bytes) -> list[bytes]:
        """Replies to one received frame; [] when none is due. Never raises on bad input."""
        return respond_with(self.node, self.objects, frame, self.stats)

    def instance_list_inf(self) -> bytes:
        instances = obj.encode_instance_list([d.eoj for d in self.devices])
        prop = Property(obj.EPC_INSTANCE_LIST_NOTIFICATION, instances)
        return self.node.send(Notification(obj.NODE_PROFILE_EOJ, obj.NODE_PROFILE_EOJ, (prop,)))

    def fixed_time_inf(self, now: datetime | None = None) -> bytes | None:
        return None  # appliances have no fixed-time notification

    def _announced_values(self) -> dict[tuple[int, int], bytes | None]:
        return {
            (d.eoj, epc): d.get(epc)
            for d in self.devices
            for epc in sorted(d.announced)
            if epc in d.getters
        }

    def status_changes(self) -> list[bytes]:
        """INF frames (one per object) of the announced properties changed since last time."""
        now = self._announced_values()
        changed: dict[int, list[Property]] = {}
        for (eoj, epc), value in now.items():
            if value is not None and self._announced.get((eoj, epc)) != value:
                changed.setdefault(eoj, []).append(Property(epc, value))
        self._announced = now
        return [
            self.node.send(Notification(eoj, obj.CONTROLLER_EOJ, tuple(props), Esv.INF))
            for eoj, props in changed.items()
        ]


class ApplianceNode(MeterNode[ApplianceResponder]):
    """The UDP node of a home's appliances, announcing status changes."""

    def announce_changes(self) -> int:
        frames = self.responder.status_changes()
        for frame in frames:
            self._notify(frame)
        return len(frames)

    def _handle(self, ep: Any, data: bytes, ancdata: Any, addr: Any) -> None:
        super()._handle(ep, data, ancdata, addr)
        self.announce_changes()  # a Set that changed something is announced at once

    async def _fixed_time_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                self.announce_changes()
            except Exception:  # keep announcing; one bad value must not stop the node
                log.exception("status-change announcement failed")
