"""Every equation quoted in the paper parses as written.

Domingos, "Tensor Logic: The Language of AI" (arXiv 2510.12269), in the ASCII
forms of /work/shared/papers/tensor_logic.md section 1.9, Tables 1-3 included.
Adaptations, all documented in the paper notes or in docs/language.md:

- sub/superscripts become part of the identifier (W_Q -> WQ, W_Out -> WOut,
  D_k -> Dk), as the paper itself says there are none in tensor logic;
- the paper's typos are fixed: Table 2's parenthesis in Comp, ``A[i,j,k]`` for
  ``A]i,j,k]``, ``(d-1)/De`` for the typeset ``d-1/De``;
- table rows that end in ", etc." drop it, and a row elided as ``relu(...)``
  is written out;
- schematic equations with ``...`` are instantiated with n = 2;
- the math-only forms (``A_xz = H(S_xy P_yz)``, ``P(Q|E)``) are written in
  tensor logic (``step``, tensor names).

Each case gives the text, the kinds of the statements ``tlang.parse``
returns, and a check of a few structural facts.

The second half of the file ("values") runs each construct on small hand-made data and
compares ``tlang.api.run(source)`` with plain numpy (or a Python fixpoint) computed in
the test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tlang
from tlang import ast as A
from tlang.api import run
from tlang.source import TlangSyntaxError

# ------------------------------------------------------------------ helpers


def kinds(prog: A.Program) -> list[str]:
    return [type(s).__name__ for s in prog.statements]


def first(prog: A.Program):
    return prog.statements[0]


def lhs(prog: A.Program) -> A.Ref:
    stmt = first(prog)
    if isinstance(stmt, A.Equation | A.Load):
        return stmt.lhs if isinstance(stmt, A.Equation) else stmt.target
    if isinstance(stmt, A.Rule):
        return stmt.head
    if isinstance(stmt, A.Fact):
        return stmt.atom
    if isinstance(stmt, A.Query):
        return stmt.target
    raise AssertionError(f"no LHS in {stmt!r}")


def rhs(prog: A.Program) -> A.Expr:
    return first(prog).rhs


def nodes(node, cls) -> list:
    return [n for n in A.walk(node) if isinstance(n, cls)]


def refs(node, name: str) -> list[A.Ref]:
    return [r for r in nodes(node, A.Ref) if r.name == name]


def ref(node, name: str) -> A.Ref:
    found = refs(node, name)
    assert found, f"no reference to {name}"
    return found[0]


def calls(node) -> list[str]:
    return [c.fn for c in nodes(node, A.Call)]


def V(name: str, dot: bool = False) -> A.IVar:
    return A.IVar(name, dot)


def C(value) -> A.IConst:
    return A.IConst(value)


def plus(a, b) -> A.IBin:
    return A.IBin("+", a, b)


# ------------------------------------------------------------- the checks
# Each check takes the parsed Program and asserts a few structural facts.


def _fact_parent(p):
    atom = first(p).atom
    assert atom.name == "Parent" and atom.boolean
    assert atom.indices == (C("Bob"), C("Charlie"))


def _rule_base(p):
    rule = first(p)
    assert rule.head == A.Ref("Ancestor", (V("x"), V("y")), True)
    assert rule.body == (A.Ref("Parent", (V("x"), V("y")), True),)


def _rule_rec(p):
    rule = first(p)
    assert rule.head.name == "Ancestor" and rule.head.indices == (V("x"), V("z"))
    assert [b.name for b in rule.body] == ["Ancestor", "Parent"]
    assert all(b.boolean for b in rule.body)


def _rule_aunt(p):
    rule = first(p)
    assert rule.head.name == "Aunt" and rule.head.boolean
    assert rule.body[1] == A.Ref("Parent", (V("y"), V("z")), True)


def _step_join(p):
    assert lhs(p) == A.Ref("A", (V("x"), V("z")))
    call = rhs(p)
    assert isinstance(call, A.Call) and call.fn == "step"
    join = call.args[0]
    assert isinstance(join, A.Binary) and join.op == "*"


def _equation_form_rule(p):
    assert lhs(p).boolean and lhs(p).name == "Ancestor"
    assert isinstance(rhs(p), A.Binary) and rhs(p).op == "*"


def _query_free(p):
    q = first(p)
    assert q.target == A.Ref("Ancestor", (C("Alice"), V("x")), True)


def _query_ground(p):
    q = first(p)
    assert q.target.indices == (C("Alice"), C("Charlie"))


def _perceptron(p):
    assert lhs(p) == A.Ref("Y")
    call = rhs(p)
    assert call.fn == "step"
    join = call.args[0]
    assert join == A.Binary("*", A.Ref("W", (V("i"),)), A.Ref("X", (V("i"),)))


def _literal_w(p):
    assert lhs(p) == A.Ref("W")
    assert rhs(p) == A.ListLit((0.2, 1.9, -0.7, 3))


def _literal_x(p):
    assert rhs(p) == A.ListLit((0, 1, 1, 0))


def _query_y(p):
    assert first(p).target == A.Ref("Y")


def _hadamard(p):
    assert lhs(p) == A.Ref("Y", (V("i"),))
    assert calls(rhs(p)) == ["step"]


def _two_facts(p):
    assert [s.atom for s in p.statements] == [A.Ref("X", (C(1),), True), A.Ref("X", (C(2),), True)]


def _text_fact_const(p):
    assert first(p).atom.indices == (C(0), C("Alice"))


def _text_fact_word(p):
    # the paper writes the word lowercase: by the naming rule it is a variable
    assert first(p).atom.indices == (C(1), V("loves"))


def _text_fact_quoted(p):
    assert first(p).atom.indices == (C(1), A.IConst("loves", quoted=True))


def _element_assign(p):
    assert lhs(p) == A.Ref("M", (C(0), C("Alice")))
    assert rhs(p) == A.Num(1)


def _neig_bracket(p):
    assert lhs(p) == A.Ref("Neig", (V("x"), V("y")))
    assert not lhs(p).boolean


def _two_terms(p):
    body = rhs(p).args[0]
    assert isinstance(body, A.Binary) and body.op == "+"
    assert body.right == A.Name("C")


def _shift_lhs(p):
    assert lhs(p).indices == (V("i"), plus(V("t"), C(1)))


def _softmax(p):
    assert calls(rhs(p)) == ["softmax"]


def _concat(p):
    assert lhs(p) == A.Ref("Y", (V("k"),))
    assert calls(rhs(p)) == ["concat"]


def _slice_query(p):
    assert first(p).target.indices == (A.ISlice(4, 8),)


def _slice_rhs(p):
    assert rhs(p) == A.Ref("X", (A.ISlice(4, 8),))


def _mlp_layers(p):
    assert lhs(p).indices == (V("i"), V("j"))
    x = [r for r in refs(rhs(p), "X")][0]
    assert x.indices == (A.IBin("-", V("i"), C(1)), V("k"))
    assert ref(rhs(p), "W").indices == (V("i"), V("j"), V("k"))


def _rnn(p):
    assert lhs(p).indices == (V("i"), A.IVirtual("t", 1))
    assert ref(rhs(p), "X").indices == (V("j"), A.IVirtual("t", 0))
    assert ref(rhs(p), "U").indices == (V("j"), V("t"))
    assert calls(rhs(p)) == ["sig"]


def _loss(p):
    assert lhs(p) == A.Ref("Loss")
    power = rhs(p)
    assert isinstance(power, A.Binary) and power.op == "^" and power.right == A.Num(2)
    diff = power.left
    assert isinstance(diff, A.Binary) and diff.op == "-"
    assert diff.right == A.Ref("X", (A.IVirtual("e"), C("N"), V("j")))


def _grad_dot(p):
    assert lhs(p) == A.Ref("Y")
    assert isinstance(rhs(p), A.Binary) and rhs(p).op == "*"


def _grad_matmul(p):
    assert lhs(p).indices == (V("i"), V("j"))
    assert ref(rhs(p), "M").indices == (V("i"), V("k"))


def _tucker(p):
    assert lhs(p) == A.Ref("A", (V("i"), V("j"), V("k")))
    names = [r.name for r in nodes(rhs(p), A.Ref)]
    assert names == ["M", "M'", "M''", "C"]


def _conv(p):
    assert lhs(p) == A.Ref("Features", (V("x"), V("y")))
    image = ref(rhs(p), "Image")
    assert image.indices == (plus(V("x"), V("dx")), plus(V("y"), V("dy")), V("ch"))
    assert calls(rhs(p)) == ["relu"]


def _pool_lhs(p, op="="):
    stmt = first(p)
    assert stmt.op == op
    assert stmt.lhs.indices == (A.IBin("/", V("x"), C("S")), A.IBin("/", V("y"), C("S")))


def _sum_pool(p):
    _pool_lhs(p)
    assert rhs(p) == A.Ref("Features", (V("x"), V("y")))


def _max_pool(p):
    _pool_lhs(p, "max=")


def _conv_pool(p):
    _pool_lhs(p)
    assert calls(rhs(p)) == ["relu"]
    assert ref(rhs(p), "Filter").indices == (V("dx"), V("dy"), V("ch"))


def _neig_fact(p):
    assert first(p).atom == A.Ref("Neig", (V("x"), V("y")), True)


def _gnn_init(p):
    assert lhs(p).indices == (V("n"), C(0), V("d"))


def _gnn_mlp(p):
    assert lhs(p).indices == (V("n"), V("l"), V("d'"))
    assert ref(rhs(p), "WP").indices == (V("l"), V("d'"), V("d"))


def _gnn_agg(p):
    neig = ref(rhs(p), "Neig")
    assert neig.boolean and neig.indices == (V("n"), V("n'"))
    assert ref(rhs(p), "Z").indices == (V("n'"), V("l"), V("d"))


def _gnn_update(p):
    assert lhs(p).indices == (V("n"), plus(V("l"), C(1)), V("d"))
    names = [n.name for n in nodes(rhs(p), A.Name)]
    assert names == ["WAgg", "WSelf"]  # scalars: the table gives them no indices


def _node_class(p):
    assert lhs(p) == A.Ref("Y", (V("n"),))
    assert ref(rhs(p), "Emb").indices == (V("n"), C("L"), V("d"))
    assert ref(rhs(p), "WOut").indices == (V("d"),)


def _edge_pred(p):
    assert lhs(p).indices == (V("n"), V("n'"))
    assert [r.indices[0] for r in refs(rhs(p), "Emb")] == [V("n"), V("n'")]


def _graph_class(p):
    assert lhs(p) == A.Ref("Y")
    assert calls(rhs(p)) == ["sig"]


def _att_proj(name, w):
    def check(p):
        assert lhs(p).name == name
        assert ref(rhs(p), w).indices[1] == V("d")
        assert ref(rhs(p), "X").indices == (V("p"), V("d"))
    return check


def _comp(p):
    assert lhs(p) == A.Ref("Comp", (V("p"), V("p'", dot=True)))
    call = rhs(p)
    assert call.fn == "softmax"
    div = call.args[0]
    assert isinstance(div, A.Binary) and div.op == "/"
    assert div.right == A.Call("sqrt", (A.Name("Dk"),))
    assert ref(div.left, "Key").indices == (V("p'"), V("dk"))


def _attn(p):
    assert lhs(p) == A.Ref("Attn", (V("p"), V("dv")))
    assert ref(rhs(p), "Comp").indices == (V("p"), V("p'"))


def _input(p):
    assert first(p).atom == A.Ref("X", (V("p"), V("t")), True)


def _embedding(p):
    assert ref(rhs(p), "X").boolean
    assert not ref(rhs(p), "Emb").boolean


def _posenc(p):
    assert lhs(p) == A.Ref("PosEnc", (V("p"), V("d")))
    assert calls(rhs(p)) == ["sin", "cos"]
    assert {r.name for r in nodes(rhs(p), A.Ref)} == {"Even", "Odd"}
    assert all(r.boolean for r in nodes(rhs(p), A.Ref))
    # index variables used as values inside the expression
    names = {n.name for n in nodes(rhs(p), A.Name)}
    assert {"p", "d", "L", "De"} <= names


def _residual(p):
    assert lhs(p).indices == (C(0), V("p"), V("d"))
    assert rhs(p).op == "+"


def _mh_query(p):
    assert lhs(p).indices == (V("b"), V("h"), V("p"), V("dk"))
    assert ref(rhs(p), "Stream").indices == (V("b"), V("p"), V("d"))


def _mh_comp(p):
    assert lhs(p).indices[-1] == V("p'", dot=True)
    assert calls(rhs(p)) == ["softmax", "sqrt"]


def _mh_attn(p):
    assert ref(rhs(p), "Val").indices == (V("b"), V("h"), V("p'"), V("dv"))


def _merge(p):
    assert lhs(p) == A.Ref("Merge", (V("b"), V("p"), V("dm")))
    assert rhs(p) == A.Call("concat", (A.Ref("Attn", (V("b"), V("h"), V("p"), V("dv"))),))


def _lnorm(p):
    assert lhs(p).indices == (V("b"), V("p"), V("d", dot=True))
    assert calls(rhs(p)) == ["lnorm"]
    assert rhs(p).args[0].op == "+"


def _lnorm_next(p):
    assert lhs(p).indices == (plus(V("b"), C(1)), V("p"), V("d", dot=True))
    assert ref(rhs(p), "Stream").indices == (V("b"), V("p"), V("d"))


def _block_mlp(p):
    assert lhs(p) == A.Ref("MLP", (V("b"), V("p")))
    assert calls(rhs(p)) == ["relu"]


def _output(p):
    assert lhs(p).indices == (V("p"), V("t", dot=True))
    assert ref(rhs(p), "Stream").indices == (C("B"), V("p"), V("d"))


def _kernel_machine(p):
    assert lhs(p) == A.Ref("Y", (C("Q"),))
    call = rhs(p)
    assert isinstance(call, A.Call) and call.fn == "f"  # a lowercase name before '(' is a call
    assert call.args[0].op == "+" and call.args[0].right == A.Name("B")
    assert ref(call, "K").indices == (C("Q"), V("i"))


def _poly_kernel(p):
    assert lhs(p) == A.Ref("K", (V("i"), V("i'")))
    power = rhs(p)
    assert power.op == "^" and power.right == A.Name("n")
    assert power.left.op == "*"


def _gauss_kernel(p):
    assert lhs(p) == A.Ref("K", (V("i"), V("i'")))
    call = rhs(p)
    assert call.fn == "exp"
    div = call.args[0]
    assert div.op == "/" and div.right == A.Name("Var")
    neg = div.left
    assert isinstance(neg, A.Unary) and neg.op == "-"
    assert neg.operand.op == "^" and neg.operand.left.op == "-"


def _bn(p):
    assert lhs(p) == A.Ref("PX", (V("x"),))
    assert [r.name for r in nodes(rhs(p), A.Ref)] == ["CPTX", "P1", "P2"]


def _bn_underscore(p):
    assert lhs(p).name == "P_X"
    assert ref(rhs(p), "CPT_X").indices == (V("x"), V("par1"), V("par2"))


def _partition(p):
    assert lhs(p) == A.Ref("Z")


def _conditional(p):
    assert lhs(p) == A.Ref("PQgivenE")
    assert rhs(p).op == "/"
    assert rhs(p).left == A.Ref("Prog", (C("Q"), C("E")), True)


def _set(p):
    assert lhs(p) == A.Ref("S", (V("d"),))
    assert ref(rhs(p), "V").indices == (V("x"),)


def _member(p):
    assert lhs(p) == A.Ref("D", (C("A"),))
    assert ref(rhs(p), "Emb").indices == (C("A"), V("d"))


def _embr(p):
    assert ref(rhs(p), "R") == A.Ref("R", (V("x"), V("y")), True)
    assert len(refs(rhs(p), "Emb")) == 2


def _dab(p):
    assert lhs(p).indices == (C("A"), C("B"))


def _dab_expanded(p):
    _dab(p)
    assert len(refs(rhs(p), "Emb")) == 4


def _da_y(p):
    assert lhs(p).indices == (C("A"), V("y"))


def _dxy(p):
    assert lhs(p).indices == (V("x"), V("y"))


def _emb_rule(p):
    assert lhs(p).name == "EmbCons" and rhs(p).op == "*"


def _emb_ant(p):
    assert ref(rhs(p), "Ant1").boolean


def _cons_rule(p):
    assert first(p).head.name == "Cons" and len(first(p).body) == 2


def _gram(p):
    assert lhs(p).indices == (V("x"), V("x'"))


def _temperature(p):
    call = rhs(p)
    assert call.fn == "sig" and len(call.args) == 2 and call.args[1] == A.Name("T")


# ------------------------------------------------------------- the cases

EQ, RULE, FACT, QUERY = "Equation", "Rule", "Fact", "Query"

CASES = [
    # --- Datalog, sections 2.1, 3.1, 4.2
    ("Parent(Bob, Charlie)", [FACT], _fact_parent),
    ("Ancestor(Alice, Bob)", [FACT], None),
    ("Ancestor(x,y) <- Parent(x,y)", [RULE], _rule_base),
    ("Ancestor(x,y) ← Parent(x,y)", [RULE], _rule_base),
    ("Ancestor(x,z) <- Ancestor(x,y), Parent(y,z)", [RULE], _rule_rec),
    ("Ancestor(x,z) ← Ancestor(x,y), Parent(y,z)", [RULE], _rule_rec),
    ("Aunt(x,z) <- Sister(x,y), Parent(y,z)", [RULE], _rule_aunt),
    ("Aunt(x,z) ← Sister(x,y), Parent(y,z)", [RULE], _rule_aunt),
    ("A[x,z] = step(S[x,y] P[y,z])", [EQ], _step_join),  # A_xz = H(S_xy P_yz)
    ("Ancestor(x,z) = Ancestor(x,y) Parent(y,z)", [EQ], _equation_form_rule),
    ("Ancestor(Alice, x)?", [QUERY], _query_free),
    ("Ancestor(Alice, Charlie)?", [QUERY], _query_ground),
    # --- section 3.1: perceptron, literals, facts, files, sugar
    ("Y = step(W[i] X[i])", [EQ], _perceptron),
    ("W = [0.2, 1.9, -0.7, 3]", [EQ], _literal_w),
    ("X = [0, 1, 1, 0]", [EQ], _literal_x),
    ("Y?", [QUERY], _query_y),
    ("Y[i] = step(W[i] X[i])", [EQ], _hadamard),
    ("X(1), X(2)", [FACT, FACT], _two_facts),
    ("M(0,Alice)", [FACT], _text_fact_const),
    ("M(1,loves)", [FACT], _text_fact_word),
    ('M(1,"loves")', [FACT], _text_fact_quoted),
    ("M(2,Bob)", [FACT], None),
    ("M[0,Alice] = 1", [EQ], _element_assign),
    ("Neig[x,y] = 1", [EQ], _neig_bracket),
    ("Y = step(W[i] X[i] + C)", [EQ], _two_terms),
    ("X[i, t+1] = W[i,j] X[j,t]", [EQ], _shift_lhs),
    ("Y[i] = softmax(X[i])", [EQ], _softmax),
    ("Y[k] = concat(X[i,j])", [EQ], _concat),
    ("X[4:8]?", [QUERY], _slice_query),
    ("Y = X[4:8]", [EQ], _slice_rhs),
    ("X[i,j] = sig(W[i,j,k] X[i-1,k])", [EQ], _mlp_layers),
    ("X[i,*t+1] = sig(W[i,j] X[j,*t] + V[i,j] U[j,t])", [EQ], _rnn),
    # --- section 3.3: learning
    ("Loss = (Y[e] - X[*e,N,j])^2", [EQ], _loss),
    ("Y = W[i] X[i]", [EQ], _grad_dot),
    ("Y[i,j] = M[i,k] X[k,j]", [EQ], _grad_matmul),
    ("A[i,j,k] = M[i,p] M'[j,q] M''[k,r] C[p,q,r]", [EQ], _tucker),
    # --- section 4.1: CNN
    ("Features[x,y] = relu(Filter[dx,dy,ch] Image[x+dx,y+dy,ch])", [EQ], _conv),
    ("Pooled[x/S,y/S] = Features[x,y]", [EQ], _sum_pool),
    ("Pooled[x/S,y/S] max= Features[x,y]", [EQ], _max_pool),
    ("Pooled[x/S,y/S] = relu(Filter[dx,dy,ch] Image[x+dx,y+dy,ch])", [EQ], _conv_pool),
    # --- Table 1: GNN
    ("Neig(x,y)", [FACT], _neig_fact),
    ("Emb[n,0,d] = X[n,d]", [EQ], _gnn_init),
    ("Z[n,l,d'] = relu(WP[l,d',d] Emb[n,l,d])", [EQ], _gnn_mlp),
    ("Agg[n,l,d] = Neig(n,n') Z[n',l,d]", [EQ], _gnn_agg),
    ("Emb[n,l+1,d] = relu(WAgg Agg[n,l,d] + WSelf Emb[n,l,d])", [EQ], _gnn_update),
    ("Y[n] = sig(WOut[d] Emb[n,L,d])", [EQ], _node_class),
    ("Y[n,n'] = sig(Emb[n,L,d] Emb[n',L,d])", [EQ], _edge_pred),
    ("Y = sig(WOut[d] Emb[n,L,d])", [EQ], _graph_class),
    # --- Table 2: attention
    ("Query[p,dk] = WQ[dk,d] X[p,d]", [EQ], _att_proj("Query", "WQ")),
    ("Key[p,dk] = WK[dk,d] X[p,d]", [EQ], _att_proj("Key", "WK")),
    ("Val[p,dv] = WV[dv,d] X[p,d]", [EQ], _att_proj("Val", "WV")),
    ("Comp[p,p'.] = softmax(Query[p,dk] Key[p',dk] / sqrt(Dk))", [EQ], _comp),
    ("Attn[p,dv] = Comp[p,p'] Val[p',dv]", [EQ], _attn),
    # --- Table 2: transformer
    ("X(p,t)", [FACT], _input),
    ("EmbX[p,d] = X(p,t) Emb[t,d]", [EQ], _embedding),
    ("PosEnc[p,d] = Even(d) sin(p/L^(d/De)) + Odd(d) cos(p/L^((d-1)/De))", [EQ], _posenc),
    ("Stream[0,p,d] = EmbX[p,d] + PosEnc[p,d]", [EQ], _residual),
    ("Query[b,h,p,dk] = WQ[b,h,dk,d] Stream[b,p,d]", [EQ], _mh_query),
    ("Comp[b,h,p,p'.] = softmax(Query[b,h,p,dk] Key[b,h,p',dk] / sqrt(Dk))", [EQ], _mh_comp),
    ("Attn[b,h,p,dv] = Comp[b,h,p,p'] Val[b,h,p',dv]", [EQ], _mh_attn),
    ("Merge[b,p,dm] = concat(Attn[b,h,p,dv])", [EQ], _merge),
    ("Stream[b,p,d.] = lnorm(WS[b,d,dm] Merge[b,p,dm] + Stream[b,p,d])", [EQ], _lnorm),
    ("Stream[b+1,p,d.] = lnorm(WS[b,d,dm] Merge[b,p,dm] + Stream[b,p,d])", [EQ], _lnorm_next),
    ("MLP[b,p] = relu(WP[p,d] Stream[b,p,d])", [EQ], _block_mlp),
    ("Y[p,t.] = softmax(WO[t,d] Stream[B,p,d])", [EQ], _output),
    # --- section 4.3: kernel machines
    ("Y[Q] = f(A[i] Y[i] K[Q,i] + B)", [EQ], _kernel_machine),
    ("K[i,i'] = (X[i,j] X[i',j])^n", [EQ], _poly_kernel),
    ("K[i,i'] = exp(-(X[i,j] - X[i',j])^2 / Var)", [EQ], _gauss_kernel),
    # --- section 4.4, Table 3: graphical models
    ("PX[x] = CPTX[x,par1,par2] P1[par1] P2[par2]", [EQ], _bn),
    ("P_X[x] = CPT_X[x,par1,par2] P_1[par1] P_2[par2]", [EQ], _bn_underscore),
    ("Z = T[x,y,z]", [EQ], _partition),
    ("PQgivenE = Prog(Q,E) / Prog(E)", [EQ], _conditional),
    # --- section 5: reasoning in embedding space
    ("S[d] = V[x] Emb[x,d]", [EQ], _set),
    ("D[A] = S[d] Emb[A,d]", [EQ], _member),
    ("EmbR[i,j] = R(x,y) Emb[x,i] Emb[y,j]", [EQ], _embr),
    ("D[A,B] = EmbR[i,j] Emb[A,i] Emb[B,j]", [EQ], _dab),
    ("D[A,B] = R(x,y) (Emb[x,i] Emb[A,i]) (Emb[y,j] Emb[B,j])", [EQ], _dab_expanded),
    ("D[A,y] = EmbR[i,j] Emb[A,i] Emb[y,j]", [EQ], _da_y),
    ("D[x,y] = EmbR[i,j] Emb[x,i] Emb[y,j]", [EQ], _dxy),
    ("Cons(x,z) <- Ant1(x,y), Ant2(y,z)", [RULE], _cons_rule),
    ("EmbCons[i,k] = EmbAnt1[i,j] EmbAnt2[j,k]", [EQ], _emb_rule),
    ("EmbAnt1[i,j] = Ant1(x,y) Emb[x,i] Emb[y,j]", [EQ], _emb_ant),
    ("Sim[x,x'] = Emb[x,d] Emb[x',d]", [EQ], _gram),
    ("Y[x,y] = sig(D[x,y], T)", [EQ], _temperature),
]


@pytest.mark.parametrize(("text", "expected", "check"), CASES, ids=[c[0] for c in CASES])
def test_paper_equation_parses(text, expected, check):
    prog = tlang.parse(text)
    assert isinstance(prog, A.Program)
    assert kinds(prog) == expected
    if check is not None:
        check(prog)


# ------------------------------------------------------- whole programs

PERCEPTRON = """\
Y = step(W[i] X[i])
W = [0.2, 1.9, -0.7, 3]
X = [0, 1, 1, 0]
Y?
"""

DATALOG = """\
Parent(Bob, Charlie)
Ancestor(Alice, Bob)
Ancestor(x,y) <- Parent(x,y)
Ancestor(x,z) <- Ancestor(x,y), Parent(y,z)
Aunt(x,z) <- Sister(x,y), Parent(y,z)
Ancestor(Alice, x)?
Ancestor(Alice, Charlie)?
"""

TABLE1 = """\
Neig(x,y)
Emb[n,0,d] = X[n,d]
Z[n,l,d'] = relu(WP[l,d',d] Emb[n,l,d])
Agg[n,l,d] = Neig(n,n') Z[n',l,d]
Emb[n,l+1,d] = relu(WAgg Agg[n,l,d] + WSelf Emb[n,l,d])
Y[n] = sig(WOut[d] Emb[n,L,d])
Y[n,n'] = sig(Emb[n,L,d] Emb[n',L,d])
Y = sig(WOut[d] Emb[n,L,d])
"""

TABLE2 = """\
Query[p,dk] = WQ[dk,d] X[p,d]
Key[p,dk] = WK[dk,d] X[p,d]
Val[p,dv] = WV[dv,d] X[p,d]
Comp[p,p'.] = softmax(Query[p,dk] Key[p',dk] / sqrt(Dk))
Attn[p,dv] = Comp[p,p'] Val[p',dv]
X(p,t)
EmbX[p,d] = X(p,t) Emb[t,d]
PosEnc[p,d] = Even(d) sin(p/L^(d/De)) + Odd(d) cos(p/L^((d-1)/De))
Stream[0,p,d] = EmbX[p,d] + PosEnc[p,d]
Query[b,h,p,dk] = WQ[b,h,dk,d] Stream[b,p,d]
Comp[b,h,p,p'.] = softmax(Query[b,h,p,dk] Key[b,h,p',dk] / sqrt(Dk))
Attn[b,h,p,dv] = Comp[b,h,p,p'] Val[b,h,p',dv]
Merge[b,p,dm] = concat(Attn[b,h,p,dv])
Stream[b,p,d.] = lnorm(WS[b,d,dm] Merge[b,p,dm] + Stream[b,p,d])
MLP[b,p] = relu(WP[p,d] Stream[b,p,d])
Y[p,t.] = softmax(WO[t,d] Stream[B,p,d])
"""

TABLE3 = """\
PX[x] = CPTX[x,par1,par2] P1[par1] P2[par2]
Z = PX[x]
PQgivenE = Prog(Q,E) / Prog(E)
"""

PROGRAMS = [
    ("perceptron", PERCEPTRON, [EQ, EQ, EQ, QUERY]),
    ("datalog", DATALOG, [FACT, FACT, RULE, RULE, RULE, QUERY, QUERY]),
    ("table1", TABLE1, [FACT] + [EQ] * 7),
    ("table2", TABLE2, [EQ] * 5 + [FACT] + [EQ] * 10),
    ("table3", TABLE3, [EQ] * 3),
]


@pytest.mark.parametrize(("text", "expected"), [p[1:] for p in PROGRAMS], ids=[p[0] for p in PROGRAMS])
def test_paper_program_parses(text, expected):
    prog = tlang.parse(text)
    assert kinds(prog) == expected


def test_perceptron_program_structure():
    prog = tlang.parse(PERCEPTRON)
    eq_y, eq_w, eq_x, query = prog.statements
    assert eq_y.lhs == A.Ref("Y") and eq_w.lhs == A.Ref("W") and eq_x.lhs == A.Ref("X")
    assert query.target == A.Ref("Y")
    # spans point back into the program text
    assert query.span.text() == "Y?"
    assert eq_w.span.line == 2


# ---------------------------------------------- the paper's typos, unfixed
# The printed forms are not programs; each gets a located syntax error.

TYPOS = [
    ("Comp[p,p'.] = softmax(Query[p,dk]) Key[p',dk] / sqrt(Dk))", 1, 57),
    ("A]i,j,k] = M[i,p] M'[j,q] M''[k,r] C[p,q,r]", 1, 2),
    ("Z[n,l,d'] = relu(WP[l,d',d] Emb[n,l,d]), etc.", 1, 40),
    ("P(Q|E) = P(Q,E)/P(E)", 1, 4),
]


@pytest.mark.parametrize(("text", "line", "col"), TYPOS, ids=[t[0] for t in TYPOS])
def test_paper_typos_are_located_errors(text, line, col):
    with pytest.raises(TlangSyntaxError) as info:
        tlang.parse(text)
    err = info.value
    assert err.span is not None
    assert (err.span.line, err.span.col) == (line, col)
    assert err.render().startswith(f"<input>:{line}:{col}: error: ")


# ================================================================ values
# The same constructs run on small hand-made data, each answer checked against plain
# numpy (or a Python fixpoint) computed in the test, the way a reader of the paper would:
# loops over layers, time steps and filter offsets, an explicit softmax.  The semantics
# are docs/language.md (section 7: where an index is summed; section 16: evaluation order
# and domains).  Where the engine does not yet follow them, the test is an expected
# failure whose reason says what differs.

def lit(a) -> str:
    """A numpy array as a tlang list literal."""
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return repr(float(a))
    return "[" + ", ".join(lit(x) for x in a) + "]"


def answers(src: str) -> dict:
    return {a.query: a.to_json() for a in run(src).answers}


def same(ans: dict, expected, atol: float = 1e-9) -> None:
    """A tensor/scalar answer has the expected shape and values."""
    arr = np.asarray(expected, dtype=float)
    assert ans["kind"] == ("scalar" if arr.ndim == 0 else "tensor"), ans
    assert ans["shape"] == list(arr.shape), (ans["shape"], arr.shape)
    np.testing.assert_allclose(np.asarray(ans["value"], dtype=float), arr, rtol=1e-9, atol=atol)


def tuples(ans: dict) -> set:
    assert ans["kind"] == "relation", ans
    return {tuple(t) for t in ans["tuples"]}


def np_sig(x, T: float = 1.0):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float) / T))


def np_step(x):
    return (np.asarray(x, dtype=float) > 0).astype(float)


def np_softmax(x, axis=-1):
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def np_lnorm(x, axis=-1, eps=1e-5):
    mu = x.mean(axis=axis, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=axis, keepdims=True) + eps)


def datalog_fixpoint(start: set, grow) -> set:
    s = set(start)
    while (new := s | grow(s)) != s:
        s = new
    return s


# ------------------------------------------------ section 3.1: perceptron

def test_perceptron_value():
    """Y = step(W[i] X[i]): the dot product 1.2, stepped; Y[i] keeps i (Hadamard); with a
    second term C is added once, after the sum; X as the facts X(1), X(2) is the same X."""
    W, X = np.array([0.2, 1.9, -0.7, 3]), np.array([0, 1, 1, 0])
    a = answers(PERCEPTRON)
    same(a["Y"], np_step(W @ X))
    a = answers("W = [0.2, 1.9, -0.7, 3]\nX = [0, 1, 1, 0]\nC = -1.5\n"
                "Z[i] = step(W[i] X[i])\nYC = step(W[i] X[i] + C)\nZ?\nYC?\n")
    same(a["Z"], np_step(W * X))
    same(a["YC"], np_step(W @ X - 1.5))          # 0; adding C per term would give step(-4.8)
    a = answers("W = [0.2, 1.9, -0.7, 3]\nX(1), X(2)\nY = W[i] X(i)\nY?\n")
    same(a["Y"], W @ X)


# ----------------------------------------------------- section 3.1: MLP

MLP_W = np.array([[[0, 0], [0, 0]],              # layer 0 has no weights: it is the input
                  [[0.5, -1], [1, 0.25]],
                  [[1, 1], [-0.5, 2]]])
MLP_IN = np.array([1.0, 2.0])


def _mlp_layers(x0):
    xs = [np.asarray(x0, dtype=float)]
    for i in range(1, len(MLP_W)):                # X[i, j] = sig(W[i, j, k] X[i-1, k])
        xs.append(np_sig(MLP_W[i] @ xs[-1]))
    return np.array(xs)


def test_mlp_paper_form_value():
    """The paper's MLP X[i, j] = sig(W[i, j, k] X[i-1, k]) with the input written as row 0:
    layer 0 stays the input (X[-1, k] does not exist, section 16.4), layer i is layer i-1
    through W[i]."""
    src = f"W = {lit(MLP_W)}\nX[0, j] = {lit(MLP_IN)}\nX[i, j] = sig(W[i, j, k] X[i-1, k])\nX?\n"
    same(answers(src)["X"], _mlp_layers(MLP_IN))


def test_mlp_paper_form_elements_value():
    """The same MLP, its input set by element assignments: X[0] must stay [1, 2]."""
    src = (f"W = {lit(MLP_W)}\nX[0, 0] = 1.0\nX[0, 1] = 2.0\n"
           "X[i, j] = sig(W[i, j, k] X[i-1, k])\nX?\n")
    same(answers(src)["X"], _mlp_layers(MLP_IN))


def test_two_layer_perceptron_value():
    """Y[o] = sig(W2[o, h] relu(W1[h, j] X[j])): j is summed inside relu, h outside (section 7)."""
    W1 = np.array([[1, -1, 0.5], [0.2, 0.3, -2], [-1, 1, 1], [0.5, 0.5, 0.5]])
    W2 = np.array([[1, -2, 0.5, 1], [-1, 1, 1, 0]])
    X = np.array([1, 2, -1])
    src = f"W1 = {lit(W1)}\nW2 = {lit(W2)}\nX = {lit(X)}\nY[o] = sig(W2[o, h] relu(W1[h, j] X[j]))\nY?\n"
    hidden = np.maximum(W1 @ X, 0)
    same(answers(src)["Y"], np_sig(W2 @ hidden))


def test_mlp_unequal_layers_value():
    """Layers of different sizes as separate equations (section 16.6): each layer is written
    at its own size and the rest of X is 0, with no padding of the weights."""
    W1 = np.array([[1, 0], [0, 1], [1, 1]])
    W2 = np.array([[1, -1, 0.5]])
    src = (f"In = [1, 2]\nW1 = {lit(W1)}\nW2 = {lit(W2)}\nX[0, j] = In[j]\n"
           "X[1, j] = W1[j, k] X[0, k]\nX[2, j] = W2[j, k] X[1, k]\nX?\n")
    x1 = W1 @ [1, 2]
    x2 = W2 @ x1
    same(answers(src)["X"], [[1, 2, 0], list(x1), [x2[0], 0, 0]])


# ----------------------------------------------------- section 3.1: RNN

def _rnn(W, V, U, x0):
    x = np.asarray(x0, dtype=float)
    for t in range(U.shape[1]):                  # X[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])
        x = np_sig(W @ x + V @ U[:, t])
    return x


def test_rnn_value():
    """The paper's RNN with a virtual t: one step per column of U, from X[i, 0]; the answer
    is the final state."""
    W = np.array([[0.1, 0.8, -0.5], [-0.3, 0.2, 0.4], [0.6, -0.1, 0.0]])
    V = np.array([[1, 0.5, 0], [0, -1, 0.5], [0.5, 0.5, 0.5]])
    U = np.array([[1, -1, 0.5, 2], [0, 1, -0.5, 0], [2, 0, 1, -1]])
    src = (f"W = {lit(W)}\nV = {lit(V)}\nU = {lit(U)}\nX[0, 0] = 1.0\nX[1, 0] = -1.0\nX[2, 0] = 0.5\n"
           "X[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])\nX?\n")
    same(answers(src)["X"], _rnn(W, V, U, [1, -1, 0.5]))


def test_rnn_fewer_input_units_value():
    """The two j of the RNN are different indices (terms are separate equations, section
    16.6): the input U may have fewer units than the state X."""
    W = np.array([[0.5, -0.3], [0.2, 0.4]])
    V = np.array([[1.0], [-1.0]])
    U = np.array([[1, 0.5, -1]])
    src = (f"W = {lit(W)}\nV = {lit(V)}\nU = {lit(U)}\nX[0, 0] = 0.5\nX[1, 0] = -0.5\n"
           "X[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])\nX?\n")
    same(answers(src)["X"], _rnn(W, V, U, [0.5, -0.5]))


# ----------------------------------------------------- section 3.3: loss

LOSS_IN = np.array([[1, 2], [0, 1], [2, 0]])
LOSS_Y = np.array([1, 0, 0.5])


def _loss_expected():
    out = np.array([_mlp_layers(x)[-1] for x in LOSS_IN])    # X[e, N, j], N = 2
    return np.sum((LOSS_Y[:, None] - out) ** 2)                # summed over e and j, after squaring


def test_loss_sums_over_examples_and_units_value():
    """Loss = (Y[e] - X[e, N, j])^2 is the squared error summed over e and j (section 16.5):
    j is not summed before squaring.  X is given as data here, so only the loss is tested."""
    X = np.arange(18, dtype=float).reshape(3, 3, 2) / 10
    src = f"Y = {lit(LOSS_Y)}\nX = {lit(X)}\nN = 2\nLoss = (Y[e] - X[e, N, j])^2\nLoss?\n"
    same(answers(src)["Loss"], np.sum((LOSS_Y[:, None] - X[:, 2, :]) ** 2))


def test_loss_of_mlp_value():
    """The paper's loss over the MLP run on each example e (e an ordinary index)."""
    src = (f"In = {lit(LOSS_IN)}\nY = {lit(LOSS_Y)}\nN = 2\nW = {lit(MLP_W)}\n"
           "X[e, 0, j] = In[e, j]\nX[e, i, j] = sig(W[i, j, k] X[e, i-1, k])\n"
           "Loss = (Y[e] - X[e, N, j])^2\nLoss?\n")
    same(answers(src)["Loss"], _loss_expected())


