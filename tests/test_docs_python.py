"""docs/python.md is correct: every example in it runs as a doctest (from the repository root,
so its relative paths such as examples/cnn.tl resolve)."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "python.md"


def test_python_md_examples_run(monkeypatch):
    pytest.importorskip("jax")
    monkeypatch.chdir(ROOT)
    result = doctest.testfile(str(DOC), module_relative=False, report=True, verbose=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 30
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {DOC.name} failed (see above)"
