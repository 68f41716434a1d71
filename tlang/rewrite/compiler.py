"""The rewrite pass of the compiler: verified rules applied to a whole program, and ``--verify``.

In: a ``ProgramIR`` from ``build``.  Out: an equivalent ``ProgramIR`` and the
``Log`` of every rule application (rule, location, before, after, and a
snapshot of the program after it).  Passes, in order (``PASSES``):

- ``einsum-as-contract``: an ``ir.Einsum`` is a ``Contract`` over the same
  operands (the IR convention of ``tlang.formal_ir``), so formal einsums and
  tensor equations meet in one IR;
- ``denest``: a contraction that is an operand of a contraction of the same
  semiring is spliced into it (the paper's denesting, inner bound variables
  renamed apart), so contraction planning sees the whole product;
- ``cse``: contractions equal up to renaming (R1) and operand order (R2),
  in one equation or across equations, are computed once: by the tensor an
  equation already defines with it, or a new tensor ``_cseN``;
- ``output-permutation``: the output string of an equation's contraction
  takes the order of the left-hand side, so no transpose follows it (R7).

Only the semirings that are semirings over all reals are rewritten (not
``maxprod``/``minprod``, whose distributivity needs non-negative values,
nor ``avg``).  ``verify`` is translation validation: it evaluates the
original and the optimised program on the program's own data and on random
inputs of the same shapes, and on a mismatch replays the snapshots to name
the first rule application after which the results differ.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import ir
from ..engine import strata
from .bridge import Unsupported, all_vars, from_formal, map_ir, text, to_formal
from .canonical import label
from .engine import Application, Log
from .rules import REAL, RULES

PASSES = ("einsum-as-contract", "denest", "cse", "output-permutation")
_SKIP = ("data", "input", "fact")


class _State:
    def __init__(self, prog: ir.ProgramIR, log: Log) -> None:
        self.prog, self.log = prog, log
        self.equations = list(prog.equations)
        self.extents = dict(prog.var_extents)
        self.tensors = dict(prog.tensors)

    def eq_extents(self, k: int) -> dict[str, int]:
        return {v: n for (i, v), n in self.extents.items() if i == k}

    def program(self) -> ir.ProgramIR:
        return dataclasses.replace(self.prog, equations=tuple(self.equations), var_extents=dict(self.extents),
                                   tensors=dict(self.tensors))

    def record(self, rule: str, k: int | None, before: str, after: str, where: str | None = None) -> None:
        if where is None:
            eq = self.equations[k]
            where = eq.span.where() if eq.span else f"equation {k + 1} ({eq.lhs})"
        self.log.record(Application(rule, where, before, after, k, snapshot=self.program()))


def _where(e: ir.Expr, eq: ir.Equation, k: int) -> str:
    span = getattr(e, "span", None) or eq.span
    return span.where() if span else f"equation {k + 1} ({eq.lhs})"


# ------------------------------------------------------------- passes

def _einsum_as_contract(st: _State) -> None:
    for k, eq in enumerate(st.equations):
        if eq.kind in _SKIP:
            continue

        def conv(e: ir.Expr, k=k, eq=eq) -> ir.Expr:
            if not isinstance(e, ir.Einsum):
                return e
            new = ir.Contract(e.operands, tuple(dict.fromkeys(e.output)), e.semiring, span=e.span)
            st.equations[k] = dataclasses.replace(st.equations[k], rhs=_replace_node(st.equations[k].rhs, e, new))
            st.record("einsum-as-contract", k, text(e), text(new), _where(e, eq, k))
            return new
        map_ir(eq.rhs, conv)


def _replace_node(root: ir.Expr, old: ir.Expr, new: ir.Expr) -> ir.Expr:
    done = [False]

    def f(e: ir.Expr) -> ir.Expr:
        if not done[0] and e == old:
            done[0] = True
            return new
        return e
    return map_ir(root, f)


def _denest(st: _State) -> None:
    for k in range(len(st.equations)):
        eq = st.equations[k]
        if eq.kind in _SKIP:
            continue
        while True:
            site = _find(st.equations[k].rhs, lambda e: isinstance(e, ir.Contract) and e.semiring in REAL and any(
                isinstance(o, ir.Contract) and o.semiring == e.semiring for o in e.operands))
            if site is None:
                break
            if not _denest_site(st, k, site):
                break


def _find(root: ir.Expr, pred) -> ir.Expr | None:
    hit: list[ir.Expr] = []

    def f(e: ir.Expr) -> ir.Expr:
        if not hit and pred(e):
            hit.append(e)
        return e
    map_ir(root, f)
    return hit[0] if hit else None


def _denest_site(st: _State, k: int, site: ir.Contract) -> bool:
    eq = st.equations[k]
    ext = st.eq_extents(k)
    j = next(i for i, o in enumerate(site.operands) if isinstance(o, ir.Contract) and o.semiring == site.semiring)
    try:
        term, table = to_formal(site, ext, depth=2)
        inner = site.operands[j]
        outside = all_vars(_replace_node(eq.rhs, inner, ir.Const(0.0))) | {v for ix in eq.indices for v in ix.vars}
        flat = RULES["denest"].apply(term, k=j, avoid=tuple(sorted(outside)))
        new = from_formal(flat, flat.output, table, site.span)
    except Unsupported:
        return False
    for x, n in flat.extents:
        st.extents.setdefault((k, x), n)
    st.equations[k] = dataclasses.replace(eq, rhs=_replace_node(eq.rhs, site, new))
    st.record("denest", k, text(site), text(new), _where(site, eq, k))
    return True


def _recursive(prog: ir.ProgramIR) -> set[str]:
    out: set[str] = set()
    for comp in strata(prog):
        if len(comp) > 1:
            out.update(comp)
        else:
            t = comp[0]
            for eq in prog.equations:
                if eq.lhs == t and any(r.tensor == t for r in ir.tensors_read(eq.rhs)):
                    out.add(t)
    for eq in prog.equations:
        if eq.virtual is not None:
            out.add(eq.lhs)
    return out


@dataclass
class _Site:
    eq: int
    node: ir.Contract
    free: tuple[str, ...]   # free variables in canonical order
    whole: bool             # the node is its equation's whole right-hand side
    key: str = field(default="", compare=False)


def _cse(st: _State) -> None:
    prog = st.program()
    avoid = _recursive(prog)
    sites: dict[str, list[_Site]] = {}
    for k, eq in enumerate(st.equations):
        if eq.kind in _SKIP or eq.virtual is not None:
            continue
        ext = st.eq_extents(k)

        def visit(e: ir.Expr, k=k, eq=eq, ext=ext) -> ir.Expr:
            if isinstance(e, ir.Contract) and len(e.operands) >= 2 and all(
                    isinstance(o, ir.Ref) and all(isinstance(ix, ir.IAffine) and ix.is_var() for ix in o.indices)
                    and o.tensor not in avoid for o in e.operands):
                factors = [(o.tensor, tuple(ix.vars[0] for ix in o.indices)) for o in e.operands]
                free = {v: "free" for v in e.out}
                cext = {v: ext[v] for v in ext}
                form, names = label(factors, (), {**cext, **{v: f"free:{cext.get(v)}" for v in free}})
                free_order = tuple(sorted(e.out, key=lambda v: int(names[v][1:])))
                key = repr((e.semiring, form, [cext.get(v) for v in free_order]))
                sites.setdefault(key, []).append(_Site(k, e, free_order, e is eq.rhs, key))
            return e
        map_ir(eq.rhs, visit)
    n = sum(1 for t in st.tensors if t.startswith("_cse"))
    for group in sites.values():
        eqs = {(s.eq, id(s.node)) for s in group}
        if len(eqs) < 2:
            continue
        host = next((s for s in group if s.whole and _plain_lhs(st.equations[s.eq])
                     and set(s.node.out) == {ix.vars[0] for ix in st.equations[s.eq].indices}
                     and not st.tensors[st.equations[s.eq].lhs].boolean
                     and sum(1 for e in st.equations if e.lhs == st.equations[s.eq].lhs) == 1), None)
        if host is not None:
            heq = st.equations[host.eq]
            name = heq.lhs
            lhs_vars = [ix.vars[0] for ix in heq.indices]
            axis_of = {v: lhs_vars.index(v) for v in host.free}
            order = [None] * len(lhs_vars)
            for v, c in zip(host.free, range(len(host.free))):
                order[axis_of[v]] = c
        else:
            n += 1
            name = f"_cse{n}"
            first = group[0]
            ext = st.eq_extents(first.eq)
            k_new = len(st.equations)
            st.equations.append(ir.Equation(name, tuple(ir.ivar(v) for v in first.free), "=", first.node,
                                            span=first.node.span or st.equations[first.eq].span))
            for v in all_vars(first.node):
                st.extents[(k_new, v)] = ext[v]
            shape = tuple(ext[v] for v in first.free)
            st.tensors[name] = ir.TensorInfo(name, shape, tuple(f"{name}.{a}" for a in range(len(shape))),
                                             span=first.node.span)
            order = list(range(len(first.free)))
            host = None
        for s in group:
            if host is not None and s is host:
                continue
            ref = ir.Ref(name, tuple(ir.ivar(s.free[c]) for c in order), span=s.node.span)
            eq = st.equations[s.eq]
            st.equations[s.eq] = dataclasses.replace(eq, rhs=_replace_node(eq.rhs, s.node, ref))
            st.record("cse", s.eq, text(s.node), text(ref), _where(s.node, eq, s.eq))


def _plain_lhs(eq: ir.Equation) -> bool:
    names = [ix.vars[0] for ix in eq.indices if isinstance(ix, ir.IAffine) and ix.is_var()]
    return len(names) == len(eq.indices) and len(set(names)) == len(names) and eq.virtual is None


def _transposes(st: _State) -> None:
    for k, eq in enumerate(st.equations):
        rhs = eq.rhs
        if eq.kind in _SKIP or not isinstance(rhs, ir.Contract) or not _plain_lhs(eq):
            continue
        lhs = tuple(ix.vars[0] for ix in eq.indices)
        if set(rhs.out) != set(lhs) or rhs.out == lhs:
            continue
        new = ir.Contract(rhs.operands, lhs, rhs.semiring, span=rhs.span)
        st.equations[k] = dataclasses.replace(eq, rhs=new)
        st.record("output-permutation", k, text(rhs), text(new), _where(rhs, eq, k))


_PASS = {"einsum-as-contract": _einsum_as_contract, "denest": _denest, "cse": _cse,
         "output-permutation": _transposes}


def optimise(prog: ir.ProgramIR, passes: tuple[str, ...] = PASSES) -> tuple[ir.ProgramIR, Log]:
    """Run the rewrite passes; return the optimised program and the log of applications."""
    log = Log()
    st = _State(prog, log)
    for p in passes:
        _PASS[p](st)
    return st.program(), log


# ------------------------------------------------------------- verify

@dataclass
class VerifyReport:
    ok: bool
    trials: int
    applications: int
    tensor: str | None = None
    culprit: Application | None = None
    detail: str = ""

    def render(self) -> str:
        if self.ok:
            return (f"verify: ok: {self.applications} rule application{'s' if self.applications != 1 else ''}, "
                    f"the optimised program equals the original on its data and {self.trials - 1} random inputs")
        out = [f"verify: MISMATCH in '{self.tensor}': {self.detail}"]
        if self.culprit is not None:
            out.append("the first rule application after which the results differ:")
            out.append("  " + self.culprit.render().replace("\n", "\n  "))
        return "\n".join(out)


def random_data(prog: ir.ProgramIR, rng: np.random.Generator) -> dict[str, object]:
    """New values for every data key of the program's data/input/fact equations (same shapes)."""
    data = dict(prog.data)
    for eq in prog.equations:
        if eq.kind in _SKIP and isinstance(eq.rhs, ir.Data) and eq.rhs.key in data:
            old = np.asarray(data[eq.rhs.key], dtype=float)
            if prog.tensors[eq.lhs].boolean or eq.kind == "fact":
                data[eq.rhs.key] = rng.integers(0, 2, size=old.shape).astype(float)
            else:
                data[eq.rhs.key] = rng.standard_normal(old.shape)
    return data


