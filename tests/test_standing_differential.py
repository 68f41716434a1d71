"""The standing differential test (issue 11): on random programs, every backend, every path
optimiser and the program with and without the rewrite pass agree with ``tlang.reference``.

Programs come from the generators of tests/test_differential.py (expressions, einsums, index
arithmetic, Datalog with negation, numeric recursion, the RNN, softmax/lnorm/concat).  Each
generated program is built once; then

- the rewrite pass (``tlang.rewrite.compiler.optimise``, what ``TLANG_REWRITE=0`` switches off
  in ``tlang.run``) is applied or not;
- it runs on the interpreting numpy engine under *every* path optimiser registered in
  ``tlang.plan`` (the engine always plans with ``"auto"``, so each optimiser is swapped in as
  ``"auto"`` through ``tlang.plan.register_optimizer(..., replace=True)``), and through
  generated code on numpy, JAX (float64) and the CuPy code path (the NumPy-backed stand-in of
  tests/fake_cupy.py);
- every result is compared with ``reference.evaluate`` of the same IR (rtol 1e-6, atol 1e-9,
  NaN equal to NaN), answers included, and the user's tensors also with the reference on the
  program before rewriting.

Derandomised; ``TLANG_FUZZ=1`` runs ten times as many programs.
"""

from __future__ import annotations

import os
import warnings

import fake_cupy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_differential import (
    close,
    datalog_programs,
    einsum_programs,
    expression_programs,
    index_programs,
    normalize_programs,
    recursion_programs,
    rnn_programs,
    same_answers,
)

from tlang import api, codegen, einsum_api, engine
from tlang import ir_literal as reference
from tlang import plan as P
from tlang.build import build
from tlang.parse import parse
from tlang.rewrite.compiler import optimise

FUZZ = bool(os.environ.get("TLANG_FUZZ"))
OPTIMIZERS = P.optimizers()
SLOW_OPTIMIZERS = {"cotengra"}  # a hyper-search per contraction (about a second): fewer programs
try:
    import jax  # noqa: F401
    CODEGEN = ["numpy", "jax", "cupy"]
except ImportError:  # pragma: no cover
    CODEGEN = ["numpy", "cupy"]

PROGRAMS = st.one_of(expression_programs(), einsum_programs(), index_programs(), datalog_programs(),
                     recursion_programs(), rnn_programs(), normalize_programs())


def fuzz(n: int):
    return settings(max_examples=n * 10 if FUZZ else n, deadline=None, derandomize=not FUZZ,
                    suppress_health_check=list(HealthCheck))


_forget_backends = fake_cupy.forget_backends  # the fake_gpu fixture is in conftest.py


def _use_optimizer(name: str) -> None:
    """Make ``name`` the optimiser the engine plans with (it always asks for ``"auto"``)."""
    P.register_optimizer("auto", P.auto if name == "auto" else P.get_optimizer(name), replace=True)
    einsum_api.clear_fast_cache()


@pytest.fixture
def restore_auto():
    yield
    _use_optimizer("auto")


def agree(label: str, got: engine.Results, want: dict[str, np.ndarray], prog, src: str) -> None:
    assert got.tensors.keys() == want.keys(), (label, src)
    for name, w in want.items():
        g = np.asarray(got.tensors[name])
        assert g.shape == w.shape, f"{label}: {name} shape {g.shape} != {w.shape}\n{src}"
        assert close(g, w), f"{label}: {name} {g.tolist()} != reference {w.tolist()}\n{src}"
    same_answers(got.answers, reference.answers(prog))


def variants(src: str):
    """(label, IR) without and with the rewrite pass, and the reference of the unrewritten IR."""
    base = build(parse(src))
    rewritten, _ = optimise(base)
    return base, [("no-rewrite", base), ("rewrite", rewritten)]


def check_all(src: str, optimizers: list[str], codegen_backends: list[str]) -> None:
    base, progs = variants(src)
    original = reference.evaluate(base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a slow numeric recursion may warn; values still compared
        for rw, prog in progs:
            want = reference.evaluate(prog)
            for name, value in original.items():  # rewriting keeps the user's tensors
                assert close(want[name], value), (rw, name, src)
            for opt in optimizers:
                _use_optimizer(opt)
                agree(f"engine/{opt}/{rw}", engine.evaluate(prog), want, prog, src)
            _use_optimizer("auto")
            for be in codegen_backends:
                got = codegen.run_generated(prog, be, engine.Options(backend=be), x64=True)
                agree(f"codegen-{be}/{rw}", got, want, prog, src)


@fuzz(100)
@given(PROGRAMS)
def test_every_backend_and_optimiser_agrees_with_the_reference(fake_gpu, restore_auto, src):
    check_all(src, [o for o in OPTIMIZERS if o not in SLOW_OPTIMIZERS], CODEGEN)


@pytest.mark.skipif(not SLOW_OPTIMIZERS & set(OPTIMIZERS), reason="no slow optimiser registered")
@fuzz(10)
@given(st.one_of(einsum_programs(), expression_programs()))
def test_slow_optimisers_agree_with_the_reference(restore_auto, src):
    check_all(src, sorted(SLOW_OPTIMIZERS & set(OPTIMIZERS)), [])


@fuzz(30)
@given(PROGRAMS)
def test_tlang_run_with_and_without_rewrites(monkeypatch_env, src):
    want = reference.evaluate(build(parse(src)))
    for flag in ("0", "1"):
        monkeypatch_env.setenv("TLANG_REWRITE", flag)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = api.run(src)
        for name, w in want.items():
            assert close(got.tensors[name], w), (flag, name, src)
        assert not any(n.startswith("_cse") for n in got.tensors) or flag == "1"


@pytest.fixture(scope="module")
def monkeypatch_env():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_optimiser_swap_reaches_the_engine(restore_auto):
    """The swap is real: a counting optimiser sees the engine's contractions."""
    seen = []

    def counting(inputs, output, size_dict, memory_limit=None):
        seen.append(len(inputs))
        return P.naive(inputs, output, size_dict)

    P.register_optimizer("auto", counting, replace=True)
    einsum_api.clear_fast_cache()
    src = "A = [[1, 2], [3, 4]]\nB = [[0, 1], [1, 0]]\nC = [1, -1]\nY[i] = A[i, j] B[j, k] C[k]\n"
    got = engine.evaluate(build(parse(src)))
    assert seen and np.allclose(got["Y"], reference.run(src)["Y"])


@pytest.mark.parametrize("name", [o for o in OPTIMIZERS if o not in SLOW_OPTIMIZERS])
def test_every_optimiser_plans_a_one_operand_contraction(name):
    """Regression: opt_einsum's random-greedy raised ValueError on a single operand."""
    import tlang
    x = np.arange(6.0).reshape(2, 3)
    assert np.allclose(tlang.einsum("ab->a", x, optimize=name), x.sum(1))
    assert np.allclose(tlang.einsum("a->", x[0], optimize=name), 3.0)
