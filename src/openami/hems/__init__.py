"""HEMS side of the B route: a controller that reads a smart meter over UDP or Wi-SUN."""

from openami.hems.client import HemsError, HistorySlot, LiveReading, MeterClient, MeterTimeout

__all__ = ["HemsError", "HistorySlot", "LiveReading", "MeterClient", "MeterTimeout"]
