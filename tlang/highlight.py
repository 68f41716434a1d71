"""Syntax highlighting: a pygments lexer for tensor logic.

In: program text (or REPL input).  Out: pygments tokens.  ``TlangLexer``
is registered under the ``pygments.lexers`` entry point (pyproject.toml),
so ``pygmentize -l tlang file.tl`` and any pygments-based tool highlight
``.tl`` files; the REPL uses it through prompt_toolkit.

Token classes: comments, strings, numbers, keywords (``domain``, ``index``,
``tensor``, ``const``, ``learn``, ``import``, ``include``, ``not``),
built-in functions (``Name.Builtin``), other calls (``Name.Function``),
relations ``R(`` (``Name.Class``), tensors ``W[`` (``Name.Variable``),
capitalised constants and scalars (``Name.Constant``), index variables
(``Name``), operators (``<-``, ``=``, ``max=``...), queries' ``?``, directives
(``@minimize``, ``Name.Decorator``) and REPL commands (``:help``).
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

from .functions import FUNCTIONS

__all__ = ["TlangLexer"]

_KEYWORDS = ("domain", "index", "tensor", "const", "learn", "import", "include")
_KW = "|".join(_KEYWORDS)


class TlangLexer(RegexLexer):
    """Tensor logic (Domingos 2025): tensor equations, Datalog rules, queries."""

    name = "Tensor logic"
    aliases = ["tlang", "tensorlogic", "tl"]
    filenames = ["*.tl"]
    mimetypes = ["text/x-tlang"]
    url = "https://arxiv.org/abs/2510.12269"

    tokens = {
        "root": [
            (rf"^([ \t]*)({_KW})(?![\w'])",
             bygroups(Whitespace, Keyword.Declaration)),             # keywords start a statement
            (r"[ \t\f\r]+", Whitespace),
            (r"\n", Whitespace),
            (r"\\\n", Text),
            (r"(#|//).*?$", Comment.Single),
            (r"^(:[A-Za-z][\w-]*)", Keyword.Pseudo),           # REPL commands
            (r"(@)([A-Za-z_]\w*)", bygroups(Punctuation, Name.Decorator)),
            (r'"(\\\\|\\"|[^"\n])*"', String.Double),
            (rf"(;)([ \t]*)({_KW})(?![\w'])",
             bygroups(Punctuation, Whitespace, Keyword.Declaration)),
            (r"(not)(?![\w'])|[!¬]", Operator.Word),
            (r"(max|min|avg)=(?!=)", Operator),                     # projection operators
            (words(tuple(FUNCTIONS), suffix=r"(?=\s*\()"), Name.Builtin),
            (r"[a-z][A-Za-z0-9_]*'*(?=\s*\()", Name.Function),
            (r"[A-Z][A-Za-z0-9_]*'*(?=\s*\()", Name.Class),        # relations: R(x, y)
            (r"[A-Za-z_][A-Za-z0-9_]*'*(?=\s*\[)", Name.Variable),  # tensors: W[i, j]
            (r"[A-Z][A-Za-z0-9_]*'*", Name.Constant),              # constants and scalars
            (r"[a-z_][A-Za-z0-9_]*'*", Name),                      # index variables
            (r"\d+\.\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+", Number.Float),
            (r"\d+", Number.Integer),
            (r"<-|←|:-", Operator),
            (r"\+=|==|!=|<=|>=|≠|≤|≥", Operator),
            (r"[=+\-*/^<>]", Operator),
            (r"\?", Punctuation),
            (r"[()\[\]{},;.:]", Punctuation),
            (r".", Text),
        ],
    }
