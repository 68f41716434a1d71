"""Shared test configuration: tests marked ``@pytest.mark.gpu`` run only where a CUDA GPU exists.

In: the collected test items.  Out: a skip marker, with its reason, on every gpu-marked test when
CuPy sees no CUDA device (the check imports nothing when CuPy is not installed).
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items) -> None:
    gpu = [item for item in items if "gpu" in item.keywords]
    if not gpu:
        return
    from tlang.backends.cupy import device_count
    if device_count() > 0:
        return
    skip = pytest.mark.skip(reason="no CUDA GPU on this machine")
    for item in gpu:
        item.add_marker(skip)


@pytest.fixture(scope="module")
def fake_gpu():
    """The NumPy-backed cupy stand-in (tests/fake_cupy.py), installed for one test module."""
    import sys

    import fake_cupy
    mp = pytest.MonkeyPatch()
    fake_cupy.forget_backends()
    fake_cupy.install(mp, devices=1)
    yield sys.modules["cupy"]
    mp.undo()
    fake_cupy.forget_backends()
