"""The REPL, driven as a person would: through a pseudo-terminal (pexpect) and through piped input.

Covers statements one by one, answers as tables, multi-line input, errors that never end the
session, every command, embedding-space answers (T = 0 equals deduction; T > 0 shows analogies),
proofs from :explain, history per user ($TLANG_HISTORY), completion, and Ctrl-C.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tlang.repl import Session, _complete, run_lines

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FAMILY = EXAMPLES / "family.tl"


def piped(script: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlang"], input=script, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def feed_all(session: Session, text: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    run_lines(session, io.StringIO(text), out, err)
    return out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ in-process

def test_unfinished_statements_keep_reading():
    assert not _complete("W = [1,\n")
    assert not _complete("Anc(x, z) <- Anc(x, y),\n")
    assert not _complete("Y = W[i] X[i] +   # a comment (not an end)\n")
    assert _complete("Y = W[i] X[i]   # done, even with a '(' in the comment\n")
    assert _complete('S = "a ( b"\n') and _complete(":load x.tl\n")


def test_session_statements_answers_and_multiline():
    s = Session(base_dir=EXAMPLES)
    out, err = feed_all(s, "Parent(Alice, Bob)\nParent(Bob, Carl)\nAnc(x, y) <- Parent(x, y)\n"
                           "Anc(x, z) <- Anc(x, y),\n   Parent(y, z)\nAnc(Alice, x)?\n"
                           "W = [1,\n 2]\nW?\nW[1]?\n")
    assert err == ""
    assert "Anc(Alice, x)? 2 answers" in out and "Carl" in out
    assert "W[1]? 2" in out
    assert len(s.statements) == 5


def test_errors_never_end_the_session_and_state_survives():
    s = Session()
    out, err = feed_all(s, "R(A, B)\nQ(x) <- R(x, y), Nope[x\n\n:frobnicate\n:T hot\n:dim -3\n"
                           "Y[i] = sgi(X[i])\n:show Nothing\nR(A, x)?\n")
    assert err.count("error") >= 6
    assert "unknown function 'sgi'" in err and "unknown command ':frobnicate'" in err
    assert "R(A, x)? 1 answer" in out
    assert len(s.statements) == 1


def test_commands(tmp_path):
    s = Session(base_dir=tmp_path)
    out, err = feed_all(s, f":load {FAMILY}\n:list\n:show Parent\n:plan\n:plan Aunt\n:backend\n:T\n:dim\n"
                           f":save saved.tl\n:help\n")
    assert err == "", err
    assert "loaded 9 statements" in out and "5 queries were not run" in out
    assert "Parent: relation (Person, Person) 5x5" in out
    assert "Parent? 3 answers" in out
    assert "evaluation order" in out and "fixpoint, semi-naive" in out and "contraction 1" in out
    assert "backend: numpy" in out and "T = 0" in out
    assert ":explain QUERY" in out and ":embed-report" in out
    saved = (tmp_path / "saved.tl").read_text()
    assert "Ancestor(x, z) <- Ancestor(x, y), Parent(y, z)" in saved
    out, err = feed_all(s, ":reset\n:list\n")
    assert "(empty)" in out and "(no tensors)" in out


def test_load_keeps_the_files_data_paths_working(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "edges.tsv").write_text("A\tB\nB\tC\n")
    (sub / "kb.tl").write_text('Edge(x, y) = "edges.tsv"\nPath(x, y) <- Edge(x, y)\n'
                               'Path(x, z) <- Path(x, y), Edge(y, z)\nPath(A, x)?\n')
    s = Session(base_dir=tmp_path)
    out, err = feed_all(s, ":load sub/kb.tl\nPath(A, x)?\n:save all.tl\n")
    assert err == "", err
    assert "its 1 query was not run" in out and "Path(A, x)? 2 answers" in out
    assert 'Edge(x, y) = "sub/edges.tsv"' in (tmp_path / "all.tl").read_text()


def test_explain_gives_the_equations_and_the_proof():
    s = Session(base_dir=EXAMPLES)
    out, err = feed_all(s, ":load family.tl\n:explain Ancestor(Dave, Charlie)\n:explain Ancestor(Charlie, Dave)\n"
                           ":explain Aunt(x, z)\n")
    assert err == "", err
    assert "Ancestor(Dave, Charlie)? true" in out
    assert "equations (in evaluation order):" in out and "3 facts of Parent" in out
    assert "by Ancestor(x, z) <- Ancestor(x, y), Parent(y, z)  with y = Bob" in out
    assert "Parent(Dave, Alice)    fact (" in out and "family.tl:21:1)" in out
    assert "no proof: it is false" in out
    assert "Aunt(Eve, Charlie)    by Aunt(x, z) <- Sister(x, y), Parent(y, z)  with y = Bob" in out


def test_embedding_space_at_t0_matches_deduction_and_t_raises_analogy():
    s = Session(base_dir=EXAMPLES)
    out, err = feed_all(s, ":load family.tl\n:dim 512\n:embed\nAncestor(x, y)?\nAunt(Eve, Charlie)?\n"
                           ":explain Ancestor(Alice, Charlie)\n")
    assert err == "", err
    assert "embedded 4 relations (Parent, Sister, Ancestor, Aunt) in dimension 512" in out
    assert "Ancestor(x, y)? 6 answers" in out and "same as exact deduction" in out
    assert "Aunt(Eve, Charlie)? true   (embedding space: dim 512, T = 0; same as exact deduction)" in out
    assert "embedded equations" in out and "SoftAncestor[o1, o2] = sig(" in out
    out, err = feed_all(s, ":dim 4\nAncestor(x, y)?\n:embed off\nAncestor(x, y)?\n")
    assert "differs from exact deduction" in out
    a = Session(base_dir=EXAMPLES)
    out, err = feed_all(a, ":load analogy.tl\n:embed\nFlies(x)?\n:T 0.1\nFlies(x)?\nFlies(Tweety)?\n")
    assert err == "", err
    assert "Flies(x)? 2 answers" in out
    assert "Tweety  0.245  no (analogy)" in out
    assert "Flies(Tweety)? 0.245" in out and "exact deduction: false" in out


def test_embed_report_command(tmp_path):
    s = Session(base_dir=tmp_path)
    out, err = feed_all(s, f":load {FAMILY}\n:embed-report 8,256 --seeds 1 --plot rep.png\n")
    assert err == "", err
    assert "error rate" in out and "plot saved to" in out
    assert (tmp_path / "rep.png").read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------- piped input

def test_piped_mode_prints_answers_and_scripts_work(tmp_path):
    script = (f":load {FAMILY}\nAncestor(Alice, x)?\n:embed on\n:dim 256\nAunt(x, z)?\n:T 0.3\n:T\n"
              "Sister(Eve, Bob)?\n:quit\nNever(x)?\n")
    out = piped(script, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Ancestor(Alice, x)? 2 answers" in out.stdout
    assert "Aunt(x, z)? 1 answer" in out.stdout
    assert "T = 0.3" in out.stdout and "Sister(Eve, Bob)? 0." in out.stdout
    assert "Never" not in out.stdout + out.stderr


# -------------------------------------------------------------------- a terminal

pexpect = pytest.importorskip("pexpect")


def spawn(tmp_path: Path, hist: Path):
    env = dict(os.environ, TLANG_HISTORY=str(hist), TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1",
               HOME=str(tmp_path))
    child = pexpect.spawn(sys.executable, ["-m", "tlang"], env=env, encoding="utf-8", timeout=60,
                          dimensions=(40, 160), cwd=str(tmp_path))
    child.expect("tensor logic")
    child.expect("tl>")
    return child


@pytest.mark.filterwarnings("ignore:os.fork")
def test_terminal_session(tmp_path):
    hist = tmp_path / "hist"
    c = spawn(tmp_path, hist)
    try:
        c.sendline("Parent(Alice, Bob)")
        c.expect("tl>")
        c.sendline("Parent(Bob, Charlie)")
        c.expect("tl>")
        c.sendline("Ancestor(x, y) <- Parent(x, y)")
        c.expect("tl>")
        c.sendline("Ancestor(x, z) <- Ancestor(x, y),")   # unfinished: keeps reading
        c.expect(r"\.\.\.")
        c.sendline("  Parent(y, z)")
        c.expect("tl>")
        c.send("Ances\t")                                  # completion of a tensor name
        c.expect("Ancestor")
        c.sendline("(Alice, x)?")
        c.expect("2 answers")
        c.expect("Charlie")
        c.expect("tl>")
        c.sendline("Y[i] = sgi(X[i])")                     # an error does not end the session
        c.expect("unknown function 'sgi'")
        c.expect("tl>")
        c.sendline(":explain Ancestor(Alice, Charlie)")
        c.expect("proof")
        c.expect("Parent\\(Bob, Charlie\\) +fact")
        c.expect("tl>")
        c.sendline(":quit")
        c.expect(pexpect.EOF)
    finally:
        c.close(force=True)
    text = hist.read_text()
    assert "+Parent(Alice, Bob)" in text
    assert "+Ancestor(x, z) <- Ancestor(x, y),\n+  Parent(y, z)" in text  # one entry, two lines
    c = spawn(tmp_path, hist)                             # the history is kept across sessions
    try:
        c.send("\x1b[A")                                   # Up: the last entry
        c.expect(":quit")
        c.send("\x15")                                     # Ctrl-U clears the line
        c.send(":he\t")                                    # completion of a command
        c.expect(":help")
        c.sendline("")
        c.expect(":embed-report")
        c.expect("tl>")
        c.sendeof()
        c.expect(pexpect.EOF)
    finally:
        c.close(force=True)


@pytest.mark.filterwarnings("ignore:os.fork")
def test_ctrl_c_cancels_a_long_evaluation(tmp_path):
    c = spawn(tmp_path, tmp_path / "hist")
    try:
        c.sendline("index t : 5000000")
        c.expect("tl>")
        c.sendline("U[t] = 1")
        c.expect("tl>")
        c.sendline("X[*t+1] = X[*t] + U[t]")
        c.expect("tl>")
        c.sendline("R(A, B)")
        c.expect("tl>")
        c.sendline("X?")                                   # minutes of work
        time.sleep(2)
        c.sendintr()
        c.expect("interrupted", timeout=30)
        c.expect("tl>")
        c.sendline("R(A, x)?")                            # the session goes on
        c.expect("1 answer")
        c.expect("tl>")
        c.sendline(":quit")
        c.expect(pexpect.EOF)
    finally:
        c.close(force=True)
