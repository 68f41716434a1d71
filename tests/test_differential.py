"""Differential tests: the numpy engine against two oracles.

- ``tlang.reference`` (imported here as ``oracle``), the independent interpreter that reads the
  AST and elaborates scope, extents, fixpoints and loops itself: it checks the whole
  pipeline, front end included, source to answer;
- ``tlang.ir_literal`` (imported as ``reference``), which executes the *same* IR literally: it
  checks the executors (and the rewrite pass) on one IR.

Hypothesis generates small tensor-logic *programs as text* (random data as
list literals of extents 1-4) and checks that ``tlang.api.run(src).tensors``
agrees with ``oracle.run(src)`` and with ``reference.evaluate(build(parse(src)))``.  The generators cover
random einsums (repeated, shared and private indices, diagonals, traces,
broadcasting), sums of terms with different index sets, scalar terms,
nonlinearities, powers, division, comparisons as masks, every projection
operator, element assignments, Boolean LHSs, index arithmetic and pooling,
slices (also against Python slicing), Datalog recursion with stratified
negation, softmax/lnorm, concat, numeric (and min=) recursion and the
virtual-index RNN; query answers are compared too.  Every semiring is checked
on the IR, and every example program.  Hand-written cases check the oracle
itself against numbers worked out by hand (the paper's examples, DESIGN.md
4.1b).

Generation is derandomised so the suite is reproducible; set
``TLANG_FUZZ=1`` for fresh random programs and ten times as many, and
``TLANG_TEST_BACKEND`` to check another backend against the reference.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlang import api, engine, ir
from tlang import ir_literal as reference
from tlang import reference as oracle
from tlang.build import build
from tlang.parse import parse

FUZZ = bool(os.environ.get("TLANG_FUZZ"))
BACKEND = os.environ.get("TLANG_TEST_BACKEND", "numpy")  # the backend checked against the reference
EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.tl"))


def fuzz(n: int):
    return settings(max_examples=n * 10 if FUZZ else n, deadline=None, derandomize=not FUZZ,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def close(a, b) -> bool:
    return np.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True)


def check(src: str) -> dict[str, np.ndarray]:
    """Run ``src`` on the engine and the reference; every tensor and answer must agree."""
    res = api.run(src, backend=BACKEND)
    got = {n: v for n, v in res.tensors.items() if not n.startswith("_cse")}   # the rewrites' shared terms
    prog = build(parse(src))
    want = reference.evaluate(prog)
    assert got.keys() == want.keys(), src
    for name in want:
        g, w = np.asarray(got[name]), want[name]
        assert g.shape == w.shape, f"{name}: shape {g.shape} != {w.shape}\n{src}"
        assert close(g, w), f"{name}: engine {g.tolist()} != reference {w.tolist()}\n{src}"
    same_answers(res.answers, reference.answers(prog))
    independent(src, res)
    return want


def independent(src: str | Path, res) -> None:
    """The engine's tensors and answers agree with the independent oracle's."""
    ora = oracle.run(src)
    for name, w in ora.tensors.items():
        g = np.asarray(res.tensors[name])
        assert g.shape == w.shape, f"{name}: shape {g.shape} != oracle {w.shape}\n{src}"
        assert close(g, w), f"{name}: engine {g.tolist()} != oracle {w.tolist()}\n{src}"
    same_answers(res.answers, ora.answers)


def same_answers(got: list[engine.Answer], want: list[engine.Answer]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert (a.query, a.kind, a.shape, a.vars, a.tuples) == (b.query, b.kind, b.shape, b.vars, b.tuples)
        if a.kind in ("tensor", "scalar"):
            assert close(a.value, b.value), (a.query, a.value, b.value)
        else:
            assert a.value == b.value, a.query


# ------------------------------------------------------------- generators

VARS = ("i", "j", "k", "l")
VALUES = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
BARE = re.compile(r"^[A-Za-z_]\w*'*$")


def fmt(x: float) -> str:
    return repr(float(x))


def literal(flat: list[float], shape: tuple[int, ...]) -> str:
    if not shape:
        return fmt(flat[0])
    step = math.prod(shape[1:])
    return "[" + ", ".join(literal(flat[k * step:(k + 1) * step], shape[1:]) for k in range(shape[0])) + "]"


def join(factors: list[str]) -> str:
    """Juxtapose factors; a bare name before '(' would read as a call, so use '*' there."""
    out = factors[0]
    for prev, f in zip(factors, factors[1:]):
        out += (" * " if BARE.match(prev) else " ") + f
    return out


class Gen:
    """Random program pieces over index variables with fixed (declared) extents."""

    def __init__(self, draw, nvars: int = 4, max_ext: int = 4) -> None:
        self.draw = draw
        self.ext = {v: draw(st.integers(1, max_ext)) for v in VARS[:nvars]}
        self.lines: list[str] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.count = 0

    def program(self, *equations: str) -> str:
        head = [f"index {v} : {n}" for v, n in self.ext.items()]
        return "\n".join(head + self.lines + list(equations)) + "\n"

    def data(self, shape: tuple[int, ...], values=VALUES, prefix: str = "A") -> str:
        name = f"{prefix}{self.count}"
        self.count += 1
        n = math.prod(shape)
        flat = self.draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))
        self.lines.append(f"{name} = {literal(flat, shape)}")
        self.shapes[name] = shape
        return name

    def ref(self, pool: tuple[str, ...], shifts: bool = True, min_rank: int = 0,
            max_rank: int = 3) -> tuple[str, set[str]]:
        """``A7[i, j+1, i]``: a fresh data tensor or an earlier tensor with matching extents."""
        d = self.draw
        reuse = [(n, s) for n, s in self.shapes.items()
                 if s and all(any(self.ext[v] == e for v in pool) for e in s)]
        if reuse and not min_rank and d(st.integers(0, 3)) == 0:
            name, shape = d(st.sampled_from(reuse))
            vs = [d(st.sampled_from([v for v in pool if self.ext[v] == e])) for e in shape]
            return f"{name}[{', '.join(vs)}]", set(vs)
        vs = d(st.lists(st.sampled_from(pool), min_size=min_rank, max_size=max_rank))
        idx = []
        for v in vs:
            r = d(st.integers(0, 11)) if shifts else 0
            idx.append(f"{v}+1" if r == 11 else f"{v}-1" if r == 10 else v)
        name = self.data(tuple(self.ext[v] for v in vs))
        return (f"{name}[{', '.join(idx)}]" if idx else name), set(vs)

    def expr(self, pool: tuple[str, ...], depth: int, exact: bool = False,
             ivals: tuple[str, ...] = ()) -> tuple[str, set[str], bool]:
        """(text, index variables used, exact): exact values are dyadic and summed without
        rounding, so comparisons and steps of them cannot flip on summation order."""
        d = self.draw
        kinds = ["ref", "ref", "ref", "num", "parity"] + (["ival"] if ivals else [])
        if depth > 0:
            kinds += ["join", "join", "join", "add", "sub", "pow", "div", "neg", "relu", "abs",
                      "max", "mask", "step"]
            if not exact:
                kinds += ["sig", "tanh", "sqrt", "exp"]
        kind = d(st.sampled_from(kinds))
        if kind == "ref":
            text, vs = self.ref(pool)
            return text, vs, True
        if kind == "num":
            return fmt(d(st.sampled_from((0.5, 1.0, 2.0, 3.0)))), set(), True
        if kind == "parity":
            v = d(st.sampled_from(pool))
            return f"{d(st.sampled_from(('Even', 'Odd')))}({v})", {v}, True
        if kind == "ival":
            return d(st.sampled_from(ivals)), set(), True

        def sub(ex: bool = exact) -> tuple[str, set[str], bool]:
            return self.expr(pool, depth - 1, ex, ivals)

        if kind == "join":
            parts = [sub() for _ in range(d(st.integers(2, 3)))]
            text = join([p if BARE.match(p) or p.endswith("]") else f"({p})" for p, _, _ in parts])
            return text, set().union(*(v for _, v, _ in parts)), all(e for _, _, e in parts)
        if kind in ("add", "sub", "max"):
            (a, va, ea), (b, vb, eb) = sub(), sub()
            text = f"max({a}, {b})" if kind == "max" else f"({a}) {'+' if kind == 'add' else '-'} ({b})"
            return text, va | vb, ea and eb
        if kind in ("mask", "step"):
            a, va, _ = sub(True)
            if kind == "step":
                return f"step({a})", va, True
            b, vb, eb = sub()
            op = d(st.sampled_from([">", "<", ">=", "<=", "==", "!="]))
            return f"(({a}) {op} {fmt(d(st.sampled_from((0.0, 0.5))))}) ({b})", va | vb, eb
        a, va, ea = sub()
        text = {"pow": f"({a})^2", "div": f"({a}) / {fmt(d(st.sampled_from((2.0, 4.0, 0.5))))}",
                "neg": f"-({a})", "relu": f"relu({a})", "abs": f"abs({a})", "sig": f"sig({a})",
                "tanh": f"tanh({a})", "sqrt": f"sqrt(abs({a}))", "exp": f"exp(tanh({a}))"}[kind]
        return text, va, ea and kind not in ("sig", "tanh", "sqrt", "exp")

    def lhs(self, used: set[str], pool: tuple[str, ...]) -> tuple[str, tuple[int, ...]]:
        """An LHS index list over some of the used variables (maybe a broadcast one, a repeat,
        a pooled ``x/2`` or a shifted ``i+1``) and the shape of the tensor it writes."""
        d = self.draw
        cands = sorted(used) + [v for v in pool if v not in used][:1]
        vs = d(st.lists(st.sampled_from(cands), unique=True, max_size=3)) if cands else []
        if vs and d(st.integers(0, 7)) == 0:
            vs.append(vs[0])  # Y[i, i]: a diagonal write
        idx, shape = [], []
        for v in vs:
            r = d(st.integers(0, 9))
            if r == 9:
                idx.append(f"{v}/2")
                shape.append(-(-self.ext[v] // 2))
            elif r == 8:
                idx.append(f"{v}+1")
                shape.append(self.ext[v] + 1)
            else:
                idx.append(v)
                shape.append(self.ext[v])
        return (f"[{', '.join(idx)}]" if idx else ""), tuple(shape)


OPS = ("=", "+=", "max=", "min=", "avg=")


@st.composite
def expression_programs(draw) -> str:
    """One to three equations with random RHS expressions, maybe reading earlier results,
    maybe two equations for one LHS."""
    g = Gen(draw)
    pool = tuple(g.ext)
    eqs = []
    for n in range(draw(st.integers(1, 3))):
        text, used, _ = g.expr(pool, draw(st.integers(1, 3)))
        lhs, shape = g.lhs(used, pool)
        op = draw(st.sampled_from(OPS))
        eqs.append(f"Y{n}{lhs} {op} {text}")
        if draw(st.integers(0, 3)) == 0:  # a second equation for the same LHS
            lvars = tuple(v for v in pool if re.search(rf"\b{v}\b", lhs))
            lhs2 = lhs
            if lvars and draw(st.booleans()):  # an element/row assignment: Y[0, j] = ...
                lhs2 = re.sub(rf"\b{draw(st.sampled_from(lvars))}\b(?![+/])", "0", lhs, count=1)
            ivals = tuple(v for v in pool if re.search(rf"\b{v}\b", lhs2))
            text2, _, _ = g.expr(pool, 1, ivals=ivals)
            eqs.append(f"Y{n}{lhs2} {op} {text2}")
        g.shapes[f"Y{n}"] = shape
    mine = [k for k, e in enumerate(eqs) if e.startswith(f"Y{n}[")]
    if mine and all(" = " in eqs[k] and not re.search(r"[/+]", eqs[k].split(" = ")[0]) for k in mine) \
            and draw(st.integers(0, 4)) == 0:  # a Boolean LHS: the step comes after the sum
        for k in mine:
            eqs[k] = re.sub(r"^(Y\d+)\[([^\]]*)\]", r"\1(\2)", eqs[k])
        del g.shapes[f"Y{n}"]
    queries = [f"Y{k}?" for k in range(n + 1) if f"Y{k}" in g.shapes]
    if queries:
        eqs += draw(st.lists(st.sampled_from(queries), max_size=2, unique=True))
    return g.program(*eqs)


@st.composite
def einsum_programs(draw) -> str:
    """``Y[out] op A[..] B[..] C[..]``: 2-4 operands with shared, private and repeated indices."""
    g = Gen(draw)
    pool = tuple(draw(st.lists(st.sampled_from(tuple(g.ext)), min_size=1, max_size=4, unique=True)))
    operands, used = [], set()
    for _ in range(draw(st.integers(2, 4))):
        text, vs = g.ref(pool, shifts=False, min_rank=draw(st.sampled_from((0, 1, 1, 1, 2))))
        operands.append(text)
        used |= vs
    out = draw(st.lists(st.sampled_from(sorted(used)), unique=True)) if used else []
    if draw(st.booleans()) and len(used) < len(g.ext):  # an output index no operand uses: broadcast
        out.append(next(v for v in g.ext if v not in used))
    op = draw(st.sampled_from(OPS))
    lhs = f"[{', '.join(out)}]" if out else ""
    return g.program(f"Y{lhs} {op} {join(operands)}")


@st.composite
def index_programs(draw) -> str:
    """Index arithmetic: shifts, convolutions ``A[x+d]``, pooling ``P[x/S]`` with each operator,
    upsampling ``A[x/2]`` on the RHS."""
    g = Gen(draw, nvars=2)
    n, m = g.ext["i"], g.ext["j"]
    a = g.data((n,))
    big = g.data((n + m - 1 + draw(st.integers(0, 1)),))
    b = g.data((n, m))
    c = g.data((m,))
    s = draw(st.integers(1, 3))
    eqs = [f"S{k}[i/{s}] {op} {b}[i, j] {c}[j]" for k, op in enumerate(OPS)]
    eqs += [f"P{k}[i/2] {op} {a}[i]" for k, op in enumerate(("=", "max=", "min=", "avg="))]
    eqs += [f"Q{k}[i/2, j/2] {op} {b}[i, j]" for k, op in enumerate(("=", "max=", "avg="))]
    eqs += [f"C[i] = {c}[j] {big}[i+j]", f"D[i] = {b}[i, j] {c}[j+1]", f"E[i] = {a}[i-1] - {a}[i+1]",
            f"U[i, j] = {c}[j/2]", f"F[i+1] = {b}[i, j]"]
    return g.program(*draw(st.lists(st.sampled_from(eqs), min_size=1, max_size=5, unique=True)))


@st.composite
def slice_programs(draw) -> tuple[str, list[float]]:
    """``Y = A[start:stop:step]`` with Python's bounds (negative, past the end, reversed)."""
    vals = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=6))
    bound = st.one_of(st.none(), st.integers(-8, 8))
    start, stop = draw(bound), draw(bound)
    step = draw(st.one_of(st.none(), st.sampled_from((-3, -2, -1, 1, 2, 3))))
    text = ("" if start is None else str(start)) + ":" + ("" if stop is None else str(stop))
    if step is not None:
        text += f":{step}"
    return f"A = {literal(vals, (len(vals),))}\nY = A[{text}]\nY?\n", vals[slice(start, stop, step)]


