"""DLMS/COSEM meter emulator: many simulated meters behind one asyncio TCP endpoint."""

from openami.meter.dlms.catalog import meter_system_title
from openami.meter.dlms.objects import MeterObjects
from openami.meter.dlms.server import DlmsEmulator, EmulatorSecrets, wport_of

__all__ = ["DlmsEmulator", "EmulatorSecrets", "MeterObjects", "meter_system_title", "wport_of"]
