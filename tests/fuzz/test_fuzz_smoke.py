"""A short smoke run of every fuzz harness (``make fuzz`` runs them for minutes): the
committed corpus, then seeded mutations, a fixed number of inputs each (≈1–2 s per harness,
so the whole file stays well under a minute). A finding fails the test with the input."""

from __future__ import annotations

import pytest
from fuzz.engine import CORPUS_DIR, HARNESSES, Harness, load, mutation_loop

# inputs per harness: about two seconds each on a 2-core VM, without atheris' instrumentation
SMOKE_INPUTS = {
    "echonet_frame": 20_000,
    "echonet_node": 1_000,
    "skstack_module": 2_000,
    "skstack_host": 2_000,
    "dlms_apdu": 10_000,
    "dlms_axdr": 10_000,
    "dlms_wrapper": 4_000,
    "dlms_server": 4_000,
    "espi_reader": 3_000,
    "bulk_csv": 100,
    "bulk_parquet": 120,
    "pana": 1_500,
    "plc": 1_500,
}


def test_every_harness_has_a_smoke_budget() -> None:
    assert set(SMOKE_INPUTS) == set(HARNESSES)


@pytest.mark.parametrize("name", HARNESSES)
def test_harness_smoke(name: str) -> None:
    harness = load(name)
    count = SMOKE_INPUTS[name]
    try:
        result = mutation_loop(harness, count=count, seed=15)
    except BaseException as exc:
        data = getattr(exc, "fuzz_input", None)
        raise AssertionError(f"{name} finding on input {data!r}: {exc!r}") from exc
    assert result.inputs == count
    # the corpus is real traffic: most of it must be accepted, or the harness tests nothing
    corpus = [p.read_bytes() for p in sorted((CORPUS_DIR / name).iterdir())]
    accepted = sum(harness.run(data) for data in corpus)
    assert accepted >= len(corpus) // 2, f"{name}: only {accepted}/{len(corpus)} seeds accepted"


@pytest.mark.parametrize("name", HARNESSES)
def test_committed_corpus_holds_every_seed(name: str) -> None:
    """The seeds come from openami's encoders; ``python -m fuzz.corpus`` rewrites them."""
    harness = load(name)
    folder = CORPUS_DIR / name
    for seed_name, data in harness.seeds.items():
        path = folder / seed_name
        assert path.is_file(), f"{path} missing: run python -m fuzz.corpus"
        assert path.read_bytes() == data, f"{path} is stale: run python -m fuzz.corpus"


def test_the_loop_reports_what_the_target_does_not_document() -> None:
    def target(data: bytes) -> None:
        if b"\x00" in data:
            raise KeyError("not documented")
        raise ValueError("documented")

    harness = Harness("toy", (ValueError,), target, {"a": b"ab"}, 16)
    with pytest.raises(KeyError) as caught:
        mutation_loop(harness, count=10_000, seed=1, pool=[b"ab"])
    assert b"\x00" in caught.value.fuzz_input  # type: ignore[attr-defined]
    quiet = Harness("toy", (ValueError, KeyError), target, {"a": b"ab"}, 16)
    assert mutation_loop(quiet, count=500, seed=1, pool=[b"ab"]).accepted == 0