@st.composite
def datalog_programs(draw) -> str:
    """Random small graphs, transitive closures (linear, non-linear, mutual) and rules with
    negation in a higher stratum."""
    n = draw(st.integers(2, 4))
    pairs = [(a, b) for a in range(n) for b in range(n)]
    edges = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=2 * n, unique=True))
    marks = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    weights = draw(st.lists(st.sampled_from((0.0, 0.5, 1.0, 2.0)), min_size=n, max_size=n))
    lines = [f"index x, y, z : {n}", f"W = {literal(weights, (n,))}"]
    lines += [f"E({a}, {b})" for a, b in edges] + [f"V({a})" for a in marks]
    base = ["T(x, y) <- E(x, y)"]
    rec = ["T(x, z) <- T(x, y), E(y, z)", "T(x, z) <- E(x, y), T(y, z)", "T(x, z) <- T(x, y), T(y, z)",
           "T(x, y) <- T(y, x)", "T(x, y) <- S(x, y), V(y)\nS(x, z) <- T(x, y), E(y, z)",
           "T(x, z) <- T(x, y), E(y, z), W[y]"]
    neg = ["N(x, y) <- E(y, x), not T(x, y)", "N(x, y) <- V(x), V(y), not T(x, y)",
           "N(x, x) <- V(x), not T(x, x)", "R(y) <- T(0, y), not V(y)",
           "M(x) <- V(x), not N(x, x)", "N(x, y) <- T(x, y), not E(x, y)"]
    rules = base + draw(st.lists(st.sampled_from(rec), min_size=1, max_size=3, unique=True))
    rules += draw(st.lists(st.sampled_from(neg), max_size=2, unique=True))
    if any(r.startswith("M(") for r in rules) and not any(r.startswith("N(") for r in rules):
        rules.append(neg[0])
    queries = ["T(x, y)?", "T(0, x)?", f"T({n - 1}, 0)?", "T?", "T(x, x)?"]
    queries = draw(st.lists(st.sampled_from(queries), max_size=3, unique=True))
    return "\n".join(lines + rules + queries) + "\n"


