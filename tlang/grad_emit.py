"""IR -> tensor-logic source for gradient programs (the helpers of ``tlang.grad``).

In: a built forward program (``ir.ProgramIR``).  Out:

- ``equations(prog)``: the forward equations as ``PEq`` (pseudo-equations
  with their variable extents), where every virtual-index loop is *unrolled*
  for backpropagation through time: a tensor ``X`` computed by
  ``X[i, *t+1] = f(X[j, *t], ...)`` becomes ``X_s[i, t]`` (the state before
  step t, ``X_s[i, 0]`` = the initial state) and ``X_o[i, t]`` (the state
  after step t), linked by ``X_s[i, t+1] = X_o[i, t]`` and, for the final
  buffer, ``X[i] = X_o[i, T-1]``.  The forward program still computes ``X``
  with its loop; the gradient program computes ``X_s``/``X_o`` (a recursion
  over t that the engine runs to its fixpoint).
- ``Emitter``: fresh names, ``tensor`` declarations, and the AST of the
  forward value of any IR node.  A node is printed inline when building it
  again (``scope.lower_expr``, rule DESIGN 4.1b) gives back the same IR;
  otherwise each compound child becomes a named intermediate equation first
  (three-address form), which always lowers back exactly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from . import ast as A
from . import ir
from .scope import SPLIT_OPS, Scope, lower_expr
from .source import Span, TlangCheckError


class GradError(TlangCheckError):
    """A construct whose gradient cannot be written as a tensor-logic program."""


_INFIX = {"add": "+", "sub": "-", "div": "/", "pow": "^", "mul": "*", "eq": "==", "ne": "!=",
          "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_BUILTIN_REL = {"even": "Even", "odd": "Odd"}


# ------------------------------------------------------------------ atoms

def num(x: float) -> A.Num:
    """A number literal (integral floats print as integers)."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return A.Num(int(x))
    return A.Num(x)


def ast_index(ix: ir.Index, span: Span | None = None) -> A.IndexExpr:
    """An IR index as source: ``i``, ``3``, ``t+1``, ``x+dx``, ``x/2``."""
    if isinstance(ix, ir.IDiv):
        return A.IBin("/", ast_index(ix.inner, span), A.IConst(ix.divisor))
    parts: list[tuple[int, A.IndexExpr]] = []
    for v, c in ix.terms:
        if c not in (1, -1):
            raise GradError(f"index arithmetic with a coefficient ({c}*{v}) has no source form, so its "
                            "gradient cannot be printed as tensor logic", span)
        parts.append((c, A.IVar(v)))
    if ix.const or not parts:
        parts.append((1 if ix.const >= 0 else -1, A.IConst(abs(ix.const))))
    first = next((k for k, (c, _) in enumerate(parts) if c > 0), None)
    if first is None:
        out: A.IndexExpr = A.IConst(0)
    else:
        out = parts.pop(first)[1]
    for c, p in parts:
        out = A.IBin("+" if c > 0 else "-", out, p)
    return out


def plain_vars(indices: tuple[ir.Index, ...]) -> tuple[str, ...] | None:
    """The variables of ``indices`` if each is a distinct plain variable, else None."""
    out = []
    for ix in indices:
        if not (isinstance(ix, ir.IAffine) and ix.is_var()) or ix.vars[0] in out:
            return None
        out.append(ix.vars[0])
    return tuple(out)


