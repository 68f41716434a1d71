"""The canonical pretty-printer: ``tlang.ast`` -> program text.

In: an AST (a Program, a statement, an expression, a Ref or an index).  Out:
text in canonical layout -- one statement per line, ``", "`` between indices
and arguments, spaces around binary operators (none inside index arithmetic),
join by juxtaposition, and only the parentheses that precedence requires --
such that ``parse(format_program(p)) == p`` for every AST the parser can
produce.  ``tlang fmt`` is this module applied to a parsed file.

Precedence, loosest first: comparison (non-associative) < ``+ -`` <
``* /`` and join < unary ``-`` / ``not`` < ``^`` (right-associative; its
exponent may be a unary) < atoms.
"""

from __future__ import annotations

import re

from . import ast as A

__all__ = ["format_program", "format_stmt", "format_expr", "format_ref", "format_index"]

# precedence levels
_CMP, _SUM, _PROD, _UNARY, _POW, _ATOM = range(6)
_BIN_PREC = {"+": _SUM, "-": _SUM, "*": _PROD, "/": _PROD, "^": _POW}
for _op in A.COMPARE_OPS:
    _BIN_PREC[_op] = _CMP

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*'*\Z")
_CONST_RE = re.compile(r"[A-Z][A-Za-z0-9_]*'*\Z")
_DIGITS_RE = re.compile(r"[0-9]+\Z")
KEYWORDS = frozenset({"domain", "index", "tensor", "import", "include", "const", "learn", "not"})
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


# ------------------------------------------------------------------ atoms

def format_string(value: str) -> str:
    """A double-quoted string literal that the lexer reads back as ``value``."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def format_number(value: int | float) -> str:
    """An int as an int, a float so that it reads back as the same float."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        raise ValueError(f"the number {text} has no literal in tensor logic")
    return text


def _is_name(text: str) -> bool:
    return bool(_NAME_RE.match(text)) and text not in KEYWORDS


def _word(text: str) -> str:
    """A bare name where one reads back as the same text, else a quoted string."""
    return text if _is_name(text) else format_string(text)


# ---------------------------------------------------------------- indices

def _index(ix: A.IndexExpr, level: int = _CMP) -> str:
    if isinstance(ix, A.IVar):
        return ix.name + ("." if ix.dot else "")
    if isinstance(ix, A.IConst):
        if isinstance(ix.value, int):
            text = str(ix.value)
            return f"({text})" if ix.value < 0 and level > _UNARY else text
        if not ix.quoted and _CONST_RE.match(ix.value):
            return ix.value
        return format_string(ix.value)
    if isinstance(ix, A.IBin):
        prec = _BIN_PREC[ix.op]
        text = f"{_index(ix.left, prec)}{ix.op}{_index(ix.right, prec + 1)}"
        return f"({text})" if prec < level else text
    if isinstance(ix, A.IVirtual):
        if ix.offset == 0:
            return f"*{ix.name}"
        return f"*{ix.name}{'+' if ix.offset > 0 else '-'}{abs(ix.offset)}"
    if isinstance(ix, A.ISlice):
        def part(v: int | None) -> str:
            return "" if v is None else str(v)
        text = f"{part(ix.start)}:{part(ix.stop)}"
        return text if ix.step is None else f"{text}:{ix.step}"
    raise TypeError(f"not an index: {ix!r}")


def format_index(ix: A.IndexExpr) -> str:
    """One index: ``i``, ``p'.``, ``Alice``, ``"bob"``, ``i+1``, ``x/S``, ``*t+1``, ``0:8:2``."""
    return _index(ix)


def _indices(ixs: tuple[A.IndexExpr, ...]) -> str:
    return ", ".join(_index(ix) for ix in ixs)


def format_ref(ref: A.Ref) -> str:
    """A tensor reference in head position: ``W``, ``W[i, j]``, ``R(x, y)``."""
    if ref.boolean:
        return f"{ref.name}({_indices(ref.indices)})"
    if not ref.indices:
        return ref.name
    return f"{ref.name}[{_indices(ref.indices)}]"


# ------------------------------------------------------------ expressions

def _prec(e: A.Expr) -> int:
    if isinstance(e, A.Binary):
        return _BIN_PREC[e.op]
    if isinstance(e, A.Unary):
        return _UNARY
    if isinstance(e, A.Num) and format_number(e.value).startswith("-"):
        return _UNARY
    return _ATOM


def _expr(e: A.Expr, level: int) -> str:
    text = _bare(e)
    return f"({text})" if _prec(e) < level else text