@st.composite
def recursion_programs(draw) -> str:
    """Contracting numeric recursions (Jacobi iteration converges), and a min= path recursion."""
    g = Gen(draw, nvars=1)
    n = g.ext["i"]
    small = (0.0, 0.25 / n, 0.5 / n, 1.0 / n)
    m = g.data((n, n), small, "M")
    b = g.data((n,))
    kind = draw(st.sampled_from(["linear", "relu", "tanh", "mutual", "minpath"]))
    if kind == "minpath":
        w = g.data((n, n), (0.0, 0.5, 1.0, 2.0), "W")
        return g.program(f"D[i, k] min= {w}[i, k]", f"D[i, k] min= D[i, j] + {w}[j, k]")
    if kind == "mutual":
        m2 = g.data((n, n), small, "M")
        return g.program(f"X[i] = 0.5 Z[j] {m}[j, i] + {b}[i]", f"Z[i] = 0.5 X[j] {m2}[i, j] - {b}[i]",
                         "Y = X[i] Z[i]")
    body = f"0.5 X[j] {m}[j, i] + {b}[i]"
    return g.program(f"X[i] = {body if kind == 'linear' else f'{kind}({body})'}")


@st.composite
def rnn_programs(draw) -> str:
    """``H[i, *t+1] = f(W[i, j] H[j, *t] + U[i, t])`` with an initial state ``H[i, 0] = H0[i]``."""
    g = Gen(draw, nvars=1)
    n, steps = g.ext["i"], draw(st.integers(1, 4))
    w = g.data((n, n), prefix="W")
    u = g.data((n, steps), prefix="U")
    h0 = g.data((n,), prefix="H")
    f = draw(st.sampled_from(["tanh", "sig", "relu"]))
    eqs = [f"H[i, *t+1] = {f}({w}[i, j] H[j, *t] + {u}[i, t])"]
    eqs.insert(0, draw(st.sampled_from([f"H[i, 0] = {h0}[i]", "H[0, 0] = 0.0", "H[0, 0] = 1.0"])))
    if draw(st.booleans()):
        eqs.append("Out = H[i, 0] H[i, 0]")
    return g.program(*eqs)


