"""The relational path: sparse relations, joins, semi-naive evaluation, engine dispatch.

Differential: every program here runs on the dense engine (relational="never") and on the
relational path (relational="always") and must derive the same facts; a 100k-node relation
runs without any dense n x n allocation (tracemalloc)."""

import tracemalloc

import numpy as np
import pytest

from tlang.api import run
from tlang.build import build
from tlang.engine import Options, evaluate
from tlang.parse import parse
from tlang.relational import Accumulator, Relation, merge_sorted
from tlang.relational_tables import Table, antijoin, atom_table, join, project
from tlang.source import TlangResourceError

# ------------------------------------------------------------------ storage


def test_relation_dedupes_and_sorts():
    r = Relation.from_columns((3, 4), ([2, 0, 2, 0], [1, 3, 1, 0]))
    assert len(r) == 3
    assert r.tuples() == [(0, 0), (0, 3), (2, 1)]
    assert all(isinstance(x, int) for t in r.tuples() for x in t)
    np.testing.assert_array_equal(r.to_dense(), [[1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 0, 0]])


def test_relation_views_agree():
    rng = np.random.default_rng(0)
    dense = rng.random((7, 9)) < 0.3
    a = Relation.from_dense(dense)
    b = Relation.from_sparse(a.csr())
    c = Relation.from_rows((7, 9), a.rows())
    assert a == b == c
    np.testing.assert_array_equal(np.asarray(a) > 0, dense)
    np.testing.assert_array_equal(a.transpose((1, 0)).to_dense(), dense.T)


def test_set_operations():
    a = Relation.from_tuples((5, 5), [(0, 1), (1, 2), (2, 3)])
    b = Relation.from_tuples((5, 5), [(1, 2), (4, 4)])
    assert a.union(b).tuples() == [(0, 1), (1, 2), (2, 3), (4, 4)]
    assert a.difference(b).tuples() == [(0, 1), (2, 3)]
    assert a.contains([np.array([1, 4]), np.array([2, 4])]).tolist() == [True, False]
    assert merge_sorted(np.array([1, 5, 9]), np.array([2, 6])).tolist() == [1, 2, 5, 6, 9]


def test_wide_relations_without_packed_keys():
    n = 2**21  # 2**63 cells: tuples cannot be packed into int64 keys
    shape = (n, n, n)
    a = Relation.from_columns(shape, ([5, 1, 5], [7, 2, 7], [n - 1, 0, n - 1]))
    b = Relation.from_columns(shape, ([1], [2], [0]))
    assert a.keys is None and len(a) == 2
    assert a.difference(b).tuples() == [(5, 7, n - 1)]
    assert a.union(b) == a
    t = join(atom_table(a, ("x", "y", "z"), {}), atom_table(b, ("x", "y", "w"), {}),
             {"x": n, "y": n, "z": n, "w": n})
    assert t.nrows == 1


def test_densify_refused_above_the_limit():
    r = Relation.from_tuples((100_000, 100_000), [(1, 2)])
    with pytest.raises(TlangResourceError, match="densifying it is refused"):
        r.to_dense()


def test_accumulator_in_both_modes():
    acc = Accumulator((50, 50))
    seen: set = set()
    rng = np.random.default_rng(1)
    for k in range(12):
        m = 3 if k % 3 else 400  # alternate small rounds (sorted chunks) and large ones (CSR mode)
        rows = rng.integers(0, 50, size=(m, 2))
        cand = Relation.from_rows((50, 50), rows)
        if k % 2:
            cand = Relation.from_csr(cand.csr())
        new = acc.new_only(cand)
        assert set(new.tuples()) == set(cand.tuples()) - seen
        acc.add(new)
        seen |= set(new.tuples())
        assert set(acc.relation().tuples()) == seen


def test_table_operators():
    ext = {"x": 5, "y": 5, "z": 5}
    e = Relation.from_tuples((5, 5), [(0, 1), (1, 2), (1, 3), (2, 2)])
    t = join(atom_table(e, ("x", "y"), ext), atom_table(e, ("y", "z"), ext), ext)
    got = project(t, ("x", "z"), ext)
    assert sorted(zip(*(c.tolist() for c in got.cols))) == [(0, 2), (0, 3), (1, 2), (2, 2)]
    loops = atom_table(e, ("x", "x"), ext)
    assert loops.vars == ("x",) and loops.col("x").tolist() == [2]
    assert atom_table(e, (1, "y"), ext).col("y").tolist() == [2, 3]
    kept = antijoin(Table(("x",), (np.arange(5),), 5), e, ("x", None))
    assert kept.col("x").tolist() == [3, 4]


# -------------------------------------------------------------- differential

PROGRAMS = {
    "closure": "T(x, y) <- E(x, y)\nT(x, z) <- T(x, y), E(y, z)\nT(x, y)?\n",
    "nonlinear closure": "T(x, y) <- E(x, y)\nT(x, z) <- T(x, y), T(y, z)\nT(x, y)?\n",
    "same generation": "S(x, y) <- E(x, p), E(y, p), x != y\nS(x, y) <- E(x, a), S(a, b), E(y, b)\nS(x, y)?\n",
    "negation and comparisons": "R(x, z) <- E(x, y), E(y, z), not E(x, z), x < z\nR(x, y)?\n",
    "wildcard negation": "Src(x) <- E(x, y), not Has(x)\nHas(x) <- E(y, x)\nSrc(x)?\n",
    "constants and repeats": "L(x) <- E(x, x)\nK(y) <- E(2, y)\nH(x, 3) <- E(x, y), E(y, x)\n"
                             "L(x)?\nK(y)?\nH(x, y)?\nH(1, 3)?\n",
    "mutual recursion": "Ev(x, y) <- E(x, y), x != y\nOd(x, z) <- Ev(x, y), E(y, z)\n"
                        "Ev(x, z) <- Od(x, y), E(y, z)\nOd(x, y)?\nEv(x, y)?\n",
    "ternary join": "P(x, y, z) <- E(x, y), E(y, z)\nQ(x, z) <- P(x, y, z), P(z, y, x)\nQ(x, z)?\nP(x, y, z)?\n",
    "cross product": "U(x, y) <- E(x, x), E(y, w)\nU(x, y)?\n",
    "stratified negation over recursion": "T(x, y) <- E(x, y)\nT(x, z) <- T(x, y), E(y, z)\n"
                                          "N(x, y) <- E(x, w), E(y, v), not T(x, y)\nN(x, y)?\n",
    "proposition": "Loop <- E(x, x)\nHasLoop(x) <- E(x, y), Loop\nLoop?\nHasLoop(x)?\n",
}


