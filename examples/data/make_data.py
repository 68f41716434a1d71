"""Regenerate the small data files the example programs read.

Run from anywhere: ``python examples/data/make_data.py``.  The seed is
fixed, so the files (and the expected answers written in the examples'
comments) never change.

- ``image.csv``: a 5 x 5 grey-level image (integers 0-3) for ``cnn.tl``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 2510


def image() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return rng.integers(0, 4, size=(5, 5))


def main() -> None:
    np.savetxt(HERE / "image.csv", image(), fmt="%d", delimiter=",")


if __name__ == "__main__":
    main()