@st.composite
def normalize_programs(draw) -> str:
    """softmax (maybe with a temperature) and lnorm along a dotted LHS index; concat."""
    g = Gen(draw, nvars=3)
    pool = tuple(g.ext)
    text, used, _ = g.expr(pool, draw(st.integers(0, 2)))
    ref, _ = g.ref(("j",), shifts=False, min_rank=1, max_rank=1)
    inner = f"{ref} + ({text})" if "j" not in used else text
    lhs = draw(st.sampled_from(["[i, j.]", "[j.]", "[j., i]", "[i, k, j.]"]))
    fn = draw(st.sampled_from(["softmax({})", "softmax({}, 2.0)", "softmax({}, 0.5)", "lnorm({})"]))
    a = g.data((g.ext["i"], g.ext["j"], g.ext["k"]))
    b = g.data((g.ext["k"],))
    concat = draw(st.sampled_from([f"C[i, m] = concat({a}[i, j, k])", f"C[m, i] = concat({a}[i, j, k])",
                                   f"C[m] = concat({a}[i, j, k] {b}[k])", f"C[j, m] = concat({a}[i, j, k])",
                                   f"C[i, m] = concat(relu({a}[i, j, k] - 1.0) + {b}[k])"]))
    return g.program(f"Y{lhs} = {fn.format(inner)}", concat)


