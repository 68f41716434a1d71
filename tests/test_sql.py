"""SQL lowering and the DuckDB engine: the same answers as the in-memory engine."""

import json
import textwrap

import numpy as np
import pytest

from tlang.api import expand, load_program, run
from tlang.build import build
from tlang.cli import main
from tlang.source import TlangCheckError

duckdb = pytest.importorskip("duckdb")
from tlang.sql import run_duckdb, to_sql  # noqa: E402


def _ir(text: str, syntax: str = "tl"):
    prog, base = load_program(text, syntax=syntax)
    return build(expand(prog, base), base)


def _same(text: str, syntax: str = "tl") -> list:
    mem = [a.to_json() for a in run(text, syntax=syntax).answers]
    sql = [a.to_json() for a in run_duckdb(_ir(text, syntax)).answers]
    assert sql == mem
    return mem


PROGRAMS = {
    "closure": "E(0, 1)\nE(1, 2)\nE(2, 0)\nE(3, 3)\nT(x, y) <- E(x, y)\nT(x, z) <- T(x, y), E(y, z)\nT(x, y)?\n",
    "symbols and negation": "Parent(Dave, Alice)\nParent(Alice, Bob)\nParent(Bob, Carl)\n"
                            "Anc(x, y) <- Parent(x, y)\nAnc(x, z) <- Anc(x, y), Parent(y, z)\n"
                            "Far(x, z) <- Anc(x, z), not Parent(x, z), x != z\nFar(x, y)?\nAnc(Dave, x)?\n",
    "constants, repeats, comparisons": "E(0, 1)\nE(1, 1)\nE(2, 0)\nL(x) <- E(x, x)\nK(y) <- E(2, y)\n"
                                       "H(x, 3) <- E(x, y), x < 2\nL(x)?\nK(y)?\nH(x, y)?\nH(1, 3)?\n",
    "wildcard negation": "E(0, 1)\nE(1, 2)\nSrc(x) <- E(x, y), not Has(x)\nHas(x) <- E(y, x)\nSrc(x)?\n",
    "mutual recursion": "E(0, 1)\nE(1, 2)\nE(2, 3)\nEv(x, y) <- E(x, y)\nOd(x, z) <- Ev(x, y), E(y, z)\n"
                        "Ev(x, z) <- Od(x, y), E(y, z)\nOd(x, y)?\nEv(x, y)?\n",
    "einsum": "A = [[1, 2], [3, 4]]\nB = [[0, 1], [1, 0]]\nC[i, k] = A[i, j] B[j, k]\nC?\n",
    "count by join": "E(0, 1)\nE(0, 2)\nE(1, 2)\nDeg[x] = E(x, y)\nTwo[x] = 2 E(x, y) + E(y, x)\nDeg?\nTwo?\n",
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_duckdb_matches_memory(name):
    _same(PROGRAMS[name])


def test_datalog_example_on_duckdb(tmp_path):
    import shutil
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "examples" / "data", tmp_path / "data")
    shutil.copy(root / "examples" / "ancestor.dl", tmp_path / "ancestor.dl")
    prog, base = load_program(tmp_path / "ancestor.dl")
    ir_prog = build(expand(prog, base), base)
    expected = [json.loads(x) for x in (root / "examples" / "expected" / "ancestor.jsonl").read_text().splitlines()]
    assert [a.to_json() for a in run_duckdb(ir_prog).answers] == expected


def test_random_graphs_match(tmp_path):
    rng = np.random.default_rng(3)
    for _ in range(3):
        edges = {(int(a), int(b)) for a, b in rng.integers(0, 25, size=(40, 2))}
        text = "".join(f"E({a}, {b})\n" for a, b in sorted(edges))
        text += "S(x, y) <- E(x, p), E(y, p), x != y\nS(x, y) <- E(x, a), S(a, b), E(y, b)\nS(x, y)?\n"
        _same(text)


def test_script_shape():
    sql = to_sql(_ir(PROGRAMS["closure"]), "closure.tl")
    assert 'CREATE OR REPLACE TABLE "T" AS\nSELECT DISTINCT t0.c0 AS c0, t0.c1 AS c1\nFROM "E" AS t0;' in sql
    assert "-- BEGIN LOOP: repeat until T__delta is empty" in sql
    assert 'FROM "T__delta" AS t0, "E" AS t1\nWHERE t0.c1 = t1.c0' in sql
    assert 'EXCEPT SELECT * FROM "T";' in sql
    einsum = to_sql(_ir(PROGRAMS["einsum"]))
    assert "SUM(t0.v * t1.v) AS v" in einsum and "GROUP BY t0.c0, t1.c1" in einsum


def test_script_runs_as_is_in_duckdb():
    """The printed script (with its loop block repeated) computes the same relation."""
    sql = to_sql(_ir(PROGRAMS["closure"]))
    before, rest = sql.split("-- BEGIN LOOP", 1)
    body, after = rest.split("-- END LOOP", 1)
    body = body.split("\n", 1)[1]
    con = duckdb.connect()
    con.execute(before)
    for _ in range(5):
        con.execute(body)
    con.execute(after)
    rows = sorted(con.execute('SELECT * FROM "T"').fetchall())
    assert rows == sorted((a, b) for a in (0, 1, 2) for b in (0, 1, 2)) + [(3, 3)]


def test_unlowerable_equation_is_located():
    with pytest.raises(TlangCheckError) as err:
        to_sql(_ir("X = [1, -2]\nY[i] = relu(X[i])\nY?\n"))
    assert "<input>:2:" in err.value.render() and "cannot be lowered to SQL" in err.value.message


def test_cli_engine_database_and_sql(tmp_path, capsys):
    prog = tmp_path / "tc.dl"
    prog.write_text(textwrap.dedent("""
        .decl edge(x: symbol, y: symbol)
        .decl path(x: symbol, y: symbol)
        edge("a", "b"). edge("b", "c").
        path(x, y) :- edge(x, y).
        path(x, z) :- path(x, y), edge(y, z).
        .output path(IO=stdout)
        """))
    db = tmp_path / "out.duckdb"
    assert main(["run", str(prog), "--engine", "duckdb", "--database", str(db), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["tuples"] == [["a", "b"], ["a", "c"], ["b", "c"]]
    con = duckdb.connect(str(db))
    assert sorted(con.execute('SELECT * FROM "path"').fetchall()) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert not [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
                if t.startswith("_tl_")]
    con.close()
    assert main(["sql", str(prog)]) == 0
    out = capsys.readouterr().out
    assert "INSERT INTO" in out and "('a', 'b')" in out and 'CREATE OR REPLACE TABLE "path"' in out
