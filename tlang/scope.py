"""Projection scope: AST expression -> IR expression with aggregation placed.

In: the RHS of one equation (AST), its LHS variables, and a resolver for
tensor indices.  Out: an ``ir`` expression in which every variable that is
not on the LHS is aggregated by a ``Contract`` node at the lowest common
ancestor of its occurrences, moved up past ``+``/``-`` so a sum or
difference is never split (DESIGN.md 4.1b) -- except when every term of the
sum contracts the variable on its own (two or more occurrences in the term,
as ``j`` in the paper's RNN ``W[i,j] X[j,*t] + V[i,j] U[j,t]``): then each
term aggregates it, which by linearity is the aggregate of the sum.  Products (join by
juxtaposition or ``*``) are flattened into the operands of one ``Contract``,
the generalised einsum node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import ast as A
from . import ir
from .functions import FUNCTIONS
from .source import Span, TlangCheckError

BINARY_OPS = {"+": "add", "-": "sub", "/": "div", "^": "pow", "==": "eq", "!=": "ne",
              "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
BUILTIN_RELATIONS = {"Even": "even", "Odd": "odd"}


@dataclass
class Scope:
    """What the lowering needs to know about the equation."""
    lhs_vars: tuple[str, ...]
    eq_vars: set[str]
    resolve_ref: Callable[[A.Ref], ir.Ref]
    semiring: str = "sumprod"
    norm_var: str | None = None
    loop_var: str | None = None


@dataclass(eq=False)
class _R:
    kind: str                      # leaf | mul | map | norm | concat
    children: list[_R] = field(default_factory=list)
    payload: object = None
    span: Span | None = None
    vars: tuple[str, ...] = ()
    agg: list[str] = field(default_factory=list)
    parent: _R | None = None
    live: tuple[str, ...] = ()     # free variables after the aggregations at and below this node


def _ordered(*groups) -> tuple[str, ...]:
    out: list[str] = []
    for g in groups:
        for v in g:
            if v not in out:
                out.append(v)
    return tuple(out)


class _Lower:
    def __init__(self, sc: Scope) -> None:
        self.sc = sc

    def raw(self, e: A.Expr) -> _R:
        sc = self.sc
        if isinstance(e, A.Num):
            return _R("leaf", payload=ir.Const(float(e.value), span=e.span), span=e.span)
        if isinstance(e, A.Name):
            if e.name in sc.eq_vars:
                return _R("leaf", payload=ir.IndexValue(e.name, span=e.span), span=e.span)
            return _R("leaf", payload=sc.resolve_ref(A.Ref(e.name, (), span=e.span)), span=e.span)
        if isinstance(e, A.Ref):
            if e.name in BUILTIN_RELATIONS and len(e.indices) == 1:
                ix = e.indices[0]
                if isinstance(ix, A.IVar):
                    arg: ir.Expr = ir.IndexValue(ix.name, span=ix.span)
                elif isinstance(ix, A.IConst) and isinstance(ix.value, int):
                    arg = ir.Const(float(ix.value))
                else:
                    raise TlangCheckError(f"{e.name}(...) takes an index variable or an integer", e.span)
                return _R("leaf", payload=ir.Map(BUILTIN_RELATIONS[e.name], (arg,), span=e.span),
                          span=e.span)
            return _R("leaf", payload=sc.resolve_ref(e), span=e.span)
        if isinstance(e, A.Str):
            raise TlangCheckError("a string cannot be used as a value here", e.span,
                                  ['files are read with X = "file.csv" on a line of its own'])
        if isinstance(e, A.ListLit):
            raise TlangCheckError("a list literal must be the whole right-hand side", e.span)
        if isinstance(e, A.Unary):
            fn = "neg" if e.op == "-" else "not"
            return _R("map", [self.raw(e.operand)], fn, e.span)
        if isinstance(e, A.Binary):
            if e.op == "*":
                return _R("mul", [self.raw(e.left), self.raw(e.right)], None, e.span)
            return _R("map", [self.raw(e.left), self.raw(e.right)], BINARY_OPS[e.op], e.span)
        if isinstance(e, A.Call):
            return self.call(e)
        raise TlangCheckError("unsupported expression", getattr(e, "span", None))

    def call(self, e: A.Call) -> _R:
        sig = FUNCTIONS[e.fn]
        if sig.kind == "einsum":  # normalised by build (formal_ir.normalize_equation)
            from .formal_ir import lower_call
            return _R("leaf", payload=lower_call(e, self.sc.resolve_ref), span=e.span)
        args = [self.raw(a) for a in e.args]
        if sig.kind == "normalize":
            var = self.sc.norm_var
            if var is None:
                raise TlangCheckError(f"{e.fn} needs an index to normalise along", e.span,
                                      ["mark it on the left-hand side with a dot, as in Comp[p, p'.]"])
            return _R("norm", args, (e.fn, var), e.span)
        if sig.kind == "tensor":  # concat
            return _R("concat", args, None, e.span)
        return _R("map", args, e.fn, e.span)

    # ------------------------------------------------------------- analysis
    def annotate(self, n: _R, parent: _R | None) -> None:
        n.parent = parent
        for c in n.children:
            self.annotate(c, n)
        if n.kind == "leaf":
            n.vars = ir.free_vars(n.payload)
        elif n.kind == "concat":
            inner = n.children[0].vars
            merge = tuple(v for v in inner if v not in self.sc.lhs_vars)
            into = [v for v in self.sc.lhs_vars if v not in inner]
            if len(merge) < 1 or len(into) != 1:
                raise TlangCheckError(
                    "concat merges the indices of its argument that are not on the left-hand side "
                    "into the one left-hand index that is not in its argument", n.span,
                    [f"here it would merge {list(merge)} into {into}"])
            n.payload = (merge, into[0])
            n.vars = _ordered([v for v in inner if v not in merge], [into[0]])
        else:
            n.vars = _ordered(*(c.vars for c in n.children))

    def place(self, root: _R) -> None:
        """Attach each projected variable to its aggregation node (rule 4.1b)."""
        keep = set(self.sc.lhs_vars)
        if self.sc.loop_var:
            keep.add(self.sc.loop_var)
        for v in root.vars:
            if v in keep:
                continue
            self._place_var(v, [lf for lf in _leaves(root) if v in lf.vars])
        self.liveness(root)

    def _place_var(self, v: str, leaves: list[_R]) -> None:
        node = _lca(leaves)
        if _is_sum(node):
            terms = _terms(node, v)
            counts = [sum(1 for lf in leaves if _within(lf, t)) for t in terms]
            if all(c >= 2 for c in counts):
                # every term contracts v on its own (the RNN's W[i,j] X[j] + V[i,j] U[j,t]):
                # aggregate inside each term, which by linearity is the sum's aggregate
                for t in terms:
                    self._place_var(v, [lf for lf in leaves if _within(lf, t)])
                return
            # v is matched across the terms ((X[i,j] - X[i',j])^2): never split the difference
            while _is_sum(node) and node.parent is not None:
                node = node.parent
        node.agg.append(v)

    def liveness(self, n: _R) -> None:
        for c in n.children:
            self.liveness(c)
        if n.kind == "leaf":
            live = n.vars
        elif n.kind == "concat":
            merge, into = n.payload
            live = _ordered([v for v in n.children[0].live if v not in merge], [into])
        else:
            live = _ordered(*(c.live for c in n.children))
        n.live = tuple(v for v in live if v not in n.agg)

    def rebuild(self, n: _R) -> ir.Expr:
        sr = self.sc.semiring
        if n.kind == "leaf":
            e = n.payload
        elif n.kind == "mul":
            factors = [self.rebuild(f) for f in _factors(n)]
            return ir.Contract(tuple(factors), n.live, sr, span=n.span)
        elif n.kind == "map":
            e = ir.Map(n.payload, tuple(self.rebuild(c) for c in n.children), span=n.span)
        elif n.kind == "norm":
            fn, var = n.payload
            temp = self.rebuild(n.children[1]) if len(n.children) > 1 else None
            arg = self.rebuild(n.children[0])
            if var not in ir.free_vars(arg):
                raise TlangCheckError(f"{fn} normalises along '{var}', which its argument does not use",
                                      n.span)
            e = ir.Normalize(fn, arg, var, temp, span=n.span)
        else:  # concat
            merge, into = n.payload
            e = ir.Concat(self.rebuild(n.children[0]), merge, into, span=n.span)
        if n.agg:
            return ir.Contract((e,), n.live, sr, span=n.span)
        return e


def _leaves(n: _R) -> list[_R]:
    if n.kind == "leaf":
        return [n]
    return [lf for c in n.children for lf in _leaves(c)]


def _is_sum(n: _R) -> bool:
    return n.kind == "map" and n.payload in ("add", "sub")


def _terms(n: _R, v: str) -> list[_R]:
    """The maximal non-sum subexpressions below a chain of +/- nodes that use ``v``."""
    out: list[_R] = []
    for c in n.children:
        if _is_sum(c):
            out.extend(_terms(c, v))
        elif v in c.vars:
            out.append(c)
    return out


def _within(leaf: _R, node: _R) -> bool:
    while leaf is not None:
        if leaf is node:
            return True
        leaf = leaf.parent
    return False


def _path(n: _R) -> list[_R]:
    out = []
    while n is not None:
        out.append(n)
        n = n.parent
    return out[::-1]


def _lca(nodes: list[_R]) -> _R:
    paths = [_path(n) for n in nodes]
    common = paths[0][0]
    for level in zip(*paths):
        if all(x is level[0] for x in level):
            common = level[0]
        else:
            break
    return common


def _factors(n: _R) -> list[_R]:
    out = []
    for c in n.children:
        if c.kind == "mul" and not c.agg:
            out.extend(_factors(c))
        else:
            out.append(c)
    return out


def lower_expr(e: A.Expr, scope: Scope) -> ir.Expr:
    """Lower one RHS (see module docstring)."""
    lw = _Lower(scope)
    root = lw.raw(e)
    lw.annotate(root, None)
    lw.place(root)
    return lw.rebuild(root)