@fuzz(120)
@given(expression_programs())
def test_expressions(src: str) -> None:
    check(src)


@fuzz(80)
@given(einsum_programs())
def test_einsums(src: str) -> None:
    check(src)


@fuzz(40)
@given(index_programs())
def test_index_arithmetic(src: str) -> None:
    check(src)


@fuzz(40)
@given(slice_programs())
def test_slices(case: tuple[str, list[float]]) -> None:
    src, expected = case
    assert check(src)["Y"].tolist() == expected


@fuzz(50)
@given(datalog_programs())
def test_datalog(src: str) -> None:
    check(src)


@fuzz(30)
@given(recursion_programs())
def test_recursion(src: str) -> None:
    check(src)


@fuzz(30)
@given(rnn_programs())
def test_rnn(src: str) -> None:
    check(src)


@fuzz(40)
@given(normalize_programs())
def test_normalize(src: str) -> None:
    check(src)


# ------------------------------------------------- every semiring (IR level)

SEMIRING_SRC = """
A = [[1, 0, 0.5], [0, 2, 1]]
B = [[0, 1], [1, 1], [-1, 0]]
Y[i, k] = A[i, j] B[j, k]
Z[i] = A[i, j]
"""


@pytest.mark.parametrize("name", list(ir.SEMIRINGS))
def test_each_semiring(name: str) -> None:
    """No source syntax reaches every semiring, so swap it into the built IR."""
    prog = build(parse(SEMIRING_SRC))
    eqs = tuple(dataclasses.replace(e, rhs=dataclasses.replace(e.rhs, semiring=name))
                if isinstance(e.rhs, ir.Contract) else e for e in prog.equations)
    prog = dataclasses.replace(prog, equations=eqs)
    got, want = engine.evaluate(prog).tensors, reference.evaluate(prog)
    for t in want:
        assert np.allclose(got[t], want[t], equal_nan=True), (t, got[t], want[t])


