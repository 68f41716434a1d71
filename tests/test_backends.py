"""Differential tests of the backends: every example program and hypothesis-generated programs give
the numpy engine's answers on jax, on the cupy code path (against a NumPy-backed stand-in for the
``cupy`` module, tests/fake_cupy.py) and through generated numpy code; plus backend selection
(``auto``) and the errors of a backend that cannot run here.

Tolerances: float64 paths (numpy, cupy, jax with x64) agree to 1e-6 relative; JAX's default
float32 to 1e-4 relative, 1e-5 absolute.  Jit compiles are the cost here, so the jax runs of
generated programs are few (TLANG_FUZZ=1 for more).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import fake_cupy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from tlang import backends, codegen, engine
from tlang.backends import BackendError, get_backend, resolve
from tlang.build import build
from tlang.parse import parse
from tlang.pipeline import compile_program

jax = pytest.importorskip("jax")

FUZZ = bool(os.environ.get("TLANG_FUZZ"))
EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.tl"))
TOL = {"float64": (1e-6, 1e-9), "float32": (1e-4, 1e-5)}


def fuzz(n: int):
    return settings(max_examples=n * 10 if FUZZ else n, deadline=None, derandomize=not FUZZ,
                    suppress_health_check=list(HealthCheck))


def same_results(want: engine.Results, got: engine.Results, tol: str = "float64") -> None:
    rtol, atol = TOL[tol]
    assert want.tensors.keys() == got.tensors.keys()
    for name, w in want.tensors.items():
        g = got.tensors[name]
        assert g.shape == w.shape, name
        assert np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True), f"{name}: {g.tolist()} != {w.tolist()}"
    assert len(want.answers) == len(got.answers)
    for a, b in zip(want.answers, got.answers):
        assert (a.query, a.kind, a.shape, a.vars, a.tuples) == (b.query, b.kind, b.shape, b.vars, b.tuples)
        if a.kind in ("tensor", "scalar"):
            assert np.allclose(b.value, a.value, rtol=rtol, atol=atol, equal_nan=True), a.query
        else:
            assert a.value == b.value, a.query


_forget_backends = fake_cupy.forget_backends  # the fake_gpu fixture is in conftest.py


@pytest.fixture(scope="module")
def reference_results():
    """The numpy engine's results of every example, computed once."""
    return {p.stem: engine.evaluate(compile_program(p).ir) for p in EXAMPLES}


# ---------------------------------------------------------- example programs

@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_on_jax(path: Path, reference_results) -> None:
    got = codegen.evaluate(compile_program(path).ir, engine.Options(backend="jax"))
    assert all(v.dtype == np.float64 for v in got.tensors.values())   # answers come back as numpy
    same_results(reference_results[path.stem], got, "float32")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_on_cupy_stand_in(path: Path, reference_results, fake_gpu) -> None:
    prog = compile_program(path).ir
    tensors, _ = codegen.CompiledProgram(prog, "cupy").run()
    assert all(isinstance(v, fake_cupy.ndarray) for v in tensors.values())   # stayed on the "device"
    same_results(reference_results[path.stem], codegen.evaluate(prog, engine.Options(backend="cupy")))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_through_generated_numpy(path: Path, reference_results) -> None:
    got = codegen.run_generated(compile_program(path).ir, "numpy")
    same_results(reference_results[path.stem], got)


@pytest.mark.gpu
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_on_real_gpu(path: Path, reference_results) -> None:
    _forget_backends()
    got = codegen.evaluate(compile_program(path).ir, engine.Options(backend="cupy"))
    same_results(reference_results[path.stem], got)


def test_api_run_takes_backend_and_x64() -> None:
    src = "A = [[1, 2], [3, 4]]\nB[i] = A[i, j] A[i, j]\nB?\n"
    from tlang.api import run
    got = run(src, backend="jax", x64=True)
    assert got.answers[0].value.tolist() == [5.0, 25.0]
    assert run(src, backend="auto").answers[0].value.tolist() == [5.0, 25.0]


# ------------------------------------------------------ generated programs

try:  # the program generators of the numpy engine's differential tests
    import test_differential as _td
    GENERATORS = {name: getattr(_td, name) for name in (
        "expression_programs", "einsum_programs", "index_programs", "datalog_programs",
        "recursion_programs", "rnn_programs", "normalize_programs") if hasattr(_td, name)}
except ImportError:  # pragma: no cover
    GENERATORS = {}


def agree(src: str, backend: str) -> None:
    prog = build(parse(src))
    want = engine.evaluate(prog)
    got = codegen.run_generated(prog, backend, x64=True)
    same_results(want, got)


@pytest.mark.parametrize("gen", sorted(GENERATORS))
def test_generated_programs_numpy_code_and_cupy(gen: str, fake_gpu) -> None:
    @fuzz(20)
    @given(GENERATORS[gen]())
    def check(src: str) -> None:
        agree(src, "numpy")
        agree(src, "cupy")

    check()


@pytest.mark.parametrize("gen", sorted(GENERATORS))
def test_generated_programs_jax(gen: str) -> None:
    @fuzz(3)
    @given(GENERATORS[gen]())
    def check(src: str) -> None:
        agree(src, "jax")

    check()


# -------------------------------------------------- selection and errors

def test_auto_prefers_cupy_then_jax_then_numpy(monkeypatch) -> None:
    fake_cupy.install(monkeypatch, devices=2)
    assert resolve("auto") == "cupy"
    fake_cupy.install(monkeypatch, devices=0)
    assert resolve("auto") == "jax"
    monkeypatch.setattr("tlang.backends.jax.available", lambda: False)
    assert resolve("auto") == "numpy"
    assert resolve("numpy") == "numpy"


def test_cupy_not_installed_says_so(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)   # import cupy fails, find_spec finds nothing
    _forget_backends()
    with pytest.raises(BackendError, match="needs CuPy, which is not installed"):
        get_backend("cupy")


@pytest.mark.parametrize("devices, why", [(0, "CUDA reports no device"), (-1, "CUDA is not usable")])
def test_cupy_without_gpu_says_so(monkeypatch, devices: int, why: str) -> None:
    fake_cupy.install(monkeypatch, devices=devices)
    _forget_backends()
    with pytest.raises(BackendError) as err:
        get_backend("cupy")
    assert "needs a CUDA GPU, but none was found (CuPy is installed)" in err.value.message
    assert any(why in note for note in err.value.notes)
    _forget_backends()


def test_cli_reports_missing_cupy(monkeypatch, capsys) -> None:
    from tlang.cli import main
    monkeypatch.setitem(sys.modules, "cupy", None)
    _forget_backends()
    assert main(["run", str(EXAMPLES[0]), "--backend", "cupy"]) == 1
    assert "error: the cupy backend needs CuPy, which is not installed" in capsys.readouterr().err


def test_missing_jax_says_so(monkeypatch) -> None:
    monkeypatch.setattr("tlang.backends.jax.available", lambda: False)
    backends._cache.pop("jax", None)
    with pytest.raises(BackendError, match="needs JAX, which is not installed"):
        get_backend("jax")
    backends._cache.pop("jax", None)


def test_unknown_backend() -> None:
    with pytest.raises(BackendError, match="unknown backend 'torch'"):
        codegen.evaluate(build(parse("A = 1.0\n")), engine.Options(backend="torch"))
