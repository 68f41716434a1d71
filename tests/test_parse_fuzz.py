"""Fuzzing the parser: any text either parses or raises a located TlangError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_fmt import PROGRAM  # random valid ASTs (tests/ is on sys.path under pytest)

from tlang import ast as A
from tlang import parse
from tlang.fmt import format_program
from tlang.source import TlangError

# pieces of tensor-logic-looking text, glued together at random
TOKENS = [
    "Y", "W", "X", "R", "Parent", "Alice", "i", "j", "p'", "p''", "x", "t", "sig", "relu", "softmax",
    "einsum", "max", "min", "avg", "not", "domain", "index", "tensor", "const", "learn", "import",
    "include", "embed", "real", "notable", "constant", "_",
    "[", "]", "(", ")", "{", "}", ",", ".", ":", ";", "?", "@", "*", "+", "-", "/", "^", "=", "!",
    "+=", "max=", "min=", "avg=", "==", "!=", "<", "<=", ">", ">=", "<-", ":-", "←", "¬", "≠", "≤", "≥",
    "0", "1", "42", "-3", "1.5", "1e5", "2.5E-3", ".5", "3.",
    '"', '"data.csv"', '"a\\"b"', '"\\', "'", "#", "//", "# c\n", "// c\n",
    " ", "  ", "\t", "\n", "\r\n", "\\\n", "$", "%", "~", "`", "\x0b", "é", "∑", "\u2028",
]
TOKEN_TEXT = st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)
SPACED_TEXT = st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join)


def _check(text: str) -> None:
    try:
        prog = parse(text, "fuzz.tl")
    except TlangError as err:
        rendered = err.render()
        assert "error:" in rendered
        assert err.span is not None, rendered
        assert rendered.startswith(f"fuzz.tl:{err.span.line}:{err.span.col}: error: "), rendered
        assert 0 <= err.span.start <= err.span.end <= len(text) + 1
    else:
        assert isinstance(prog, A.Program)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_random_text(text: str) -> None:
    _check(text)


@settings(max_examples=400, deadline=None)
@given(TOKEN_TEXT)
def test_token_soup(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None)
@given(SPACED_TEXT)
def test_spaced_token_soup(text: str) -> None:
    _check(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes(data: bytes) -> None:
    _check(data.decode("utf-8", errors="replace"))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["Y[i] = W[i, j] X[j]\n", "A(x) <- B(x, y), C(y)\n", "Loss? @minimize(lr=0.1)\n",
                        "domain P = {Alice, Bob}\n", "Y = [1, [2, 3]]\n"]),
       st.integers(0, 40), TOKEN_TEXT)
def test_mutated_programs(base: str, at: int, junk: str) -> None:
    at = min(at, len(base))
    _check(base[:at] + junk + base[at:])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_random_programs(data: st.DataObject) -> None:
    text = format_program(data.draw(PROGRAM))
    at = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(at, min(len(text), at + 4)))
    junk = data.draw(st.sampled_from(["", *TOKENS]))
    _check(text[:at] + junk + text[end:])