def test_reference_semirings_by_hand() -> None:
    prog = build(parse(SEMIRING_SRC))
    expected = {"sumprod": [1.5, 3.0], "boolean": [1.0, 1.0], "maxprod": [1.0, 2.0],
                "minprod": [0.0, 0.0], "maxplus": [1.0, 2.0], "minplus": [0.0, 0.0],
                "logsumexp": [math.log(math.e + 1 + math.exp(0.5)), math.log(1 + math.e ** 2 + math.e)],
                "avg": [0.5, 1.0]}
    for name, z in expected.items():
        eqs = tuple(dataclasses.replace(e, rhs=dataclasses.replace(e.rhs, semiring=name))
                    if isinstance(e.rhs, ir.Contract) else e for e in prog.equations)
        assert np.allclose(reference.evaluate(dataclasses.replace(prog, equations=eqs))["Z"], z), name
    # Boolean or-and on 0/1 data: Y[0, 0] = (1 and 0) or (0 and 1) or (0.5 and -1) = 0
    eqs = tuple(dataclasses.replace(e, rhs=dataclasses.replace(e.rhs, semiring="boolean"))
                if isinstance(e.rhs, ir.Contract) else e for e in prog.equations)
    y = reference.evaluate(dataclasses.replace(prog, equations=eqs))["Y"]
    assert y.tolist() == [[0.0, 1.0], [1.0, 1.0]]


# ------------------------------------------------------ the example programs

@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_agree(path: Path) -> None:
    got = api.run(path)
    # a program that trains (@minimize) is compared after training: got.program holds the learned values
    trains = "@minimize" in path.read_text()
    want = reference.evaluate(got.program) if trains else reference.run(str(path))
    for name in want:
        assert close(got.tensors[name], want[name]), name
    same_answers(got.answers, reference.answers(got.program))
    if not trains:  # the oracle does not train
        independent(path, got)


# ---------------------------------------------- the oracle against hand results

def ref(src: str) -> dict[str, np.ndarray]:
    """The independent oracle's tensors (hand-checked below)."""
    return oracle.run(src).tensors


def test_perceptron_and_constant_added_once() -> None:
    r = ref("W = [0.2, 1.9, -0.7, 3]\nX = [0, 1, 1, 0]\nC = -1.0\nD = -1.5\n"
            "Y = step(W[i] X[i])\nZ[i] = step(W[i] X[i])\nYC = step(W[i] X[i] + C)\n"
            "S = W[i] X[i] + C\nYD = step(W[i] X[i] + D)\n")
    assert r["Y"] == 1.0 and r["Z"].tolist() == [0, 1, 0, 0]
    assert r["S"] == pytest.approx(1.2 - 1.0)   # C once, not once per i (that would be -2.8)
    assert r["YC"] == 1.0 and r["YD"] == 0.0


def test_polynomial_and_gaussian_kernels() -> None:
    xs = [[1, 1], [2, 0], [-1, 0.5]]
    r = ref(f"X = {xs}\nK[i, i'] = (X[i, j] X[i', j])^2\nG[i, i'] = exp(-(X[i, j] - X[i', j])^2 / 2.0)\n")
    for a in range(3):
        for b in range(3):
            dot = sum(xs[a][c] * xs[b][c] for c in range(2))
            sq = sum((xs[a][c] - xs[b][c]) ** 2 for c in range(2))
            assert r["K"][a, b] == pytest.approx(dot ** 2)       # square of the dot product
            assert r["G"][a, b] == pytest.approx(math.exp(-sq / 2.0))   # j summed inside exp


