"""Run the fuzz harnesses: ``python -m fuzz.run [--seconds N] [--engine E] [harness ...]``.

Each harness runs in a child process for ``--seconds`` (default ``$FUZZ_SECONDS``, else
60). With atheris installed (the ``fuzz`` extra) the child is libFuzzer with coverage
feedback over openami's instrumented modules: it reads the committed corpus
``fuzz/corpus/<harness>/`` and writes the inputs it finds to ``fuzz/work/<harness>/`` (not
committed), and a crashing input to ``fuzz/crashes/<harness>-crash-<sha1>``. Without atheris
the child runs the seeded mutation loop of :mod:`fuzz.engine`. At the end a table of inputs
and inputs/s per harness is printed and written to ``fuzz/work/last-run.md``; the exit code
is 1 when any harness found a crash.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

from fuzz.engine import CORPUS_DIR, HARNESSES, load, module, mutation_loop

ROOT = Path(__file__).parent
WORK = ROOT / "work"
CRASHES = ROOT / "crashes"
_STAT = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_DONE = re.compile(r"^FUZZ-DONE inputs=(\d+)", re.M)


def _child_atheris(name: str, seconds: int) -> None:
    import atheris

    with atheris.instrument_imports(include=["openami"]):
        mod = module(name)
    one_input = mod.setup()
    allowed = tuple(mod.ALLOWED)

    def test_one_input(data: bytes) -> None:
        try:  # noqa: SIM105 - the hot loop: a bare try is cheaper than contextlib.suppress
            one_input(data)
        except allowed:
            pass

    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    CRASHES.mkdir(exist_ok=True)
    args = [
        sys.argv[0],
        str(work),
        str(CORPUS_DIR / name),
        f"-max_total_time={seconds}",
        f"-max_len={getattr(mod, 'MAX_LEN', 4096)}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={CRASHES}/{name}-",
    ]
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


def _child_loop(name: str, seconds: int) -> None:
    harness = load(name)
    try:
        result = mutation_loop(harness, seconds=seconds, seed=int(time.time()))
    except BaseException as exc:
        data = getattr(exc, "fuzz_input", b"")
        CRASHES.mkdir(exist_ok=True)
        import hashlib

        path = CRASHES / f"{name}-crash-{hashlib.sha1(data).hexdigest()}"
        path.write_bytes(data)
        traceback.print_exc()
        print(f"==FINDING== input written to {path}", file=sys.stderr)
        sys.exit(1)
    print(f"FUZZ-DONE inputs={result.inputs}")


def _run_one(name: str, seconds: int, engine: str) -> tuple[int, float, bool]:
    WORK.mkdir(exist_ok=True)
    log = WORK / f"{name}.log"
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "fuzz.run", "--child", engine, "--seconds", str(seconds), name],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT.parent,
            env={**os.environ, "PYTHONPATH": str(ROOT.parent)},
            check=False,
        )
    elapsed = time.perf_counter() - started
    text = log.read_text(errors="replace")
    found = _STAT.findall(text) or _DONE.findall(text)
    inputs = int(found[-1]) if found else 0
    return inputs, elapsed, proc.returncode != 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run")
    parser.add_argument("harnesses", nargs="*", default=list(HARNESSES))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", 60)))
    parser.add_argument("--engine", choices=("auto", "atheris", "loop"), default="auto")
    parser.add_argument("--child", choices=("atheris", "loop"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        (name,) = args.harnesses
        (_child_atheris if args.child == "atheris" else _child_loop)(name, args.seconds)
        return 0
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if importlib.util.find_spec("atheris") else "loop"
        if engine == "loop":
            print("atheris is not installed: mutation loop without coverage feedback")
    rows = ["| harness | inputs | seconds | inputs/s | result |", "|---|---:|---:|---:|---|"]
    total_inputs, total_s, failed = 0, 0.0, []
    for name in args.harnesses:
        inputs, elapsed, crashed = _run_one(name, args.seconds, engine)
        total_inputs += inputs
        total_s += elapsed
        verdict = f"CRASH (see fuzz/work/{name}.log)" if crashed else "ok"
        if crashed:
            failed.append(name)
        rows.append(
            f"| {name} | {inputs:,} | {elapsed:.0f} | {inputs / elapsed:,.0f} | {verdict} |"
        )
        print(rows[-1], flush=True)
    rows.append(f"| total ({engine}) | {total_inputs:,} | {total_s:.0f} | | |")
    table = "\n".join(rows)
    (WORK / "last-run.md").write_text(table + "\n")
    print(table)
    if failed:
        print(f"crashes in: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