def index_vars(indices: tuple[ir.Index, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for ix in indices:
        for v in ix.vars:
            if v not in out:
                out.append(v)
    return tuple(out)


def prod(factors: list[A.Expr]) -> A.Expr:
    """The join of ``factors`` (juxtaposition)."""
    out = factors[0]
    for f in factors[1:]:
        out = A.Binary("*", out, f)
    return out


def signed(e: A.Expr, sign: int) -> A.Expr:
    return e if sign > 0 else A.Unary("-", e)


# --------------------------------------------------- pseudo-equations

@dataclass
class PEq:
    """One forward equation as the gradient sees it."""
    key: int                          # position in the list (names, caches)
    lhs: str
    indices: tuple[ir.Index, ...]
    op: str
    rhs: ir.Expr
    extents: dict[str, int]
    kind: str = "equation"
    emit: bool = False                # the gradient program must compute it (unrolled loops)
    span: Span | None = None
    boolean: bool = False

    @property
    def lhs_vars(self) -> tuple[str, ...]:
        return index_vars(self.indices)


@dataclass
class Unrolled:
    """A virtual-index tensor and its unrolled names."""
    name: str
    states: str       # X_s[..., t]: the state before step t
    outputs: str      # X_o[..., t]: the state after step t
    axis: int
    steps: int
    shape: tuple[int, ...]


def _with_time(e: ir.Expr, unrolled: dict[str, Unrolled], t: str) -> ir.Expr:
    """``e`` with each read of a loop's step (``Ref.step``) replaced by the unrolled tensor at t:
    the previous step's value ``X_s[..., t, ...]``, this step's ``X_o[..., t, ...]`` (t kept live)."""
    if isinstance(e, ir.Ref):
        u = unrolled.get(e.tensor)
        if u is None or e.step is None:
            return e
        name = u.states if e.step == -1 else u.outputs
        return ir.Ref(name, e.indices[:u.axis] + (ir.ivar(t),) + e.indices[u.axis:], span=e.span)
    if isinstance(e, ir.Contract):
        ops = tuple(_with_time(o, unrolled, t) for o in e.operands)
        out = e.out
        if t not in out and any(t in ir.free_vars(o) for o in ops):
            out = out + (t,)
        return dataclasses.replace(e, operands=ops, out=out)
    if isinstance(e, ir.Map):
        return dataclasses.replace(e, args=tuple(_with_time(a, unrolled, t) for a in e.args))
    if isinstance(e, ir.Normalize):
        temp = None if e.temperature is None else _with_time(e.temperature, unrolled, t)
        return dataclasses.replace(e, arg=_with_time(e.arg, unrolled, t), temperature=temp)
    if isinstance(e, ir.Concat | ir.Guard):
        return dataclasses.replace(e, arg=_with_time(e.arg, unrolled, t))
    return e


def equations(prog: ir.ProgramIR, namer: Namer) -> tuple[list[PEq], dict[str, Unrolled]]:
    """The forward equations, with virtual-index loops unrolled (see the module docstring)."""
    extents: dict[int, dict[str, int]] = {}
    for (k, v), n in prog.var_extents.items():
        extents.setdefault(k, {})[v] = n
    loops: dict[str, list[int]] = {}
    for k, eq in enumerate(prog.equations):
        if eq.virtual is not None:
            loops.setdefault(eq.lhs, []).append(k)
    out: list[PEq] = []

    def add(**kw) -> None:
        out.append(PEq(key=len(out), **kw))

    unrolled: dict[str, Unrolled] = {}
    for name, ks in loops.items():
        info = prog.tensors[name]
        first = prog.equations[ks[0]]
        t0 = first.virtual[0]
        if t0 not in extents.get(ks[0], {}):
            raise GradError(f"the loop over '{t0}' has no length, so it cannot be unrolled for its "
                            "gradient", first.span, ["declare its length, e.g. 'index t : 10'"])
        own = [e for e in prog.equations if e.lhs == name]
        if first.virtual[1] != 1 and (any(e.virtual is None for e in own) or
                                      any(r.step == -1 for e in own for r in ir.tensors_read(e.rhs))):
            raise GradError(f"'{name}' is written at *{t0} with a start of its own: its gradient is not "
                            "unrolled yet", first.span, ["write it at *t+1, or train with --backend jax"])
        steps = extents[ks[0]][t0]
        axis = info.virtual_axis if info.virtual_axis is not None else len(info.stored_shape)
        shape = info.stored_shape[:axis] + (steps,) + info.stored_shape[axis:]
        unrolled[name] = Unrolled(name, namer.fresh(f"{name}_s"), namer.fresh(f"{name}_o"), axis, steps, shape)
    for k, eq in enumerate(prog.equations):
        ext = dict(extents.get(k, {}))
        u = unrolled.get(eq.lhs)
        boolean = prog.tensors[eq.lhs].boolean
        if u is None:
            rhs = _with_time(eq.rhs, unrolled, eq.accumulate) if eq.accumulate else eq.rhs
            add(lhs=eq.lhs, indices=eq.indices, op=eq.op, rhs=rhs, extents=ext, kind=eq.kind,
                span=eq.span, boolean=boolean)
        elif eq.virtual is None:  # the initial state
            if any(r.tensor == eq.lhs for r in ir.tensors_read(eq.rhs)):
                raise GradError(f"the initial state of '{eq.lhs}' reads '{eq.lhs}' itself", eq.span)
            idx = eq.indices[:u.axis] + (ir.iconst(0),) + eq.indices[u.axis:]
            add(lhs=u.states, indices=idx, op=eq.op, rhs=eq.rhs, extents=ext, kind=eq.kind, emit=True,
                span=eq.span, boolean=boolean)
        else:  # one step of the loop
            t = eq.virtual[0]
            idx = eq.indices[:u.axis] + (ir.ivar(t),) + eq.indices[u.axis:]
            rhs = _with_time(eq.rhs, unrolled, t)
            add(lhs=u.outputs, indices=idx, op=eq.op, rhs=rhs, extents=ext, kind=eq.kind, emit=True,
                span=eq.span, boolean=boolean)
    for u in unrolled.values():
        info = prog.tensors[u.name]
        step_eq = prog.equations[loops[u.name][0]]
        pv = plain_vars(step_eq.indices)
        t = step_eq.virtual[0]
        if pv is None or t in pv:
            pv = tuple(f"_a{k}" for k in range(len(info.stored_shape)))
        ext = dict(zip(pv, info.stored_shape))
        ext[t] = u.steps
        cur = tuple(ir.ivar(v) for v in pv)
        nxt = cur[:u.axis] + (ir.IAffine(((t, 1),), 1),) + cur[u.axis:]
        now = cur[:u.axis] + (ir.ivar(t),) + cur[u.axis:]
        add(lhs=u.states, indices=nxt, op="=", rhs=ir.Ref(u.outputs, now), extents=ext, emit=True,
            span=step_eq.span, boolean=info.boolean)
        last = cur[:u.axis] + (ir.iconst(u.steps - 1),) + cur[u.axis:]
        add(lhs=u.name, indices=cur, op="=", rhs=ir.Ref(u.outputs, last), extents=dict(zip(pv, info.stored_shape)),
            span=step_eq.span, boolean=info.boolean)
    return out, unrolled


# ---------------------------------------------------------------- names

class Namer:
    """Fresh tensor names that clash with nothing in the program (tensors or index variables)."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken)

    def fresh(self, base: str) -> str:
        name, k = base, 2
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name

    def numbered(self, base: str) -> str:
        k = 1
        while f"{base}_{k}" in self.taken:
            k += 1
        return self.fresh(f"{base}_{k}")


# --------------------------------------------------------------- emitter

@dataclass
class Emitter:
    """Declarations and forward intermediates of a gradient program."""
    prog: ir.ProgramIR
    namer: Namer
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)   # every tensor, by name
    booleans: set[str] = field(default_factory=set)
    virtual: dict[str, int] = field(default_factory=dict)   # virtual-index tensor -> its virtual axis
    decls: list[A.Stmt] = field(default_factory=list)
    forward: list[A.Stmt] = field(default_factory=list)
    _refs: dict[int, ir.Ref] = field(default_factory=dict)
    _cache: dict[tuple, tuple[A.Expr, ir.Expr]] = field(default_factory=dict)
    plain_roots: set[int] = field(default_factory=set)   # keys of equations whose LHS holds the root's value

    def declare(self, name: str, shape: tuple[int, ...]) -> None:
        self.shapes[name] = tuple(shape)
        if shape:
            self.decls.append(A.TensorDecl(name, tuple(int(n) for n in shape)))

    # -- atoms
    def ref(self, r: ir.Ref) -> A.Expr:
        """A forward tensor read, as source (a Boolean relation keeps its parentheses)."""
        if not r.indices:
            return A.Name(r.tensor)
        idx = tuple(ast_index(ix, r.span) for ix in r.indices)
        axis = self.virtual.get(r.tensor)
        if axis is not None:  # the final buffer: the virtual axis is written but not read
            idx = idx[:axis] + (A.IConst(0),) + idx[axis:]
        node = A.Ref(r.tensor, idx, boolean=r.tensor in self.booleans)
        self._refs[id(node)] = r
        return node

    def var_ref(self, name: str, vars_: tuple[str, ...], dot: str | None = None) -> A.Expr:
        if not vars_:
            return A.Name(name)
        node = A.Ref(name, tuple(A.IVar(v, dot=(v == dot)) for v in vars_))
        self._refs[id(node)] = ir.Ref(name, tuple(ir.ivar(v) for v in vars_))
        return node

    # -- values
    def value(self, eq: PEq, node: ir.Expr) -> A.Expr:
        """An atom (a reference, number or index value) holding the forward value of ``node``."""
        return self._value(eq, node)[0]

    def _value(self, eq: PEq, node: ir.Expr) -> tuple[A.Expr, ir.Expr]:
        if isinstance(node, ir.Ref):
            return self.ref(node), node
        if isinstance(node, ir.Const):
            return num(node.value), node
        if isinstance(node, ir.IndexValue):
            return A.Name(node.var), node
        if node is eq.rhs and eq.key in self.plain_roots:
            vars_ = eq.lhs_vars
            return self.var_ref(eq.lhs, vars_), ir.Ref(eq.lhs, tuple(ir.ivar(v) for v in vars_))
        key = (eq.key, node)
        if key not in self._cache:
            name = self.namer.numbered(eq.lhs)
            vars_ = ir.free_vars(node)
            self.declare(name, tuple(eq.extents[v] for v in vars_))
            dot = node.var if isinstance(node, ir.Normalize) else None
            rhs = self.expr(eq, node, vars_, dot)
            op = eq.op if eq.op in ("max=", "min=", "avg=") and _aggregates(node) else "="
            lhs = self.var_ref(name, vars_, dot) if vars_ else A.Ref(name, ())
            self.forward.append(A.Equation(lhs, op, rhs))
            self._cache[key] = (self.var_ref(name, vars_), ir.Ref(name, tuple(ir.ivar(v) for v in vars_)))
        a, r = self._cache[key]
        if isinstance(a, A.Ref):  # a fresh node each time (the resolver is keyed by identity)
            a = self.var_ref(r.tensor, tuple(ix.vars[0] for ix in r.indices))
        return a, r

    def equation(self, eq: PEq) -> A.Equation:
        """A forward pseudo-equation as source (for the unrolled loops)."""
        dot = eq.rhs.var if isinstance(eq.rhs, ir.Normalize) else None
        idx = tuple(A.IVar(ix.vars[0], dot=ix.vars[0] == dot) if isinstance(ix, ir.IAffine) and ix.is_var()
                    else ast_index(ix, eq.span) for ix in eq.indices)
        lhs = A.Ref(eq.lhs, idx, boolean=eq.boolean) if idx else A.Ref(eq.lhs, ())
        return A.Equation(lhs, eq.op, self.expr(eq, eq.rhs, eq.lhs_vars, dot))

    # -- expressions
    def expr(self, eq: PEq, node: ir.Expr, lhs_vars: tuple[str, ...], dot: str | None) -> A.Expr:
        """Source for ``node`` as the RHS of an equation over ``lhs_vars`` (checked by re-lowering)."""
        scope = Scope(tuple(lhs_vars), set(eq.extents), self._resolve, ir.OP_SEMIRING.get(eq.op, "sumprod"),
                      dot, None, eq.op in SPLIT_OPS)
        try:
            text = self._inline(node)
            if canonical(lower_expr(text, scope)) == canonical(node):
                return text
        except TlangCheckError:
            pass
        flat = self._three_address(eq, node)
        text = self._inline(flat)
        if canonical(lower_expr(text, scope)) != canonical(flat):
            raise GradError("internal: this expression could not be printed so that it means the same",
                            getattr(node, "span", None) or eq.span)
        return text

    def _resolve(self, r: A.Ref) -> ir.Ref:
        got = self._refs.get(id(r))
        if got is not None:
            return got
        if not r.indices:
            return ir.Ref(r.name, ())
        raise GradError(f"internal: unknown reference {r.name}")

    def _three_address(self, eq: PEq, node: ir.Expr) -> ir.Expr:
        def atom(c: ir.Expr) -> ir.Expr:
            return self._value(eq, c)[1]
        if isinstance(node, ir.Map):
            return dataclasses.replace(node, args=tuple(atom(a) for a in node.args))
        if isinstance(node, ir.Contract):
            return dataclasses.replace(node, operands=tuple(atom(o) for o in node.operands))
        if isinstance(node, ir.Normalize):
            temp = None if node.temperature is None else atom(node.temperature)
            return dataclasses.replace(node, arg=atom(node.arg), temperature=temp)
        if isinstance(node, ir.Concat):
            return dataclasses.replace(node, arg=atom(node.arg))
        if isinstance(node, ir.Guard):
            return atom(node.arg)
        return node

    def _inline(self, node: ir.Expr) -> A.Expr:
        if isinstance(node, ir.Ref):
            return self.ref(node)
        if isinstance(node, ir.Const):
            return num(node.value)
        if isinstance(node, ir.IndexValue):
            return A.Name(node.var)
        if isinstance(node, ir.Contract):
            return prod([self._inline(o) for o in node.operands])
        if isinstance(node, ir.Map):
            args = [self._inline(a) for a in node.args]
            if node.fn in _INFIX:
                return A.Binary(_INFIX[node.fn], args[0], args[1])
            if node.fn == "neg":
                return A.Unary("-", args[0])
            if node.fn == "not":
                return A.Unary("not", args[0])
            if node.fn in _BUILTIN_REL:
                a = node.args[0]
                ix = A.IVar(a.var) if isinstance(a, ir.IndexValue) else A.IConst(int(a.value))
                return A.Ref(_BUILTIN_REL[node.fn], (ix,), boolean=True)
            return A.Call(node.fn, tuple(args))
        if isinstance(node, ir.Normalize):
            args = [self._inline(node.arg)]
            if node.temperature is not None:
                args.append(self._inline(node.temperature))
            return A.Call(node.fn, tuple(args))
        if isinstance(node, ir.Concat):
            return A.Call("concat", (self._inline(node.arg),))
        if isinstance(node, ir.Guard):  # printed again, the term reads the same inputs and guards itself
            return self._inline(node.arg)
        raise GradError(f"internal: a {type(node).__name__} node has no source form", getattr(node, "span", None))


def count(extents: dict[str, int], vars_) -> int:
    return math.prod(extents[v] for v in vars_)


def _aggregates(e: ir.Expr) -> bool:
    """Whether ``e`` aggregates an index somewhere (then its equation's projection operator matters)."""
    if isinstance(e, ir.Contract):
        inner = {v for o in e.operands for v in ir.free_vars(o)}
        if inner - set(e.out):
            return True
        return any(_aggregates(o) for o in e.operands)
    if isinstance(e, ir.Map):
        return any(_aggregates(a) for a in e.args)
    if isinstance(e, ir.Normalize):
        return _aggregates(e.arg)
    if isinstance(e, ir.Concat | ir.Guard):
        return _aggregates(e.arg)
    return False


def canonical(e: ir.Expr) -> ir.Expr:
    """``e`` with nested joins of the same semiring spliced into one, where the inner one's
    aggregated indices occur nowhere else: ``(X[i,j] X[i,j]) Z[k]`` summing i inside is the
    join ``X X Z`` summing i at the top.  Printing a join needs a binary nesting, and building
    it again may aggregate at an inner node; this is the same tensor."""
    if isinstance(e, ir.Map):
        return dataclasses.replace(e, args=tuple(canonical(a) for a in e.args))
    if isinstance(e, ir.Normalize):
        temp = None if e.temperature is None else canonical(e.temperature)
        return dataclasses.replace(e, arg=canonical(e.arg), temperature=temp)
    if isinstance(e, ir.Concat):
        return dataclasses.replace(e, arg=canonical(e.arg))
    if isinstance(e, ir.Guard):
        return canonical(e.arg)
    if not isinstance(e, ir.Contract):
        return e
    ops = [canonical(o) for o in e.operands]
    out: list[ir.Expr] = []
    for k, o in enumerate(ops):
        if isinstance(o, ir.Contract) and o.semiring == e.semiring:
            inner = {v for x in o.operands for v in ir.free_vars(x)} - set(o.out)
            elsewhere = {v for j, x in enumerate(ops) if j != k for v in ir.free_vars(x)} | set(e.out)
            if not inner & elsewhere:
                out.extend(o.operands)
                continue
        out.append(o)
    return dataclasses.replace(e, operands=tuple(out))
