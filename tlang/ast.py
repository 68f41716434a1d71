"""The abstract syntax tree of tensor-logic programs.

In: nothing (these are the node types).  Out: frozen, slotted dataclasses
built by ``parse.py`` and printed back by ``fmt.py``.  Every node carries a
``span`` that takes no part in equality, so two parses of differently laid
out text compare equal when they mean the same program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .source import Span

_span = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Node:
    span: Span | None = _span


# ---------------------------------------------------------------- indices

@dataclass(frozen=True, slots=True)
class IVar(Node):
    """An index variable (``i``, ``p'``); ``dot`` marks the LHS normalisation axis ``p'.``."""
    name: str
    dot: bool = False


@dataclass(frozen=True, slots=True)
class IConst(Node):
    """A constant index: an integer position, a capitalised name or a quoted string."""
    value: int | str
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class IBin(Node):
    """Index arithmetic: ``i+1``, ``x+dx``, ``i-1``, integer division ``x/S``."""
    op: str  # '+', '-', '/'
    left: IndexExpr
    right: IndexExpr


@dataclass(frozen=True, slots=True)
class IVirtual(Node):
    """A virtual index ``*t`` or ``*t+1`` (no memory is allocated along it)."""
    name: str
    offset: int = 0


@dataclass(frozen=True, slots=True)
class ISlice(Node):
    """A slice ``1:4``, ``:4``, ``-3:``, ``0:8:2`` (kept as an axis)."""
    start: int | None
    stop: int | None
    step: int | None = None


IndexExpr = Union[IVar, IConst, IBin, IVirtual, ISlice]


# ------------------------------------------------------------ expressions

@dataclass(frozen=True, slots=True)
class Num(Node):
    value: int | float


@dataclass(frozen=True, slots=True)
class Str(Node):
    value: str


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A bare identifier: a scalar tensor, or an index variable used as a value."""
    name: str


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """A tensor reference: ``W[i, j]`` (numeric) or ``R(x, y)`` (Boolean, ``boolean=True``)."""
    name: str
    indices: tuple[IndexExpr, ...] = ()
    boolean: bool = False


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A function call ``sig(x, T)``; keyword arguments as ``(name, value)`` pairs."""
    fn: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """``-x`` or negation ``not R(x)`` (op ``'-'`` or ``'not'``)."""
    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """``+ - * / ^`` and comparisons; join (juxtaposition or ``*``) is ``'*'``."""
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    """A tensor literal ``[0.2, 1.9]`` or nested ``[[1, 2], [3, 4]]``."""
    items: tuple[int | float | ListLit, ...]


Expr = Union[Num, Str, Name, Ref, Call, Unary, Binary, ListLit]


# ------------------------------------------------------------- statements

@dataclass(frozen=True, slots=True)
class Equation(Node):
    """``LHS op RHS`` with op one of ``= += max= min= avg=``."""
    lhs: Ref
    op: str
    rhs: Expr


@dataclass(frozen=True, slots=True)
class Rule(Node):
    """A Datalog rule ``head <- body1, body2, ...`` (conjunction = join)."""
    head: Ref
    body: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Fact(Node):
    """A ground atom ``Parent(Bob, Charlie)``."""
    atom: Ref


@dataclass(frozen=True, slots=True)
class Directive(Node):
    """``@minimize(lr=0.01, epochs=100)``; positional args have key None."""
    name: str
    args: tuple[tuple[str | None, int | float | str], ...] = ()


@dataclass(frozen=True, slots=True)
class Query(Node):
    """``Y?``, ``Ancestor(Alice, x)?``, ``W[0, 1]?``, optionally with directives."""
    target: Ref
    directives: tuple[Directive, ...] = ()


@dataclass(frozen=True, slots=True)
class Load(Node):
    """``X = "data.csv"``: read a file into a tensor or relation."""
    target: Ref
    path: str


@dataclass(frozen=True, slots=True)
class Store(Node):
    """``"out.csv" = Y``: write a tensor or relation to a file."""
    path: str
    source: Ref


@dataclass(frozen=True, slots=True)
class DomainDecl(Node):
    """``domain Person = {Alice, Bob}`` or ``domain Layer = 4``."""
    name: str
    size: int | None = None
    symbols: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class IndexDecl(Node):
    """``index i, j : Person`` or ``index k : 10``."""
    names: tuple[str, ...]
    domain: str | int


@dataclass(frozen=True, slots=True)
class TensorDecl(Node):
    """``tensor W[4, Person] : real`` / ``tensor Parent(Person, Person)``."""
    name: str
    dims: tuple[int | str, ...]
    boolean: bool = False
    dtype: str | None = None


@dataclass(frozen=True, slots=True)
class MarkDecl(Node):
    """``const W, B`` (never learned) or ``learn W`` (learned)."""
    kind: str  # 'const' | 'learn'
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Import(Node):
    """``import embed``: load ``tlang/stdlib/embed.tl``."""
    module: str


@dataclass(frozen=True, slots=True)
class Include(Node):
    """``include "other.tl"``: splice a file, relative to the including one."""
    path: str


@dataclass(frozen=True, slots=True)
class DirectiveStmt(Node):
    """A directive on its own line, e.g. ``@sample(n=100)``."""
    directive: Directive


Stmt = Union[Equation, Rule, Fact, Query, Load, Store, DomainDecl, IndexDecl,
             TensorDecl, MarkDecl, Import, Include, DirectiveStmt]


@dataclass(frozen=True, slots=True)
class Program(Node):
    statements: tuple[Stmt, ...] = ()


DTYPES = ("bool", "int", "real", "float32", "float64")
ASSIGN_OPS = ("=", "+=", "max=", "min=", "avg=")
COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")


class NotAnIndex(Exception):
    """``expr_to_index`` met ``node``, which is not an index (``reason``: 'float' or 'other')."""

    def __init__(self, node: Expr, reason: str) -> None:
        super().__init__(reason)
        self.node, self.reason = node, reason


def expr_to_index(e: Expr) -> IndexExpr:
    """An expression written in index position as an index expression: lowercase names are
    variables, capitalised names, integers and strings constants, ``+ - /`` index arithmetic.
    Shared by the parser and the Python DSL, which word their own errors (``NotAnIndex``)."""
    if isinstance(e, Name):
        if e.name[0].isupper():
            return IConst(e.name, span=e.span)
        return IVar(e.name, span=e.span)
    if isinstance(e, Num):
        if isinstance(e.value, float):
            raise NotAnIndex(e, "float")
        return IConst(e.value, span=e.span)
    if isinstance(e, Str):
        return IConst(e.value, quoted=True, span=e.span)
    if isinstance(e, Unary) and e.op == "-" and isinstance(e.operand, Num) \
            and isinstance(e.operand.value, int):
        return IConst(-e.operand.value, span=e.span)
    if isinstance(e, Binary) and e.op in ("+", "-", "/"):
        return IBin(e.op, expr_to_index(e.left), expr_to_index(e.right), span=e.span)
    raise NotAnIndex(e, "other")


def defined_name(st: Stmt) -> str | None:
    """The tensor a statement defines (an equation's LHS, a rule's head, a fact, a load)."""
    if isinstance(st, Equation):
        return st.lhs.name
    if isinstance(st, Rule):
        return st.head.name
    if isinstance(st, Fact):
        return st.atom.name
    if isinstance(st, Load):
        return st.target.name
    return None


def walk(node: object):
    """Yield ``node`` and every AST node below it (depth first)."""
    stack = [node]  # an explicit stack: nested generators would make deep trees quadratic
    while stack:
        n = stack.pop()
        if isinstance(n, Node):
            yield n
            stack.extend(reversed([getattr(n, f) for f in n.__dataclass_fields__ if f != "span"]))
        elif isinstance(n, tuple):
            stack.extend(reversed(n))
