"""The pygments lexer for tensor logic: token classes, the plugin entry point, every example."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, String

from tlang.highlight import TlangLexer

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.tl"))


def tokens(text: str) -> list[tuple]:
    return [(t, v) for t, v in TlangLexer().get_tokens(text) if v.strip()]


def test_token_classes():
    toks = tokens('domain Person = {Alice, Bob}\nindex x : Person; tensor W[3]\n'
                  'Anc(x, z) <- Anc(x, y), not Par(y, z)   # a rule\n'
                  'Y[i] = relu(W[i, j] X[j] + 0.5) f(C)\nLoss max= 2e-3\n"out.csv" = Y\n'
                  '@minimize(lr=0.1)\nAnc(Alice, x)?\n:explain Anc(Alice, Bob)\n')
    kinds = dict((v, t) for t, v in toks)
    assert kinds["domain"] in Keyword and kinds["index"] in Keyword and kinds["tensor"] in Keyword
    assert kinds["Anc"] is Name.Class and kinds["W"] is Name.Variable
    assert kinds["relu"] is Name.Builtin and kinds["f"] is Name.Function
    assert kinds["Alice"] is Name.Constant and kinds["x"] is Name
    assert kinds["<-"] in Operator and kinds["max="] in Operator and kinds["not"] in Operator
    assert kinds["# a rule"] in Comment and kinds['"out.csv"'] in String
    assert kinds["0.5"] in Number and kinds["2e-3"] in Number
    assert kinds["minimize"] is Name.Decorator and kinds["?"] in Punctuation
    assert kinds[":explain"] in Keyword


def test_keywords_only_start_statements():
    kinds = dict((v, t) for t, v in tokens("Y[index] = const(X[index])\n"))
    assert kinds["const"] is Name.Function and kinds["index"] is Name


def test_registered_as_a_pygments_plugin():
    assert isinstance(get_lexer_by_name("tlang"), TlangLexer)
    assert isinstance(get_lexer_for_filename("kb.tl"), TlangLexer)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_lex_without_errors(path):
    text = path.read_text()
    toks = list(TlangLexer().get_tokens(text))
    assert not [v for t, v in toks if t is Error]
    assert "".join(v for _, v in toks) == text if text.endswith("\n") else True


@pytest.mark.skipif(shutil.which("pygmentize") is None, reason="pygmentize is not installed")
def test_pygmentize_command():
    out = subprocess.run(["pygmentize", "-l", "tlang", "-f", "html", str(EXAMPLES[0])],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "<span" in out.stdout
