"""Every example program parses, documents its expected answers, and its data is reproducible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tlang
from tlang import ast as A

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PROGRAMS = sorted(EXAMPLES.glob("*.tl"))

REQUIRED = {"family", "perceptron", "mlp", "rnn", "cnn", "gnn", "attention", "transformer",
            "kernel", "bayes", "embedding"}


def test_every_paper_example_is_present():
    assert REQUIRED <= {p.stem for p in PROGRAMS}


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_example_parses(path):
    prog = tlang.parse_file(path)
    assert isinstance(prog, A.Program)
    assert any(isinstance(s, A.Query) for s in prog.statements), "an example should ask something"


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_example_documents_expected_answers(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and lines[0].startswith(f"# {path.name}:"), "start with '# name.tl: what it shows'"
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert any("Expected" in line for line in header), "the leading comment gives the expected answers"


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_example_data_files_exist(path):
    prog = tlang.parse_file(path)
    for stmt in prog.statements:
        if isinstance(stmt, A.Load):
            assert (path.parent / stmt.path).is_file(), f"{path.name} reads a missing file {stmt.path}"


def test_make_data_reproduces_shipped_files():
    spec = importlib.util.spec_from_file_location("make_data", EXAMPLES / "data" / "make_data.py")
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    shipped = np.loadtxt(EXAMPLES / "data" / "image.csv", delimiter=",")
    assert np.array_equal(shipped, make_data.image())
