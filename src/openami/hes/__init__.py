"""Head-end system: collection schedules, retries, backfill, commands, alarms and clocks.

- :mod:`openami.hes.engine`: ``HeadEnd``, collection over the statistical network model;
- :mod:`openami.hes.commands`: the command queue (correlation IDs, priorities, read-back);
- :mod:`openami.hes.throttle`: per-concentrator / per-cell session permits;
- :mod:`openami.hes.journal`: command outcomes, alarms, clock days, suspected outages;
- :mod:`openami.hes.over_dlms`: the same over DLMS/TCP (``openami.hes.dlms`` client).
"""
