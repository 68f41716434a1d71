"""Reliability and safety (issue 11, docs/reliability.md): resource limits, deep nesting,
confined file paths, bad data files, numeric edge cases, nothing lost on failure, the REPL's
state after errors, and that program text never reaches eval/exec/pickle.

Every row of the table "bad input -> what it yields" in docs/reliability.md names a test here.
"""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import tlang
from tlang import io as tio
from tlang.build import build
from tlang.engine import ConvergenceWarning
from tlang.limits import default_memory_limit, parse_bytes
from tlang.parse import parse
from tlang.repl import Session
from tlang.source import TlangError, TlangFileError, TlangResourceError

ROOT = Path(__file__).resolve().parent.parent

BOMB = ("index i : 1000000\nindex j : 1000000\nindex k : 1000000\nindex l : 1000000\n"
        "A[i] = 1\nY[i, j, k, l] = A[i] A[j] A[k] A[l]\nY?\n")


def cli(*args: str, cwd: Path, env: dict | None = None, merge: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlang", *args], capture_output=not merge,
                          stdout=subprocess.PIPE if merge else None,
                          stderr=subprocess.STDOUT if merge else None,
                          text=True, cwd=cwd, timeout=120, env={**os.environ, **(env or {})})


def write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_text(text, encoding="utf-8")
    return p


# ------------------------------------------------------------- memory budget

def test_memory_bomb_refused_at_once_with_the_default_limit(tmp_path, monkeypatch):
    monkeypatch.delenv("TLANG_MEMORY_LIMIT", raising=False)
    tlang.run("index i : 2\nA[i] = 1\n")  # imports done: time the refusal, not the start-up
    prog = write(tmp_path, "prog.tl", BOMB)
    t0 = time.perf_counter()
    with pytest.raises(TlangResourceError) as info:
        tlang.run(prog)
    assert time.perf_counter() - t0 < 0.5
    text = info.value.render()
    assert "prog.tl:6:1" in text                          # the equation
    assert "(1000000, 1000000, 1000000, 1000000)" in text   # the shape
    assert f"{default_memory_limit():,}"[:4] in text and "memory limit" in text  # the limit


def test_ten_to_the_eighteen_elements_refused_at_once():
    t0 = time.perf_counter()
    with pytest.raises(TlangResourceError, match=r"1000000000000000000.*over the memory limit"):
        tlang.run("index i : 1000000000000000000\nY[i] = 1\n")
    assert time.perf_counter() - t0 < 0.5