def _bare(e: A.Expr) -> str:
    """``e`` without parentheses around it (its operands get what they need)."""
    if isinstance(e, A.Num):
        return format_number(e.value)
    if isinstance(e, A.Str):
        return format_string(e.value)
    if isinstance(e, A.Name):
        return e.name
    if isinstance(e, A.Ref):
        # in an expression a bare name is a Name, so an index-less Ref needs its brackets
        return format_ref(e) if e.indices or e.boolean else f"{e.name}[]"
    if isinstance(e, A.Call):
        args = [_expr(a, _CMP) for a in e.args]
        args += [f"{k}={_expr(v, _CMP)}" for k, v in e.kwargs]
        return f"{e.fn}({', '.join(args)})"
    if isinstance(e, A.Unary):
        operand = _expr(e.operand, _UNARY)
        if e.op == "not":
            return f"not {operand}"
        return f"-({operand})" if operand.startswith("-") else f"-{operand}"
    if isinstance(e, A.Binary):
        return _binary(e)
    if isinstance(e, A.ListLit):
        return format_list(e)
    raise TypeError(f"not an expression: {e!r}")


def _binary(e: A.Binary) -> str:
    prec = _BIN_PREC[e.op]
    if e.op == "^":
        return f"{_expr(e.left, _ATOM)}^{_expr(e.right, _UNARY)}"
    if prec == _CMP:
        return f"{_expr(e.left, _SUM)} {e.op} {_expr(e.right, _SUM)}"
    left = _expr(e.left, prec)
    if e.op == "*":
        # join by juxtaposition: the right side is a power and must not open with
        # '(' -- after a name that would read as a call or a Boolean atom
        right = _expr(e.right, _POW)
        if not right.startswith("("):
            return f"{left} {right}"
    return f"{left} {e.op} {_expr(e.right, prec + 1)}"


def format_expr(expr: A.Expr) -> str:
    """An expression with the fewest parentheses that keep its structure."""
    return _expr(expr, _CMP)


def format_list(lit: A.ListLit) -> str:
    """A tensor literal ``[0.2, -1.9]`` or nested ``[[1, 2], [3, 4]]``."""
    items = (format_list(x) if isinstance(x, A.ListLit) else format_number(x) for x in lit.items)
    return f"[{', '.join(items)}]"


# ------------------------------------------------------------- statements

def format_directive(d: A.Directive) -> str:
    """``@minimize(lr=0.01, epochs=100)``; ``@name`` when it has no arguments."""
    if not d.args:
        return f"@{d.name}"
    parts = []
    for key, val in d.args:
        text = _word(val) if isinstance(val, str) else format_number(val)
        parts.append(text if key is None else f"{key}={text}")
    return f"@{d.name}({', '.join(parts)})"


def _symbol(sym: str) -> str:
    return sym if _is_name(sym) or _DIGITS_RE.match(sym) else format_string(sym)


def _dims(dims: tuple[int | str, ...]) -> str:
    return ", ".join(str(d) for d in dims)


def _equation(s: A.Equation) -> str:
    rhs = format_list(s.rhs) if isinstance(s.rhs, A.ListLit) else format_expr(s.rhs)
    return f"{format_ref(s.lhs)} {s.op} {rhs}"


def _query(s: A.Query) -> str:
    return " ".join([f"{format_ref(s.target)}?", *map(format_directive, s.directives)])


def _domain(s: A.DomainDecl) -> str:
    if s.symbols is None:
        return f"domain {s.name} = {s.size}"
    return f"domain {s.name} = {{{', '.join(map(_symbol, s.symbols))}}}"


def _tensor(s: A.TensorDecl) -> str:
    text = f"tensor {s.name}"
    if s.boolean:
        text += f"({_dims(s.dims)})"
    elif s.dims:
        text += f"[{_dims(s.dims)}]"
    return text if s.dtype is None else f"{text} : {s.dtype}"


_STMT = {
    A.Equation: _equation,
    A.Rule: lambda s: f"{format_ref(s.head)} <- {', '.join(map(format_expr, s.body))}",
    A.Fact: lambda s: format_ref(s.atom),
    A.Query: _query,
    A.Load: lambda s: f"{format_ref(s.target)} = {format_string(s.path)}",
    A.Store: lambda s: f"{format_string(s.path)} = {format_ref(s.source)}",
    A.DomainDecl: _domain,
    A.IndexDecl: lambda s: f"index {', '.join(s.names)} : {s.domain}",
    A.TensorDecl: _tensor,
    A.MarkDecl: lambda s: f"{s.kind} {', '.join(s.names)}",
    A.Import: lambda s: f"import {s.module}",
    A.Include: lambda s: f"include {format_string(s.path)}",
    A.DirectiveStmt: lambda s: format_directive(s.directive),
}


def format_stmt(stmt: A.Stmt) -> str:
    """One statement on one line (no trailing newline)."""
    try:
        fn = _STMT[type(stmt)]
    except KeyError:
        raise TypeError(f"not a statement: {stmt!r}") from None
    return fn(stmt)


def format_program(prog: A.Program) -> str:
    """The whole program, one statement per line, ending in a newline (empty: ``""``)."""
    return "".join(format_stmt(s) + "\n" for s in prog.statements)
