"""The numpy backend: dense arrays, planned contractions (``tlang.plan``), ``np.*.at`` scatters.

In: arrays and einsum specs from ``tlang.lower``.  Out: numpy arrays.  The
reference backend: every other backend is tested against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..einsum_api import contract_numpy

_SCATTER = {"sum": np.add, "max": np.maximum, "min": np.minimum}


class NumpyBackend:
    name = "numpy"
    xp = np

    def asarray(self, x: Any) -> np.ndarray:
        return np.asarray(x, dtype=float)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def einsum(self, spec: str, *operands: Any) -> np.ndarray:
        return contract_numpy(spec, operands)  # the cached plan: no path search after the first call

    def scatter(self, shape: tuple[int, ...], positions: tuple[Any, ...], values: Any, op: str) -> np.ndarray:
        ufunc = _SCATTER[op]
        init = {"sum": 0.0, "max": -np.inf, "min": np.inf}[op]
        out = np.full(shape, init)
        ufunc.at(out, positions, values)
        if op != "sum":
            hit = np.zeros(shape, dtype=bool)
            hit[positions] = True
            out[~hit] = 0.0
        return out


def make() -> NumpyBackend:
    return NumpyBackend()
