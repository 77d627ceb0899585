"""``pin_to_free_cpu``: processes pinned through one lock directory take distinct CPUs, one
more than there are CPUs is left unpinned, and a dead holder's CPU is taken again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# each child pins itself, says which CPU it got and its affinity, then waits for a line
CHILD = """
import os, sys
from pathlib import Path
from openami.cli.cpu_pin import pin_to_free_cpu
cpu = pin_to_free_cpu(Path(sys.argv[1]))
print("PINNED", cpu, sorted(os.sched_getaffinity(0)), flush=True)
sys.stdin.readline()
"""


def _start(lock_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(lock_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # the log lines come first
        if line.startswith("PINNED "):
            return proc, line.removeprefix("PINNED ").strip()
    raise AssertionError("the child said nothing")


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs or more")
def test_each_process_gets_a_cpu_of_its_own_until_none_is_left(tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    started = [_start(tmp_path) for _ in cpus]
    try:
        got = [line for _, line in started]
        assert got == [f"{cpu} [{cpu}]" for cpu in cpus]  # lowest free first, pinned there
        extra, line = _start(tmp_path)
        assert line == f"None {cpus}"  # none left: not pinned
        extra.communicate("\n", timeout=30)
        first, _ = started[0]
        first.kill()  # as kill -9: the kernel lets its lock go
        first.wait(30)
        again, line = _start(tmp_path)
        assert line == f"{cpus[0]} [{cpus[0]}]"
        again.communicate("\n", timeout=30)
    finally:
        for proc, _ in started:
            if proc.poll() is None:
                proc.communicate("\n", timeout=30)
