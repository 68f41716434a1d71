"""Reverse mode as a tensor-logic program (paper section 3.3).

In: a built forward program (``ir.ProgramIR``), the name of the loss tensor
and the tensors to differentiate (by default the learnable ones, see
``learnables``).  Out: a ``GradProgram`` -- tensor-logic statements
(``tlang.ast``) that, added to the forward program, define ``dT`` =
dLoss/dT for every requested tensor T (the loss is the sum of the loss
tensor's elements).  ``GradProgram.source()`` prints them (``tlang grad``);
the numpy engine running forward + gradient program *is* tlang's numpy
reverse mode (``tlang.learn``).

How the program is made, as the paper describes it: one gradient equation
per (equation, RHS tensor) pair.  The adjoint of an equation's result is
``dT[lhs indices]`` (same-LHS gradient equations are summed, which
accumulates the contributions); it flows down the RHS:

- a join/projection (einsum): the adjoint of one operand is the einsum of
  the adjoint with the other operands (``dW[i,j] = dY[i] X[j]``), written
  straight into ``dT[...]`` when the operand is a tensor -- index arithmetic
  on the LHS scatters it back (``dImage[x+dx, y+dy] = ...``);
- ``+``/``-``: the adjoint passes through (negated), summed over broadcast
  indices; ``/`` and ``^`` by constants, ``exp log sig tanh relu sqrt abs
  sin cos max min``: the chain rule (``dU[...] = dY[...] Y[...] (1 - Y[...])``
  for ``sig``), with the nonlinearity's argument or result as a named
  intermediate where needed; ``step`` and comparisons have zero gradient;
- ``softmax``/``lnorm`` along the dotted index, ``avg=`` (divide by the
  count, also of the assignments that one LHS position merges, ``x/S``),
  ``max=``/``min=`` (the gradient goes to every element equal to the
  maximum -- ties all receive it);
- virtual-index loops are unrolled (``tlang.grad_emit``): BPTT is then a
  recursion over t in the gradient program, which the engine runs to its
  fixpoint; numeric recursions in general give a linear recursion for the
  adjoints (implicit differentiation at the fixpoint).

Not expressible (a located ``GradError``): ``concat`` and slices with a
step (their adjoint needs index arithmetic with a coefficient), the
temperature of ``softmax``, and semirings other than sum-product, max, min
and avg.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ast as A
from . import ir
from .fmt import format_stmt
from .grad_emit import Emitter, GradError, Namer, PEq, ast_index, count, equations, num, plain_vars, prod, signed
from .schedule import reads
from .source import TlangCheckError

__all__ = ["GradProgram", "GradError", "gradient_program", "learnables", "dependencies"]

ZERO_GRAD = frozenset({"step", "not", "eq", "ne", "lt", "le", "gt", "ge", "even", "odd"})


@dataclass
class GradProgram:
    """The gradient of ``loss`` as tensor-logic statements (declarations, intermediates, adjoints)."""
    loss: str
    wrt: tuple[str, ...]
    grads: dict[str, str]                  # tensor -> its gradient tensor
    statements: tuple[A.Stmt, ...]
    unrolled: tuple[str, ...] = ()         # virtual-index tensors unrolled for BPTT
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def program(self, queries: bool = False) -> A.Program:
        stmts = list(self.statements)
        if queries:
            stmts += [A.Query(A.Ref(self.grads[w], ())) for w in self.wrt]
        return A.Program(tuple(stmts))

    def source(self, queries: bool = True) -> str:
        head = [f"# gradient of {self.loss} with respect to {', '.join(self.wrt) or '(nothing)'}",
                "# (tensor logic: run it after the forward program; dT is dLoss/dT)"]
        if self.unrolled:
            head.append(f"# virtual-index loops unrolled for BPTT: {', '.join(self.unrolled)}")
        return "\n".join(head) + "\n" + "".join(format_stmt(s) + "\n" for s in self.program(queries).statements)


@dataclass
class _Adj:
    """The adjoint of a node: an atom (a reference or a name) over ``vars``, times ``sign``."""
    expr: A.Expr
    vars: frozenset[str]
    sign: int = 1


# ------------------------------------------------------------- analysis

def dependencies(prog: ir.ProgramIR, name: str) -> set[str]:
    """Every tensor that ``name`` depends on (itself included)."""
    by_lhs: dict[str, set[str]] = {}
    for eq in prog.equations:
        by_lhs.setdefault(eq.lhs, set()).update(t for t, _, _ in reads(eq))
    out, todo = {name}, [name]
    while todo:
        for t in by_lhs.get(todo.pop(), ()):
            if t not in out:
                out.add(t)
                todo.append(t)
    return out


def learnables(prog: ir.ProgramIR, loss: str, marks: dict[str, str] | None = None) -> list[str]:
    """The tensors a loss trains: those it depends on that no data, input or equation defines
    and that are not declared ``const``, plus data declared ``learn`` (its data is the start).
    ``marks`` (name -> 'const' | 'learn', from the program's declarations) adds to the IR's own."""
    marks = marks or {}
    by_lhs: dict[str, list[ir.Equation]] = {}
    for eq in prog.equations:
        by_lhs.setdefault(eq.lhs, []).append(eq)
    deps = dependencies(prog, loss)
    out = []
    for name, info in prog.tensors.items():
        const = info.const or marks.get(name) == "const"
        if name not in deps or info.boolean or const or name == loss:
            continue
        eqs = by_lhs.get(name, [])
        if not eqs:
            out.append(name)
        elif info.learnable or marks.get(name) == "learn":
            bad = [eq for eq in eqs if eq.kind not in ("data", "input")]
            if bad:
                raise TlangCheckError(f"'{name}' is declared 'learn' but an equation computes it", bad[0].span,
                                      ["only tensors given by data (their starting value) or by nothing "
                                       "can be learned"])
            out.append(name)
    return out


# ------------------------------------------------------------- backward

class _Backward:
    def __init__(self, prog: ir.ProgramIR, loss: str, wrt: tuple[str, ...]) -> None:
        self.prog = prog
        taken = set(prog.tensors) | set(prog.domains)
        for (_, v) in prog.var_extents:
            taken.add(v)
        self.namer = Namer(taken)
        self.peqs, self.unrolled = equations(prog, self.namer)
        self.em = Emitter(prog, self.namer)
        self.em.booleans = {n for n, i in prog.tensors.items() if i.boolean}
        self.em.virtual = {n: i.virtual_axis for n, i in prog.tensors.items() if i.virtual_axis is not None}
        self.shapes = {n: i.stored_shape for n, i in prog.tensors.items()}
        for u in self.unrolled.values():
            self.shapes[u.states] = self.shapes[u.outputs] = u.shape
            if u.name in self.em.booleans:
                self.em.booleans |= {u.states, u.outputs}
        self.loss, self.wrt = loss, wrt
        self.eqs: list[A.Stmt] = []
        self.contrib: dict[str, int] = {}

    # -- which tensors carry a gradient
    def analyse(self) -> list[PEq]:
        by_lhs: dict[str, list[PEq]] = {}
        for e in self.peqs:
            by_lhs.setdefault(e.lhs, []).append(e)
        up, todo = {self.loss}, [self.loss]
        while todo:
            for e in by_lhs.get(todo.pop(), []):
                for r in ir.tensors_read(e.rhs):
                    if r.tensor not in up:
                        up.add(r.tensor)
                        todo.append(r.tensor)
        diff = {w for w in self.wrt if w in up}
        changed = True
        while changed:
            changed = False
            for e in self.peqs:
                if e.lhs in up and e.lhs not in diff and not e.boolean and \
                        any(r.tensor in diff for r in ir.tensors_read(e.rhs)):
                    diff.add(e.lhs)
                    changed = True
        self.diff = diff
        for lhs, es in by_lhs.items():
            if len(es) == 1 and lhs not in self.unrolled:
                e = es[0]
                pv = plain_vars(e.indices)
                if pv is not None and set(pv) == set(ir.free_vars(e.rhs)) and not e.boolean:
                    self.em.plain_roots.add(e.key)
        return [e for e in self.peqs if e.lhs in diff and e.lhs not in self.wrt and not e.boolean]

    def needs(self, node: ir.Expr) -> bool:
        return any(r.tensor in self.diff for r in ir.tensors_read(node))

    # -- emission
    def grad_ref(self, tensor: str, indices: tuple[ir.Index, ...], span=None) -> A.Ref:
        return A.Ref(self.grads[tensor], tuple(ast_index(ix, span) for ix in indices))

    def grad_read(self, tensor: str, indices: tuple[ir.Index, ...], span=None) -> A.Expr:
        if not indices:
            return A.Name(self.grads[tensor])
        return self.grad_ref(tensor, indices, span)

    def emit(self, lhs: A.Ref, rhs: A.Expr, op: str = "=") -> None:
        self.eqs.append(A.Equation(lhs, op, rhs))

    def fresh_adjoint(self, eq: PEq, vars_: tuple[str, ...]) -> A.Expr:
        name = self.namer.numbered("d" + eq.lhs)
        self.em.declare(name, tuple(eq.extents[v] for v in vars_))
        return self.em.var_ref(name, vars_)

    def send(self, eq: PEq, child: ir.Expr, rhs: A.Expr) -> None:
        """``rhs`` is the adjoint of ``child``: accumulate it into a tensor or go on down."""
        if isinstance(child, ir.Ref):
            if child.tensor in self.diff:
                self.emit(self.grad_ref(child.tensor, child.indices, child.span), rhs)
                self.contrib[child.tensor] = self.contrib.get(child.tensor, 0) + 1
            return
        if not self.needs(child):
            return
        vars_ = ir.free_vars(child)
        target = self.fresh_adjoint(eq, vars_)
        self.emit(target if isinstance(target, A.Ref) else A.Ref(target.name, ()), rhs)
        self.back(eq, child, _Adj(target, frozenset(vars_)))

    def pass_(self, eq: PEq, node: ir.Expr, child: ir.Expr, adj: _Adj, sign: int = 1) -> None:
        """The adjoint of ``child`` is ``sign`` times ``adj`` summed over the indices of ``node``
        that ``child`` lacks.  Those in ``adj`` are summed by the projection; those ``adj`` is only
        implicitly broadcast along (it does not mention them) multiply it by their extents."""
        if not self.needs(child):
            return
        s = adj.sign * sign
        have = set(ir.free_vars(child))
        lost = set(ir.free_vars(node)) - have - adj.vars
        n = count(eq.extents, lost)
        if not isinstance(child, ir.Ref) and adj.vars <= have and n == 1:
            self.back(eq, child, _Adj(adj.expr, adj.vars, s))
            return
        self.send(eq, child, signed(adj.expr if n == 1 else prod([num(n), adj.expr]), s))

    def materialise(self, eq: PEq, node: ir.Expr, adj: _Adj) -> _Adj:
        """The adjoint over exactly the node's indices, with sign +1."""
        vars_ = ir.free_vars(node)
        if adj.vars == frozenset(vars_) and adj.sign > 0:
            return adj
        target = self.fresh_adjoint(eq, vars_)
        self.emit(target if isinstance(target, A.Ref) else A.Ref(target.name, ()), signed(adj.expr, adj.sign))
        return _Adj(target, frozenset(vars_))

    # -- rules
    def equation(self, eq: PEq) -> None:
        if eq.lhs not in self.grads:
            return
        adj = _Adj(self.grad_read(eq.lhs, eq.indices, eq.span), frozenset(eq.lhs_vars))
        if eq.op in ("max=", "min="):
            mask = A.Binary("==", self.em.value(eq, eq.rhs), self.em.ref(ir.Ref(eq.lhs, eq.indices)))
            target = self.fresh_adjoint(eq, ir.free_vars(eq.rhs))
            self.emit(target if isinstance(target, A.Ref) else A.Ref(target.name, ()), prod([adj.expr, mask]))
            adj = _Adj(target, frozenset(ir.free_vars(eq.rhs)))
        elif eq.op == "avg=" and plain_vars(eq.indices) is None:
            # positions that several assignments write (x/S) hold their mean: divide by the count
            ones, counts = self.namer.numbered(eq.lhs), self.namer.numbered(eq.lhs)
            self.em.declare(ones, tuple(eq.extents[v] for v in eq.lhs_vars))
            self.em.declare(counts, self.shapes[eq.lhs])
            at = tuple(ast_index(ix, eq.span) for ix in eq.indices)
            self.em.forward.append(A.Equation(_lhs(self.em.var_ref(ones, eq.lhs_vars)), "=", A.Num(1.0)))
            self.em.forward.append(A.Equation(A.Ref(counts, at), "=", self.em.var_ref(ones, eq.lhs_vars)))
            n = A.Ref(counts, at)
            target = self.fresh_adjoint(eq, eq.lhs_vars)
            self.emit(_lhs(target), A.Binary("/", adj.expr, A.Call("max", (n, num(1)))))
            adj = _Adj(target, frozenset(eq.lhs_vars))
        self.back(eq, eq.rhs, adj)

    def back(self, eq: PEq, node: ir.Expr, adj: _Adj) -> None:
        if not self.needs(node):
            return
        if isinstance(node, ir.Ref):
            self.send(eq, node, signed(adj.expr, adj.sign))
        elif isinstance(node, ir.Contract):
            self.contract(eq, node, adj)
        elif isinstance(node, ir.Map):
            self.map(eq, node, adj)
        elif isinstance(node, ir.Normalize):
            self.normalize(eq, node, adj)
        elif isinstance(node, ir.Guard):  # the adjoint equations read the same inputs: they guard themselves
            self.back(eq, node.arg, adj)
        else:
            what = "concat" if isinstance(node, ir.Concat) else type(node).__name__
            raise GradError(f"{what} cannot be differentiated as a tensor-logic program",
                            getattr(node, "span", None) or eq.span,
                            ["its adjoint needs index arithmetic with a coefficient (h*Dv + dv); "
                             "train this program with --backend jax"])

    def contract(self, eq: PEq, node: ir.Contract, adj: _Adj) -> None:
        sr = node.semiring
        if sr not in ("sumprod", "avg", "maxprod", "minprod"):
            raise GradError(f"the {sr} semiring has no tensor-logic gradient here", node.span or eq.span)
        ops = node.operands
        inner = {v for o in ops for v in ir.free_vars(o)}
        n = count(eq.extents, inner - set(node.out))
        for k, op in enumerate(ops):
            if not self.needs(op):
                continue
            if len(ops) == 1 and sr == "sumprod":
                self.pass_(eq, node, op, adj)
                continue
            factors = [adj.expr] + [self.em.value(eq, o) for j, o in enumerate(ops) if j != k]
            if sr in ("maxprod", "minprod"):
                every = prod([self.em.value(eq, o) for o in ops])
                factors.append(A.Binary("==", every, self.em.value(eq, node)))
            rhs = prod(factors)
            if sr == "avg" and n != 1:
                rhs = A.Binary("/", rhs, num(n))
            self.send(eq, op, signed(rhs, adj.sign))

    def map(self, eq: PEq, node: ir.Map, adj: _Adj) -> None:
        fn, args = node.fn, node.args
        if fn in ZERO_GRAD:
            return
        if fn in ("add", "sub"):
            for k, a in enumerate(args):
                self.pass_(eq, node, a, adj, -1 if (fn == "sub" and k == 1) else 1)
            return
        if fn == "neg":
            self.pass_(eq, node, args[0], adj, -1)
            return
        val = lambda x: self.em.value(eq, x)  # noqa: E731
        G, s = adj.expr, adj.sign
        a = args[0]
        if fn == "mul":
            for k, x in enumerate(args):
                if self.needs(x):
                    self.send(eq, x, signed(prod([G, val(args[1 - k])]), s))
            return
        if fn == "div":
            b = args[1]
            if self.needs(a):
                self.send(eq, a, signed(A.Binary("/", G, val(b)), s))
            if self.needs(b):
                rhs = A.Binary("/", prod([G, val(a)]), A.Binary("^", val(b), num(2)))
                self.send(eq, b, signed(rhs, -s))
            return
        if fn == "pow":
            c = args[1]
            if self.needs(a):
                if isinstance(c, ir.Const):
                    k = c.value
                    rest = [] if k == 1 else [val(a)] if k == 2 else [A.Binary("^", val(a), num(k - 1))]
                    factors = ([] if k == 1 else [num(k)]) + [G] + rest
                else:
                    factors = [val(c), G, A.Binary("^", val(a), A.Binary("-", val(c), num(1)))]
                self.send(eq, a, signed(prod(factors), s))
            if self.needs(c):
                self.send(eq, c, signed(prod([G, val(node), A.Call("log", (val(a),))]), s))
            return
        if fn in ("max", "min"):
            b = args[1]
            first, second = (">=", "<") if fn == "max" else ("<=", ">")
            for x, cmp in ((a, first), (b, second)):
                if self.needs(x):
                    self.send(eq, x, signed(prod([G, A.Binary(cmp, val(a), val(b))]), s))
            return
        if fn == "sig" and len(args) == 2:
            T = args[1]
            if self.needs(T):
                raise GradError("the temperature of sig cannot be learned here", node.span or eq.span)
            if isinstance(T, ir.Const) and T.value == 0:
                return  # sig(x, 0) is step(x)
            N = val(node)
            rhs = A.Binary("/", prod([G, N, A.Binary("-", num(1), N)]), val(T))
            self.send(eq, a, signed(rhs, s))
            return
        rule = _UNARY.get(fn)
        if rule is None:
            raise GradError(f"'{fn}' has no derivative in tlang", node.span or eq.span)
        self.send(eq, a, signed(rule(G, lambda: val(node), lambda: val(a)), s))

    def normalize(self, eq: PEq, node: ir.Normalize, adj: _Adj) -> None:
        if node.temperature is not None and self.needs(node.temperature):
            raise GradError("the temperature of softmax cannot be learned here", node.span or eq.span)
        v = node.var
        vars_ = ir.free_vars(node)
        rest = tuple(x for x in vars_ if x != v)
        N = self.em.value(eq, node)
        if node.fn == "softmax":
            dot = self.fresh_adjoint(eq, rest)
            self.emit(_lhs(dot), prod([adj.expr, N]))
            rhs: A.Expr = prod([N, A.Binary("-", adj.expr, dot)])
            if node.temperature is not None:
                rhs = A.Binary("/", rhs, self.em.value(eq, node.temperature))
            self.send(eq, node.arg, signed(rhs, adj.sign))
            return
        # lnorm: y = (x - mean) / sqrt(var + 1e-5) along v
        adj = self.materialise(eq, node, adj)
        G = adj.expr
        X = self.em.value(eq, node.arg)
        mean_g, mean_gy, mu, dev, var = (self.fresh_adjoint(eq, vs) for vs in (rest, rest, rest, vars_, rest))
        self.emit(_lhs(mean_g), G, "avg=")
        self.emit(_lhs(mean_gy), prod([G, N]), "avg=")
        self.emit(_lhs(mu), X, "avg=")
        self.emit(_lhs(dev), A.Binary("-", X, mu))
        self.emit(_lhs(var), prod([dev, dev]), "avg=")
        num_ = A.Binary("-", A.Binary("-", G, mean_g), prod([N, mean_gy]))
        rhs = A.Binary("/", num_, A.Call("sqrt", (A.Binary("+", var, num(1e-5)),)))
        self.send(eq, node.arg, rhs)

    # -- driver
    def run(self) -> GradProgram:
        todo = self.analyse()
        self.grads = {}
        for u in self.unrolled.values():
            if u.outputs in self.diff:
                self.em.declare(u.states, u.shape)
                self.em.declare(u.outputs, u.shape)
        order = {t: k for k, t in enumerate(self.shapes)}
        for t in sorted(self.diff | set(self.wrt) | {self.loss}, key=order.__getitem__):
            self.grads[t] = self.namer.fresh("d" + t)
            self.em.declare(self.grads[t], self.shapes[t])
        self.emit(A.Ref(self.grads[self.loss], _fresh_vars(len(self.shapes[self.loss]))), A.Num(1.0))
        self.contrib[self.loss] = 1
        for e in todo:
            if e.emit:
                self.em.forward.append(self.em.equation(e))
        for e in reversed(todo):
            self.equation(e)
        for t in self.grads:
            if not self.contrib.get(t):
                self.emit(A.Ref(self.grads[t], _fresh_vars(len(self.shapes[t]))), A.Num(0.0))
        stmts = (*self.em.decls, *self.em.forward, *self.eqs)
        shapes = {**self.em.shapes}
        return GradProgram(self.loss, self.wrt, {w: self.grads[w] for w in self.wrt}, tuple(stmts),
                           tuple(u for u in self.unrolled if u in self.diff), shapes)


def _lhs(ref: A.Expr) -> A.Ref:
    return ref if isinstance(ref, A.Ref) else A.Ref(ref.name, ())


def _fresh_vars(n: int) -> tuple[A.IndexExpr, ...]:
    return tuple(A.IVar(f"_a{k}") for k in range(n))


def _sub1(x: A.Expr) -> A.Expr:
    return A.Binary("-", num(1), x)


# unary derivative rules: G (the adjoint), N() (the result), X() (the argument) -> dX
_UNARY = {
    "exp": lambda G, N, X: prod([G, N()]),
    "log": lambda G, N, X: A.Binary("/", G, X()),
    "sig": lambda G, N, X: prod([G, N(), _sub1(N())]),
    "tanh": lambda G, N, X: prod([G, _sub1(A.Binary("^", N(), num(2)))]),
    "relu": lambda G, N, X: prod([G, A.Call("step", (N(),))]),
    "sqrt": lambda G, N, X: A.Binary("/", prod([num(0.5), G]), N()),
    "abs": lambda G, N, X: prod([G, A.Binary("-", A.Call("step", (X(),)), A.Call("step", (A.Unary("-", X()),)))]),
    "sin": lambda G, N, X: prod([G, A.Call("cos", (X(),))]),
    "cos": lambda G, N, X: A.Unary("-", prod([G, A.Call("sin", (X(),))])),
}


def gradient_program(prog: ir.ProgramIR, loss: str, wrt: tuple[str, ...] | list[str] | None = None) -> GradProgram:
    """The gradient of ``sum(loss)`` with respect to ``wrt`` (default: ``learnables``)."""
    if loss not in prog.tensors:
        raise TlangCheckError(f"the loss '{loss}' is not a tensor of this program")
    info = prog.tensors[loss]
    if info.boolean:
        raise GradError(f"the loss '{loss}' is a Boolean relation: it has no gradient", info.span)
    wrt = tuple(learnables(prog, loss) if wrt is None else wrt)
    for w in wrt:
        if w not in prog.tensors:
            raise TlangCheckError(f"'{w}' is not a tensor of this program")
    return _Backward(prog, loss, wrt).run()

