"""Equivalence of tensor-logic programs: ``tlang.equivalent(a, b, output=None)``.

In: two programs (text, a path, or a built ``ProgramIR``) and the name of the
tensor to compare (default: the LHS of the last equation of ``a``).  Out: an
``Equivalence``, truthy when both programs compute the same tensor from the
same inputs (the tensors that no equation defines, and data, which is read as
an input), carrying its method and evidence.

Symbolic first: the output tensor of each program becomes one formal term
(intermediate tensors inlined; ``+``, ``-``, ``*`` and division by a constant
read as semiring operations; nonlinearities, normalisations and index
arithmetic kept as opaque subterms whose arguments are normalised too), which
``rewrite.engine.normal_form`` denests and distributes into a sum of flat
einsums and ``rewrite.canonical`` compares up to index renaming and operand
order.  Equal normal forms decide "equivalent" (method ``symbolic``; the
evidence is both normal forms).  Otherwise, or where a program is outside the
symbolic fragment (recursion, virtual indices, concat), random inputs of the
programs' shapes are tried: a disagreement decides "not equivalent" with the
counterexample; agreement on every trial decides "equivalent" by random
testing (method ``random``), which the result says.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import ir
from .formal import Apply, Const, Ein, IStr, Leaf, Plus, Term
from .rewrite.bridge import Unsupported
from .rewrite.canonical import CanonicalForm, canonical
from .rewrite.compiler import _SKIP, _run
from .rewrite.engine import Rewriter, normal_form


@dataclass
class Equivalence:
    """The verdict and its evidence; ``bool(result)`` is the verdict."""
    equivalent: bool
    method: str                      # 'symbolic' | 'random'
    output: str
    normal_forms: tuple[str, str] | None = None
    counterexample: dict | None = field(default=None, repr=False)
    note: str = ""

    def __bool__(self) -> bool:
        return self.equivalent

    def render(self) -> str:
        verdict = "equivalent" if self.equivalent else "NOT equivalent"
        out = [f"{self.output}: {verdict} (method: {self.method})"]
        if self.note:
            out.append(self.note)
        if self.normal_forms:
            out.append("normal form of A:\n  " + self.normal_forms[0])
            out.append("normal form of B:\n  " + self.normal_forms[1])
        if self.counterexample:
            ce = self.counterexample
            out.append("counterexample inputs:")
            for name, val in ce["inputs"].items():
                out.append(f"  {name} = {np.array2string(np.asarray(val), precision=4, separator=', ')}")
            out.append(f"  at {ce['where']}: A gives {ce['a']:.6g}, B gives {ce['b']:.6g}")
        return "\n".join(out)


def _load(p: str | Path | ir.ProgramIR) -> ir.ProgramIR:
    if isinstance(p, ir.ProgramIR):
        return p
    from .pipeline import compile_program
    return compile_program(p, allow_undefined=True, rewrite=False).ir


# ------------------------------------------------------------ to formal

def _plain(indices) -> bool:
    return all(isinstance(ix, ir.IAffine) and ix.is_var() for ix in indices)


class _Converter:
    """IR -> one formal term per tensor, intermediate tensors inlined (module docstring)."""

    def __init__(self, prog: ir.ProgramIR) -> None:
        self.prog = prog
        self.cache: dict[str, Term] = {}
        self.active: set[str] = set()

    def tensor(self, name: str) -> Term:
        if name in self.cache:
            return self.cache[name]
        eqs = [(k, eq) for k, eq in enumerate(self.prog.equations) if eq.lhs == name]
        if not eqs or all(eq.kind in _SKIP for _, eq in eqs):
            return Leaf(name)
        if any(eq.kind in _SKIP for _, eq in eqs) or name in self.active:
            raise Unsupported(f"'{name}' is recursive or partly data")
        self.active.add(name)
        parts = []
        for k, eq in eqs:
            if eq.virtual is not None or not _plain(eq.indices):
                raise Unsupported(f"'{name}' has a virtual index or index arithmetic on the left")
            lhs = tuple(ix.vars[0] for ix in eq.indices)
            if len(set(lhs)) != len(lhs):
                raise Unsupported(f"'{name}' repeats a left-hand index")
            ext = {v: n for (i, v), n in self.prog.var_extents.items() if i == k}
            t, s = self.expr(eq.rhs, ext)
            parts.append(Ein((s,), lhs, (t,), ir.OP_SEMIRING[eq.op], _ext(ext, s + lhs)))
        comb = {"max=": "maxprod", "min=": "minprod"}.get(eqs[0][1].op, "sumprod")
        term: Term = parts[0] if len(parts) == 1 else Plus(tuple(parts), comb)
        if self.prog.tensors[name].boolean:
            term = Apply("step", (term,))
        self.active.discard(name)
        self.cache[name] = term
        return term

    def expr(self, e: ir.Expr, ext: dict[str, int]) -> tuple[Term, IStr]:
        if isinstance(e, ir.Ref):
            if _plain(e.indices):
                return self.tensor(e.tensor), tuple(ix.vars[0] for ix in e.indices)
            free = ir.free_vars(e)
            pos = {v: f"#{k}" for k, v in enumerate(free)}
            from .rewrite.bridge import _index_text, _rename_index
            pattern = ", ".join(_index_text(_rename_index(ix, pos)) for ix in e.indices)
            return Apply(f"[{pattern}]", (self.tensor(e.tensor),)), free
        if isinstance(e, ir.Const):
            return Const(e.value), ()
        if isinstance(e, ir.IndexValue):
            return Leaf("#index"), (e.var,)
        if isinstance(e, ir.Contract | ir.Einsum):
            if isinstance(e, ir.Einsum):
                strings, out = tuple(tuple(s) for s in e.inputs), tuple(e.output)
            else:
                strings, out = tuple(ir.free_vars(o) for o in e.operands), e.out
            ops = [self.expr(o, ext)[0] for o in e.operands]
            syms = tuple(x for s in strings for x in s) + out
            return Ein(strings, out, tuple(ops), e.semiring, _ext(ext, syms)), out
        if isinstance(e, ir.Map):
            return self._map(e, ext)
        if isinstance(e, ir.Normalize):
            t, s = self.expr(e.arg, ext)
            args = [t] + ([self._lift(*self.expr(e.temperature, ext), s, ext)] if e.temperature else [])
            return Apply(f"{e.fn}@{s.index(e.var)}", tuple(args)), s
        raise Unsupported(f"no formal term for {type(e).__name__}")

    def _lift(self, t: Term, s: IStr, u: IStr, ext: dict[str, int]) -> Term:
        if s == u or isinstance(t, Const):
            return t
        return Ein((s,), u, (t,), "sumprod", _ext(ext, s + u))

    def _map(self, e: ir.Map, ext: dict[str, int]) -> tuple[Term, IStr]:
        args = [self.expr(a, ext) for a in e.args]
        u = ir.free_vars(e)
        lifted = [self._lift(t, s, u, ext) for t, s in args]
        neg = (lambda t, s: Ein((s, ()), s, (t, Const(-1.0)), "sumprod", _ext(ext, s)))
        if e.fn == "add":
            return Plus(tuple(lifted)), u
        if e.fn == "sub":
            return Plus((lifted[0], self._lift(neg(*args[1]), args[1][1], u, ext))), u
        if e.fn == "neg":
            return neg(*args[0]), u
        if e.fn == "mul":
            return Ein(tuple(s for _, s in args), u, tuple(t for t, _ in args), "sumprod", _ext(ext, u)), u
        if e.fn == "div" and isinstance(args[1][0], Const) and args[1][0].value != 0:
            (t, s), c = args[0], args[1][0].value
            return Ein((s, ()), s, (t, Const(1.0 / c)), "sumprod", _ext(ext, s)), u
        return Apply(e.fn, tuple(lifted)), u


def _ext(ext: dict[str, int], syms) -> tuple[tuple[str, int], ...]:
    return tuple(sorted({x: ext[x] for x in syms if x in ext}.items()))


def _nonlinear(t: Term) -> bool:
    if isinstance(t, Apply):
        return True
    kids = t.operands if isinstance(t, Ein) else t.terms if isinstance(t, Plus) else ()
    return any(_nonlinear(k) for k in kids)


def normal_form_of(prog: ir.ProgramIR, name: str) -> tuple[CanonicalForm, int, bool]:
    """The canonical form of tensor ``name``, the number of rule applications it took, and
    whether the program is sum-product throughout (no opaque nonlinear subterm)."""
    shape = prog.tensors[name].stored_shape
    if prog.tensors[name].virtual_axis is not None:
        raise Unsupported("a virtual tensor")
    out = tuple(f"o{k}" for k in range(len(shape)))
    top = Ein((out,), out, (_Converter(prog).tensor(name),), "sumprod", tuple(zip(out, shape)))
    rw = Rewriter()
    nf = normal_form(top, rw)
    return canonical(nf), len(rw.log), not _nonlinear(top)


# ------------------------------------------------------ random testing

def inputs_of(prog: ir.ProgramIR) -> list[str]:
    """Tensors no equation computes: undefined ones and those given by data."""
    computed = {eq.lhs for eq in prog.equations if eq.kind not in _SKIP}
    return [t for t in prog.tensors if t not in computed]


def with_inputs(prog: ir.ProgramIR, arrays: dict[str, np.ndarray]) -> ir.ProgramIR:
    """``prog`` with the values of its input tensors replaced (undefined ones added as inputs)."""
    eqs, data, ve = list(prog.equations), dict(prog.data), dict(prog.var_extents)
    for name, arr in arrays.items():
        if name not in prog.tensors:
            continue
        own = [eq for eq in eqs if eq.lhs == name]
        if own:
            for n, eq in enumerate(own):
                if isinstance(eq.rhs, ir.Data):
                    data[eq.rhs.key] = arr if n == 0 else np.zeros_like(arr)
            continue
        key, vars_ = f"equiv:{name}", tuple(f"_{a}" for a in range(arr.ndim))
        for a, v in enumerate(vars_):
            ve[(len(eqs), v)] = arr.shape[a]
        eqs.append(ir.Equation(name, tuple(ir.ivar(v) for v in vars_), "=", ir.Data(key, vars_), kind="input"))
        data[key] = arr
    return dataclasses.replace(prog, equations=tuple(eqs), data=data, var_extents=ve)


def counterexample(pa: ir.ProgramIR, pb: ir.ProgramIR, name: str, trials: int = 8,
                   seed: int = 0) -> dict | None:
    """Random inputs on which the two programs' ``name`` differ, or None."""
    rng = np.random.default_rng(seed)
    names = list(dict.fromkeys(inputs_of(pa) + inputs_of(pb)))
    for _ in range(trials):
        arrays = {}
        for n in names:
            info = pa.tensors.get(n) or pb.tensors[n]
            shape = info.stored_shape
            arrays[n] = (rng.integers(0, 2, size=shape).astype(float) if info.boolean
                         else np.round(rng.standard_normal(shape), 2))
        qa, qb = with_inputs(pa, arrays), with_inputs(pb, arrays)
        a = np.asarray(_run(qa, qa.data)[name], dtype=float)
        b = np.asarray(_run(qb, qb.data)[name], dtype=float)
        if not np.allclose(a, b, rtol=1e-7, atol=1e-9, equal_nan=True):
            diff = np.abs(np.nan_to_num(a - b, nan=np.inf))
            where = np.unravel_index(int(np.argmax(diff)), a.shape) if a.shape else ()
            return {"inputs": {n: v.tolist() for n, v in arrays.items()},
                    "where": f"{name}[{', '.join(str(int(i)) for i in where)}]",
                    "a": float(a[where]), "b": float(b[where])}
    return None