def _facts(n: int, m: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    rows = {(int(a), int(b)) for a, b in rng.integers(0, n, size=(m, 2))}
    return "".join(f"E({a}, {b})\n" for a, b in sorted(rows)) + f"E({n - 1}, {n - 1})\n"


def _answers(text: str, mode: str) -> list:
    return [a.to_json() for a in run(text, relational=mode).answers]


@pytest.mark.parametrize("name", list(PROGRAMS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relational_path_matches_dense(name, seed):
    text = _facts(7, 10 + 3 * seed, seed) + PROGRAMS[name]
    assert _answers(text, "always") == _answers(text, "never")


def test_symbols_and_text_constants():
    text = ('Parent(Dave, Alice)\nParent(Alice, Bob)\nParent(Bob, "charlie")\n'
            'Anc(x, y) <- Parent(x, y)\nAnc(x, z) <- Anc(x, y), Parent(y, z)\n'
            'NotBob(x) <- Anc(Dave, x), x != 1\nAnc(Dave, x)?\nAnc(x, "charlie")?\nNotBob(x)?\n')
    assert _answers(text, "always") == _answers(text, "never")


def test_relational_matches_clingo():
    clingo = pytest.importorskip("clingo")
    rng = np.random.default_rng(5)
    edges = {(int(a), int(b)) for a, b in rng.integers(0, 30, size=(45, 2))}
    facts = "".join(f"E({a}, {b})\n" for a, b in sorted(edges))
    res = run(facts + PROGRAMS["same generation"], relational="always")
    ours = {tuple(t) for t in res.answers[0].tuples}
    ctl = clingo.Control(["--warn=none"])
    ctl.add("base", [], "".join(f"e({a},{b})." for a, b in edges) +
            "s(X,Y) :- e(X,P), e(Y,P), X != Y. s(X,Y) :- e(X,A), s(A,B), e(Y,B).")
    ctl.ground([("base", [])])
    theirs = {(a.symbol.arguments[0].number, a.symbol.arguments[1].number)
              for a in ctl.symbolic_atoms.by_signature("s", 2)}
    assert ours == theirs


# ------------------------------------------------------------------- engine

def test_auto_keeps_small_programs_dense():
    res = run("E(0, 1)\nE(1, 2)\nT(x, y) <- E(x, y)\nT(x, z) <- T(x, y), E(y, z)\nT(x, y)?\n")
    assert isinstance(res["T"], np.ndarray)


def test_sparse_input_runs_relational_and_answers_queries():
    n = 600
    e = Relation.from_columns((n, n), (np.arange(n - 1), np.arange(1, n)))
    prog = build(parse("T(x, y) <- E(x, y)\nT(x, z) <- T(x, y), E(y, z)\nT(0, x)?\nT(5, 3)?\nT(5, 9)?\n"),
                 ".", {"E": e})
    res = evaluate(prog, Options())
    assert isinstance(res["T"], Relation) and len(res["T"]) == n * (n - 1) // 2
    assert len(res.answers[0].tuples) == n - 1 and res.answers[0].tuples[:2] == [(1,), (2,)]
    assert [a.value for a in res.answers[1:]] == [False, True]


def test_100k_node_relation_never_densified(tmp_path):
    n = 100_000
    rng = np.random.default_rng(0)
    parent = (rng.random(n - 1) * np.arange(1, n)).astype(np.int64)  # a random tree, child -> parent
    (tmp_path / "e.facts").write_text("".join(f"{c}\t{p}\n" for c, p in zip(range(1, n), parent.tolist())))
    prog = tmp_path / "tree.tl"
    prog.write_text('E(x, y) = "e.facts"\nG(x, z) <- E(x, y), E(y, z), x != z\n'
                    'Root(x) <- E(y, x), not E(x, w)\nG(7, x)?\nRoot(x)?\n')
    tracemalloc.start()
    try:
        res = run(prog)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(res["G"], Relation) and isinstance(res["E"], Relation)
    assert len(res["G"]) == int(np.count_nonzero(parent != 0))  # grandparents: children of non-roots
    assert res.answers[1].tuples == [(0,)]
    assert peak < 300 * 2**20, f"peak {peak:,} bytes"          # n*n*8 would be 80 GB


def test_dense_equation_reading_a_huge_relation_is_a_located_error(tmp_path):
    n = 100_000
    (tmp_path / "e.facts").write_text(f"0\t1\n{n - 1}\t{n - 2}\n")
    prog = tmp_path / "count.tl"
    prog.write_text('E(x, y) = "e.facts"\nDeg[x] = E(x, y) W[y]\nW[y] = 1\nDeg?\n')
    with pytest.raises(TlangResourceError) as err:
        run(prog, relational="auto")
    text = err.value.render()
    assert "count.tl:2:10" in text and "relation 'E'" in text and "^" in text