def test_loss_of_mlp_virtual_examples_value():
    """The paper's form Loss = (Y[e] - X[*e, N, j])^2: the MLP run one example at a time
    (virtual *e), the loss accumulated over the examples (section 16.3)."""
    src = (f"In = {lit(LOSS_IN)}\nY = {lit(LOSS_Y)}\nN = 2\nW = {lit(MLP_W)}\n"
           "X[*e, 0, j] = In[e, j]\nX[*e, i, j] = sig(W[i, j, k] X[*e, i-1, k])\n"
           "Loss = (Y[e] - X[*e, N, j])^2\nLoss?\n")
    same(answers(src)["Loss"], _loss_expected())


def test_gradient_is_the_product_of_the_other_tensors():
    """Section 3.3: the derivative of Y = W[i] X[i] with respect to W is X, and of
    Y[i, j] = M[i, k] X[k, j] with respect to M[i, k] is X[k, j] (summed over j for a sum
    loss).  One SGD step with lr = 1 from a learned start moves W by exactly minus that."""
    import tlang
    W, X = np.array([1.0, -2.0, 0.5]), np.array([3.0, 1.0, 2.0])
    r = tlang.minimize(f"W = {lit(W)}\nlearn W\nX = {lit(X)}\nLoss = W[i] X[i]\n"
                       "Loss? @minimize(optimizer=sgd, lr=1, epochs=1)\n")
    np.testing.assert_allclose(r["W"], W - X)
    M, X2 = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0]]), np.array([[1.0, -1.0, 2.0], [0.5, 0.5, 0.5]])
    r = tlang.minimize(f"M = {lit(M)}\nlearn M\nX = {lit(X2)}\nY[i, j] = M[i, k] X[k, j]\nLoss = Y[i, j]\n"
                       "Loss? @minimize(optimizer=sgd, lr=1, epochs=1)\n")
    np.testing.assert_allclose(r["M"], M - np.ones((3, 3)) @ X2.T)


