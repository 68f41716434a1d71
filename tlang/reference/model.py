"""The program model: tensors, equations and index domains, as the reference sees them.

In: nothing (these are data).  Out: ``Eq`` (one equation, rule, fact, literal,
file or input for one tensor: its LHS index forms and its RHS tree or data),
``TensorInfo``, ``Domains`` (the symbol tables of index domains) and
``Model``, which ``program.py`` builds and ``extents.py`` / ``evaluate.py``
read.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from .. import ast as A
from ..source import Span
from .arith import Dense
from .scope import Concat, Ix, IxConst, Node, walk

BUILTIN_RELATIONS = ("Even", "Odd")


@dataclass(eq=False)
class Eq:
    """One equation for one tensor: LHS index forms, and an RHS tree, data or fact points."""
    id: int
    stmt: int                       # statement index (-1: an input array)
    tensor: str
    op: str
    lhs: list[Ix]
    kind: str                       # equation | rule | data | facts
    span: Span | None
    rhs: Node | None = None
    data: Dense | None = None       # data: its values, indexed by data_vars
    data_vars: list[str] = field(default_factory=list)
    points: list[list[IxConst]] = field(default_factory=list)   # facts: positions set to 1
    loop: str | None = None         # the loop variable of a virtual LHS index
    fixed: bool = False             # data covering the whole tensor: it fixes the shape
    from_file: bool = False
    copy_of: str | None = None      # a read of a file an earlier statement wrote
    rank: int | None = None         # facts: the arity (their LHS is empty)
    aggregated: list[str] = field(default_factory=list)
    reads: set[str] = field(default_factory=set)
    negated: set[str] = field(default_factory=set)   # tensors read under 'not'

    def lhs_vars(self) -> list[str]:
        out: list[str] = []
        for ix in self.lhs:
            for v in ix.vars():
                if v not in out:
                    out.append(v)
        return out


@dataclass
class TensorInfo:
    name: str
    arity: int | None = None
    boolean: bool = False
    virtual: tuple[int, str] | None = None     # (axis, loop variable)
    decl: tuple[int | str, ...] | None = None   # tensor T[4, Dom]
    first_def: int = 1 << 30                  # statement of its first definition
    defined: bool = False
    span: Span | None = None


class Domains:
    """Union-find over tensor axes, equation variables and declared domains, with the
    symbol table of each class (its constants in position order)."""

    def __init__(self) -> None:
        self.parent: dict[tuple, tuple] = {}
        self.symbols: dict[tuple, list[str]] = {}
        self.declared: dict[tuple, str] = {}     # class -> a declared domain name

    def find(self, k: tuple) -> tuple:
        self.parent.setdefault(k, k)
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: tuple, b: tuple) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    def table(self, k: tuple) -> list[str]:
        return self.symbols.setdefault(self.find(k), [])

    def position(self, k: tuple, name: str) -> int | None:
        tab = self.symbols.get(self.find(k), [])
        return tab.index(name) if name in tab else None

    def name_of(self, k: tuple) -> str | None:
        return self.declared.get(self.find(k))


@dataclass
class Model:
    tensors: dict[str, TensorInfo]
    eqs: list[Eq]
    queries: list[A.Query]
    domains: Domains
    domain_decls: dict[str, A.DomainDecl]
    index_decls: dict[str, tuple[int | str, Span | None]]
    int_scalars: dict[str, int]


def slot(t: str, a: int) -> tuple:
    return ("slot", t, a)


def var_key(eq: Eq, v: str) -> tuple:
    return ("var", eq.id, v)


def base_name(v: str) -> str:
    """The written name of a renamed term-local variable (``j#1`` -> ``j``)."""
    return v.split("#", 1)[0]


def eq_vars(eq: Eq) -> list[str]:
    """Every index variable of an equation: LHS, aggregated, merged by concat, data."""
    out = eq.lhs_vars() + eq.aggregated + eq.data_vars
    if eq.rhs is not None:
        out += [v for n in walk(eq.rhs) if isinstance(n, Concat) for v in n.merge]
    return list(dict.fromkeys(out))


def did_you_mean(name: str, known) -> list[str]:
    close = difflib.get_close_matches(name, sorted(set(known)), n=2)
    return [f"did you mean {' or '.join(repr(c) for c in close)}?"] if close else []
