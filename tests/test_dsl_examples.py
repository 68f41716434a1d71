"""The example programs written with the Python DSL build the AST the parser builds.

The AST (and so the IR) of each hand-written DSL program equals the parsed
example, its canonical text equals ``tlang fmt`` of the example (which also
tells ints from floats, which AST equality does not), and it runs to the
example's expected answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tlang as tl
from tlang.fmt import format_program
from tlang.parse import parse, parse_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def family():
    with tl.program(base_dir=EXAMPLES) as p:
        p.domain("Person", ["Alice", "Bob", "Charlie", "Dave", "Eve"])
        x, y, z = p.indices("x y z", "Person")
        Parent, Sister, Ancestor, Aunt = tl.relations("Parent Sister Ancestor Aunt")
        p.facts(Parent, [("Dave", "Alice"), ("Alice", "Bob"), ("Bob", "Charlie")])
        p.fact(Sister("Eve", "Bob"))
        Ancestor(x, y) <= Parent(x, y)  # noqa: B015 (a rule)
        Ancestor(x, z) <= Ancestor(x, y) & Parent(y, z)  # noqa: B015 (a rule)
        Aunt(x, z) <= Sister(x, y) & Parent(y, z)  # noqa: B015 (a rule)
        p.add_query(Ancestor("Alice", x))
        p.add_query(Ancestor("Alice", "Charlie"))
        p.add_query(Ancestor("Charlie", "Alice"))
        p.add_query(Aunt(x, z))
        p.add_query(Ancestor(x, y))
    return p


def perceptron():
    i = tl.indices("i")
    C, Y, Z, YC = tl.tensors("C Y Z YC")
    with tl.program(base_dir=EXAMPLES) as p:
        W = p.tensor("W", [4], "real")
        X = p.tensor("X", [4], "real")
        p.const(W, X)
        W.set([0.2, 1.9, -0.7, 3])
        X.set([0, 1, 1, 0])
        C.set(-1.0)
        Y[()] = tl.step(W[i] * X[i])
        Z[i] = tl.step(W[i] * X[i])
        YC.set(tl.step(W[i] * X[i] + C))
        for t in (Y, Z, YC):
            p.add_query(t)
    return p


def mlp():
    e, h, j = tl.indices("e h j")
    X, W1, B1, W2, H, Y, Y2 = tl.tensors("X W1 B1 W2 H Y Y2")
    with tl.program(base_dir=EXAMPLES) as p:
        X.set([[0, 0], [0, 1], [1, 0], [1, 1]])
        W1.set([[1, 1], [1, 1]])
        B1.set([0, -1])
        W2.set([1, -2])
        H[e, h] = tl.relu(W1[h, j] * X[e, j] + B1[h])
        Y[e] = W2[h] * H[e, h]
        Y2[e] = tl.step(W2[h] * tl.relu(W1[h, j] * X[e, j] + B1[h]) - 0.5)
        for t in (H, Y, Y2):
            p.add_query(t)
    return p


def attention():
    X, WQ, WK, WV, Dk = tl.tensors("X WQ WK WV Dk")
    Query, Key, Val, Comp, Attn = tl.tensors("Query Key Val Comp Attn")
    with tl.program(base_dir=EXAMPLES) as p:
        p.domain("Pos", 3)
        q, q_ = p.indices("p p'", "Pos")
        d = p.indices("d", 4)
        dk, dv = p.indices("dk dv", 2)
        X.set([[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 0, 0]])
        WQ.set([[1, 0, 0, 0], [0, 1, 0, 0]])
        WK.set([[1, 0, 1, 0], [0, 1, 0, 1]])
        WV.set([[1, 0, 0, 0], [0, 0, 1, 1]])
        Dk.set(2.0)
        p.const(WQ, WK, WV)
        Query[q, dk] = WQ[dk, d] * X[q, d]
        Key[q, dk] = WK[dk, d] * X[q, d]
        Val[q, dv] = WV[dv, d] * X[q, d]
        Comp[q, q_.norm] = tl.softmax(Query[q, dk] * Key[q_, dk] / tl.sqrt(Dk))
        Attn[q, dv] = Comp[q, q_] * Val[q_, dv]
        for t in (Query, Key, Val, Comp, Attn):
            p.add_query(t)
    return p


def bayes():
    c, r, w = tl.indices("c r w")
    PC, CPTR, CPTW, PRain, PWet, Joint, PWetJ = tl.tensors("PC CPTR CPTW PRain PWet Joint PWetJ")
    Z, ZE, PE, PQE, PQgivenE, PCgivenE = tl.tensors("Z ZE PE PQE PQgivenE PCgivenE")
    Ev = tl.relations("Ev")
    with tl.program(base_dir=EXAMPLES) as p:
        PC.set([0.6, 0.4])
        CPTR.set([[0.8, 0.2], [0.2, 0.8]])
        CPTW.set([[0.9, 0.1], [0.1, 0.9]])
        p.const(PC, CPTR, CPTW)
        p.fact(Ev(1))
        PRain[r] = CPTR[r, c] * PC[c]
        PWet[w] = CPTW[w, r] * PRain[r]
        Joint[c, r, w] = PC[c] * CPTR[r, c] * CPTW[w, r]
        PWetJ[w] = Joint[c, r, w]
        Z.set(Joint[c, r, w])
        ZE.set(Joint[c, r, w] * Ev(w))
        PE.set(ZE / Z)
        PQE[r] = Joint[c, r, w] * Ev(w) / Z
        PQgivenE[r] = PQE[r] / PE
        PCgivenE[c] = Joint[c, r, w] * Ev(w) / ZE
        for t in (Joint, PRain, PWet, PWetJ, Z, ZE, PE, PQE, PQgivenE, PCgivenE):
            p.add_query(t)
    return p


def cnn():
    Image, Filter, S, Features, PoolSum, PoolMax, PoolAvg, PoolConv = tl.tensors(
        "Image Filter S Features PoolSum PoolMax PoolAvg PoolConv")
    with tl.program(base_dir=EXAMPLES) as p:
        x, y = p.indices("x y", 4)
        dx, dy = p.indices("dx dy", 2)
        Image.set("data/image.csv")
        Filter.set([[1, 0], [0, -1]])
        S.set(2)
        Features[x, y] = tl.relu(Filter[dx, dy] * Image[x + dx, y + dy])
        PoolSum[x // S, y // S] = Features[x, y]
        PoolMax.max[x // S, y // S] = Features[x, y]
        PoolAvg.avg[x // S, y // S] = Features[x, y]
        PoolConv[x // S, y // S] = tl.relu(Filter[dx, dy] * Image[x + dx, y + dy])
        for t in (Features, PoolSum, PoolMax, PoolAvg, PoolConv):
            p.add_query(t)
    return p


_EMB = [[-0.36, -0.6, -0.11, 0.19, 0.52, 0.05, -0.25, -0.36],
        [0.11, 0.31, 0.05, -0.33, -0.12, 0.54, -0.02, -0.69],
        [0.03, -0.64, -0.38, -0.27, -0.59, 0.17, 0.05, -0.04],
        [0.07, 0.33, -0.66, 0.03, -0.14, -0.15, -0.64, -0.01]]


def embedding():
    Emb, V, Sim, S, Member, InAlice, EmbR, DAB, DA, D, Soft = tl.tensors(
        "Emb V Sim S Member InAlice EmbR DAB DA D Soft")
    R, Rec = tl.relations("R Rec")
    with tl.program(base_dir=EXAMPLES) as p:
        p.domain("Obj", ["Alice", "Bob", "Carol", "Dave"])
        x, x_, y = p.indices("x x' y", "Obj")
        d, i, j = p.indices("d i j", 8)
        Emb.set(np.array(_EMB))
        V.set([1, 0, 1, 0])
        p.facts(R, [("Alice", "Bob"), ("Bob", "Carol"), ("Carol", "Dave")])
        Sim[x, x_] = Emb[x, d] * Emb[x_, d]
        S[d] = V[x] * Emb[x, d]
        Member[x] = S[d] * Emb[x, d]
        InAlice.set(S[d] * Emb["Alice", d])
        EmbR[i, j] = R(x, y) * Emb[x, i] * Emb[y, j]
        DAB.set(EmbR[i, j] * Emb["Alice", i] * Emb["Bob", j])
        DA[y] = EmbR[i, j] * Emb["Alice", i] * Emb[y, j]
        D[x, y] = EmbR[i, j] * Emb[x, i] * Emb[y, j]
        Rec[x, y] = tl.step(D[x, y] - 0.5)
        Soft[x, y] = tl.sig(D[x, y] - 0.5, 0.1)
        for t in (Sim, Member, InAlice, DAB, DA, D, Rec(x, y), Soft):
            p.add_query(t)
    return p


def gnn():
    X, WP, WAgg, WSelf, WOut, L, Z, Agg, Y, YE, YG = tl.tensors("X WP WAgg WSelf WOut L Z Agg Y YE YG")
    Neig = tl.relations("Neig")
    d, d_ = tl.indices("d d'")
    with tl.program(base_dir=EXAMPLES) as p:
        p.domain("Node", 4)
        p.domain("Layer", 3)
        n, n_ = p.indices("n n'", "Node")
        layer = p.indices("l", "Layer")
        Emb = p.tensor("Emb", ["Node", "Layer", 2], "real")
        p.facts(Neig, [(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2)])
        X.set([[1, 0], [1, 0.5], [0.5, 1], [0, 1]])
        WP.set([[[1, 0], [0, 1]], [[1, 0.5], [0.5, 1]], [[0, 0], [0, 0]]])
        WAgg.set(0.5)
        WSelf.set(0.5)
        WOut.set([1, -1])
        L.set(2)
        Emb[n, 0, d] = X[n, d]
        Z[n, layer, d_] = tl.relu(WP[layer, d_, d] * Emb[n, layer, d])
        Agg[n, layer, d] = Neig(n, n_) * Z[n_, layer, d]
        Emb[n, layer + 1, d] = tl.relu(WAgg * Agg[n, layer, d] + WSelf * Emb[n, layer, d])
        Y[n] = tl.sig(WOut[d] * Emb[n, L, d])
        YE[n, n_] = tl.sig(Emb[n, L, d] * Emb[n_, L, d])
        YG.set(tl.sig(WOut[d] * Emb[n, L, d]))
        for t in (Y, YE, YG):
            p.add_query(t)
    return p


def kernel():
    X, Y, Al, B, Var, K, G, YG = tl.tensors("X Y A B Var K G YG")
    with tl.program(base_dir=EXAMPLES) as p:
        p.domain("Ex", ["S0", "S1", "S2", "S3", "Q"])
        i, i_ = p.indices("i i'", "Ex")
        j = p.indices("j", 2)
        X.set([[1, 1], [2, 2], [-1, -1], [-2, -1], [1.5, 0.5]])
        Y.set([1, 1, -1, -1, 0])
        Al.set([0.5, 0.5, 0.5, 0.5, 0])
        B.set(-0.25)
        Var.set(2.0)
        K[i, i_] = (X[i, j] * X[i_, j]) ** 2
        G[i, i_] = tl.exp(-(X[i, j] - X[i_, j]) ** 2 / Var)
        Y["Q"] = tl.sig(Al[i] * Y[i] * K["Q", i] + B)
        YG["Q"] = tl.sig(Al[i] * Y[i] * G["Q", i] + B)
        for t in (K, G, Y["Q"], YG["Q"]):
            p.add_query(t)
    return p


def rnn():
    i, j, t = tl.indices("i j t")
    W, V, U, X = tl.tensors("W V U X")
    with tl.program(base_dir=EXAMPLES) as p:
        W.set([[0.5, -0.3], [0.2, 0.4]])
        V.set([[1, 0], [0, 1]])
        U.set([[1, 0, -1], [0, 1, 0]])
        X[0, 0] = 1.0
        X[1, 0] = 0.0
        X[i, tl.virtual(t) + 1] = tl.sig(W[i, j] * X[j, tl.virtual(t)] + V[i, j] * U[j, t])
        p.add_query(X)
    return p


def transformer():
    Emb, L, De, Dk, B, WQ, WK, WV, WS, WO = tl.tensors("Emb L De Dk B WQ WK WV WS WO")
    EmbX, PosEnc, Query, Key, Val, Comp, Attn, Merge, Y = tl.tensors(
        "EmbX PosEnc Query Key Val Comp Attn Merge Y")
    X, Even, Odd = tl.relations("X Even Odd")
    eye = np.eye(4, dtype=int).tolist()
    zero = np.zeros((4, 4), dtype=int).tolist()
    with tl.program(base_dir=EXAMPLES) as p:
        p.domain("Tok", ["the", "cat", "sat", "on", "mat"])
        p.domain("Pos", 3)
        p.domain("Dim", 4)
        p.domain("Block", 2)
        q, q_ = p.indices("p p'", "Pos")
        t = p.indices("t", "Tok")
        d, dk, dv, dm = p.indices("d dk dv dm", "Dim")
        b = p.indices("b", "Block")
        h = p.indices("h", 1)
        Stream = p.tensor("Stream", ["Block", "Pos", "Dim"], "real")
        p.facts(X, [(0, "the"), (1, "cat"), (2, "sat")])
        Emb.set(eye + [[0.5, 0.5, 0.5, 0.5]])
        L.set(10000.0)
        De.set(4.0)
        Dk.set(4.0)
        B.set(1)
        WQ.set([[eye], [zero]])
        WK.set([[eye], [zero]])
        WV.set([[[[0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 0.5, 0], [0, 0, 0, 0.5]]], [zero]])
        WS.set([[[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], zero])
        WO.set(eye + [[0.5, 0.5, 0.5, 0.5]])
        EmbX[q, d] = X(q, t) * Emb[t, d]
        PosEnc[q, d] = Even(d) * tl.sin(q / L ** (d / De)) + Odd(d) * tl.cos(q / L ** ((d - 1) / De))
        Stream[0, q, d] = EmbX[q, d] + PosEnc[q, d]
        Query[b, h, q, dk] = WQ[b, h, dk, d] * Stream[b, q, d]
        Key[b, h, q, dk] = WK[b, h, dk, d] * Stream[b, q, d]
        Val[b, h, q, dv] = WV[b, h, dv, d] * Stream[b, q, d]
        Comp[b, h, q, q_.norm] = tl.softmax(Query[b, h, q, dk] * Key[b, h, q_, dk] / tl.sqrt(Dk))
        Attn[b, h, q, dv] = Comp[b, h, q, q_] * Val[b, h, q_, dv]
        Merge[b, q, dm] = tl.concat(Attn[b, h, q, dv])
        Stream[b + 1, q, tl.dot(d)] = tl.lnorm(WS[b, d, dm] * Merge[b, q, dm] + Stream[b, q, d])
        Y[q, t.norm] = tl.softmax(WO[t, d] * Stream[B, q, d])
        for x in (PosEnc, Comp, Stream, Y):
            p.add_query(x)
    return p


BUILDERS = {f.__name__: f for f in (family, perceptron, mlp, attention, bayes, cnn, embedding, gnn,
                                     kernel, rnn, transformer)}
PATHS = sorted(EXAMPLES.glob("*.tl"))


def _close(a, b, tol=1e-9):
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return abs(a - b) <= tol * max(1.0, abs(b))
    return a == b


def test_the_paper_examples_have_dsl_versions():
    # examples added later are covered by the text round trip below
    assert {"family", "perceptron", "mlp", "attention"} <= set(BUILDERS) <= {p.stem for p in PATHS}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_dsl_builds_the_parsed_ast(name):
    prog = BUILDERS[name]()
    parsed = parse_file(EXAMPLES / f"{name}.tl")
    assert prog.ast == parsed
    for mine, theirs in zip(prog.statements, parsed.statements):
        assert mine == theirs
    # canonical text tells 1 from 1.0 (AST equality does not)
    assert prog.to_source() == format_program(parsed)
    assert parse(prog.to_source()) == prog.ast


@pytest.mark.parametrize("name", ["family", "perceptron", "mlp", "attention", "cnn", "rnn"])
def test_dsl_program_gives_the_expected_answers(name):
    expected = [json.loads(x) for x in (EXAMPLES / "expected" / f"{name}.jsonl").read_text().splitlines()]
    got = BUILDERS[name]().answers()
    assert len(got) == len(expected)
    for value, e in zip(got, expected):
        if e["kind"] == "relation":
            assert value == {tuple(t) for t in e["tuples"]}
        elif e["kind"] == "bool":
            assert value is e["value"]
        elif e["kind"] == "scalar":
            assert isinstance(value, float) and _close(value, e["value"])
        else:
            assert isinstance(value, np.ndarray) and _close(value.tolist(), e["value"])


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_program_from_text_round_trips(path):
    text = path.read_text()
    prog = tl.Program(text)
    assert prog.ast == parse(text)
    assert parse(prog.to_source()) == prog.ast
    loaded = tl.load(path)
    assert loaded.ast == prog.ast