def _run(prog: ir.ProgramIR, data: dict) -> dict[str, np.ndarray]:
    from ..engine import Options, evaluate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return evaluate(dataclasses.replace(prog, data=data), Options(max_iter=200)).tensors


def _differs(a: dict, b: dict, names) -> tuple[str, str] | None:
    for n in names:
        x, y = np.asarray(a[n], dtype=float), np.asarray(b[n], dtype=float)
        if x.shape != y.shape:
            return n, f"shape {x.shape} != {y.shape}"
        if not np.allclose(x, y, rtol=1e-7, atol=1e-9, equal_nan=True):
            worst = np.unravel_index(np.nanargmax(np.abs(np.nan_to_num(x - y))), x.shape) if x.size else ()
            return n, f"at {tuple(int(i) for i in worst)}: original {x[worst]!r}, optimised {y[worst]!r}"
    return None


def verify(original: ir.ProgramIR, optimised: ir.ProgramIR, log: Log, trials: int = 3,
           seed: int = 0) -> VerifyReport:
    """Translation validation (module docstring)."""
    from ..equiv import with_inputs
    rng = np.random.default_rng(seed)
    names = list(original.tensors)
    defined = {eq.lhs for eq in original.equations}
    free = [n for n, info in original.tensors.items() if n not in defined and info.virtual_axis is None]
    for t in range(trials):
        data = dict(original.data) if t == 0 else random_data(original, rng)
        if t > 0 and free:  # tensors no equation defines (parameters to learn): random values too
            arrays = {n: rng.standard_normal(original.tensors[n].stored_shape) for n in free}
            original, optimised = with_inputs(original, arrays), with_inputs(optimised, arrays)
            data.update({k: v for k, v in original.data.items() if k.startswith("equiv:")})
            log = [dataclasses.replace(a, snapshot=with_inputs(a.snapshot, arrays))
                   if a.snapshot is not None else a for a in log]
        want = _run(original, data)
        bad = _differs(want, _run(optimised, data), names)
        if bad is None:
            continue
        culprit = None
        for app in log:
            if app.snapshot is not None and _differs(want, _run(app.snapshot, data), names) is not None:
                culprit = app
                break
        return VerifyReport(False, t + 1, len(list(log)), bad[0], culprit, bad[1])
    return VerifyReport(True, trials, len(list(log)))
