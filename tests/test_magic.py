"""The %%tl IPython cell magic, run in an InteractiveShell."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("IPython")

from IPython.core.error import UsageError  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402


@pytest.fixture(scope="module")
def shell():
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.hist_file = ":memory:"      # no history database on disk
    sh = InteractiveShell.instance(config=config)
    sh.run_line_magic("load_ext", "tlang.magic")
    yield sh


def test_cell_reads_arrays_and_numbers_and_writes_tensors_back(shell, capsys):
    shell.user_ns.update(W=np.eye(2) * 2, X=np.array([1.0, 3.0]), S=2, i=99)
    shell.run_cell_magic("tl", "", "Y[i] = W[i, j] X[j]\nT = Y[i] / S\nY?\nT?\n")
    out = capsys.readouterr().out
    assert "Y? shape 2" in out and "T? 4" in out
    assert isinstance(shell.user_ns["Y"], np.ndarray) and shell.user_ns["Y"].tolist() == [2.0, 6.0]
    assert shell.user_ns["T"] == 4.0 and isinstance(shell.user_ns["T"], float)
    assert shell.user_ns["i"] == 99           # index variables are not inputs


def test_jax_inputs_and_integer_index_constants(shell):
    jnp = pytest.importorskip("jax.numpy")
    shell.user_ns.update(Img=jnp.arange(16.0).reshape(4, 4), K=2)
    shell.run_cell_magic("tl", "--quiet", "Pool[x/K, y/K] max= Img[x, y]\n")
    assert shell.user_ns["Pool"].tolist() == [[5.0, 7.0], [13.0, 15.0]]


def test_relations_round_trip_between_cells(shell, capsys):
    cell = ("Parent(Alice, Bob)\nParent(Bob, Carl)\n"
            "Anc(x, y) <- Parent(x, y)\nAnc(x, z) <- Anc(x, y), Parent(y, z)\nAnc(Alice, x)?\n")
    shell.run_cell_magic("tl", "", cell)
    assert "Anc(Alice, x)? 2 answers" in capsys.readouterr().out
    assert shell.user_ns["Anc"] == {("Alice", "Bob"), ("Bob", "Carl"), ("Alice", "Carl")}
    # a set of tuples in the namespace is a relation's facts
    shell.run_cell_magic("tl", "-q", "Kid(y) <- Anc(x, y)\n")
    assert shell.user_ns["Kid"] == {("Bob",), ("Carl",)}
    assert capsys.readouterr().out == ""


def test_errors_are_located_diagnostics(shell):
    shell.user_ns["W"] = np.eye(2)
    with pytest.raises(UsageError) as e:
        shell.run_cell_magic("tl", "", "Z[i] = W[i, j] Missing[j]\n")
    text = str(e.value)
    assert "1:16: error: 'Missing' has no value" in text
    assert "Z[i] = W[i, j] Missing[j]" in text
