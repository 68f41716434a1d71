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
"""

from __future__ import annotations

import pytest

import tlang
from tlang import ast as A
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
