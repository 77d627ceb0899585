"""The registry's DLMS endpoints (revision 0014_meter_endpoints) and `dlms register-field`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from openami.cli.dlms import command as dlms
from openami.registry import Registry
from openami.storage.repositories import open_database
from openami.storage.repositories.meter_endpoints import MeterEndpoints


def test_endpoints_are_written_replaced_and_checked(tmp_path: Path) -> None:
    database = open_database(tmp_path / "r.sqlite")
    try:
        endpoints = MeterEndpoints(database)
        assert endpoints.put([3, 1, 2], "10.0.0.7", 4059, [3, 1, 2]) == 3
        endpoints.put([2], ["gw-2.example"], [4060], [9])  # moved to another gateway
        table = endpoints.all()
        assert table.meter_id.tolist() == [1, 2, 3]
        assert table.host == ["10.0.0.7", "gw-2.example", "10.0.0.7"]
        assert table.port.tolist() == [4059, 4060, 4059]
        assert table.logical_device.tolist() == [1, 9, 3]
        for bad in (
            lambda: endpoints.put([5], "h", 0, [1]),
            lambda: endpoints.put([5], "h", 4059, [70000]),
            lambda: endpoints.put([5], "", 4059, [1]),
            lambda: endpoints.put([5, 6], ["h"], 4059, [1, 2]),
        ):
            with pytest.raises(ValueError):
                bad()
        assert len(endpoints.all()) == 3  # nothing of the refused rows was written
        endpoints.remove([1])
        assert endpoints.all().meter_id.tolist() == [2, 3]
    finally:
        database.close()


def test_register_field_records_endpoints_and_installs_meters_once(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["register-field", "--meters", "5", "--port", "4100", "--data-dir", str(tmp_path)]
    for _ in range(2):  # again: the same rows, no second supply point per meter
        result = runner.invoke(dlms, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    database = open_database(tmp_path / "registry.sqlite")
    try:
        table = MeterEndpoints(database).all()
        assert table.meter_id.tolist() == [1, 2, 3, 4, 5]
        assert np.array_equal(table.logical_device, np.arange(1, 6))
        assert set(table.port.tolist()) == {4100}
        registry = Registry(database)
        assert registry.meter_count() == 5 and registry.supply_point_count() == 5
    finally:
        database.close()
    bad = runner.invoke(dlms, ["register-field", "--meters", "0", "--port", "1"])
    assert bad.exit_code != 0 and "65535" in bad.output
