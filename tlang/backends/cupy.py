"""The CuPy backend: the numpy lowering on CUDA arrays (generated code with ``import cupy as xp``).

In: arrays and einsum specs.  Out: ``cupy.ndarray`` (float64, like numpy).
``make()`` raises a ``BackendError`` that says which of the two problems
stops it: CuPy is not installed, or no CUDA device is visible.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np


def device_count() -> int:
    """CUDA devices CuPy can see; 0 when CuPy is missing or CUDA is not usable."""
    if importlib.util.find_spec("cupy") is None:
        return 0
    try:
        import cupy
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, no runtime library, ...
        return 0


class CupyBackend:
    name = "cupy"

    def __init__(self, cupy: Any) -> None:
        self.xp = cupy

    def asarray(self, x: Any) -> Any:
        return self.xp.asarray(x, dtype=float)

    def to_numpy(self, x: Any) -> np.ndarray:
        return self.xp.asnumpy(x) if isinstance(x, self.xp.ndarray) else np.asarray(x)

    def einsum(self, spec: str, *operands: Any) -> Any:
        from ..codegen_runtime import runtime
        return runtime("cupy").einsum(spec, *operands)

    def scatter(self, shape: tuple[int, ...], positions: tuple[Any, ...], values: Any, op: str) -> Any:
        from ..codegen_runtime import runtime
        return runtime("cupy").scatter(shape, positions, values, op)


def make() -> CupyBackend:
    from . import BackendError
    if importlib.util.find_spec("cupy") is None:
        raise BackendError("the cupy backend needs CuPy, which is not installed", None,
                           ["install it with: pip install 'tlang[cupy]'  (cupy-cuda12x; needs an NVIDIA GPU)",
                            "or use --backend jax or --backend numpy"])
    import cupy
    try:
        n = int(cupy.cuda.runtime.getDeviceCount())
        reason = "CUDA reports no device"
    except Exception as e:  # CUDARuntimeError: no driver / insufficient driver
        n, reason = 0, f"CUDA is not usable: {e}"
    if n == 0:
        raise BackendError("the cupy backend needs a CUDA GPU, but none was found (CuPy is installed)", None,
                           [reason, "use --backend jax or --backend numpy, or --backend auto"])
    return CupyBackend(cupy)
