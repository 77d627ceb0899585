"""Settings for the whole test suite.

- CLI output is checked as text: every test sees a wide terminal (``COLUMNS``), so a rich
  table never wraps an id in two, whatever the terminal (or pytest-xdist worker) reports.
- Ctrl-C (SIGINT) is back to Python's default in the test processes when the suite was
  started with SIGINT ignored (``make test &`` or ``nohup`` from a script: the shell
  ignores SIGINT in background jobs, and every process started beneath inherits that). The
  tests that stop a served command with SIGINT would otherwise wait for it in vain.
- ``make test`` runs the suite in two passes: most tests on several pytest-xdist workers,
  then the tests marked ``serial`` alone. A test is ``serial`` when it times real processes
  against each other (kill -9 and lease or ack timeouts, an accelerated cluster clock, a
  DLMS idle timeout, a Wi-SUN module's sub-second transmission hold and session
  lifetime): sharing the two cores with other tests' processes would stretch those
  timings, not change what the test proves.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

os.environ["COLUMNS"] = "200"
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:  # inherited from a background job
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: files (relative to tests/) whose tests run in the serial pass
SERIAL_FILES = frozenset(
    {
        "bus/test_jetstream_mdms.py",
        "broute/test_wisun_pty.py",
        "bus/test_jetstream_restart.py",
        "cli/test_serve_restart.py",
        "cluster/test_hes_dlms_cluster.py",
        "cluster/test_hes_mdms_workers.py",
        "cluster/test_hub_commands_cluster.py",
        "hems/test_hems_client.py",
        "hub/test_hub_replicas.py",
        "mdms/test_crash_safety.py",
        # starts a Spark JVM that keeps both cores busy for minutes
        "mdms/test_spark_engine.py",
        "mdms/test_worker_failover.py",
        "mdms/test_worker_serve.py",
        "mdms/test_worker_store_busy.py",
        "meter/test_dlms_emulator_gurux.py",
    }
)
_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        relative = (
            item.path.relative_to(_TESTS).as_posix() if item.path.is_relative_to(_TESTS) else ""
        )
        if relative in SERIAL_FILES:
            item.add_marker(pytest.mark.serial)
