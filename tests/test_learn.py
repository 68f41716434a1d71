"""Learning (tlang.learn): the examples train, directives and the Python API mirror each other,
training is seeded and reproducible, shows progress only on a terminal, plots, stops early."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

import tlang
from tlang import api
from tlang.cli import main
from tlang.engine import Options, evaluate
from tlang.learn import _Progress, fit, train_program
from tlang.pipeline import compile_program
from tlang.source import TlangError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

LINEAR = """
X = [[0, 1], [1, 0], [1, 1], [2, 1]]
Y = [1, 2, 3, 4]
P[e] = W[j] X[e, j] + B
Loss = (Y[e] - P[e])^2
"""


def train(name: str):
    """Train an example: (its training results, its answers with the learned values)."""
    compiled = compile_program(EXAMPLES / f"{name}.tl")
    final, results = train_program(compiled, quiet=True)
    answers = {a.query: a.value if a.kind != "relation" else a.tuples for a in evaluate(final, Options()).answers}
    return results, answers


def dropped(r) -> float:
    return r.history[0] / r.final_loss


# ------------------------------------------------------------ the examples

def test_linear_regression_recovers_the_weights():
    (r,), ans = train("linreg")
    assert dropped(r) > 100 and ans["Loss"] < 0.01
    np.testing.assert_allclose(ans["W"], [2, -3], atol=0.05)
    assert ans["B"] == pytest.approx(0.5, abs=0.05)


def test_logistic_regression_separates_the_blobs():
    (r,), ans = train("logreg")
    assert dropped(r) > 10 and ans["Acc"] == 1.0


def test_mlp_learns_two_spirals():
    (r,), ans = train("spirals")
    assert r.history[0] > 0.6 and ans["Loss"] < 0.02 and ans["Acc"] == 1.0


def test_kernel_machine_learns_its_weights():
    (r,), ans = train("kernel_learn")
    assert dropped(r) > 50 and ans["Acc"] == 1.0


def test_tucker_decomposition_invents_predicates():
    (r,), ans = train("tucker")
    assert dropped(r) > 100 and ans["Agree"] == 1.0
    for rel, var in (("Class(i, p)", 0), ("Class'(j, q)", 0), ("Class''(k, r)", 0)):
        objects = [t[var] for t in ans[rel]]
        assert sorted(objects) == list(range(6))       # every object in exactly one invented class
    assert len(ans["Core(p, q, r)"]) == 4


def test_link_prediction_with_learned_embeddings():
    (r,), ans = train("link")
    assert dropped(r) > 5 and ans["TestAcc"] == 1.0
    assert ["Ann", "Bob"] in [list(t) for t in ans["Pred(s, Manages, o)"]]


def test_rnn_trains_through_time():
    (r,), ans = train("rnn_learn")
    assert dropped(r) > 100 and ans["Loss"] < 0.005


# -------------------------------------------------------------- semantics

def test_later_queries_see_the_learned_values():
    res = api.run(LINEAR + "Loss? @minimize(lr=0.1, epochs=300)\nW?\nB?\n")
    r = tlang.minimize(LINEAR + "Loss? @minimize(lr=0.1, epochs=300)\n")
    got = {a.query: a.value for a in res.answers}
    np.testing.assert_allclose(got["W"], r["W"])
    assert got["B"] == pytest.approx(float(r["B"]))
    assert got["Loss"] == pytest.approx(r.final_loss)


def test_python_minimize_mirrors_the_directive():
    r = tlang.minimize(LINEAR, lr=0.01, epochs=50, optimizer="sgd", seed=3)
    assert set(r.params) == {"W", "B"} and r.epochs == 50 and len(r.history) == 50
    assert r.history[-1] < r.history[0]
    again = tlang.minimize(LINEAR + "Loss? @minimize(lr=0.01, epochs=50, optimizer=sgd, seed=3)\n")
    np.testing.assert_array_equal(again["W"], r["W"])   # same options, same result
    assert r.run().answers == []                          # the trained program evaluates


def test_training_is_seeded():
    a = tlang.minimize(LINEAR, epochs=5, seed=1)
    b = tlang.minimize(LINEAR, epochs=5, seed=1)
    c = tlang.minimize(LINEAR, epochs=5, seed=2)
    np.testing.assert_array_equal(a["W"], b["W"])
    assert not np.array_equal(a["W"], c["W"])
    assert a.history == b.history


def test_const_is_not_learned_and_learn_starts_from_data():
    src = LINEAR.replace("+ B", "+ B + C") + "const C\nW = [5, 5]\nlearn W\n"
    r = tlang.minimize(src, epochs=0)
    assert set(r.params) == {"W", "B"}
    np.testing.assert_array_equal(r["W"], [5, 5])        # learn W: its data is the start
    assert r["B"] == 0.0                                   # a bias starts at 0


def test_maximize_climbs():
    r = tlang.maximize("Obj = -(W[i] - T[i]) (W[i] - T[i])\nT = [1, -2]\n", loss="Obj", lr=0.1, epochs=200)
    np.testing.assert_allclose(r["W"], [1, -2], atol=1e-3)
    assert r.final_loss > r.history[0]


def test_early_stop_at_tolerance():
    r = tlang.minimize(LINEAR, lr=0.1, epochs=5000, tol=1e-6, patience=3)
    assert r.stopped_early and r.epochs < 5000


def test_two_directives_train_in_order():
    src = ("T = [1, 2]\nA[i] = P[i]\nL1 = (A[i] - T[i])^2\nL2 = (Q[i] - 2 P[i])^2\n"
           "L1? @minimize(lr=0.1, epochs=300)\nL2? @minimize(lr=0.1, epochs=300)\nQ?\n")
    res = api.run(src)
    q = [a for a in res.answers if a.query == "Q"][0].value
    np.testing.assert_allclose(q, [2, 4], atol=1e-2)     # L2 sees the P learned for L1


def test_bad_directive_arguments_are_located():
    for bad, message in (("lr=-1", "positive"), ("optimizer=rmsprop", "unknown optimizer"),
                         ("epochs=2.5", "integer"), ("speed=3", "no argument 'speed'"), ("0.1", "named")):
        with pytest.raises(TlangError) as err:
            api.run(LINEAR + f"Loss? @minimize({bad})\n")
        assert message in err.value.render() and ":6:" in err.value.render()


def test_nothing_to_learn_is_an_error():
    with pytest.raises(TlangError, match="nothing to learn"):
        api.run("X = [1, 2]\nLoss = X[i] X[i]\nLoss? @minimize\n")


def test_fit_hook_on_a_compiled_program():
    compiled = compile_program(LINEAR + "Loss? @minimize(lr=0.05)\n")
    r = fit(compiled, epochs=20)
    assert r.loss == "Loss" and r.epochs == 20 and r.backend == "numpy"


def test_jax_backend_trains_like_numpy():
    pytest.importorskip("jax")
    src = LINEAR + "Loss? @minimize(lr=0.1, epochs=100)\n"
    a = tlang.minimize(src)
    b = tlang.minimize(src, backend="jax")
    assert b.backend == "jax"
    np.testing.assert_allclose(b["W"], a["W"], rtol=1e-3, atol=1e-3)


# -------------------------------------------------------------- the CLI

def test_cli_quiet_json_and_plot(tmp_path, capsys):
    path = tmp_path / "lin.tl"
    path.write_text(LINEAR + "Loss? @minimize(lr=0.1, epochs=30)\nW?\n")
    png = tmp_path / "loss.png"
    assert main(["run", str(path), "--json", "--quiet", "--plot", str(png)]) == 0
    out = capsys.readouterr()
    lines = [json.loads(x) for x in out.out.splitlines()]
    assert [x["query"] for x in lines] == ["Loss", "W"] and out.err == ""
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_progress_is_shown_only_on_a_terminal():
    stream = io.StringIO()
    p = _Progress("Loss", 10, True, stream)
    for epoch in range(1, 11):
        p.update(epoch, 1.0 / epoch)
    p.close(10, 0.1, False)
    text = stream.getvalue()
    assert "epoch 10/10" in text and "s left" in text and text.endswith("\n")
    quiet = io.StringIO()
    _Progress("Loss", 10, False, quiet).update(1, 1.0)
    assert quiet.getvalue() == ""


def test_no_tensor_logic_gradient_falls_back_to_jax():
    pytest.importorskip("jax")
    src = ("X = [[1.0, 2.0], [3.0, 4.0]]\nT = [1, 0, 0, 1]\nY[m] = concat(W[h, d] X[h, d])\n"
           "Loss = (Y[m] - T[m])^2\nLoss? @minimize(lr=0.1, epochs=100)\n")
    with pytest.warns(UserWarning, match="concat.*JAX autodiff"):
        r = tlang.minimize(src)
    assert r.backend == "jax" and r.final_loss < 0.01
