"""A NumPy-backed stand-in for the ``cupy`` and ``cupyx`` modules, for testing the CuPy code path
on machines without a GPU.

In: ``install(monkeypatch, devices=1)`` puts fresh ``cupy``/``cupyx`` module objects into
``sys.modules``.  Out: "device" arrays are ``fake_cupy.ndarray``, a numpy subclass, so a test
can check that results stayed on the fake device until ``cupy.asnumpy``.  Only what tlang uses
is provided: numpy's functions (wrapped to return device arrays), ``asnumpy``,
``cuda.runtime.getDeviceCount`` and ``cupyx.scatter_add``/``scatter_max``/``scatter_min``.
"""

from __future__ import annotations

import importlib.machinery
import types

import numpy as np


class ndarray(np.ndarray):  # noqa: N801 (cupy's name)
    """An array on the fake device."""


def _device(x):
    if isinstance(x, np.ndarray) and not isinstance(x, ndarray):
        return x.view(ndarray)
    if isinstance(x, np.generic):
        return np.asarray(x).view(ndarray)
    if isinstance(x, tuple):
        return tuple(_device(v) for v in x)
    return x


def _wrap(fn):
    def call(*args, **kwargs):
        return _device(fn(*args, **kwargs))
    call.__name__ = getattr(fn, "__name__", "fn")
    return call


def _module(name: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    return mod


class _CUDARuntimeError(RuntimeError):
    pass


def make(devices: int = 1) -> tuple[types.ModuleType, types.ModuleType]:
    """Fresh ``cupy`` and ``cupyx`` stand-ins seeing ``devices`` CUDA devices (-1: no driver)."""
    cupy = _module("cupy")
    cupy.ndarray = ndarray
    cupy.__version__ = "0.0-fake"

    def get_device_count() -> int:
        if devices < 0:
            raise _CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
        return devices

    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_device_count),
                                      CUDARuntimeError=_CUDARuntimeError)
    cupy.asnumpy = lambda x: np.array(x).view(np.ndarray)

    def getattr_(name: str):
        value = getattr(np, name)
        return _wrap(value) if callable(value) and not isinstance(value, type) else value

    cupy.__getattr__ = getattr_
    cupyx = _module("cupyx")

    def scatter(ufunc):
        def at(a, slices, value):
            ufunc.at(a, slices, value)
        return at

    cupyx.scatter_add = scatter(np.add)
    cupyx.scatter_max = scatter(np.maximum)
    cupyx.scatter_min = scatter(np.minimum)
    return cupy, cupyx


def install(monkeypatch, devices: int = 1) -> types.ModuleType:
    """Put the stand-ins into ``sys.modules`` for one test (``monkeypatch`` undoes it)."""
    cupy, cupyx = make(devices)
    monkeypatch.setitem(__import__("sys").modules, "cupy", cupy)
    monkeypatch.setitem(__import__("sys").modules, "cupyx", cupyx)
    return cupy


def forget_backends() -> None:
    """Drop tlang's cached cupy/jax backend objects and generated code (so the stand-in is seen)."""
    from tlang import backends, codegen
    backends._cache.pop("cupy", None)
    backends._cache.pop("jax", None)
    codegen.clear_caches()
