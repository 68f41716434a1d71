"""The JAX backend: jax.numpy arrays; programs run as jitted generated code (``tlang.codegen``).

In: arrays and einsum specs.  Out: ``jax.Array``.  ``make()`` raises a
``BackendError`` when JAX is not installed.  Dtype policy: JAX's default
float (float32) unless x64 is enabled (``x64=True``, ``TLANG_X64=1`` or
JAX's own ``JAX_ENABLE_X64``); see docs/backends.md.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np


def available() -> bool:
    """Whether JAX can be imported (without importing it)."""
    return importlib.util.find_spec("jax") is not None


class JaxBackend:
    name = "jax"

    def __init__(self) -> None:
        import jax
        import jax.numpy as jnp
        self.jax = jax
        self.xp = jnp

    def asarray(self, x: Any) -> Any:
        return self.xp.asarray(x, dtype=float)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def einsum(self, spec: str, *operands: Any) -> Any:
        return self.xp.einsum(spec, *operands)

    def scatter(self, shape: tuple[int, ...], positions: tuple[Any, ...], values: Any, op: str) -> Any:
        from ..codegen_runtime import runtime
        return runtime("jax").scatter(shape, positions, values, op)


def make() -> JaxBackend:
    from . import BackendError
    if not available():
        raise BackendError("the jax backend needs JAX, which is not installed", None,
                           ["install it with: pip install 'tlang[jax]'  (or pip install jax)"])
    return JaxBackend()