def test_tucker_decomposition_value():
    """A[i, j, k] = M[i, p] M'[j, q] M''[k, r] C[p, q, r], summed over p, q, r."""
    rng = np.random.default_rng(3)
    M, M1, M2, C = rng.normal(size=(3, 2)), rng.normal(size=(2, 2)), rng.normal(size=(4, 2)), rng.normal(size=(2, 2, 2))
    src = (f"M = {lit(M)}\nM' = {lit(M1)}\nM'' = {lit(M2)}\nC = {lit(C)}\n"
           "A[i, j, k] = M[i, p] M'[j, q] M''[k, r] C[p, q, r]\nA?\n")
    want = np.zeros((3, 2, 4))
    for i, j, k, p, q, r in np.ndindex(3, 2, 4, 2, 2, 2):
        want[i, j, k] += M[i, p] * M1[j, q] * M2[k, r] * C[p, q, r]
    same(answers(src)["A"], want)


# --------------------------------------------------- section 4.1: CNN

def test_cnn_with_pooling_value():
    """Features[x, y] = relu(Filter[dx, dy, ch] Image[x+dx, y+dy, ch]) is a valid convolution
    (x takes N - D + 1 positions, section 16.4); x/S pools S x S blocks, summed with =,
    maximised with max=; convolution and pooling in one equation sum the relu'd features."""
    rng = np.random.default_rng(7)
    image = rng.integers(-2, 3, size=(5, 5, 2)).astype(float)
    filt = np.array([[[1, 0], [0, -1]], [[0.5, 0.5], [-1, 1]]])
    src = (f"Image = {lit(image)}\nFilter = {lit(filt)}\nS = 2\n"
           "Features[x, y] = relu(Filter[dx, dy, ch] Image[x+dx, y+dy, ch])\n"
           "Pooled[x/S, y/S] = Features[x, y]\nPoolMax[x/S, y/S] max= Features[x, y]\n"
           "PoolConv[x/S, y/S] = relu(Filter[dx, dy, ch] Image[x+dx, y+dy, ch])\n"
           "Features?\nPooled?\nPoolMax?\nPoolConv?\n")
    n = 5 - 2 + 1
    feats = np.zeros((n, n))
    for x in range(n):
        for y in range(n):
            acc = 0.0
            for dx in range(2):
                for dy in range(2):
                    for ch in range(2):
                        acc += filt[dx, dy, ch] * image[x + dx, y + dy, ch]
            feats[x, y] = max(acc, 0.0)
    m = math.ceil(n / 2)
    psum, pmax = np.zeros((m, m)), np.full((m, m), -np.inf)
    for x in range(n):
        for y in range(n):
            psum[x // 2, y // 2] += feats[x, y]
            pmax[x // 2, y // 2] = max(pmax[x // 2, y // 2], feats[x, y])
    a = answers(src)
    same(a["Features"], feats)
    same(a["Pooled"], psum)
    same(a["PoolMax"], pmax)
    same(a["PoolConv"], psum)


# ---------------------------------------------------- Table 1: GNN

def test_gnn_table1_value():
    """Table 1 on a 3-node path graph, 2 layers: computed layer by layer in numpy.  The layer
    index l ranges over Emb's L+1 layers, so WP has a (zero) slice for l = L; the update it
    would feed, Emb[n, L+1, d], is outside Emb and not written."""
    X = np.array([[1.0, -0.5], [0.0, 1.0], [0.5, 0.5]])
    WP = np.array([[[1.0, -0.5], [0.5, 1.0]], [[0.5, 0.0], [-1.0, 2.0]], [[0, 0], [0, 0]]])
    edges = [(0, 1), (1, 0), (1, 2), (2, 1)]
    WAgg, WSelf, WOut, L = 0.7, 0.4, np.array([1.0, -2.0]), 2
    src = ("".join(f"Neig({a}, {b})\n" for a, b in edges)
           + f"X = {lit(X)}\nWP = {lit(WP)}\nWAgg = {WAgg}\nWSelf = {WSelf}\nWOut = {lit(WOut)}\nL = {L}\n"
           "Emb[n, 0, d] = X[n, d]\n"
           "Z[n, l, d'] = relu(WP[l, d', d] Emb[n, l, d])\n"
           "Agg[n, l, d] = Neig(n, n') Z[n', l, d]\n"
           "Emb[n, l+1, d] = relu(WAgg Agg[n, l, d] + WSelf Emb[n, l, d])\n"
           "YN[n] = sig(WOut[d] Emb[n, L, d])\n"
           "YE[n, n'] = sig(Emb[n, L, d] Emb[n', L, d])\n"
           "YG = sig(WOut[d] Emb[n, L, d])\n"
           "Emb?\nYN?\nYE?\nYG?\n")
    emb = np.zeros((3, L + 1, 2))
    emb[:, 0] = X
    for layer in range(L):
        z = np.maximum(emb[:, layer] @ WP[layer].T, 0)
        agg = np.zeros_like(z)
        for a, b in edges:
            agg[a] += z[b]
        emb[:, layer + 1] = np.maximum(WAgg * agg + WSelf * emb[:, layer], 0)
    last = emb[:, L]
    a = answers(src)
    same(a["Emb"], emb)
    same(a["YN"], np_sig(last @ WOut))
    same(a["YE"], np_sig(last @ last.T))
    same(a["YG"], np_sig(np.sum(last @ WOut)))      # graph classification: n and d summed inside sig


# ------------------------------------------- Table 2: attention, transformer

def test_attention_table2_value():
    """Query/Key/Val projections, Comp = softmax over p' of scaled dot products (dk summed
    before / sqrt(Dk)), Attn = Comp Val."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(4, 3))
    WQ, WK, WV = rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    src = (f"X = {lit(X)}\nWQ = {lit(WQ)}\nWK = {lit(WK)}\nWV = {lit(WV)}\nDk = 2.0\n"
           "Query[p, dk] = WQ[dk, d] X[p, d]\nKey[p, dk] = WK[dk, d] X[p, d]\nVal[p, dv] = WV[dv, d] X[p, d]\n"
           "Comp[p, p'.] = softmax(Query[p, dk] Key[p', dk] / sqrt(Dk))\nAttn[p, dv] = Comp[p, p'] Val[p', dv]\n"
           "Comp?\nAttn?\n")
    q, k, v = X @ WQ.T, X @ WK.T, X @ WV.T
    comp = np.zeros((4, 4))
    for p in range(4):
        scores = np.array([q[p] @ k[p2] / math.sqrt(2.0) for p2 in range(4)])
        comp[p] = np.exp(scores) / np.exp(scores).sum()
    a = answers(src)
    same(a["Comp"], comp)
    same(a["Attn"], comp @ v)


def test_transformer_table2_value():
    """Table 2's transformer with two heads: token embedding, positional encoding, residual
    stream, multi-head attention, concat of the heads (dm = h Dv + dv), lnorm over d, and the
    output softmax over tokens.  Block b reads Stream[b] and writes Stream[b+1]; the last
    block's update is outside Stream and is not written.  lnorm's epsilon is not fixed by
    the docs, hence atol 1e-4 downstream of it."""
    rng = np.random.default_rng(5)
    NB, H, P, D, DK, T = 2, 2, 3, 4, 2, 3
    Emb = rng.normal(size=(T, D))
    WQ, WK, WV = (rng.normal(size=(NB, H, DK, D)) for _ in range(3))
    WS, WO = rng.normal(size=(NB, D, H * DK)), rng.normal(size=(T, D))
    tokens = [2, 0, 1]
    L, De, Dk, B = 10000.0, 4.0, 2.0, 1
    src = ("index p, p' : 3\nindex t : 3\nindex d, dm : 4\nindex dk, dv : 2\nindex h : 2\nindex b : 2\n"
           "tensor Stream[2, 3, 4] : real\n"
           + "".join(f"X({p}, {t})\n" for p, t in enumerate(tokens))
           + f"Emb = {lit(Emb)}\nWQ = {lit(WQ)}\nWK = {lit(WK)}\nWV = {lit(WV)}\nWS = {lit(WS)}\nWO = {lit(WO)}\n"
           f"L = {L}\nDe = {De}\nDk = {Dk}\nB = {B}\n"
           "EmbX[p, d] = X(p, t) Emb[t, d]\n"
           "PosEnc[p, d] = Even(d) sin(p / L^(d / De)) + Odd(d) cos(p / L^((d - 1) / De))\n"
           "Stream[0, p, d] = EmbX[p, d] + PosEnc[p, d]\n"
           "Query[b, h, p, dk] = WQ[b, h, dk, d] Stream[b, p, d]\n"
           "Key[b, h, p, dk] = WK[b, h, dk, d] Stream[b, p, d]\n"
           "Val[b, h, p, dv] = WV[b, h, dv, d] Stream[b, p, d]\n"
           "Comp[b, h, p, p'.] = softmax(Query[b, h, p, dk] Key[b, h, p', dk] / sqrt(Dk))\n"
           "Attn[b, h, p, dv] = Comp[b, h, p, p'] Val[b, h, p', dv]\n"
           "Merge[b, p, dm] = concat(Attn[b, h, p, dv])\n"
           "Stream[b+1, p, d.] = lnorm(WS[b, d, dm] Merge[b, p, dm] + Stream[b, p, d])\n"
           "Y[p, t.] = softmax(WO[t, d] Stream[B, p, d])\n"
           "PosEnc?\nComp?\nMerge?\nStream?\nY?\n")
    pos = np.zeros((P, D))
    for p in range(P):
        for d in range(D):
            pos[p, d] = math.sin(p / L ** (d / De)) if d % 2 == 0 else math.cos(p / L ** ((d - 1) / De))
    stream = np.zeros((NB, P, D))
    stream[0] = Emb[tokens] + pos
    comp, merge = np.zeros((NB, H, P, P)), np.zeros((NB, P, H * DK))
    for b in range(NB):
        for h in range(H):
            q, k, v = stream[b] @ WQ[b, h].T, stream[b] @ WK[b, h].T, stream[b] @ WV[b, h].T
            comp[b, h] = np_softmax(q @ k.T / math.sqrt(Dk), axis=1)
            merge[b, :, h * DK:(h + 1) * DK] = comp[b, h] @ v
        if b + 1 < NB:
            stream[b + 1] = np_lnorm(merge[b] @ WS[b].T + stream[b], axis=1)
    a = answers(src)
    same(a["PosEnc"], pos)
    same(a["Comp"], comp, atol=1e-4)
    same(a["Merge"], merge, atol=1e-4)
    same(a["Stream"], stream, atol=1e-4)
    same(a["Y"], np_softmax(stream[B] @ WO.T, axis=1), atol=1e-4)


# ---------------------------------------------- section 4.3: kernel machines

KERNEL_X = np.array([[1.0, 0.5], [-1.0, 1.0], [0.5, -1.5], [2.0, 1.0], [0.0, 1.0]])
KERNEL_Y = np.array([1.0, -1.0, -1.0, 1.0, 0.0])
KERNEL_A = np.array([0.3, 0.2, 0.6, 0.1, 0.0])


def _kernel_src(kernel: str) -> str:
    return ("domain Ex = {S0, S1, S2, S3, Q}\nindex i, i' : Ex\n"
            f"X = {lit(KERNEL_X)}\nY = {lit(KERNEL_Y)}\nA = {lit(KERNEL_A)}\nB = -0.2\nVar = 1.5\n"
            f"K[i, i'] = {kernel}\nY[Q] = sig(A[i] Y[i] K[Q, i] + B)\nK?\nY?\nY[Q]?\n")


def _kernel_expected(K):
    y = KERNEL_Y.copy()
    y[4] = 1 / (1 + math.exp(-(np.sum(KERNEL_A * KERNEL_Y * K[4]) - 0.2)))   # B added once
    return y


def test_polynomial_kernel_value():
    """K[i, i'] = (X[i, j] X[i', j])^n: j is summed inside the power (a power of dot products);
    Y[Q] = f(A[i] Y[i] K[Q, i] + B) with f = sig; Y[Q] starts at 0 and A[Q] = 0."""
    K = (KERNEL_X @ KERNEL_X.T) ** 3
    a = answers(_kernel_src("(X[i, j] X[i', j])^3"))
    same(a["K"], K)
    y = _kernel_expected(K)
    same(a["Y"], y)
    same(a["Y[Q]"], y[4])


def test_gaussian_kernel_value():
    """K[i, i'] = exp(-(X[i, j] - X[i', j])^2 / Var): j is summed inside exp, over the squared
    differences."""
    n = len(KERNEL_X)
    K = np.array([[math.exp(-sum((KERNEL_X[i, j] - KERNEL_X[k, j]) ** 2 for j in range(2)) / 1.5)
                   for k in range(n)] for i in range(n)])
    a = answers(_kernel_src("exp(-(X[i, j] - X[i', j])^2 / Var)"))
    same(a["K"], K)
    same(a["Y[Q]"], _kernel_expected(K)[4])


# ------------------------------------------ section 4.4, Table 3: graphical models

BN = """\
PA = [0.3, 0.7]
PB = [0.6, 0.4]
CPTC = [[[0.9, 0.5], [0.4, 0.1]],
        [[0.1, 0.5], [0.6, 0.9]]]