def test_memory_bomb_refused_through_the_cli(tmp_path):
    write(tmp_path, "prog.tl", BOMB)
    r = cli("run", "prog.tl", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert "prog.tl:6:1: error:" in r.stderr and "memory limit" in r.stderr


def test_memory_limit_option_and_api_change_the_budget(tmp_path):
    src = "index i : 1000\nA[i] = 1\nA?\n"
    with pytest.raises(TlangResourceError, match=r"8,000 bytes.*limit of 1,024 bytes"):
        tlang.run(src, memory_limit=1024)
    assert tlang.run(src, memory_limit=10**6)["A"].shape == (1000,)
    write(tmp_path, "prog.tl", src)
    r = cli("run", "prog.tl", "--memory-limit", "1K", cwd=tmp_path)
    assert r.returncode == 1 and "prog.tl:2:1" in r.stderr and "1,024 bytes" in r.stderr
    assert cli("run", "prog.tl", "--memory-limit", "1M", cwd=tmp_path).returncode == 0
    r = cli("run", "prog.tl", cwd=tmp_path, env={"TLANG_MEMORY_LIMIT": "2K"})
    assert r.returncode == 1 and "2,048 bytes" in r.stderr


def test_parse_bytes():
    assert parse_bytes("512M") == 512 * 2**20 and parse_bytes("2G") == 2 * 2**30
    assert parse_bytes("1e9") == 10**9 and parse_bytes("1KiB") == parse_bytes("1kb") == 1024
    assert parse_bytes(" 3t ") == 3 * 2**40 and parse_bytes(5) == 5 and parse_bytes(None) is None
    with pytest.raises(TlangResourceError, match="cannot read the memory limit 'lots'"):
        parse_bytes("lots")


def test_default_limit_is_half_the_available_memory(monkeypatch):
    from tlang import limits
    monkeypatch.delenv("TLANG_MEMORY_LIMIT", raising=False)
    monkeypatch.setattr(limits, "available_memory", lambda: 8 * 2**30)
    assert default_memory_limit() == 4 * 2**30
    monkeypatch.setenv("TLANG_MEMORY_LIMIT", "3G")
    assert default_memory_limit() == 3 * 2**30


# ------------------------------------------------------- iterations and time

def test_fixpoint_cap_warns_naming_the_equations():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tlang.run("index i : 2\nX[i] = X[i] + 1\nX?\n", max_iter=5)
    msgs = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert msgs and "did not converge in 5 iterations" in msgs[0] and "<input>:2:1" in msgs[0]


def test_timeout_prints_partial_answers_before_the_error(tmp_path):
    write(tmp_path, "prog.tl", "A = [1, 2]\nA?\nindex i : 2\nX[i] = X[i] + 1\nX?\n")
    t0 = time.perf_counter()
    r = cli("run", "prog.tl", "--timeout", "0.5", "--max-iter", "1000000000", cwd=tmp_path, merge=True)
    assert time.perf_counter() - t0 < 60
    assert r.returncode == 1
    out = r.stdout
    assert "A? shape 2" in out and "X?" not in out
    assert out.index("A? shape 2") < out.index("prog.tl:4:1: error: the run exceeded its time limit of 0.5 s")


# ------------------------------------------------------------- deep programs

DEEP_SUM = "S = " + " + ".join(str(k % 7) for k in range(5000)) + "\nS?\n"
DEEP_PARENS = "S = " + "(" * 20000 + "1" + ")" * 20000 + "\nS?\n"


@pytest.mark.parametrize(("src", "value"), [(DEEP_SUM, sum(k % 7 for k in range(5000))), (DEEP_PARENS, 1)],
                         ids=["sum-5000", "parens-20000"])
def test_deeply_nested_programs_run(tmp_path, src, value):
    assert tlang.run(src)["S"] == value
    write(tmp_path, "prog.tl", src)
    r = cli("run", "prog.tl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"S? {value}"


# ----------------------------------------------------------- file confinement

@pytest.fixture
def jail(tmp_path):
    """A program folder ``prog/`` beside ``outside.csv``, with a symlink out of it."""
    prog = tmp_path / "prog"
    prog.mkdir()
    (tmp_path / "outside.csv").write_text("1,2\n3,4\n")
    (tmp_path / "out").mkdir()
    try:
        (prog / "link.csv").symlink_to(tmp_path / "outside.csv")
    except OSError:  # pragma: no cover (no symlinks on this platform)
        pass
    return prog


@pytest.mark.parametrize("path", ["../outside.csv", "ABS", "link.csv"], ids=["dotdot", "absolute", "symlink"])
def test_escaping_reads_are_refused_unless_allowed(jail, path):
    if path == "link.csv" and not (jail / "link.csv").is_symlink():
        pytest.skip("no symlinks")
    path = str(jail.parent / "outside.csv") if path == "ABS" else path
    write(jail, "prog.tl", f'Y = [0]\nX = "{path}"\nX?\n')
    with pytest.raises(TlangFileError, match="outside the program's folder") as info:
        tlang.run(jail / "prog.tl")
    assert "prog.tl:2:1" in info.value.render()
    for cmd in ("run", "check"):
        r = cli(cmd, "prog.tl", cwd=jail)
        assert r.returncode == 1 and "prog.tl:2:1: error:" in r.stderr and "--allow-path" in r.stderr
        assert cli(cmd, "prog.tl", "--allow-path", str(jail.parent), cwd=jail).returncode == 0
    assert tlang.run(jail / "prog.tl", allowed_paths=[jail.parent])["X"].tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("path", ["../out/o.csv", "ABS"], ids=["dotdot", "absolute"])
def test_escaping_writes_are_refused_before_running_unless_allowed(jail, path):
    path = str(jail.parent / "out" / "o.csv") if path == "ABS" else path
    write(jail, "prog.tl", f'Y = [1, 2]\n"{path}" = Y\nY?\n')
    r = cli("run", "prog.tl", cwd=jail)
    assert r.returncode == 1 and r.stdout == ""       # refused before the run
    assert "prog.tl:2:1: error:" in r.stderr and "outside the program's folder" in r.stderr
    assert not (jail.parent / "out" / "o.csv").exists()
    r = cli("run", "prog.tl", "--allow-path", str(jail.parent / "out"), cwd=jail)
    assert r.returncode == 0, r.stderr
    assert (jail.parent / "out" / "o.csv").read_text() == "1.0\n2.0\n"


def test_symlink_write_out_of_the_folder_is_refused(jail):
    (jail / "w.csv").symlink_to(jail.parent / "out" / "w.csv")
    write(jail, "prog.tl", 'Y = [1, 2]\n"w.csv" = Y\n')
    r = cli("run", "prog.tl", cwd=jail)
    assert r.returncode == 1 and "it leads to" in r.stderr
    assert not (jail.parent / "out" / "w.csv").exists()


# ------------------------------------------------------------- bad data files

@pytest.mark.parametrize(("data", "message"), [
    (None, "missing.csv: no such file"),
    ("1,2\n3\n", "bad.csv:2: row has 1 value, expected 2"),
    ("1,2\n3,x\n", "bad.csv:2: cell 'x' in column 2 is not a number"),
    ("1,2\n3,\n", "bad.csv:2: empty cell in column 2 is not a number"),
], ids=["missing", "ragged", "non-numeric", "empty-cell"])
def test_bad_data_files_are_errors_at_the_line_that_reads_them(tmp_path, data, message):
    name = "missing.csv" if data is None else "bad.csv"
    if data is not None:
        (tmp_path / name).write_text(data)
    write(tmp_path, "prog.tl", f'Y = [1]\n  X = "{name}"\nX?\n')
    with pytest.raises(TlangFileError) as info:
        tlang.run(tmp_path / "prog.tl")
    assert "prog.tl:2:3" in info.value.render() and message in info.value.render()
    r = cli("run", "prog.tl", cwd=tmp_path)
    assert r.returncode == 1 and "prog.tl:2:3: error:" in r.stderr and message in r.stderr


def test_nan_and_inf_cells_read_as_ieee_values(tmp_path):
    (tmp_path / "d.csv").write_text("1,nan\nINF,-inf\n+Infinity,NaN\n")
    write(tmp_path, "prog.tl", 'X = "d.csv"\nS = X[i, j]\n')
    res = tlang.run(tmp_path / "prog.tl")
    x = res["X"]
    assert x[0, 0] == 1 and math.isnan(x[0, 1]) and x[1, 0] == math.inf and x[1, 1] == -math.inf
    assert x[2, 0] == math.inf and math.isnan(x[2, 1]) and math.isnan(res["S"])


def test_pickled_npy_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    write(tmp_path, "prog.tl", 'X = "obj.npy"\n')
    with pytest.raises(TlangFileError, match="Python objects") as info:
        tlang.run(tmp_path / "prog.tl")
    assert "prog.tl:1:1" in info.value.render()


# ------------------------------------------------------------ numeric edges

def test_numeric_edge_cases_are_ieee():
    r = tlang.run("A = exp(1000)\nB = log(0)\nC = 0/0\nD = sqrt(-1)\nE = 1/0\n")
    assert r["A"] == math.inf and r["B"] == -math.inf and r["E"] == math.inf
    assert math.isnan(r["C"]) and math.isnan(r["D"])


def test_empty_relation_has_no_answers(tmp_path):
    (tmp_path / "edges.csv").write_text("")
    write(tmp_path, "prog.tl", 'index x, y : 3\nEdge(x, y) = "edges.csv"\nPath(x, y) <- Edge(x, y)\n'
          "Path(x, z) <- Path(x, y), Edge(y, z)\nPath(x, y)?\nPath(0, 1)?\n")
    res = tlang.run(tmp_path / "prog.tl")
    rel, ground = res.answers
    assert rel.kind == "relation" and rel.tuples == []
    assert ground.kind == "bool" and ground.value is False


def test_zero_size_domain_gives_empty_tensors():
    """Empty tensors; an aggregate over nothing is its semiring's zero (as in tlang.reference)."""
    r = tlang.run("index i : 0\nindex j : 3\nA[i, j] = 1\nS = A[i, j]\nM max= A[i, j]\n"
                  "N min= A[i, j]\nV avg= A[i, j]\nA?\nS?\n")
    assert r["A"].shape == (0, 3) and r["S"] == 0.0 and r["V"] == 0.0
    assert r["M"] == -math.inf and r["N"] == math.inf
    assert r.answers[0].shape == (0, 3) and r.answers[1].value == 0.0


# -------------------------------------------------------------- nothing lost

def test_failure_mid_run_keeps_the_earlier_output(tmp_path):
    write(tmp_path, "good.tl", 'Y = [1, 2]\n"out.csv" = Y\n')
    assert cli("run", "good.tl", cwd=tmp_path).returncode == 0
    before = (tmp_path / "out.csv").read_text()
    assert before == "1.0\n2.0\n"
    write(tmp_path, "bad.tl", 'Y = [3, 4]\n"out.csv" = Y\nindex i : 2\nX[i] = X[i] + 1\n')
    r = cli("run", "bad.tl", "--timeout", "0.3", "--max-iter", "1000000000", cwd=tmp_path)
    assert r.returncode == 1 and "time limit" in r.stderr
    assert (tmp_path / "out.csv").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tl", "good.tl", "out.csv"]


def test_atomic_write_failure_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    tio.write_dense(target, np.array([1.0, 2.0]))
    assert list(tmp_path.iterdir()) == [target]

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tio.os, "replace", fail)
    with pytest.raises(TlangFileError, match="earlier file is unchanged"):
        tio.write_dense(target, np.array([9.0, 9.0, 9.0]))
    assert target.read_text() == "1.0\n2.0\n"
    assert list(tmp_path.iterdir()) == [target]  # the temporary file was removed


def test_repl_keeps_its_state_after_errors():
    s = Session()
    assert s.feed("A = [1, 2]") == []
    for bad in ("B = A[i] +", 'C = "nope.csv"', 'D = "../x.csv"', "index i : 1000000000000\nE[i] = 1\nE?",
                "Q[i] = undefined_fn(A[i])"):
        with pytest.raises(TlangError):
            s.feed(bad)
    assert any("A?" in line for line in s.feed("A?"))
    assert s.feed("B[i] = 2 A[i]") == []
    assert "[2. 4.]" in "\n".join(s.feed("B?"))


# ------------------------------------------------------ no eval/exec/pickle

def _dangerous_calls() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted((ROOT / "tlang").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name) and f.id in ("eval", "exec", "__import__", "compile"):
                name = f.id
            elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                    and f.value.id in ("pickle", "marshal", "cPickle", "dill", "shelve"):
                name = f"{f.value.id}.{f.attr}"
            elif isinstance(f, ast.Attribute) and f.attr in ("eval", "exec") \
                    and isinstance(f.value, ast.Name) and f.value.id == "builtins":
                name = f"builtins.{f.attr}"
            else:
                continue
            found.append((str(path.relative_to(ROOT)), node.lineno, name))
    return found


def test_program_text_never_reaches_eval_exec_or_pickle():
    calls = _dangerous_calls()
    assert [c for c in calls if c[2] not in ("exec", "compile")] == []
    execs = [c for c in calls if c[2] == "exec"]
    assert [(p, n) for p, _, n in execs] == [("tlang/codegen.py", "exec")]
    # the one exec runs compile(gen.source, ...): generated code, not program text
    assert all(p == "tlang/codegen.py" for p, _, n in calls if n == "compile")
    for path in (ROOT / "tlang").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import pickle" not in text and "allow_pickle=True" not in text, path


def test_hostile_tensor_names_compile_to_safe_identifiers():
    from tlang import codegen
    from tlang import ir_literal as reference
    src = ("__import__ = [1, 2]\nos[i] = __import__[i] + 1\nexec = os[i] os[i]\nprint[i] = exec + os[i]\n"
           "xp[i] = print[i] - 1\nrt = xp[i]\nmath[i] = rt + 0 os[i]\ndata = math[i]\n")
    prog = build(parse(src))
    gen = codegen.generate(prog, "numpy")
    tree = ast.parse(gen.source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    assigned = {t.id for n in ast.walk(fn) if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Name)}
    params = {a.arg for a in fn.args.args}
    import builtins
    for name in assigned | params:
        assert name.isidentifier() and not hasattr(builtins, name), name
    ret = next(n for n in ast.walk(fn) if isinstance(n, ast.Return)).value.elts[0]
    names = {k.value: v.id for k, v in zip(ret.keys, ret.values)}  # tensor -> its Python variable
    assert names.keys() == set(prog.tensors)
    hostile = {"exec", "print", "__import__", "os", "xp", "rt", "math", "data"}
    assert not hostile & (assigned - set(names.values()))
    assert not (hostile - {"os"}) & set(names.values())  # "os" is never imported there: harmless
    got = codegen.compile_function(prog, backend="numpy")()
    want = reference.evaluate(prog)
    assert got.keys() == want.keys()
    for name in want:
        assert np.allclose(got[name], want[name]), name
    assert np.allclose(tlang.run(src, backend="numpy")["data"], want["data"])


@pytest.mark.parametrize("src", ["X() max= 1\nX(Alice)?\n", "X() = 1\nX[p, i]?\n"])
def test_query_with_more_indices_than_a_zero_ary_relation(src):
    with pytest.raises(TlangError):
        tlang.run(src)
