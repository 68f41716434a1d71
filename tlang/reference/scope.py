"""The right-hand side as a tree, and where each index is aggregated (docs/language.md section 7).

In: index forms (``Ix*``, made from the AST by ``program.py``) and the tree
nodes below.  Out: the same tree with, on each node, the variables
aggregated there (``Node.agg``), term-local variables renamed apart
(``j``, ``j#1``...) and the variables a ``concat`` merges.

The rule, literally: products (juxtaposition or ``*``, flattened through
parentheses) are where indices meet.  For ``=``, ``+=`` and ``avg=``, the
terms of the sum at the top of the right-hand side, or directly inside its
outermost nonlinearity (``step(W[i] X[i] + C)``), are equations of their own
(rule 3): the rule runs in each term separately, so an index in two such
terms is two indices, and ``C`` is added once.  Within a term (or the whole
right-hand side), for a variable v not on the LHS, take the lowest common
ancestor of its occurrences.  If it is a product in which v occurs in two
or more factors, v is aggregated there.  If it is a sum, the rule is applied
to each of its terms' occurrences (a term that aggregates v has its own v),
and the occurrences left over float on from the sum.  Otherwise v floats up
through every operator to the nearest enclosing function argument, or to
the whole term, and is aggregated there, over all of it.  ``concat`` binds
the indices of its argument that are not on the LHS: they are merged into
the LHS index the argument lacks, never aggregated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..source import Span, TlangCheckError

# ------------------------------------------------------------ index forms


@dataclass
class IxConst:
    """A constant position; a symbol (``value`` a str) gets ``pos`` from its domain later."""
    value: int | str
    quoted: bool = False
    span: Span | None = None
    pos: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.value, int):
            self.pos = self.value

    def vars(self) -> tuple[str, ...]:
        return ()


@dataclass
class IxAffine:
    """sum of coef * var + const: ``i``, ``i+1``, ``x+dx``; ``virtual``: written ``*t+c``."""
    terms: tuple[tuple[str, int], ...]
    const: int = 0
    virtual: bool = False
    span: Span | None = None

    def vars(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.terms)

    def plain(self) -> str | None:
        """The variable of a plain occurrence ``i`` (not shifted, not virtual)."""
        if len(self.terms) == 1 and self.terms[0][1] == 1 and self.const == 0 and not self.virtual:
            return self.terms[0][0]
        return None


@dataclass
class IxDiv:
    """Integer (floor) division ``x/S``."""
    inner: IxAffine
    divisor: int
    span: Span | None = None

    def vars(self) -> tuple[str, ...]:
        return self.inner.vars()


@dataclass
class IxSlice:
    """A slice read ``2:6``; ``var`` runs over its positions (an LHS variable or a trailing axis)."""
    start: int | None
    stop: int | None
    step: int | None
    var: str = ""
    span: Span | None = None

    def vars(self) -> tuple[str, ...]:
        return (self.var,)


@dataclass
class IxFinal:
    """The last time position of a virtual tensor: its stored (final) value."""
    span: Span | None = None

    def vars(self) -> tuple[str, ...]:
        return ()


Ix = IxConst | IxAffine | IxDiv | IxSlice | IxFinal


def rename_ix(ix: Ix, old: str, new: str) -> None:
    if isinstance(ix, IxAffine):
        ix.terms = tuple((new if v == old else v, c) for v, c in ix.terms)
    elif isinstance(ix, IxDiv):
        rename_ix(ix.inner, old, new)
    elif isinstance(ix, IxSlice) and ix.var == old:
        ix.var = new


# ------------------------------------------------------------ tree nodes


@dataclass(eq=False)
class Node:
    span: Span | None = field(default=None, kw_only=True)
    parent: Node | None = field(default=None, kw_only=True, repr=False)
    agg: list[str] = field(default_factory=list, kw_only=True)

    def children(self) -> list[Node]:
        return []

    def own_vars(self) -> tuple[str, ...]:
        """The variables a leaf mentions (empty for inner nodes)."""
        return ()


@dataclass(eq=False)
class Const(Node):
    value: float


@dataclass(eq=False)
class Read(Node):
    """A tensor element ``T[...]`` (or a scalar ``T``); ``boolean``: written ``T(...)``."""
    name: str
    indices: list[Ix]
    boolean: bool = False

    def own_vars(self) -> tuple[str, ...]:
        return tuple(v for ix in self.indices for v in ix.vars())


@dataclass(eq=False)
class IndexValue(Node):
    """A bare lowercase name: the position of an index variable, as a number."""
    var: str

    def own_vars(self) -> tuple[str, ...]:
        return (self.var,)


@dataclass(eq=False)
class Parity(Node):
    """The built-in relations ``Even(d)`` / ``Odd(d)``."""
    odd: bool
    index: Ix

    def own_vars(self) -> tuple[str, ...]:
        return self.index.vars()


@dataclass(eq=False)
class EinsumSpec:
    """``einsum("ij,jk->ik", A, B, semiring=...)``: operands are tensor names or nested specs."""
    inputs: list[list[str]]
    output: list[str]
    operands: list[str | EinsumSpec]
    semiring: str


@dataclass(eq=False)
class Einsum(Node):
    """A formal einsum, read at ``indices`` (its output positions)."""
    spec: EinsumSpec
    indices: list[Ix]

    def own_vars(self) -> tuple[str, ...]:
        return tuple(v for ix in self.indices for v in ix.vars())


@dataclass(eq=False)
class Prod(Node):
    factors: list[Node]

    def children(self) -> list[Node]:
        return self.factors


@dataclass(eq=False)
class Sum(Node):
    terms: list[Node]
    signs: list[int]

    def children(self) -> list[Node]:
        return self.terms


@dataclass(eq=False)
class Op(Node):
    """``/ ^`` and comparisons (two args), ``neg`` and ``not`` (one arg)."""
    op: str
    args: list[Node]

    def children(self) -> list[Node]:
        return self.args


@dataclass(eq=False)
class Call(Node):
    """An elementwise function; each argument is a place where indices aggregate."""
    fn: str
    args: list[Node]

    def children(self) -> list[Node]:
        return self.args


@dataclass(eq=False)
class Norm(Node):
    """``softmax(x[, T])`` or ``lnorm(x)`` along the dotted LHS variable ``var``."""
    fn: str
    arg: Node
    temp: Node | None
    var: str

    def children(self) -> list[Node]:
        return [self.arg] + ([self.temp] if self.temp is not None else [])


@dataclass(eq=False)
class Concat(Node):
    """``concat(x)``: the argument's non-LHS variables ``merge`` (row-major) become ``into``."""
    arg: Node
    merge: list[str] = field(default_factory=list)
    into: str = ""

    def children(self) -> list[Node]:
        return [self.arg]