def test_mlp_sums_inside_relu_and_loss() -> None:
    r = ref("X = [[0, 0], [0, 1], [1, 0], [1, 1]]\nW1 = [[1, 1], [1, 1]]\nB1 = [0, -1]\nW2 = [1, -2]\n"
            "Y[e] = W2[h] relu(W1[h, j] X[e, j] + B1[h])\nT = [0, 1, 1, 1]\nL = (Y[e] - T[e])^2\n")
    assert r["Y"].tolist() == [0, 1, 1, 0] and r["L"] == 1.0   # sum over e of squared errors


def test_projection_scope_by_hand() -> None:
    """DESIGN 4.1b with the per-term refinement of docs/language.md section 7."""
    r = ref("A = [1, -2]\nB = [0.5, 1]\nW = [[1, 2], [3, 4]]\nV = [[0, 1], [1, 0]]\n"
            "Y[i] = sig(W[i, j] A[j] + V[i, j] B[j])\nZ = sig(A[j] + B[j])\nQ = (A[j] - B[j])^2\n"
            "P = sig(A[j]) + B[j]\nE = exp(A[j])\n")
    sig = lambda x: 1 / (1 + math.exp(-x))
    a, b, w, v = [1, -2], [0.5, 1], [[1, 2], [3, 4]], [[0, 1], [1, 0]]
    # j contracted inside each term (it occurs twice in each), the sig applied after: a recurrent layer
    assert np.allclose(r["Y"], [sig(sum(w[i][j] * a[j] + v[i][j] * b[j] for j in range(2))) for i in range(2)])
    assert r["Z"] == pytest.approx(sig(sum(a[j] + b[j] for j in range(2))))    # floats to sig's argument
    assert r["Q"] == pytest.approx(sum((a[j] - b[j]) ** 2 for j in range(2)))  # sum of squared errors
    assert r["P"] == pytest.approx(sig(a[0] + a[1]) + b[0] + b[1])             # each term on its own
    assert r["E"] == pytest.approx(math.exp(a[0] + a[1]))                      # at the only occurrence


def test_einsum_shapes_by_hand() -> None:
    r = ref("A = [[1, 2], [3, 4]]\nB = [5, 6]\nindex j : 3\n"
            "D[i] = A[i, i]\nT = A[i, i]\nO[i, k] = B[i] B[k]\nBr[i, j] = B[i]\nH[i] = B[i] B[i]\n"
            "M[i] = A[i, k] B[k]\nY[i] = A[i, j'] A[j', k] A[k, i]\n")
    assert r["D"].tolist() == [1, 4] and r["T"] == 5
    assert r["O"].tolist() == [[25, 30], [30, 36]] and r["Br"].tolist() == [[5] * 3, [6] * 3]
    assert r["H"].tolist() == [25, 36] and r["M"].tolist() == [17, 39]
    a = [[1, 2], [3, 4]]
    cube = [sum(a[i][j] * a[j][k] * a[k][i] for j in range(2) for k in range(2)) for i in range(2)]
    assert r["Y"].tolist() == cube


def test_projection_operators_and_pooling_by_hand() -> None:
    r = ref("index i : 5\nA = [1, -2, 3, 4, 5]\nP[x/2] = A[x]\nQ[x/2] max= A[x]\nR[x/2] min= A[x]\nS[x/2] avg= A[x]\n"
            "B = [[1, 5], [-3, 2]]\nMx[r] max= B[r, c]\nMn min= B[r, c]\nAv[c] avg= B[r, c]\n"
            "Y[i] = A[i+1]\nZ[i] = A[i-1]\n")
    assert r["P"].tolist() == [-1, 7, 5] and r["Q"].tolist() == [1, 4, 5]
    assert r["R"].tolist() == [-2, 3, 5] and r["S"].tolist() == [-0.5, 3.5, 5]
    assert r["Mx"].tolist() == [5, 2] and r["Mn"] == -3 and r["Av"].tolist() == [-1, 3.5]
    assert r["Y"].tolist() == [-2, 3, 4, 5, 0] and r["Z"].tolist() == [0, 1, -2, 3, 4]


