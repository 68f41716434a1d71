"""Equivalence checking (``tlang.equivalent``, ``tlang equiv``) on the textbook cases, and the
compiler's rewrite pass: ``--verify`` on every example, blame of a wrong rewrite, ``explain``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import tlang
from tlang import ir
from tlang.cli import main
from tlang.pipeline import compile_program
from tlang.rewrite import compiler

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.tl"))
MAT = "tensor A[3, 4]\ntensor B[4, 5]\n"
VEC = "tensor A[3, 4]\ntensor X[4]\ntensor Z[4]\n"
CASES = {
    "commutativity": (MAT + "C[i, k] = A[i, j] B[j, k]\n", MAT + "C[i, k] = B[j, k] A[i, j]\n", True),
    "renaming": (MAT + "C[i, k] = A[i, j] B[j, k]\n", MAT + "C[x, z] = A[x, y] B[y, z]\n", True),
    "re-association": (
        "tensor A[2, 3]\ntensor B[3, 4]\ntensor C[4, 2]\nT[i, k] = A[i, j] B[j, k]\nD[i, l] = T[i, k] C[k, l]\n",
        "tensor A[2, 3]\ntensor B[3, 4]\ntensor C[4, 2]\nU[j, l] = B[j, k] C[k, l]\nD[i, l] = A[i, j] U[j, l]\n",
        True),
    "distributivity": (VEC + "Y[i] = A[i, j] (X[j] + Z[j])\n", VEC + "Y[i] = A[i, j] X[j] + A[i, j] Z[j]\n", True),
    "early aggregation": (MAT + "Y[i] = A[i, j] B[j, k]\n", MAT + "S[j] = B[j, k]\nY[i] = A[i, j] S[j]\n", True),
    "dropped interface index": ("tensor A[3]\ntensor B[3]\ntensor C[3]\nY = A[i] B[i] C[i]\n",
                                "tensor A[3]\ntensor B[3]\ntensor C[3]\nT = A[i] B[i]\nY = T C[i]\n", False),
    "transposed operand": ("tensor A[3, 3]\ntensor B[3, 3]\nC[i, k] = A[i, j] B[j, k]\n",
                           "tensor A[3, 3]\ntensor B[3, 3]\nC[i, k] = A[i, j] B[k, j]\n", False),
    "transpose through a tensor": ("tensor A[3, 3]\ntensor B[3, 3]\nC[i, k] = A[i, j] B[j, k]\n",
                                   "tensor A[3, 3]\ntensor B[3, 3]\nT[k, j] = B[j, k]\nC[i, k] = A[i, j] T[k, j]\n",
                                   True),
    "nonlinearity blocks distributivity": (VEC + "Y[i] = relu(A[i, j] X[j] + A[i, j] Z[j])\n",
                                           VEC + "Y[i] = relu(A[i, j] X[j]) + relu(A[i, j] Z[j])\n", False),
    "rules apply inside a nonlinearity": (VEC + "Y[i] = relu(A[i, j] X[j] + A[i, j] Z[j])\n",
                                          VEC + "Y[i] = relu(A[i, j] (Z[j] + X[j]))\n", True),
    "einsum call and equation": (MAT + "C[i, k] = A[i, j] B[j, k]\n", MAT + 'C = einsum("ij,jk->ik", A, B)\n', True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_textbook_cases(name):
    a, b, want = CASES[name]
    r = tlang.equivalent(a, b)
    assert bool(r) is want, r.render()
    if want and "nonlinearity" not in name:
        assert r.method == "symbolic" and r.normal_forms[0] == r.normal_forms[1]
    if not want:
        assert r.counterexample is not None
    if name == "nonlinearity blocks distributivity":
        assert r.method == "random"
    if name in ("rules apply inside a nonlinearity", "dropped interface index"):
        assert r.method == "symbolic"


def test_cli_equiv(tmp_path, capsys):
    a, b, _ = CASES["dropped interface index"]
    (tmp_path / "a.tl").write_text(a)
    (tmp_path / "b.tl").write_text(b)
    (tmp_path / "c.tl").write_text(a.replace("A[i] B[i] C[i]", "C[k] A[k] B[k]"))
    assert main(["equiv", str(tmp_path / "a.tl"), str(tmp_path / "c.tl")]) == 0
    assert "equivalent (method: symbolic)" in capsys.readouterr().out
    assert main(["equiv", str(tmp_path / "a.tl"), str(tmp_path / "b.tl"), "--output", "Y"]) == 1
    out = capsys.readouterr().out
    assert "NOT equivalent" in out and "counterexample" in out and "normal form of A" in out


def test_recursive_programs_are_decided_by_random_testing():
    fam = "domain P = 4\nindex x, y, z : P\nParent(0, 1)\nParent(1, 2)\nParent(2, 3)\n"
    a = fam + "Anc(x, y) <- Parent(x, y)\nAnc(x, z) <- Anc(x, y), Parent(y, z)\n"
    b = fam + "Anc(x, y) <- Parent(x, y)\nAnc(x, z) <- Parent(x, y), Anc(y, z)\n"
    r = tlang.equivalent(a, b, output="Anc")
    assert r and r.method == "random"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_verify_passes_on_every_example(path, capsys):
    assert main(["run", str(path), "--verify"]) == 0
    assert "verify: ok" in capsys.readouterr().err


def test_verify_names_the_rule_application_at_fault(monkeypatch):
    def bogus(st):  # a wrong "rewrite": drop the last operand of the first product
        for k, eq in enumerate(st.equations):
            if isinstance(eq.rhs, ir.Contract) and len(eq.rhs.operands) > 1:
                new = ir.Contract(eq.rhs.operands[:-1], eq.rhs.out, eq.rhs.semiring)
                st.equations[k] = dataclasses.replace(eq, rhs=new)
                st.record("bogus", k, "before", "after")
                return
    monkeypatch.setitem(compiler._PASS, "bogus", bogus)
    src = "A = [[1, 2], [3, 4]]\nx = [1, 1]\nY[i] = A[i, j] x[j]\nZ[i] = A[i, j] A[j, i]\n"
    prog = compile_program(src, rewrite=False).ir
    opt, log = compiler.optimise(prog, ("einsum-as-contract", "output-permutation", "bogus"))
    report = compiler.verify(prog, opt, log)
    assert not report.ok and report.culprit.rule == "bogus"
    assert "bogus" in report.render()


def test_cse_denest_and_explain(tmp_path, capsys):
    src = ("A = [[1, 2], [3, 4]]\nB = [[0, 1], [1, 0]]\nx = [1, -1]\n"
           "P[i, k] = A[i, j] B[j, k]\nQ[a] = relu(A[a, b] B[b, c] x[c])\nR[c, a] = B[b, c] A[a, b]\n"
           "S[i] = einsum(\"ij,j->i\", A, einsum(\"jk,k->j\", B, x))\nP?\nQ?\nR?\nS?\n")
    c = compile_program(src)
    rules = [a.rule for a in c.stages["rewrite"]]
    assert "cse" in rules and "denest" in rules
    r = compiler.verify(c.stages["build"], c.ir, c.stages["rewrite"])
    assert r.ok, r.render()
    f = tmp_path / "p.tl"
    f.write_text(src)
    assert main(["explain", str(f)]) == 0
    out = capsys.readouterr().out
    assert "cse" in out and "before:" in out and "after:" in out and "p.tl:" in out
    assert main(["run", str(f), "--show", "rewrites"]) == 0
    assert "== rewrites ==" in capsys.readouterr().out