# ------------------------------------------------------------- decide

def _default_output(prog: ir.ProgramIR) -> str:
    eqs = [eq for eq in prog.equations if eq.kind not in _SKIP and not eq.lhs.startswith("_")]
    if not eqs:
        raise ValueError("the first program has no equation to compare")
    return eqs[-1].lhs


def equivalent(a: str | Path | ir.ProgramIR, b: str | Path | ir.ProgramIR, output: str | None = None,
               trials: int = 8, seed: int = 0) -> Equivalence:
    """Whether programs ``a`` and ``b`` compute the same tensor ``output`` (module docstring)."""
    pa, pb = _load(a), _load(b)
    name = output or _default_output(pa)
    for p, which in ((pa, "first"), (pb, "second")):
        if name not in p.tensors:
            raise ValueError(f"the {which} program has no tensor '{name}'")
    sa, sb = pa.tensors[name].stored_shape, pb.tensors[name].stored_shape
    if sa != sb:
        return Equivalence(False, "symbolic", name, note=f"the shapes differ: {sa} and {sb}")
    for n in set(inputs_of(pa)) & set(inputs_of(pb)):
        if pa.tensors[n].stored_shape != pb.tensors[n].stored_shape:
            return Equivalence(False, "symbolic", name, note=f"the input '{n}' has shape "
                               f"{pa.tensors[n].stored_shape} in one program and {pb.tensors[n].stored_shape} "
                               "in the other")
    forms, linear = None, False
    try:
        (fa, na, la), (fb, nb, lb) = normal_form_of(pa, name), normal_form_of(pb, name)
        forms, linear = (fa.render(), fb.render()), la and lb
        if fa.same(fb):
            return Equivalence(True, "symbolic", name, forms,
                               note=f"equal canonical forms ({na} and {nb} rule applications)")
        note = "the canonical forms differ"
    except (Unsupported, OverflowError, RecursionError) as e:
        note = f"outside the symbolic fragment ({e})"
    ce = counterexample(pa, pb, name, trials, seed)
    if ce is not None:
        return Equivalence(False, "symbolic" if linear else "random", name, forms, ce,
                           note + "; random inputs found a counterexample")
    return Equivalence(True, "random", name, forms,
                       note=note + f"; {trials} random inputs agree (decided by random testing)")


__all__ = ["equivalent", "Equivalence", "normal_form_of", "counterexample", "with_inputs", "inputs_of"]