def test_empty_aggregates_are_semiring_zeros() -> None:
    r = ref("index i : 0\nA = []\nS = A[i]\nMx max= A[i]\nMn min= A[i]\nAv avg= A[i]\n")
    assert (r["S"], r["Mx"], r["Mn"], r["Av"]) == (0.0, -math.inf, math.inf, 0.0)


def test_ieee_elementwise_edges() -> None:
    r = ref("index i : 3\nA = [1, 0, -1]\nD[i] = A[i] / 0\nL[i] = log(A[i])\nQ[i] = sqrt(A[i])\nE = exp(1000)\n"
            "P = 0 ^ -1\nS[i] = sig(A[i], 0)\nN[i] = not A[i]\nV[i] = Even(i) + 2 Odd(i)\n")
    assert r["D"][0] == math.inf and math.isnan(r["D"][1]) and r["D"][2] == -math.inf
    assert r["L"][1] == -math.inf and math.isnan(r["L"][2]) and math.isnan(r["Q"][2])
    assert r["E"] == math.inf and r["P"] == math.inf
    assert r["S"].tolist() == [1, 0, 0] and r["N"].tolist() == [0, 1, 1] and r["V"].tolist() == [1, 2, 1]


def test_closure_and_negation_by_hand() -> None:
    r = ref("index x, y, z : 4\nE(0, 1)\nE(1, 2)\nE(2, 3)\nT(x, y) <- E(x, y)\n"
            "T(x, z) <- T(x, y), E(y, z)\nN(x, y) <- E(x, y), not T(y, x)\nU(x) <- not T(x, 3)\n")
    t = [[1.0 if a < b else 0.0 for b in range(4)] for a in range(4)]
    assert r["T"].tolist() == t
    assert r["N"].sum() == 3 and r["U"].tolist() == [0, 0, 0, 1]


def test_recursion_rnn_softmax_by_hand() -> None:
    r = ref("M = [[0, 0.5], [0.5, 0]]\nB = [1, 1]\nX[i] = X[j] M[j, i] + B[i]\n"  # X = 2, 2
            "W = [[0.5, -0.3], [0.2, 0.4]]\nU = [[1, 0, -1], [0, 1, 0]]\nV = [[1, 0], [0, 1]]\n"
            "H[0, 0] = 1.0\nH[i, *t+1] = sig(W[i, j] H[j, *t] + V[i, j] U[j, t])\n"
            "A = [[1, 2], [3, 3]]\nS[i, j.] = softmax(A[i, j])\nL[i, j.] = lnorm(A[i, j])\n")
    assert np.allclose(r["X"], [2, 2])
    assert np.allclose(r["H"], [0.2770, 0.6063], atol=1e-4)   # examples/rnn.tl
    e = 1 / (1 + math.e)
    assert np.allclose(r["S"], [[e, 1 - e], [0.5, 0.5]])
    assert np.allclose(r["L"], [[-1 / math.sqrt(1 + 4e-5), 1 / math.sqrt(1 + 4e-5)], [0, 0]])


# ------------------------------------------- regressions: engine bugs found here

def test_virtual_index_without_initial_state() -> None:
    got = api.run("W = [[0.5]]\nU = [[1, 2]]\nH[i, *t+1] = tanh(W[i, j] H[j, *t] + U[i, t])\n")
    h1 = math.tanh(1)   # the state starts at 0 (DESIGN 4.4)
    assert np.allclose(got.tensors["H"], [math.tanh(0.5 * h1 + 2)])


def test_seminaive_agrees_with_recomputation_on_signed_bodies() -> None:
    src = ("index x, y, z : 3\nE(0, 1)\nE(1, 2)\nE(0, 2)\nW = [1, -1, 1]\n"
           "T(x, y) <- E(x, y)\nT(x, z) <- T(x, y), E(y, z), W[y]\n")
    # the fixpoint of T = step(E[x,z] + T[x,y] E[y,z] W[y]) from T = 0: T(0,2) = step(1 - 1) = 0
    assert reference.run(src)["T"].tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    check(src)


def test_slice_kept_beside_other_indices() -> None:
    got = api.run("A = [[1, 2, 3], [4, 5, 6]]\nY[i] = A[i, 0:3:2]\n")
    assert got.tensors["Y"].tolist() == [[1, 3], [4, 6]]