PC[c] = CPTC[c, a, b] PA[a] PB[b]
T[a, b, c] = PA[a] PB[b] CPTC[c, a, b]
Z = T[a, b, c]
PAm[a] = T[a, b, c]
Ev(1)
QA(1)
PQE = T[a, b, c] QA(a) Ev(c)
PE = T[a, b, c] Ev(c)
PQgivenE = PQE / PE
PAgivenE[a] = T[a, b, c] Ev(c) / PE
PC?
T?
Z?
PAm?
PQgivenE?
PAgivenE?
"""


def test_bayesian_network_table3_value():
    """A v-structure A -> C <- B: the paper's P_X[x] = CPT_X[x, par1, par2] P_1[par1] P_2[par2],
    the joint as a join, marginalisation as projection, Z = 1, and P(Q|E) = Prog(Q,E)/Prog(E)
    with Q: A = 1 and E: C = 1 as facts, all enumerated in numpy."""
    PA, PB = np.array([0.3, 0.7]), np.array([0.6, 0.4])
    CPTC = np.array([[[0.9, 0.5], [0.4, 0.1]], [[0.1, 0.5], [0.6, 0.9]]])   # [c, a, b]
    joint = np.zeros((2, 2, 2))
    for a, b, c in np.ndindex(2, 2, 2):
        joint[a, b, c] = PA[a] * PB[b] * CPTC[c, a, b]
    pe = joint[:, :, 1].sum()
    ans = answers(BN)
    same(ans["PC"], joint.sum(axis=(0, 1)))
    same(ans["T"], joint)
    same(ans["Z"], 1.0)
    same(ans["PAm"], PA)
    same(ans["PQgivenE"], joint[1, :, 1].sum() / pe)
    same(ans["PAgivenE"], joint[:, :, 1].sum(axis=1) / pe)


def test_partition_function_value():
    """An unnormalised factor graph: Z = T[...] sums the root factor; a tree-like program
    (messages M1, M2, the paper's join tree) gives the same Z; P(b) is the projection / Z."""
    F1, F2 = np.array([[1.0, 2.0], [3.0, 0.5]]), np.array([[2.0, 1.0], [0.5, 4.0]])
    src = (f"F1 = {lit(F1)}\nF2 = {lit(F2)}\nT[a, b, c] = F1[a, b] F2[b, c]\nZ = T[a, b, c]\n"
           "M1[b] = F1[a, b]\nM2[b] = F2[b, c]\nZT = M1[b] M2[b]\nPb[b] = T[a, b, c] / Z\nZ?\nZT?\nPb?\n")
    T = np.einsum("ab,bc->abc", F1, F2)
    z = T.sum()
    a = answers(src)
    same(a["Z"], z)
    same(a["ZT"], z)
    same(a["Pb"], T.sum(axis=(0, 2)) / z)


# ------------------------------------------- sections 2.1, 4.2: Datalog

def test_datalog_ancestor_aunt_value():
    """The paper's facts and rules (plus a Sister fact): a Python fixpoint over sets of tuples.
    Ancestor's fact and its two rules are OR-ed."""
    src = DATALOG.replace("Ancestor(Alice, x)?", "Sister(Eve, Bob)\nParent(Bob, Dora)\nAncestor(Alice, x)?") \
        + "Ancestor(Charlie, Alice)?\nAncestor(x, y)?\nAunt(x, z)?\n"
    parent = {("Bob", "Charlie"), ("Bob", "Dora")}
    anc = datalog_fixpoint({("Alice", "Bob")} | parent,
                           lambda s: {(x, z) for x, y in s for y2, z in parent if y == y2})
    aunt = {(x, z) for x, y in {("Eve", "Bob")} for y2, z in parent if y == y2}
    a = answers(src)
    assert tuples(a["Ancestor(Alice, x)"]) == {(y,) for x, y in anc if x == "Alice"}
    assert a["Ancestor(Alice, Charlie)"]["value"] is (("Alice", "Charlie") in anc)
    assert a["Ancestor(Charlie, Alice)"]["value"] is (("Charlie", "Alice") in anc)
    assert tuples(a["Ancestor(x, y)"]) == anc
    assert tuples(a["Aunt(x, z)"]) == aunt


def test_datalog_tensor_form_value():
    """A_xz = H(S_xy P_yz) as a numeric equation, and the recursive rule in equation form
    Ancestor(x, z) = Ancestor(x, y) Parent(y, z): both are Boolean matrix products, stepped."""
    S = np.array([[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    P = np.array([[0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0]])
    a = answers(f"S = {lit(S)}\nP = {lit(P)}\nA[x, z] = step(S[x, y] P[y, z])\nA?\n")
    same(a["A"], np_step(S @ P))
    edges = [(0, 1), (1, 2), (2, 3), (3, 1)]
    src = ("".join(f"Parent({x}, {y})\n" for x, y in edges)
           + "Ancestor(x, y) = Parent(x, y)\nAncestor(x, z) = Ancestor(x, y) Parent(y, z)\nAncestor(x, y)?\n")
    closure = datalog_fixpoint(set(edges), lambda s: {(x, z) for x, y in s for y2, z in edges if y == y2})
    assert tuples(answers(src)["Ancestor(x, y)"]) == closure


# ------------------------------------------- section 5: embedding space

OBJS = ["Ann", "Ben", "Cy", "Di"]


def _unit_rows(n, dim, seed):
    g = np.random.default_rng(seed).normal(size=(n, dim))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def test_embedding_superposition_value():
    """S[d] = V[x] Emb[x, d] (a set as a superposition) and D[A] = S[d] Emb[A, d] (membership,
    about 1 in the set and 0 outside), for every A and for the constant A = Ann."""
    emb = _unit_rows(4, 64, 1)
    V = np.array([1.0, 0.0, 1.0, 0.0])
    src = ("domain Obj = {Ann, Ben, Cy, Di}\nindex x : Obj\n"
           f"Emb = {lit(emb)}\nV = {lit(V)}\nS[d] = V[x] Emb[x, d]\nD[x] = S[d] Emb[x, d]\n"
           "DAnn = S[d] Emb[Ann, d]\nIn(x) = step(D[x] - 0.5)\nS?\nD?\nDAnn?\nIn(x)?\n")
    S = V @ emb
    D = emb @ S
    a = answers(src)
    same(a["S"], S)
    same(a["D"], D)
    same(a["DAnn"], D[0])
    assert tuples(a["In(x)"]) == {(OBJS[x],) for x in range(4) if D[x] > 0.5} == {("Ann",), ("Cy",)}


def test_embedding_relation_value():
    """EmbR[i, j] = R(x, y) Emb[x, i] Emb[y, j] (a sum of outer products); D[A, B] =
    EmbR[i, j] Emb[A, i] Emb[B, j] and its expanded form R(x, y) (Emb[x, i] Emb[A, i])
    (Emb[y, j] Emb[B, j]) are the same number, about R(A, B); D[A, y], D[x, y]; the
    thresholded D is R; sig(D - 1/2, T) with a temperature; the Gram matrix Sim."""
    emb = _unit_rows(4, 64, 2)
    R = {("Ann", "Ben"), ("Ben", "Cy"), ("Di", "Ann")}
    src = ("domain Obj = {Ann, Ben, Cy, Di}\nindex x, x', y : Obj\n"
           + "".join(f"R({a}, {b})\n" for a, b in sorted(R))
           + f"Emb = {lit(emb)}\nT = 0.1\n"
           "EmbR[i, j] = R(x, y) Emb[x, i] Emb[y, j]\n"
           "DAB = EmbR[i, j] Emb[Ann, i] Emb[Ben, j]\n"
           "DAB2 = R(x, y) (Emb[x, i] Emb[Ann, i]) (Emb[y, j] Emb[Ben, j])\n"
           "DAy[y] = EmbR[i, j] Emb[Ann, i] Emb[y, j]\n"
           "D[x, y] = EmbR[i, j] Emb[x, i] Emb[y, j]\n"
           "Rec(x, y) = step(D[x, y] - 0.5)\nSoft[x, y] = sig(D[x, y] - 0.5, T)\n"
           "Sim[x, x'] = Emb[x, d] Emb[x', d]\n"
           "EmbR?\nDAB?\nDAB2?\nDAy?\nD?\nRec(x, y)?\nSoft?\nSim?\n")
    Rm = np.zeros((4, 4))
    for a, b in R:
        Rm[OBJS.index(a), OBJS.index(b)] = 1
    emb_r = np.zeros((64, 64))
    for x, y in np.ndindex(4, 4):
        emb_r += Rm[x, y] * np.outer(emb[x], emb[y])
    D = emb @ emb_r @ emb.T
    a = answers(src)
    same(a["EmbR"], emb_r)
    same(a["DAB"], D[0, 1])
    same(a["DAB2"], D[0, 1])
    same(a["DAy"], D[0])
    same(a["D"], D)
    assert tuples(a["Rec(x, y)"]) == {(OBJS[x], OBJS[y]) for x, y in np.ndindex(4, 4) if D[x, y] > 0.5} == R
    same(a["Soft"], np_sig(D - 0.5, 0.1))
    same(a["Sim"], emb @ emb.T)


def test_embedded_rule_value():
    """Cons(x, z) <- Ant1(x, y), Ant2(y, z) in embedding space: EmbAnt[i, j] = Ant(x, y)
    Emb[x, i] Emb[y, j], EmbCons[i, k] = EmbAnt1[i, j] EmbAnt2[j, k], read back by
    joining with the arguments' embeddings.  With orthonormal embeddings the reading is
    exactly the number of y joining x to z, so stepped it is the Datalog rule."""
    emb = np.linalg.qr(np.random.default_rng(4).normal(size=(6, 6)))[0][:4]   # orthonormal rows
    ant1, ant2 = {(0, 1), (0, 2), (3, 2)}, {(1, 3), (2, 3), (2, 0)}
    src = ("".join(f"Ant1({a}, {b})\n" for a, b in sorted(ant1)) + "".join(f"Ant2({a}, {b})\n" for a, b in sorted(ant2))
           + f"Emb = {lit(emb)}\n"
           "EmbAnt1[i, j] = Ant1(x, y) Emb[x, i] Emb[y, j]\nEmbAnt2[i, j] = Ant2(x, y) Emb[x, i] Emb[y, j]\n"
           "EmbCons[i, k] = EmbAnt1[i, j] EmbAnt2[j, k]\nD[x, z] = EmbCons[i, k] Emb[x, i] Emb[z, k]\n"
           "Cons(x, z) <- Ant1(x, y), Ant2(y, z)\nD?\nCons(x, z)?\n")
    A1, A2 = np.zeros((4, 4)), np.zeros((4, 4))
    for x, y in ant1:
        A1[x, y] = 1
    for x, y in ant2:
        A2[x, y] = 1
    e1 = emb.T @ A1 @ emb
    e2 = emb.T @ A2 @ emb
    D = emb @ (e1 @ e2) @ emb.T
    a = answers(src)
    same(a["D"], D)
    np.testing.assert_allclose(D, A1 @ A2, atol=1e-12)
    assert tuples(a["Cons(x, z)"]) == {(x, z) for x, y in ant1 for y2, z in ant2 if y == y2}


# ---------------------------------------- section 16: evaluation order

def test_normalised_pagerank_gauss_seidel_value():
    """docs/language.md 16.1's example of forward chaining in turn: U, Z, R in program order,
    each reading what the earlier ones just wrote; the fixpoint by a plain Python loop."""
    P = np.array([[0, 0.5, 1], [0.5, 0, 0], [0.5, 0.5, 0]])
    src = f"P = {lit(P)}\nU[i] = 0.15 + 0.85 P[i, j] R[j]\nZ = U[i]\nR[i] = U[i] / Z\nR?\n"
    r = np.zeros(3)
    for _ in range(1000):
        u = 0.15 + 0.85 * P @ r
        new = u / u.sum()
        if np.max(np.abs(new - r)) < 1e-12:
            break
        r = new
    same(answers(src)["R"], r, atol=1e-7)


def test_shifted_reads_keep_the_extent_value():
    """A[i] = X[i-1] and B[i] = X[i+1] both have X's length; the position whose read falls
    outside X is not written (0)."""
    a = answers("X = [1, 2, 3, 4]\nA[i] = X[i-1]\nB[i] = X[i+1]\nA?\nB?\n")
    same(a["A"], [0, 1, 2, 3])
    same(a["B"], [2, 3, 4, 0])
