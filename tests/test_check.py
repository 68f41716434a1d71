"""Golden tests: every static error kind with its full rendered text (`tlang check`)."""

import textwrap

import pytest

from tlang.pipeline import compile_program
from tlang.source import TlangError

CASES = {
    "unknown function": (
        "X = [1, 2]\nY[i] = sgi(X[i])\n",
        """\
        <input>:2:8: error: unknown function 'sgi'
            Y[i] = sgi(X[i])
                   ^^^^^^^^^
        note: did you mean 'sin' or 'sig'?"""),
    "wrong number of arguments": (
        "X = [1, 2]\nY[i] = relu(X[i], 2)\n",
        """\
        <input>:2:8: error: 'relu' takes 1 argument, not 2
            Y[i] = relu(X[i], 2)
                   ^^^^^^^^^^^^^"""),
    "different numbers of indices": (
        "X = [1, 2]\nY[i] = X[i] + X[i, j]\n",
        """\
        <input>:2:15: error: 'X' is used with 2 indices here but with 1 at 1:1
            Y[i] = X[i] + X[i, j]
                          ^^^^^^^
        note: a tensor keeps the same number of indices everywhere"""),
    "query of an undefined tensor": (
        "X = [1, 2]\nZ?\n",
        """\
        <input>:2:1: error: query of 'Z', which is not defined
            Z?
            ^
        note: define it with an equation, facts or data before querying it"""),
    "extent contradicts a literal": (
        "W = [1, 2, 3]\nX = [1, 2]\nY = W[i] X[i]\n",
        """\
        <input>:3:12: error: index 'i' (axis 1 of X) has extent 3 on one side and 2 on the other
            Y = W[i] X[i]
                       ^
        note: extent 3 comes from its data at <input>:1:1
        note: extent 2 comes from its data at <input>:2:1"""),
    "boolean numeric misuse": (
        "R(A, B)\nR[x, y] = 0.5\n",
        """\
        <input>:2:1: error: 'R' is a Boolean relation but is also given numeric values here
            R[x, y] = 0.5
            ^^^^^^^^^^^^^
        note: it is Boolean because of 1:1
        note: write R(x) for relations and T[i] for numeric tensors"""),
    "negation cycle": (
        "P(A)\nQ(x) <- P(x), not R(x)\nR(x) <- Q(x)\n",
        """\
        <input>:2:1: error: negation through recursion: Q depends negatively on R, which depends on Q
            Q(x) <- P(x), not R(x)
            ^^^^^^^^^^^^^^^^^^^^^^
        note: cycle: Q -> R -> Q
        note: negation must be stratified: a relation cannot depend on the negation of itself"""),
    "extent cannot be inferred": (
        "Y[i] = 1\n",
        """\
        <input>:1:1: error: cannot infer the extent of axis 1 of 'Y'
            Y[i] = 1
            ^^^^
        note: give it data, or declare it, e.g. 'index i : 10' or 'tensor W[4, 3]'"""),
    "fact with a variable": (
        "Parent(x, Bob)\n",
        """\
        <input>:1:8: error: a fact must be ground (constants only)
            Parent(x, Bob)
                   ^
        note: lowercase names are variables; write a rule 'Head(x) <- Body(x)' to derive facts"""),
    "ragged literal": (
        "W = [[1, 2], [3]]\n",
        """\
        <input>:1:5: error: this list literal is ragged: its rows have different lengths
            W = [[1, 2], [3]]
                ^^^^^^^^^^^^^"""),
    "undefined numeric tensor": (
        "index i : 2\nY[i] = W[i]\n",
        """\
        <input>:2:8: error: 'W' has no value: no data, equation or input defines it
            Y[i] = W[i]
                   ^^^^
        note: give it data (a literal or a file), an equation, or pass it as an input"""),
    "function used without arguments": (
        "X = [1]\nY[i] = X[i] relu\n",
        """\
        <input>:2:13: error: 'relu' is a function: write relu(...)
            Y[i] = X[i] relu
                        ^^^^"""),
    "softmax along an unused index": (
        "S = [[1, 2]]\nindex k : 3\nP[i, k.] = softmax(S[i, j])\n",
        """\
        <input>:3:12: error: softmax normalises along 'k', which its argument does not use
            P[i, k.] = softmax(S[i, j])
                       ^^^^^^^^^^^^^^^^"""),
    "position out of range": (
        "W = [1, 2]\nY = W[5]\n",
        """\
        <input>:2:7: error: position 5 is out of range for extent 2
            Y = W[5]
                  ^
        note: extent 2 comes from its data at <input>:1:1"""),
    "missing data file": (
        'X = "nope.csv"\n',
        None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rendered_error(name):
    src, expected = CASES[name]
    with pytest.raises(TlangError) as e:
        compile_program(src)
    text = e.value.render()
    if expected is None:
        assert text.startswith("error:") or ":1:" in text
        assert "nope.csv" in text
    else:
        assert text == textwrap.dedent(expected)


def test_learning_programs_may_leave_parameters_undefined():
    prog = compile_program("X = [1, 2]\nY = [3]\nP = W[i] X[i]\nLoss = (Y[e] - P)^2\nLoss? @minimize(lr=0.1)\n")
    assert "W" in prog.ir.tensors
