"""Write every harness's seeds to ``fuzz/corpus/<harness>/`` (``python -m fuzz.corpus``).

The seeds are made by openami's own encoders (see each harness's ``seeds()``), so the
committed corpus can be rebuilt after a codec changes. Files written by hand (a crashing
input kept as a regression, named ``crash-…``) are left alone.
"""

from __future__ import annotations

import sys

from fuzz.engine import CORPUS_DIR, HARNESSES, module


def write(name: str) -> int:
    folder = CORPUS_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    seeds = module(name).seeds()
    for seed_name, data in seeds.items():
        (folder / seed_name).write_bytes(data)
    return len(seeds)


def main(argv: list[str]) -> int:
    for name in argv or HARNESSES:
        print(f"{name}: {write(name)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