FUNCTION_NODES = (Call, Norm, Concat)


def walk(n: Node):
    """Every node, depth first, left to right."""
    yield n
    for c in n.children():
        yield from walk(c)


def leaves(n: Node) -> list[Node]:
    return [m for m in walk(n) if not m.children()]


def link(n: Node, parent: Node | None = None) -> None:
    n.parent = parent
    for c in n.children():
        link(c, n)


# -------------------------------------------------------------- placement

def _within(n: Node, ancestor: Node) -> bool:
    m: Node | None = n
    while m is not None:
        if m is ancestor:
            return True
        m = m.parent
    return False


def _lca(nodes: list[Node]) -> Node:
    paths = []
    for n in nodes:
        path: list[Node] = []
        m: Node | None = n
        while m is not None:
            path.append(m)
            m = m.parent
        paths.append(path[::-1])
    common = paths[0][0]
    for level in zip(*paths):
        if all(x is level[0] for x in level):
            common = level[0]
        else:
            break
    return common


def _float_up(n: Node, top: Node) -> Node:
    """The nearest function argument at or above ``n``, or ``top`` (the whole term or RHS)."""
    while n is not top and n.parent is not None and not isinstance(n.parent, FUNCTION_NODES):
        n = n.parent
    return n


def _settle(occ: list[Node], bound: Node | None,
            top: Node) -> tuple[list[tuple[Node, list[Node]]], list[Node]]:
    """Where the occurrences ``occ`` (leaves) of one variable aggregate, below ``top``: the groups
    settled inside ``bound`` (a term of a nested sum; None: anywhere below ``top``) and the
    occurrences that float out of it."""
    m = _lca(occ)
    if isinstance(m, Prod):  # the lca of leaves in two or more factors: contracted here (rule 1)
        return [(m, occ)], []
    settled: list[tuple[Node, list[Node]]] = []
    floating = occ
    if isinstance(m, Sum):  # a nested sum: each term on its own, the rest floats on together
        floating = []
        for t in m.terms:
            sub = [o for o in occ if _within(o, t)]
            if sub:
                s, f = _settle(sub, t, top)
                settled += s
                floating += f
        if not floating:
            return settled, []
    dest = _float_up(m, top)  # rule 2
    if bound is None or _within(dest, bound):
        return settled + [(dest, floating)], []
    return settled, floating


