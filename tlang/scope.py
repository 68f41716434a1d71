"""Projection scope: where each index absent from the LHS is aggregated.

In: the RHS of one equation (AST), its LHS variables, and (for lowering) a
resolver from AST tensor references to IR references.  Out:

- ``separate_terms``: the RHS with every index that is aggregated at more
  than one place renamed apart, one fresh name per place (terms are separate
  equations, paper §3.1), and the renaming (fresh name -> written name);
- ``lower_expr``: the IR expression with a ``Contract`` node at each place of
  aggregation.

The rule (docs/language.md §7, DESIGN 4.1b as revised): products (juxtaposition
or ``*``, flattened through parentheses) are where indices meet.  For an index
``v`` not on the LHS, take the lowest common ancestor of its occurrences:

1. a product in which ``v`` occurs in two or more factors aggregates it there;
2. a sum (``+``/``-``): each term applies the rule to its own occurrences (a
   term that contracts ``v`` binds its own ``v``), and the occurrences left
   over float on from the sum together;
3. anything else: ``v`` floats up through arithmetic (``+ - * / ^``, unary
   minus, comparisons) to the nearest enclosing function argument, or to the
   whole term, and is aggregated there.

The terms of the sum at the top of the right-hand side (or directly inside
its outermost nonlinearity) are separate equations (paper §3.1) for the
summing operators ``=``, ``+=``, ``avg=``: the rule runs in each term, so
``M[i,j] A[j] + B[j]`` is ``Σ_j M A + Σ_j B`` and ``(Y[e] - P[e])^2 + L W[i]^2``
sums e and i each in its own term.

One module decides it for both uses, so the renaming done before extent
inference and the aggregation placed when lowering cannot disagree.
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
ARITH = frozenset({"add", "sub", "div", "pow", "neg", "eq", "ne", "lt", "le", "gt", "ge"})  # float through


@dataclass
class Scope:
    """What the lowering needs to know about the equation."""
    lhs_vars: tuple[str, ...]
    eq_vars: set[str]
    resolve_ref: Callable[[A.Ref], ir.Ref]
    semiring: str = "sumprod"
    norm_var: str | None = None
    loop_var: str | None = None
    split: bool = True      # the terms are separate equations (the sums: =, +=, avg=)


SPLIT_OPS = ("=", "+=", "avg=")   # projection operators whose terms are separate equations


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
    node: object = None            # the AST node it was made from


def _ordered(*groups) -> tuple[str, ...]:
    out: list[str] = []
    for g in groups:
        for v in g:
            if v not in out:
                out.append(v)
    return tuple(out)


def _index_vars(ix: A.IndexExpr, out: list[str]) -> None:
    if isinstance(ix, A.IVar):
        if ix.name not in out:
            out.append(ix.name)
    elif isinstance(ix, A.IBin):
        _index_vars(ix.left, out)
        _index_vars(ix.right, out)


def ast_ref_vars(r: A.Ref) -> tuple[str, ...]:
    """The index variables of an AST reference (not its virtual index or slices)."""
    out: list[str] = []
    for ix in r.indices:
        _index_vars(ix, out)
    return tuple(out)


class _Tree:
    """The RHS as an ``_R`` tree.  ``resolve`` is None for the analysis on the AST (leaves keep
    AST nodes and their variables), else the resolver of the lowering (leaves hold IR)."""

    def __init__(self, sc: Scope, resolve: Callable[[A.Ref], ir.Ref] | None) -> None:
        self.sc = sc
        self.resolve = resolve

    def leaf(self, e: A.Node, payload: ir.Expr | None, vars_: tuple[str, ...]) -> _R:
        n = _R("leaf", payload=payload, span=e.span, node=e)
        n.vars = vars_ if payload is None else ir.free_vars(payload)
        return n

    def raw(self, e: A.Expr) -> _R:
        sc, lower = self.sc, self.resolve is not None
        if isinstance(e, A.Num):
            return self.leaf(e, ir.Const(float(e.value), span=e.span) if lower else None, ())
        if isinstance(e, A.Name):
            if e.name in sc.eq_vars:
                return self.leaf(e, ir.IndexValue(e.name, span=e.span) if lower else None, (e.name,))
            ref = A.Ref(e.name, (), span=e.span)
            return self.leaf(e, self.resolve(ref) if lower else None, ())
        if isinstance(e, A.Ref):
            if e.name in BUILTIN_RELATIONS and len(e.indices) == 1:
                ix = e.indices[0]
                if isinstance(ix, A.IVar):
                    arg: ir.Expr = ir.IndexValue(ix.name, span=ix.span)
                elif isinstance(ix, A.IConst) and isinstance(ix.value, int):
                    arg = ir.Const(float(ix.value))
                else:
                    raise TlangCheckError(f"{e.name}(...) takes an index variable or an integer", e.span)
                payload = ir.Map(BUILTIN_RELATIONS[e.name], (arg,), span=e.span) if lower else None
                return self.leaf(e, payload, ast_ref_vars(e))
            return self.leaf(e, self.resolve(e) if lower else None, ast_ref_vars(e))
        if isinstance(e, A.Str):
            raise TlangCheckError("a string cannot be used as a value here", e.span,
                                  ['files are read with X = "file.csv" on a line of its own'])
        if isinstance(e, A.ListLit):
            raise TlangCheckError("a list literal must be the whole right-hand side", e.span)
        if isinstance(e, A.Unary):
            fn = "neg" if e.op == "-" else "not"
            return _R("map", [self.raw(e.operand)], fn, e.span, node=e)
        if isinstance(e, A.Binary):
            if e.op == "*":
                return _R("mul", [self.raw(e.left), self.raw(e.right)], None, e.span, node=e)
            return _R("map", [self.raw(e.left), self.raw(e.right)], BINARY_OPS[e.op], e.span, node=e)
        if isinstance(e, A.Call):
            return self.call(e)
        raise TlangCheckError("unsupported expression", getattr(e, "span", None))

    def call(self, e: A.Call) -> _R:
        sig = FUNCTIONS.get(e.fn)
        if sig is None:  # an unknown function: reported by the checks of build
            return _R("map", [self.raw(a) for a in e.args], e.fn, e.span, node=e)
        if sig.kind == "einsum":  # normalised by build (formal_ir.normalize_equation)
            if self.resolve is None:
                out: list[str] = []
                for n in A.walk(e):
                    if isinstance(n, A.Ref):
                        for v in ast_ref_vars(n):
                            if v not in out:
                                out.append(v)
                return self.leaf(e, None, tuple(v for v in out if v in self.sc.lhs_vars))
            from .formal_ir import lower_call
            return self.leaf(e, lower_call(e, self.resolve), ())
        args = [self.raw(a) for a in e.args]
        if sig.kind == "normalize":
            var = self.sc.norm_var
            if var is None and self.resolve is not None:
                raise TlangCheckError(f"{e.fn} needs an index to normalise along", e.span,
                                      ["mark it on the left-hand side with a dot, as in Comp[p, p'.]"])
            return _R("norm", args, (e.fn, var), e.span, node=e)
        if sig.kind == "tensor":  # concat
            return _R("concat", args, None, e.span, node=e)
        return _R("map", args, e.fn, e.span, node=e)

    # ------------------------------------------------------------- analysis
    def annotate(self, root: _R) -> None:
        """Parents, and the free variables of every node (bottom up, iteratively)."""
        order: list[_R] = []
        stack = [root]
        while stack:
            n = stack.pop()
            order.append(n)
            for c in n.children:
                c.parent = n
                stack.append(c)
        for n in reversed(order):
            if n.kind == "leaf":
                continue
            if n.kind == "concat":
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


def _leaves(n: _R) -> list[_R]:
    out, stack = [], [n]
    while stack:
        x = stack.pop()
        if x.kind == "leaf":
            out.append(x)
        else:
            stack.extend(reversed(x.children))
    return out


def _is_sum(n: _R) -> bool:
    return n.kind == "map" and n.payload in ("add", "sub")


def _floats_through(n: _R) -> bool:
    """Whether an index floats up through ``n`` (arithmetic and products; not function calls)."""
    return n.kind == "mul" or (n.kind == "map" and n.payload in ARITH)


def _terms(n: _R) -> list[_R]:
    """The terms of a chain of ``+``/``-`` nodes."""
    out: list[_R] = []
    for c in n.children:
        out.extend(_terms(c) if _is_sum(c) else [c])
    return out


def _factors(n: _R) -> list[_R]:
    """The factors of a product, flattened through nested products without aggregations."""
    out = []
    for c in n.children:
        if c.kind == "mul" and not c.agg:
            out.extend(_factors(c))
        else:
            out.append(c)
    return out


def _raw_factors(n: _R) -> list[_R]:
    out = []
    for c in n.children:
        out.extend(_raw_factors(c) if c.kind == "mul" else [c])
    return out


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
    if common.kind == "mul":  # the product node of a flattened chain: its topmost mul
        while common.parent is not None and common.parent.kind == "mul":
            common = common.parent
    return common


def _within(leaf: _R, node: _R) -> bool:
    while leaf is not None:
        if leaf is node:
            return True
        leaf = leaf.parent
    return False


Binding = tuple[_R, list[_R]]   # (node that aggregates, the occurrences it binds)


def _bind(v: str, leaves: list[_R]) -> tuple[list[Binding], list[_R]]:
    """Rules 1 and 2 for the occurrences ``leaves`` of ``v``: the bindings made, and the
    occurrences left floating (from their lowest common ancestor)."""
    node = _lca(leaves)
    if node.kind == "mul":
        hit = [f for f in _raw_factors(node) if any(_within(lf, f) for lf in leaves)]
        if len(hit) >= 2:
            return [(node, leaves)], []
        return [], leaves
    if _is_sum(node):
        binds: list[Binding] = []
        floating: list[_R] = []
        for t in _terms(node):
            occ = [lf for lf in leaves if _within(lf, t)]
            if occ:
                b, f = _bind(v, occ)
                binds += b
                floating += f
        return binds, floating
    return [], leaves


def _float_target(leaves: list[_R], ceiling: _R) -> _R:
    """Rule 3: from the occurrences' common ancestor, up through arithmetic to the nearest
    function argument or the term (``ceiling``)."""
    node = _lca(leaves)
    while node is not ceiling and node.parent is not None and _floats_through(node.parent):
        node = node.parent
    if node.kind == "mul":
        while node.parent is not None and node.parent.kind == "mul":
            node = node.parent
    return node


def top_terms(root: _R) -> list[_R]:
    """The equation's terms: the terms of the sum at the root or directly inside the outermost
    (univariate) nonlinearity or normalisation (paper §3.1: several terms are several equations
    that share the nonlinearity), and that function's other arguments (a temperature); one term
    when there is no such sum."""
    if _is_sum(root):
        return _terms(root)
    if (root.kind == "map" and root.payload not in ARITH and root.payload != "not" and root.children
            and (len(root.children) == 1 or root.payload == "sig")) or root.kind == "norm":
        first, *rest = root.children  # the outermost nonlinearity only: an inner one is an argument
        if _is_sum(first):
            return _terms(first) + rest
    return [root]


def bindings(root: _R, keep: set[str], split: bool = True) -> dict[str, list[Binding]]:
    """Every projected variable's places of aggregation (the module docstring's rule); with
    ``split``, each term of the equation is an equation of its own."""
    occurrences: dict[str, list[_R]] = {}
    for lf in _leaves(root):
        for v in lf.vars:
            if v not in keep:
                occurrences.setdefault(v, []).append(lf)
    terms = top_terms(root) if split else [root]
    out: dict[str, list[Binding]] = {}
    for v in root.vars:
        if v in keep or v not in occurrences:
            continue
        binds: list[Binding] = []
        for term in terms:
            occ = [lf for lf in occurrences[v] if _within(lf, term)]
            if not occ:
                continue
            b, floating = _bind(v, occ)
            binds += b
            if floating:
                binds.append((_float_target(floating, term), floating))
        out[v] = binds
    return out


# ------------------------------------------------------------ renaming apart

def _rename_index(ix: A.IndexExpr, m: dict[str, str]) -> A.IndexExpr:
    if isinstance(ix, A.IVar) and ix.name in m:
        return A.IVar(m[ix.name], ix.dot, span=ix.span)
    if isinstance(ix, A.IBin):
        return A.IBin(ix.op, _rename_index(ix.left, m), _rename_index(ix.right, m), span=ix.span)
    return ix


def _rebuild(e: A.Expr, renames: dict[int, dict[str, str]]) -> A.Expr:
    """``e`` with the renaming of each occurrence (by node identity) applied."""
    m = renames.get(id(e))
    if isinstance(e, A.Ref):
        if m is None:
            return e
        return A.Ref(e.name, tuple(_rename_index(ix, m) for ix in e.indices), e.boolean, span=e.span)
    if isinstance(e, A.Name):
        return A.Name(m[e.name], span=e.span) if m and e.name in m else e
    if isinstance(e, A.Unary):
        return A.Unary(e.op, _rebuild(e.operand, renames), span=e.span)
    if isinstance(e, A.Binary):
        return A.Binary(e.op, _rebuild(e.left, renames), _rebuild(e.right, renames), span=e.span)
    if isinstance(e, A.Call):
        return A.Call(e.fn, tuple(_rebuild(a, renames) for a in e.args),
                      tuple((k, _rebuild(v, renames)) for k, v in e.kwargs), span=e.span)
    return e


def _fresh(name: str, used: set[str]) -> str:
    k = 1
    while f"{name}_{k}" in used:
        k += 1
    used.add(f"{name}_{k}")
    return f"{name}_{k}"


def separate_terms(rhs: A.Expr, lhs_vars: tuple[str, ...], eq_vars: set[str],
                   keep: set[str] = frozenset(), op: str = "=") -> tuple[A.Expr, dict[str, str]]:
    """``rhs`` with each index aggregated at more than one place renamed apart (the first place
    keeps the name, the others get fresh names ``j_1``, ``j_2`` not used in the equation), and
    the renaming (fresh name -> the name written)."""
    sc = Scope(tuple(lhs_vars), set(eq_vars), lambda r: None)
    tree = _Tree(sc, None)
    root = tree.raw(rhs)
    tree.annotate(root)
    placed = bindings(root, set(lhs_vars) | set(keep), op in SPLIT_OPS)
    renames: dict[int, dict[str, str]] = {}
    back: dict[str, str] = {}
    used = set(eq_vars)
    for v, binds in placed.items():
        if len(binds) < 2:
            continue
        for _node, leaves in binds[1:]:
            new = _fresh(v, used)
            back[new] = v
            for lf in leaves:
                renames.setdefault(id(lf.node), {})[v] = new
    if not renames:
        return rhs, {}
    return _rebuild(rhs, renames), back


def aggregation_root(rhs: A.Expr, lhs_vars: tuple[str, ...], eq_vars: set[str], var: str,
                     op: str = "=") -> bool:
    """Whether ``var`` (not on the LHS) is aggregated over whole terms of the equation only."""
    sc = Scope(tuple(lhs_vars), set(eq_vars), lambda r: None)
    tree = _Tree(sc, None)
    root = tree.raw(rhs)
    tree.annotate(root)
    split = op in SPLIT_OPS
    tops = top_terms(root) if split else [root]
    binds = bindings(root, set(lhs_vars), split).get(var, [])
    return all(any(node is t for t in tops) for node, _ in binds)


# ------------------------------------------------------------------ lowering

class _Lower(_Tree):
    def place(self, root: _R) -> None:
        keep = set(self.sc.lhs_vars)
        if self.sc.loop_var:
            keep.add(self.sc.loop_var)
        for v, binds in bindings(root, keep, self.sc.split).items():
            for node, _ in binds:
                if v not in node.agg:
                    node.agg.append(v)
        self.liveness(root)

    def liveness(self, root: _R) -> None:
        order: list[_R] = []
        stack = [root]
        while stack:
            n = stack.pop()
            order.append(n)
            stack.extend(n.children)
        for n in reversed(order):
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


def lower_expr(e: A.Expr, scope: Scope) -> ir.Expr:
    """Lower one RHS (see module docstring)."""
    lw = _Lower(scope, scope.resolve_ref)
    root = lw.raw(e)
    lw.annotate(root)
    lw.place(root)
    return lw.rebuild(root)
