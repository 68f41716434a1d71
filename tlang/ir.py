"""The intermediate representation: typed, extent-resolved tensor equations.

In: nothing (node types; ``build.py`` makes them from the AST).  Out: frozen,
slotted dataclasses.  Source spans ride beside equality
(``compare=False``) so rewrites ignore them but errors still point at
``file:line:col``.

Expressions evaluate to a tensor over their *free index variables*:

- ``Ref``: a stored tensor read through index expressions (``IAffine`` for
  ``i``, ``i+1``, ``x+dx``, constants, slices; ``IDiv`` for ``x/S``);
  out-of-range positions read 0 (zero padding).
- ``Contract``: the generalised einsum node.  The product (semiring times) of
  its operands, with every free variable not in ``out`` aggregated by the
  semiring's plus.  A plain join keeps all variables.
- ``Guard``: a term that writes only where its inputs exist (``Bound``s);
- ``Map`` (elementwise function or arithmetic, broadcast by variable name),
  ``Normalize`` (softmax/lnorm along one variable), ``Concat``,
  ``IndexValue`` (an index variable used as a number), ``Const``, ``Data``
  (a constant array from the program's data table).

An ``Equation`` writes ``lhs`` through its index expressions, at the LHS positions
where one conjunction of ``where`` holds (everywhere when it is empty); several
equations for one tensor are combined with their projection operator and
then, for a Boolean tensor, passed through ``step``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .source import Span

_span = field(default=None, compare=False, repr=False, kw_only=True)


# ----------------------------------------------------------------- semirings

@dataclass(frozen=True)
class Semiring:
    """A commutative semiring: ``plus`` aggregates, ``times`` joins."""
    name: str
    plus: str   # 'sum' | 'max' | 'min' | 'or' | 'logsumexp'
    times: str  # 'mul' | 'add' | 'and'
    zero: float
    one: float


SEMIRINGS: dict[str, Semiring] = {
    s.name: s for s in (
        Semiring("sumprod", "sum", "mul", 0.0, 1.0),
        Semiring("boolean", "or", "and", 0.0, 1.0),
        Semiring("maxprod", "max", "mul", float("-inf"), 1.0),
        Semiring("minprod", "min", "mul", float("inf"), 1.0),
        Semiring("maxplus", "max", "add", float("-inf"), 0.0),
        Semiring("minplus", "min", "add", float("inf"), 0.0),
        Semiring("logsumexp", "logsumexp", "add", float("-inf"), 0.0),
        Semiring("avg", "avg", "mul", 0.0, 1.0),  # mean over the aggregated assignments
    )
}

# projection operator of an equation -> semiring of its aggregations
OP_SEMIRING = {"=": "sumprod", "+=": "sumprod", "max=": "maxprod", "min=": "minprod", "avg=": "avg"}


# ------------------------------------------------------------------ indices

@dataclass(frozen=True, slots=True)
class IAffine:
    """``sum(coef * var) + const``: a variable, a constant, ``i+1``, ``x+dx``, a slice position."""
    terms: tuple[tuple[str, int], ...]
    const: int = 0

    @property
    def vars(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.terms)

    def is_var(self) -> bool:
        return len(self.terms) == 1 and self.terms[0][1] == 1 and self.const == 0

    def is_const(self) -> bool:
        return not self.terms


@dataclass(frozen=True, slots=True)
class IDiv:
    """Floor division ``inner / divisor`` (``x/S``: pooling on the LHS, upsampling on the RHS)."""
    inner: IAffine
    divisor: int

    @property
    def vars(self) -> tuple[str, ...]:
        return self.inner.vars


Index = Union[IAffine, IDiv]


def ivar(name: str) -> IAffine:
    return IAffine(((name, 1),), 0)


def iconst(pos: int) -> IAffine:
    return IAffine((), pos)


@dataclass(frozen=True, slots=True)
class Bound:
    """``0 <= position(index) < extent``: an index of the LHS variables that must fall inside the
    axis it reads (docs/language.md 16.4: elements only where their inputs exist)."""
    index: Index
    extent: int


# -------------------------------------------------------------- expressions

@dataclass(frozen=True, slots=True)
class Ref:
    """A read of a stored tensor.  In a virtual-index loop, ``step`` says which value of a
    loop tensor it reads: 0 the current step's, -1 the previous step's; None outside loops
    (a virtual tensor's final value)."""
    tensor: str
    indices: tuple[Index, ...]
    step: int | None = None
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Const:
    value: float
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Data:
    """A constant array (literal, facts, file) stored in ``ProgramIR.data[key]``, over ``vars``."""
    key: str
    vars: tuple[str, ...] = ()
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class IndexValue:
    var: str
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Map:
    """Elementwise op: a function (``relu``, ``sig``...) or arithmetic (``add``, ``sub``, ``div``,
    ``pow``, ``neg``, ``mul``, ``not``, comparisons, ``even``, ``odd``)."""
    fn: str
    args: tuple[Expr, ...]
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Contract:
    """Generalised einsum: product of operands, aggregate free vars not in ``out``."""
    operands: tuple[Expr, ...]
    out: tuple[str, ...]
    semiring: str = "sumprod"
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Normalize:
    """``softmax``/``lnorm`` of ``arg`` along ``var`` (the dotted LHS index)."""
    fn: str
    arg: Expr
    var: str
    temperature: Expr | None = None
    valid: tuple[tuple[Bound, ...], ...] = ()   # normalise over these positions only (() all)
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Concat:
    """``concat``: merge the variables ``merge`` (row-major) into the new variable ``into``."""
    arg: Expr
    merge: tuple[str, ...]
    into: str
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Einsum:
    """A formal einsum ``einsum("ij,jk->ik", A, B, semiring=...)``: operands are expressions
    over the variables of their index strings (see rewrite/einsum)."""
    inputs: tuple[str, ...]
    output: str
    operands: tuple[Expr, ...]
    semiring: str = "sumprod"
    span: Span | None = _span


@dataclass(frozen=True, slots=True)
class Guard:
    """``arg`` where one conjunction of bounds holds, else 0: a term of a sum whose inputs do not
    exist at some LHS positions (the other terms still write there)."""
    arg: Expr
    where: tuple[tuple[Bound, ...], ...]
    span: Span | None = _span


Expr = Union[Ref, Const, Data, IndexValue, Map, Contract, Normalize, Concat, Einsum, Guard]


# ---------------------------------------------------------------- program

@dataclass(frozen=True, slots=True)
class Equation:
    """``lhs[indices] op rhs``.  ``virtual`` = (var, offset) for ``X[i, *t+1] = ...``;
    ``vars`` are the LHS variables with their order, for evaluation."""
    lhs: str
    indices: tuple[Index, ...]
    op: str
    rhs: Expr
    virtual: tuple[str, int] | None = None
    kind: str = "equation"  # 'equation' | 'rule' | 'fact' | 'data' | 'input'
    where: tuple[tuple[Bound, ...], ...] = ()   # written where one conjunction holds; () everywhere
    accumulate: str | None = None   # a virtual index: runs once per step of its loop, combined (16.3)
    span: Span | None = _span


@dataclass(frozen=True)
class Domain:
    """An index domain: an extent and, for symbolic domains, its constants in order."""
    name: str
    extent: int
    symbols: tuple[str, ...] = ()
    declared: bool = False          # named by a ``domain`` declaration

    def label(self, pos: int) -> str | int:
        if pos < len(self.symbols) and self.symbols[pos] is not None:
            return self.symbols[pos]
        return pos


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    domains: tuple[str, ...]
    boolean: bool = False
    dtype: str = "real"
    virtual_axis: int | None = None  # axis not stored (the buffer of a virtual index)
    learnable: bool = False
    const: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def stored_shape(self) -> tuple[int, ...]:
        if self.virtual_axis is None:
            return self.shape
        return self.shape[:self.virtual_axis] + self.shape[self.virtual_axis + 1:]


@dataclass(frozen=True)
class QueryIR:
    text: str
    tensor: str
    indices: tuple[Index, ...]
    free: tuple[str, ...]          # free variables in order of first appearance
    extents: tuple[tuple[str, int], ...]
    directives: tuple = ()
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StoreIR:
    path: str
    tensor: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass
class ProgramIR:
    """A whole program: tensors with shapes, domains, equations, data, queries, stores."""
    tensors: dict[str, TensorInfo]
    domains: dict[str, Domain]
    equations: tuple[Equation, ...]
    data: dict[str, object]
    queries: tuple[QueryIR, ...] = ()
    stores: tuple[StoreIR, ...] = ()
    var_extents: dict[tuple[int, str], int] = field(default_factory=dict)  # (equation#, var) -> extent
    tensor_domain_of: dict[str, tuple[str, ...]] = field(default_factory=dict)
    base_dir: str = "."
    statements: tuple = ()  # (kind, index) in program order, for output ordering

    def extent(self, eq_index: int, var: str) -> int:
        return self.var_extents[(eq_index, var)]


def free_vars(e: Expr, memo: dict[int, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """The free index variables of an expression, in a deterministic order.

    ``memo`` (keyed by node id, valid while the nodes live) makes repeated calls on the
    nodes of one deep expression linear instead of quadratic."""
    if memo is not None and id(e) in memo:
        return memo[id(e)]
    out: list[str] = []

    def add(v: str) -> None:
        if v not in out:
            out.append(v)

    if isinstance(e, Ref):
        for ix in e.indices:
            for v in ix.vars:
                add(v)
    elif isinstance(e, Data):
        for v in e.vars:
            add(v)
    elif isinstance(e, IndexValue):
        add(e.var)
    elif isinstance(e, Map):
        for a in e.args:
            for v in free_vars(a, memo):
                add(v)
    elif isinstance(e, Contract):
        for v in e.out:
            add(v)
    elif isinstance(e, Normalize):
        for v in free_vars(e.arg, memo):
            add(v)
    elif isinstance(e, Concat):
        for v in free_vars(e.arg, memo):
            if v not in e.merge:
                add(v)
        add(e.into)
    elif isinstance(e, Einsum):
        for v in dict.fromkeys(e.output):
            add(v)
    elif isinstance(e, Guard):
        for v in free_vars(e.arg, memo):
            add(v)
        for conj in e.where:
            for b in conj:
                for v in b.index.vars:
                    add(v)
    if memo is not None:
        memo[id(e)] = tuple(out)
    return tuple(out)


def tensors_read(e: Expr) -> list[Ref]:
    """Every Ref inside an expression."""
    out: list[Ref] = []

    def go(x: Expr) -> None:
        if isinstance(x, Ref):
            out.append(x)
        elif isinstance(x, Map):
            for a in x.args:
                go(a)
        elif isinstance(x, Contract | Einsum):
            for a in x.operands:
                go(a)
        elif isinstance(x, Normalize):
            go(x.arg)
            if x.temperature is not None:
                go(x.temperature)
        elif isinstance(x, Concat | Guard):
            go(x.arg)

    go(e)
    return out


def with_children(e: Expr, kids: tuple[Expr, ...]) -> Expr:
    """``e`` with its subexpressions (in the order of ``children``) replaced."""
    if isinstance(e, Map):
        return Map(e.fn, kids, span=e.span)
    if isinstance(e, Contract):
        return Contract(kids, e.out, e.semiring, span=e.span)
    if isinstance(e, Einsum):
        return Einsum(e.inputs, e.output, kids, e.semiring, span=e.span)
    if isinstance(e, Normalize):
        return Normalize(e.fn, kids[0], e.var, kids[1] if len(kids) > 1 else None, e.valid, span=e.span)
    if isinstance(e, Concat):
        return Concat(kids[0], e.merge, e.into, span=e.span)
    if isinstance(e, Guard):
        return Guard(kids[0], e.where, span=e.span)
    return e


def children(e: Expr) -> tuple[Expr, ...]:
    """The subexpressions of a node (the one place that knows each node's fields)."""
    if isinstance(e, Map):
        return e.args
    if isinstance(e, Contract | Einsum):
        return e.operands
    if isinstance(e, Normalize):
        return (e.arg,) if e.temperature is None else (e.arg, e.temperature)
    if isinstance(e, Concat | Guard):
        return (e.arg,)
    return ()
