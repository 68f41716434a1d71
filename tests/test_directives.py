"""Directives: one table of the known ones, and located errors for everything else.

No directive is accepted and ignored: an unknown name or argument, a positional argument, a value
of the wrong type or out of range, a directive in the wrong place and ``@sample`` (not
implemented) are located errors of ``tlang check`` and ``tlang run`` (exit 1, no traceback), and
of ``tlang.api.run``.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tlang import api, learn, learn_runtime
from tlang import ast as A
from tlang import directives as D
from tlang.cli import main
from tlang.parse import parse
from tlang.pipeline import compile_program
from tlang.source import Source, TlangCheckError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

LINEAR = ("X = [[1.0, 2.0], [3.0, 1.0], [0.5, -1.0]]\n"
          "Y = [3.0, 5.0, -0.5]\n"
          "Pred[e] = W[j] X[e, j] + B\n"
          "Loss avg= (Y[e] - Pred[e])^2\n")
LINE = 5  # the directive's line in every program below


def check(tmp_path, capsys, directive_line: str, extra: str = "") -> tuple[int, str, str]:
    """``tlang check`` of LINEAR plus one directive line: (exit status, stdout, stderr)."""
    path = tmp_path / "prog.tl"
    path.write_text(LINEAR + directive_line + "\n" + extra)
    rc = main(["check", str(path)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def assert_located(err: str, line_text: str, fragment: str, after: str = "") -> None:
    """``err`` has ``prog.tl:LINE:COL:``, the source line, and carets under ``fragment`` (the first
    one after ``after``)."""
    col = line_text.index(fragment, line_text.index(after) + len(after) if after else 0)
    assert f"prog.tl:{LINE}:{col + 1}: error:" in err, err
    assert f"\n    {line_text}\n    {' ' * col}{'^' * len(fragment)}" in err, err
    assert "Traceback" not in err


# ------------------------------------------------------------ names

def test_unknown_directive_is_located_with_a_suggestion(tmp_path, capsys):
    line = "Loss? @minimise(lr=0.1)"
    rc, out, err = check(tmp_path, capsys, line)
    assert rc == 1 and out == ""
    assert "unknown directive '@minimise'" in err and "did you mean '@minimize'?" in err
    assert_located(err, line, "@minimise(lr=0.1)")


def test_unknown_directive_far_from_any_has_no_suggestion(tmp_path, capsys):
    rc, _, err = check(tmp_path, capsys, "Loss? @frobnicate")
    assert rc == 1 and "unknown directive '@frobnicate'" in err and "did you mean" not in err
    assert "directives: @minimize" in err


def test_unknown_argument_suggests_and_lists(tmp_path, capsys):
    line = "Loss? @minimize(lr=0.1, epoch=5)"
    rc, _, err = check(tmp_path, capsys, line)
    assert rc == 1
    assert "@minimize has no argument 'epoch'" in err and "did you mean 'epochs'?" in err
    assert "arguments: lr, epochs, optimizer" in err
    assert_located(err, line, "epoch=5")


def test_positional_argument_needs_a_name(tmp_path, capsys):
    line = "Loss? @minimize(0.1)"
    rc, _, err = check(tmp_path, capsys, line)
    assert rc == 1 and "takes named arguments" in err and "lr=0.01" in err
    assert_located(err, line, "0.1")


def test_an_argument_given_twice(tmp_path, capsys):
    line = "Loss? @minimize(lr=0.1, lr=0.2)"
    rc, _, err = check(tmp_path, capsys, line)
    assert rc == 1 and "'lr' is given twice" in err
    assert_located(err, line, "lr=0.2")


# ------------------------------------------------------------ types

@pytest.mark.parametrize("arg, value, message", [
    ("lr", "fast", "'lr' must be a number, not 'fast'"),
    ("lr", '"0.1"', "'lr' must be a number, not '0.1'"),
    ("epochs", "2.5", "'epochs' must be an integer, not 2.5"),
    ("optimizer", "3", "'optimizer' must be a name, not 3"),
    ("optimizer", "rmsprop", "unknown optimizer 'rmsprop'"),
    ("init", "gaussian", "unknown init 'gaussian'"),
    ("backend", "torch", "unknown backend 'torch'"),
])
def test_wrong_types_are_located_at_the_value(tmp_path, capsys, arg, value, message):
    line = f"Loss? @minimize({arg}={value})"
    rc, _, err = check(tmp_path, capsys, line)
    assert rc == 1 and message in err, err
    assert_located(err, line, value, after="=")


def test_a_close_choice_is_suggested(tmp_path, capsys):
    _, _, err = check(tmp_path, capsys, "Loss? @minimize(optimizer=adamw)")
    assert "did you mean 'adam'?" in err and "optimizer: sgd, adam" in err


# ------------------------------------------------------------ values

@pytest.mark.parametrize("arg, value, message", [
    ("seed", "-7", "'seed' must be an integer in [0, 4294967295], not -7"),
    ("seed", "4294967296", "'seed' must be an integer in [0, 4294967295], not 4294967296"),
    ("seed", "1e309", "'seed' must be a finite number, not inf"),
    ("seed", "1.5", "'seed' must be an integer, not 1.5"),
    ("epochs", "1e309", "'epochs' must be a finite number, not inf"),
    ("epochs", "-1", "'epochs' must be an integer in [0, 10000000], not -1"),
    ("epochs", "100000000", "'epochs' must be an integer in [0, 10000000], not 100000000"),
    ("epochs", "1" + "0" * 400, "'epochs' must be an integer in [0, 10000000], not 100000... (401 digits)"),
    ("patience", "0", "'patience' must be an integer in [1, 10000000], not 0"),
    ("lr", "0", "'lr' must be positive, not 0"),
    ("lr", "-1", "'lr' must be positive, not -1"),
    ("lr", "1e309", "'lr' must be a finite number, not inf"),
    ("lr", "inf", "'lr' must be a finite number, not 'inf'"),
    ("lr", "nan", "'lr' must be a finite number, not 'nan'"),
    ("lr", "1" + "0" * 400, "'lr' is too large"),
    ("tol", "-0.5", "'tol' cannot be negative, not -0.5"),
    ("scale", "0", "'scale' must be positive, not 0"),
    ("eps", "0", "'eps' must be positive, not 0"),
    ("momentum", "1", "'momentum' must be a number in [0, 1), not 1"),
    ("momentum", "-0.1", "'momentum' must be a number in [0, 1), not -0.1"),
    ("beta1", "1.0", "'beta1' must be a number in [0, 1), not 1"),
    ("beta2", "2", "'beta2' must be a number in [0, 1), not 2"),
])
def test_values_out_of_range_are_located_at_the_value(tmp_path, capsys, arg, value, message):
    line = f"Loss? @minimize({arg} = {value})"
    rc, _, err = check(tmp_path, capsys, line)
    assert rc == 1 and message in err, err
    assert_located(err, line, value, after="= ")


@pytest.mark.parametrize("args", ["seed=0", "seed=4294967295", "epochs=0", "epochs=1e3", "epochs=10000000",
                                  "lr=1", "tol=0", "momentum=0.99, optimizer=sgd", "beta1=0, beta2=0",
                                  'optimizer="sgd"', "init=zeros, backend=numpy", "patience=1"])
def test_values_at_the_bounds_pass(tmp_path, capsys, args):
    rc, out, err = check(tmp_path, capsys, f"Loss? @minimize({args})")
    assert rc == 0 and out.endswith(": ok\n") and err == ""


def test_bad_values_never_reach_numpy():
    """Before the check these raised numpy's ValueError and Python's OverflowError."""
    for args in ("seed=-7", "seed=1e309", "epochs=1e309", "lr=1e309"):
        with pytest.raises(TlangCheckError) as err:
            api.run(LINEAR + f"Loss? @minimize({args})\n")
        assert f"<input>:{LINE}:" in err.value.render()


def test_python_options_are_checked_by_the_same_table():
    compiled = compile_program(LINEAR + "Loss? @minimize\n")
    for bad, message in (({"seed": -7}, "'seed' must be an integer"), ({"epochs": float("inf")}, "finite"),
                         ({"lr": float("nan")}, "'lr' must be a finite number, not NaN"),
                         ({"epochs": True}, "must be a number"), ({"optimizer": "rmsprop"}, "unknown optimizer")):
        with pytest.raises(TlangCheckError, match=message):
            learn.fit(compiled, **bad)
    r = learn.fit(compiled, epochs=np.int64(3), lr=np.float32(0.1), seed=None)   # numpy numbers; None: default
    assert r.epochs == 3


# ------------------------------------------------------------ places

@pytest.mark.parametrize("line", ["@sample(n=100)", "Loss? @sample(n=100)", "Loss? @sample"])
def test_sample_is_refused(tmp_path, capsys, line):
    rc, _, err = check(tmp_path, capsys, line)
    assert rc == 1 and "@sample (selective projection) is not supported yet" in err
    assert_located(err, line, line[line.index("@"):])


def test_training_directive_on_its_own_line(tmp_path, capsys):
    line = "@minimize(lr=0.1)"
    rc, _, err = check(tmp_path, capsys, line)
    assert rc == 1 and "@minimize cannot stand on its own line" in err and "Loss? @minimize" in err
    assert_located(err, line, line)


def test_one_training_directive_per_query(tmp_path, capsys):
    line = "Loss? @minimize(lr=0.1) @maximize"
    rc, _, err = check(tmp_path, capsys, line)
    assert rc == 1 and "already has @minimize" in err
    assert_located(err, line, "@maximize")


def test_every_error_is_reported_at_once(tmp_path, capsys):
    line = "Loss? @minimize(epoch=5, seed=-7) @sample"
    rc, _, err = check(tmp_path, capsys, line, extra="@minimise\n")
    assert rc == 1
    assert err.count("error:") == 4 and err.count("^") >= 4
    assert_located(err, line, "epoch=5")
    assert_located(err, line, "-7")
    assert_located(err, line, "@sample")
    assert f"prog.tl:{LINE + 1}:1: error: unknown directive '@minimise'" in err
    with pytest.raises(TlangCheckError):
        D.check_directives(parse(Source("p.tl", LINEAR + line + "\n")))


def test_directives_in_an_included_file_are_checked(tmp_path, capsys):
    (tmp_path / "inc.tl").write_text("@sample(n=3)\n")
    path = tmp_path / "main.tl"
    path.write_text('X = [1.0]\ninclude "inc.tl"\n')
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "inc.tl:1:1: error: @sample (selective projection) is not supported yet" in err


# ------------------------------------------------------------ tlang run

def test_run_refuses_before_running(tmp_path):
    path = tmp_path / "prog.tl"
    path.write_text(LINEAR + "W?\nLoss? @minimize(seed=-7)\n")
    out = subprocess.run([sys.executable, "-m", "tlang", "run", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1 and out.stdout == ""      # not even the query before it is answered
    assert "Traceback" not in out.stderr
    assert "prog.tl:6:22: error: 'seed' must be an integer in [0, 4294967295], not -7" in out.stderr
    assert "    Loss? @minimize(seed=-7)\n" + " " * 25 + "^^\n" in out.stderr


def test_check_subprocess_exit_status_and_no_traceback(tmp_path):
    path = tmp_path / "prog.tl"
    path.write_text(LINEAR + "Loss? @minimize(epochs=1e309)\n")
    out = subprocess.run([sys.executable, "-m", "tlang", "check", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "prog.tl:5:24: error: 'epochs' must be a finite number, not inf" in out.stderr


def test_api_run_refuses_an_unknown_standalone_directive():
    with pytest.raises(TlangCheckError, match="unknown directive '@trace'"):
        api.run("X = [1.0]\n@trace\nX?\n")


# ------------------------------------------------------------ the table

def test_the_table_is_what_training_uses():
    assert learn.DEFAULTS == D.DEFAULTS == {a.name: a.default for a in D.TRAINING_ARGS}
    assert set(learn.TRAINING) == {n for n, d in D.DIRECTIVES.items() if d.args and not d.unsupported}
    assert tuple(learn_runtime.OPTIMIZERS) == D.OPTIMIZER_NAMES
    assert learn_runtime.INITS == D.INIT_NAMES
    for name in D.TRAINING:
        assert D.DIRECTIVES[name].where == (D.QUERY,)
    assert D.DIRECTIVES["sample"].unsupported


def test_argument_spans_read_back_the_source():
    prog = parse(Source("p.tl", 'Loss? @minimize( lr = 0.1 , optimizer="sgd",seed=-  3)\n'))
    d = prog.statements[0].directives[0]
    spans = D.argument_spans(d)
    assert [s.whole.text() for s in spans] == ["lr = 0.1", 'optimizer="sgd"', "seed=-  3"]
    assert [s.key.text() for s in spans] == ["lr", "optimizer", "seed"]
    assert [s.value.text() for s in spans] == ["0.1", '"sgd"', "-  3"]
    made = A.Directive("minimize", (("lr", 0.1),), span=None)   # made in Python: no source to read
    assert D.argument_spans(made)[0].whole is None


# ------------------------------------------------------------ examples

def _examples():
    return sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".tl", ".dl"))


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_every_example_passes_the_directive_check(path):
    prog, base = api.load_program(path)
    full = api.expand(prog, base)
    assert D.program_errors(full) == []


def test_every_example_passes_tlang_check(capsys):
    paths = [str(p) for p in _examples()]
    assert main(["check", *paths]) == 0
    out = capsys.readouterr()
    assert out.err == "" and out.out.count(": ok") == len(paths)
