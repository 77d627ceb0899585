"""A home on the network: its appliances' ECHONET Lite node and, optionally, its smart
meter's (whose load includes the appliances), built from the seeded models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from openami.broute.node import ECHONET_PORT, MeterNode
from openami.broute.responder import MeterResponder
from openami.broute.simulated import simulated_fleet
from openami.clock import Clock
from openami.home.model import HomeFleet
from openami.home.node import ApplianceNode, ApplianceResponder
from openami.home.params import HomeParams
from openami.meter import MeterFleet, MeterView
from openami.protocols.echonet.smart_meter import EnergyScale


@dataclass
class ServedHome:
    fleet: MeterFleet
    homes: HomeFleet
    appliance_node: ApplianceNode
    meter_node: MeterNode | None

    @property
    def nodes(self) -> list[MeterNode]:
        return [self.appliance_node] + ([self.meter_node] if self.meter_node else [])


def build_home(
    home_id: int,
    clock: Clock,
    *,
    hosts: Sequence[str],
    port: int = ECHONET_PORT,
    meter_hosts: Sequence[str] = (),
    meter_port: int = ECHONET_PORT,
    seed: int = 1,
    pv_share: float = 0.15,
    shares: dict[str, float] | None = None,
    history_days: int = 1,
    retention_days: int = 45,
    reply_to_sender_port: bool = False,
    multicast: bool = True,
    poll_interval_s: float = 1.0,
    scale: EnergyScale | None = None,
) -> ServedHome:
    """Home ``home_id`` (its meter's id): the meter's seeded household model with the
    appliances attached (drawn from ``shares``: battery_share, ev_share, water_heater_share)."""
    fleet = simulated_fleet(
        np.array([home_id], dtype=np.int64),
        clock,
        seed=seed,
        pv_share=pv_share,
        history_days=history_days,
        retention_days=retention_days,
    )
    params = HomeParams.draw(fleet.params, seed, **(shares or {}))
    homes = HomeFleet(fleet.params, seed, clock.timestamp(), params=params, clock=clock)
    fleet.appliances = homes
    appliance_node = ApplianceNode(
        ApplianceResponder(homes, 0, clock),
        list(hosts),
        port,
        poll_interval_s=poll_interval_s,
        reply_to_sender_port=reply_to_sender_port,
        multicast=multicast,
    )
    meter_node = None
    if meter_hosts:
        responder = MeterResponder(
            MeterView(fleet, 0, clock), clock, retention_days=retention_days, scale=scale
        )
        meter_node = MeterNode(
            responder,
            list(meter_hosts),
            meter_port,
            reply_to_sender_port=reply_to_sender_port,
            multicast=multicast,
        )
    return ServedHome(fleet, homes, appliance_node, meter_node)
