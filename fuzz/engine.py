"""What every harness shares: the harness shape, a byte reader and a seeded mutation loop.

A harness is a module under :mod:`fuzz.harnesses` with

- ``ALLOWED``: the exception classes the parser documents (its error root); anything else
  that escapes ``one_input`` is a finding;
- ``setup() -> Callable[[bytes], None]``: builds the target once and returns the function
  that takes one input;
- ``seeds() -> dict[str, bytes]``: small real inputs made with openami's own encoders (they
  are written to ``fuzz/corpus/<harness>/`` by ``python -m fuzz.corpus``).

:func:`mutation_loop` is the engine used without atheris (the pytest smoke, and the fallback
of ``make fuzz``): seeded, so a failing smoke run repeats exactly. It has no coverage
feedback; atheris (libFuzzer) does, which is why ``make fuzz`` prefers it.

Nothing here imports openami, so that atheris can instrument openami's modules when the
harness imports them.
"""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

CORPUS_DIR = Path(__file__).parent / "corpus"
HARNESSES = (
    "echonet_frame",
    "echonet_node",
    "skstack_module",
    "skstack_host",
    "dlms_apdu",
    "dlms_axdr",
    "dlms_wrapper",
    "dlms_server",
    "espi_reader",
    "bulk_csv",
    "bulk_parquet",
    "pana",
    "plc",
)

OneInput = Callable[[bytes], None]


class Finding(AssertionError):
    """A harness's own check failed (an invariant, not an exception from the target)."""


@dataclass
class Harness:
    name: str
    allowed: tuple[type[BaseException], ...]
    one_input: OneInput
    seeds: dict[str, bytes]
    max_len: int

    def run(self, data: bytes) -> bool:
        """One input: True when the target accepted it, False when it raised an allowed
        error. Anything else propagates: that is a finding."""
        try:
            self.one_input(data)
        except self.allowed:
            return False
        return True


def module(name: str) -> ModuleType:
    if name not in HARNESSES:
        raise KeyError(f"unknown harness {name!r}; known: {', '.join(HARNESSES)}")
    return importlib.import_module(f"fuzz.harnesses.{name}")


def load(name: str) -> Harness:
    mod = module(name)
    return Harness(
        name,
        tuple(mod.ALLOWED),
        mod.setup(),
        mod.seeds(),
        int(getattr(mod, "MAX_LEN", 4096)),
    )


def corpus(name: str, seeds: dict[str, bytes] | None = None) -> list[bytes]:
    """The committed corpus of ``name`` (its seeds when none is committed yet)."""
    folder = CORPUS_DIR / name
    files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    if files:
        return [p.read_bytes() for p in files]
    return list((seeds if seeds is not None else module(name).seeds()).values())


class ByteReader:
    """Structured values from fuzz bytes (what atheris' FuzzedDataProvider does, without
    atheris): every read succeeds, returning zeros once the bytes run out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def u8(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def rest(self) -> bytes:
        return self.take(self.left)

    def pick(self, options: tuple[object, ...] | list[object]) -> object:
        return options[self.u8() % len(options)]


# -- the mutation loop ---------------------------------------------------------------------------
_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x10, 0x81, 0x20, 0x0D, 0x0A, 0x2C, 0x3C)


def mutate(rng: random.Random, data: bytes, pool: list[bytes], max_len: int) -> bytes:
    """One to four random edits of ``data``: bit flips, interesting bytes, inserts,
    deletes, duplicated runs, truncation, splicing with another corpus entry."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        n = len(buf)
        if op == 0 and n:
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            buf[rng.randrange(n)] = rng.choice(_INTERESTING)
        elif op == 2:
            i = rng.randint(0, n)
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3 and n:
            i = rng.randrange(n)
            del buf[i : i + rng.randint(1, 8)]
        elif op == 4 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 16))
            buf[i:i] = buf[i:j]
        elif op == 5 and n:
            del buf[rng.randint(0, n) :]
        elif op == 6 and pool:
            other = rng.choice(pool)
            cut = rng.randint(0, n)
            buf = buf[:cut] + other[rng.randint(0, len(other)) :]
        elif n:
            i = rng.randrange(n)
            buf[i] = (buf[i] + rng.choice((1, -1, 16, -16))) & 0xFF
    return bytes(buf[:max_len])


def inputs(
    pool: list[bytes], rng: random.Random, max_len: int, *, random_share: float = 0.05
) -> Iterator[bytes]:
    """The corpus once as it is, then endless mutations (a few purely random inputs)."""
    yield from pool
    seeds = pool or [b""]
    while True:
        if rng.random() < random_share:
            yield bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        else:
            yield mutate(rng, rng.choice(seeds), seeds, max_len)


@dataclass
class LoopResult:
    inputs: int
    accepted: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.inputs / self.seconds if self.seconds > 0 else 0.0


def mutation_loop(
    harness: Harness,
    *,
    count: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    pool: Iterable[bytes] | None = None,
) -> LoopResult:
    """Run ``harness`` over its corpus and mutations until ``count`` inputs or ``seconds``
    have passed. A finding propagates with the input attached as ``exc.fuzz_input``."""
    if count is None and seconds is None:
        raise ValueError("give count or seconds")
    rng = random.Random(seed)
    corpus_inputs = list(pool) if pool is not None else corpus(harness.name, harness.seeds)
    start = time.perf_counter()
    deadline = None if seconds is None else start + seconds
    done = accepted = 0
    for data in inputs(corpus_inputs, rng, harness.max_len):
        try:
            accepted += harness.run(data)
        except BaseException as exc:
            exc.fuzz_input = data  # type: ignore[attr-defined]
            raise
        done += 1
        if count is not None and done >= count:
            break
        if deadline is not None and done % 64 == 0 and time.perf_counter() >= deadline:
            break
    return LoopResult(done, accepted, time.perf_counter() - start)
