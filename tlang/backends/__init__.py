"""Backend registry: name -> backend object, imported lazily.

In: a backend name (``numpy``, ``jax``, ``cupy``, ``auto``).  Out: an object
with the ``Backend`` protocol below.  An unavailable backend is an error only
when it is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from ..source import TlangError


class Backend(Protocol):
    name: str
    xp: Any

    def asarray(self, x: Any) -> Any: ...
    def to_numpy(self, x: Any) -> Any: ...
    def einsum(self, spec: str, *operands: Any) -> Any: ...
    def scatter(self, shape: tuple[int, ...], positions: tuple[Any, ...], values: Any, op: str) -> Any: ...


_MODULES = {"numpy": "tlang.backends.numpy", "jax": "tlang.backends.jax", "cupy": "tlang.backends.cupy"}
_cache: dict[str, Backend] = {}
AUTO = "auto"  # cupy when a CUDA device is present, else jax when installed, else numpy


class BackendError(TlangError):
    """A backend is unknown or cannot run here."""


def get_backend(name: str | None = "numpy") -> Backend:
    """The backend called ``name`` (``None`` means numpy; ``auto`` see ``resolve``)."""
    name = resolve(name or "numpy")
    if name in _cache:
        return _cache[name]
    if name not in _MODULES:
        raise BackendError(f"unknown backend '{name}'", None,
                           [f"backends: {', '.join(sorted(_MODULES))}, {AUTO}"])
    mod = importlib.import_module(_MODULES[name])
    backend = mod.make()
    _cache[name] = backend
    return backend


def resolve(name: str) -> str:
    """``auto`` -> cupy if a CUDA device is present, else jax if installed, else numpy."""
    if name != AUTO:
        return name
    from .cupy import device_count
    from .jax import available
    return "cupy" if device_count() > 0 else "jax" if available() else "numpy"


def register(name: str, module: str) -> None:
    """Add a backend module (it must define ``make()``)."""
    _MODULES[name] = module
    _cache.pop(name, None)
