"""The command line: exit codes, output formats, diagnostics on stderr, the piped REPL."""

import json
import subprocess
import sys

import pytest

FAMILY = """Parent(Alice, Bob)
Parent(Bob, Charlie)
Ancestor(x, y) <- Parent(x, y)
Ancestor(x, z) <- Ancestor(x, y), Parent(y, z)
Ancestor(Alice, x)?
Ancestor(Charlie, Alice)?
W = [0.2, 1.9]
W?
W[1]?
"""


def tlang(*args, stdin=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "tlang", *args], input=stdin, capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.fixture
def family(tmp_path):
    p = tmp_path / "family.tl"
    p.write_text(FAMILY)
    return p


def test_version_and_help():
    out = tlang("--version")
    assert out.returncode == 0 and out.stdout.startswith("tlang ")
    out = tlang("--help")
    assert out.returncode == 0 and "check" in out.stdout and "run" in out.stdout


def test_bad_usage_exits_2():
    out = tlang("frobnicate")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_run_prints_answers(family):
    out = tlang("run", str(family))
    assert out.returncode == 0, out.stderr
    assert "Ancestor(Alice, x)? 2 answers" in out.stdout
    assert "Charlie" in out.stdout
    assert "Ancestor(Charlie, Alice)? false" in out.stdout
    assert "W[1]? 1.9" in out.stdout


def test_run_json_one_object_per_query(family):
    out = tlang("run", str(family), "--json")
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert [x["kind"] for x in lines] == ["relation", "bool", "tensor", "scalar"]
    assert lines[0]["tuples"] == [["Bob"], ["Charlie"]]
    assert lines[2] == {"query": "W", "kind": "tensor", "shape": [2], "value": [0.2, 1.9]}


def test_bad_program_exits_1_with_located_error(tmp_path):
    p = tmp_path / "bad.tl"
    p.write_text("X = [1, 2]\nY[i] = sgi(X[i])\n")
    for cmd in ("check", "run"):
        out = tlang(cmd, str(p))
        assert out.returncode == 1
        assert f"{p}:2:8: error: unknown function 'sgi'" in out.stderr
        assert "Traceback" not in out.stderr


def test_syntax_error_has_caret(tmp_path):
    p = tmp_path / "bad.tl"
    p.write_text("Y = relu(X[i]\n")
    out = tlang("check", str(p))
    assert out.returncode == 1
    assert "^" in out.stderr and "bad.tl:1:" in out.stderr


def test_check_ok(family):
    out = tlang("check", str(family))
    assert out.returncode == 0 and "ok" in out.stdout


def test_missing_file(tmp_path):
    out = tlang("run", str(tmp_path / "nope.tl"))
    assert out.returncode == 1 and "no such file" in out.stderr


def test_fmt_and_check_mode(tmp_path):
    p = tmp_path / "f.tl"
    p.write_text("Y=step( W[i]*X[i] )\n")
    out = tlang("fmt", str(p))
    assert out.stdout == "Y = step(W[i] X[i])\n"
    assert tlang("fmt", str(p), "--check").returncode == 1
    assert tlang("fmt", str(p), "-w").returncode == 0
    assert p.read_text() == "Y = step(W[i] X[i])\n"
    assert tlang("fmt", str(p), "--check").returncode == 0


def test_store_writes_file(tmp_path):
    p = tmp_path / "s.tl"
    p.write_text('W = [1, 2, 3]\nY[i] = 2 W[i]\n"y.csv" = Y\nR(A, B)\n"r.tsv" = R\n')
    assert tlang("run", str(p)).returncode == 0
    assert (tmp_path / "y.csv").read_text().split() == ["2.0", "4.0", "6.0"]
    assert (tmp_path / "r.tsv").read_text().strip() == "A\tB"


def test_piped_repl_keeps_state_after_errors():
    script = "Parent(A, B)\nFoo[i?\n\nAnc(x, y) <- Parent(x, y)\nAnc(A, x)?\n:list\n:quit\n"
    out = tlang(stdin=script)
    assert out.returncode == 0
    assert "Anc(A, x)? 1 answer" in out.stdout
    assert "error" in out.stderr
    assert "Parent: relation" in out.stdout