def _rename_leaf(leaf: Node, old: str, new: str) -> None:
    if isinstance(leaf, Read | Einsum):
        for ix in leaf.indices:
            rename_ix(ix, old, new)
    elif isinstance(leaf, Parity):
        rename_ix(leaf.index, old, new)
    elif isinstance(leaf, IndexValue) and leaf.var == old:
        leaf.var = new


SEPARATE_TERMS = ("=", "+=", "avg=")


def regions(root: Node, op: str) -> list[Node]:
    """Rule 3: for =, += and avg=, the terms of the sum at the top of the RHS, or directly inside
    its outermost nonlinearity, are equations of their own; otherwise the RHS is one region."""
    if op in SEPARATE_TERMS:
        if isinstance(root, Sum):
            return list(root.terms)
        univariate = isinstance(root, Norm) or (isinstance(root, Call) and (len(root.args) == 1 or
                                                                            root.fn == "sig"))
        if univariate and isinstance(root.children()[0], Sum):  # a nonlinearity of one value
            first, *rest = root.children()
            assert isinstance(first, Sum)
            return list(first.terms) + rest
    return [root]


def place(root: Node, lhs_vars: set[str], op: str = "=") -> list[str]:
    """Attach every variable not on the LHS to the node that aggregates it (module docstring);
    return the aggregated variables (after renaming apart)."""
    link(root)
    kept = set(lhs_vars)
    for c in [n for n in walk(root) if isinstance(n, Concat)]:
        kept |= _merge(c, lhs_vars, root)
    aggregated: list[str] = []
    uses: dict[str, int] = {}
    for region in regions(root, op):
        order: list[str] = []
        occ: dict[str, list[Node]] = {}
        for lf in leaves(region):
            for v in lf.own_vars():
                if v not in kept:
                    if v not in occ:
                        order.append(v)
                        occ[v] = []
                    if lf not in occ[v]:
                        occ[v].append(lf)
        for v in order:
            groups, _ = _settle(occ[v], None, region)
            for dest, group in groups:
                k = uses.get(v, 0)
                uses[v] = k + 1
                name = v if k == 0 else f"{v}#{k}"
                if name != v:
                    for lf in group:
                        _rename_leaf(lf, v, name)
                dest.agg.append(name)
                aggregated.append(name)
    return aggregated


def _merge(c: Concat, lhs_vars: set[str], root: Node) -> set[str]:
    """concat: the argument's indices that are not on the LHS are merged (row-major, in order of
    appearance) into the one LHS index the argument lacks; they are not aggregated."""
    inner: list[str] = []
    for lf in leaves(c.arg):
        for v in lf.own_vars():
            if v not in inner:
                inner.append(v)
    merge = [v for v in inner if v not in lhs_vars]
    into = [v for v in sorted(lhs_vars) if v not in inner]
    if not merge or len(into) != 1:
        raise TlangCheckError("concat merges the indices of its argument that are not on the "
                              "left-hand side into the one left-hand index that is not in its "
                              "argument", c.span, [f"here it would merge {merge} into {into}"])
    outside = [v for lf in leaves(root) if not _within(lf, c) for v in lf.own_vars() if v in merge]
    if outside:
        raise TlangCheckError(f"'{outside[0]}' is merged by concat, so it cannot also be used outside "
                              "the concat", c.span)
    c.merge, c.into = merge, into[0]
    return set(merge)


