"""The equivalence rules of the formal einsum language, as data.

In: formal terms (``tlang.formal``).  Out: ``RULES``, a table from name to
``Rule``: the rule's name, its catalogue number (R1-R9 of the notes on Wenig
et al., arXiv 2509.20020) and paper section, the pattern as text, its
preconditions (each a named predicate with a sentence), the semirings it
is claimed for (property-tested in ``tests/test_rewrite_rules.py``, each
precondition with a negative test), a worked example, and whether it may
cross a nonlinearity (none may: ``NONLINEAR_BARRIERS`` lists the classic
counterexamples).  ``rule.apply(term, **params)`` checks the preconditions
and rewrites; ``check=False`` rewrites unconditionally (for the negative
tests).  Rules rewrite the *top* of the term they are given; the engine
(``tlang.rewrite.engine``) finds sites and records applications.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import ir
from ..formal import Apply, Const, Delta, Ein, FormalError, IStr, Leaf, Plus, Term
from ..formal_ir import _UF, fresh

ALL = ("sumprod", "boolean", "maxprod", "minprod", "maxplus", "minplus", "logsumexp")
ABSORBING = ("sumprod", "boolean", "minprod", "maxplus", "minplus", "logsumexp")  # zero (x) zero = zero
REAL = ("sumprod", "boolean", "maxplus", "minplus", "logsumexp")  # semirings over all reals (the compiler's)


class RuleError(FormalError):
    """A rule does not match, or a precondition fails."""


@dataclass(frozen=True)
class Precondition:
    name: str
    text: str
    holds: Callable[..., bool] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Rule:
    name: str
    catalogue: str
    section: str
    pattern: str
    preconditions: tuple[Precondition, ...]
    semirings: tuple[str, ...]
    rewrite: Callable[..., Term] = field(compare=False, repr=False)
    example: tuple[str, str] = ("", "")
    crosses_nonlinearity: bool = False
    note: str = ""

    def violated(self, t: Term, **params) -> list[str]:
        """Names of the preconditions that fail at ``t``."""
        return [p.name for p in self.preconditions if not p.holds(t, **params)]

    def apply(self, t: Term, check: bool = True, **params) -> Term:
        if check:
            bad = self.violated(t, **params)
            if bad:
                raise RuleError(f"{self.name}: precondition {', '.join(bad)} fails")
        return self.rewrite(t, **params)


# ------------------------------------------------------------ helpers

def _ein(t: Term, what: str) -> Ein:
    if not isinstance(t, Ein):
        raise RuleError(f"{what} applies to an einsum, not {type(t).__name__}")
    return t


def _sub(s: IStr, m: dict[str, str]) -> IStr:
    return tuple(m.get(x, x) for x in s)


def _extents(e: Ein, m: dict[str, str], keep: set[str] | None = None) -> tuple[tuple[str, int], ...]:
    out: dict[str, int] = {}
    for k, n in e.extents:
        k2 = m.get(k, k)
        if keep is None or k2 in keep:
            out[k2] = n
    return tuple(sorted(out.items()))


def _syms(strings) -> set[str]:
    return {x for s in strings for x in s}


def _renamed(e: Ein, m: dict[str, str]) -> Ein:
    return Ein(tuple(_sub(s, m) for s in e.inputs), _sub(e.output, m), e.operands, e.semiring, _extents(e, m))


# --------------------------------------------------------- R1 renaming

def _full(e: Ein, sigma: dict[str, str]) -> dict[str, str]:
    return {x: sigma.get(x, x) for x in e.symbols()}


def _rename(t: Term, sigma: dict[str, str]) -> Term:
    return _renamed(_ein(t, "renaming"), _full(t, sigma))


RENAME = Rule(
    "rename", "R1", "§4-5 (alpha-equivalence)",
    "#(I_1..I_n -> I; T..)  =>  #(sI_1..sI_n -> sI; T..)",
    (Precondition("injective", "the renaming s is injective on the symbols of the expression "
                  "(identifying two symbols is multiplication by a delta, not a renaming)",
                  lambda t, sigma: len(set(_full(t, sigma).values())) == len(t.symbols())),),
    ALL, _rename, ("#(ij,jk->ik; A, B)", "#(xy,yz->xz; A, B)"))


# ------------------------------------------------- R2 commutativity

def _commute(t: Term, perm, string_perm=None) -> Term:
    e = _ein(t, "commutativity")
    sp = perm if string_perm is None else string_perm
    if sorted(perm) != list(range(len(e.operands))) or sorted(sp) != sorted(perm):
        raise RuleError("commutativity needs a permutation of the operands")
    return Ein(tuple(e.inputs[k] for k in sp), e.output, tuple(e.operands[k] for k in perm),
               e.semiring, e.extents)


COMMUTE = Rule(
    "commute", "R2", "§5 (commutativity)",
    "#(.., I_j, .., I_k, .. -> I; .., T_j, .., T_k, ..)  =>  #(.., I_k, .., I_j, .. -> I; .., T_k, .., T_j, ..)",
    (Precondition("strings-follow-operands", "each operand moves together with its index string",
                  lambda t, perm, string_perm=None: string_perm is None or list(string_perm) == list(perm)),),
    ALL, _commute, ("#(ij,jk->ik; A, B)", "#(jk,ij->ik; B, A)"),
    note="commuting operands is not AB = BA for matrices: the strings travel with them")


# ---------------------------------------------------- R3 grouping

def _group(t: Term, group, u: IStr) -> Term:
    e = _ein(t, "grouping")
    g = sorted(set(group))
    if not g or any(k < 0 or k >= len(e.operands) for k in g):
        raise RuleError("grouping needs operand positions of the expression")
    inner_syms = _syms(e.inputs[k] for k in g) | set(u)
    inner = Ein(tuple(e.inputs[k] for k in g), tuple(u), tuple(e.operands[k] for k in g), e.semiring,
                tuple((k, n) for k, n in e.extents if k in inner_syms))
    rest = [k for k in range(len(e.operands)) if k not in g]
    inputs = [e.inputs[k] for k in rest]
    ops = [e.operands[k] for k in rest]
    inputs.insert(0, tuple(u))
    ops.insert(0, inner)
    return Ein(tuple(inputs), e.output, tuple(ops), e.semiring, e.extents)


def _interface(t: Ein, group, u) -> bool:
    g = set(group)
    a = _syms(t.inputs[k] for k in g)
    b = _syms(t.inputs[k] for k in range(len(t.inputs)) if k not in g) | set(t.output)
    return (a & b) <= set(u)


GROUP = Rule(
    "group", "R3", "§5 (associativity) / §6 (nesting)",
    "#(I_A.., I_B.. -> I; T_A.., T_B..)  =>  #(u, I_B.. -> I; #(I_A.. -> u; T_A..), T_B..)",
    (Precondition("interface", "every symbol the group shares with the other operands or the output "
                  "stays in the group's output u", _interface),
     Precondition("within-group", "u uses only symbols of the group",
                  lambda t, group, u: set(u) <= _syms(t.inputs[k] for k in group))),
    ALL, _group, ("#(ij,jk,kl->il; A, B, C)", "#(ik,kl->il; #(ij,jk->ik; A, B), C)"),
    note="every contraction path is a sequence of groupings of two operands")


# ------------------------------------------------ R4 distributivity

def _distribute(t: Term, k: int) -> Term:
    e = _ein(t, "distributivity")
    p = e.operands[k]
    if not isinstance(p, Plus):
        raise RuleError("distributivity needs an operand that is a sum (Plus)")
    return Plus(tuple(Ein(e.inputs, e.output, e.operands[:k] + (x,) + e.operands[k + 1:], e.semiring, e.extents)
                      for x in p.terms), e.semiring)


DISTRIBUTE = Rule(
    "distribute", "R4", "§5 (distributivity)",
    "#(I_1, I_2.. -> I; T (+) T', T_2..)  =>  #(I_1, I_2.. -> I; T, T_2..) (+) #(I_1, I_2.. -> I; T', T_2..)",
    (Precondition("same-semiring", "the sum inside the operand is the einsum's own semiring sum",
                  lambda t, k: isinstance(t.operands[k], Plus) and t.operands[k].semiring == t.semiring),),
    ALL, _distribute, ("#(ij,j->i; A, (x + y))", "(#(ij,j->i; A, x) + #(ij,j->i; A, y))"))


# -------------------------------------------- R5 early aggregation

def _private(t: Ein, k: int) -> tuple[str, ...]:
    others = _syms(s for j, s in enumerate(t.inputs) if j != k) | set(t.output)
    return tuple(x for x in dict.fromkeys(t.inputs[k]) if x not in others)


def _early(t: Term, k: int, symbols=None) -> Term:
    e = _ein(t, "early aggregation")
    agg = tuple(_private(e, k) if symbols is None else symbols)
    kept = tuple(x for x in dict.fromkeys(e.inputs[k]) if x not in agg)
    inner = Ein((e.inputs[k],), kept, (e.operands[k],), e.semiring,
                tuple((s, n) for s, n in e.extents if s in e.inputs[k]))
    return Ein(e.inputs[:k] + (kept,) + e.inputs[k + 1:], e.output,
               e.operands[:k] + (inner,) + e.operands[k + 1:], e.semiring, e.extents)


EARLY = Rule(
    "early-aggregation", "R5", "§5 (a grouping of one operand)",
    "#(I_k, .. -> I; T_k, ..)  =>  #(I_k \\ P, .. -> I; #(I_k -> I_k \\ P; T_k), ..)",
    (Precondition("private", "the aggregated symbols P occur in no other operand and not in the output",
                  lambda t, k, symbols=None: symbols is None or set(symbols) <= set(_private(t, k))),),
    ALL, _early, ("#(ij,jk->i; A, B)", "#(ij,j->i; A, #(jk->j; B))"),
    note="also takes a trace or a diagonal first")


# ------------------------------------------------ R6 scalar factoring

def _scalar(t: Term, k: int) -> Term:
    e = _ein(t, "scalar factoring")
    rest = [j for j in range(len(e.operands)) if j != k]
    inner = Ein(tuple(e.inputs[j] for j in rest), e.output, tuple(e.operands[j] for j in rest), e.semiring,
                e.extents)
    return Ein(((), e.output), e.output, (e.operands[k], inner), e.semiring, e.extents)


SCALAR = Rule(
    "scalar-factor", "R6", "§5 / §7 (scalars)",
    "#(I_1..I_n, '' -> I; T_1..T_n, c)  =>  #('', I -> I; c, #(I_1..I_n -> I; T_1..T_n))",
    (Precondition("scalar", "the factored operand has the empty index string",
                  lambda t, k: t.inputs[k] == ()),),
    ALL, _scalar, ("#(ij,->i; A, c)", "#(,i->i; c, #(ij->i; A))"),
    note="a constant *tensor* is not a scalar: split it first (constant-split)")


# ---------------------------------------------- R7 output permutation

def _permute(t: Term) -> Term:
    e = _ein(t, "output permutation")
    if len(e.operands) != 1 or not isinstance(e.operands[0], Ein):
        raise RuleError("output permutation needs #(I -> s; #(.. -> I; ..))")
    inner, s = e.operands[0], e.inputs[0]
    out = tuple(inner.output[s.index(x)] for x in e.output)
    return Ein(inner.inputs, out, inner.operands, inner.semiring, inner.extents)


PERMUTE = Rule(
    "output-permutation", "R7", "§4 (transposition is the order of the output string)",
    "#(I -> pI; #(I_1..I_n -> I; T..))  =>  #(I_1..I_n -> pI; T..)",
    (Precondition("distinct-string", "the transposed string I has distinct symbols",
                  lambda t: len(set(t.inputs[0])) == len(t.inputs[0])),
     Precondition("permutation", "the new output is a permutation of I",
                  lambda t: sorted(t.output) == sorted(t.inputs[0]))),
    ALL, _permute, ("#(ik->ki; #(ij,jk->ik; A, B))", "#(ij,jk->ki; A, B)"),
    note="lets the compiler push a transpose into the output string for free")


# --------------------------------------------------- §6 denesting

def _denest(t: Term, k: int, rename_apart: bool = True, identify: bool = True, general: bool = False,
            avoid: tuple[str, ...] = ()) -> Term:
    e = _ein(t, "denesting")
    f = e.operands[k]
    if not isinstance(f, Ein):
        raise RuleError("denesting needs an operand that is an einsum")
    if len(f.output) != len(e.inputs[k]):
        raise RuleError("the inner output and the outer string differ in length")
    if general and identify:  # union-find over the index-symbol graph: u_j ~ u_l where v_j = v_l
        uf = _UF(e.symbols())
        first: dict[str, str] = {}
        for v, u in zip(f.output, e.inputs[k]):
            if v in first:
                uf.union(u, first[v])
            else:
                first[v] = u
        order = {x: (x not in e.output, n) for n, x in enumerate(e.symbols())}
        classes: dict[str, list[str]] = {}
        for x in e.symbols():
            classes.setdefault(uf.find(x), []).append(x)
        rep = {x: min(c, key=order.__getitem__) for c in classes.values() for x in c}
        e = _renamed(e, rep)
    u = e.inputs[k]
    outer = set(e.symbols())
    used = outer | set(f.symbols()) | set(avoid)
    m: dict[str, str] = {}
    for x in f.bound():
        m[x] = fresh(x, used) if rename_apart and x in outer | set(u) | set(avoid) else x
    for v, x in zip(f.output, u):
        m[v] = x
    inputs = e.inputs[:k] + tuple(_sub(s, m) for s in f.inputs) + e.inputs[k + 1:]
    ops = e.operands[:k] + f.operands + e.operands[k + 1:]
    ext = dict(e.extents)
    ext.update(_extents(f, m))
    return Ein(inputs, e.output, ops, e.semiring, tuple(sorted(ext.items())))


def _apart(t, k, rename_apart=True, **_):
    f = t.operands[k]
    return rename_apart or not (set(f.bound()) & (set(t.symbols()) | set(t.inputs[k])))


def _same_sr(t, k, **_):
    return isinstance(t.operands[k], Ein) and t.operands[k].semiring == t.semiring


DENEST = Rule(
    "denest", "§6", "§6 (denesting, restricted case)",
    "#(.., u, .. -> I; .., #(J_1..J_m -> v; S..), ..)  =>  #(.., J_1[v:=u]..J_m[v:=u], .. -> I; .., S.., ..)",
    (Precondition("distinct-output", "the inner output v has no repeated symbol (else: denest-general)",
                  lambda t, k, **_: len(set(t.operands[k].output)) == len(t.operands[k].output)),
     Precondition("rename-apart", "the inner bound symbols are renamed apart from the outer symbols",
                  _apart),
     Precondition("same-semiring", "inner and outer einsum aggregate in the same semiring", _same_sr)),
    ALL, _denest, ("#(ik,kl->il; #(ij,jk->ik; A, B), C)", "#(ij,jk,kl->il; A, B, C)"))


def _denest_general(t: Term, k: int, rename_apart: bool = True, identify: bool = True,
                    avoid: tuple[str, ...] = ()) -> Term:
    return _denest(t, k, rename_apart, identify, general=True, avoid=avoid)


DENEST_GENERAL = Rule(
    "denest-general", "§6", "§6 (denesting, general case)",
    "#(.., u, .. -> I; .., #(.. -> v; S..), ..)  =>  identify u_j ~ u_l where v_j = v_l (union-find), then denest",
    (Precondition("identify", "outer symbols facing equal inner output symbols are identified "
                  "(union-find over the index-symbol graph)",
                  lambda t, k, identify=True, **_: identify or
                  len(set(t.operands[k].output)) == len(t.operands[k].output)),
     Precondition("rename-apart", "the inner bound symbols are renamed apart from the outer symbols",
                  _apart),
     Precondition("same-semiring", "inner and outer einsum aggregate in the same semiring", _same_sr)),
    ABSORBING, _denest_general, ("#(ab,b->a; #(i->ii; v), w)", "#(a,a->a; v, w)"),
    note="needs zero (x) x = zero: off the inner diagonal the product vanishes")


# ---------------------------------------------- R8 delta elimination

def _delta_classes(e: Ein, k: int) -> dict[str, str]:
    s = e.inputs[k]
    o = len(s) // 2
    uf = _UF(e.symbols())
    for a, b in zip(s[:o], s[o:]):
        uf.union(b, a)
    order = {x: (x not in e.output, n) for n, x in enumerate(e.symbols())}
    classes: dict[str, list[str]] = {}
    for x in e.symbols():
        classes.setdefault(uf.find(x), []).append(x)
    return {x: min(c, key=order.__getitem__) for c in classes.values() for x in c}


def _delta(t: Term, k: int, keep_domain: bool = True) -> Term:
    e = _ein(t, "delta elimination")
    if not isinstance(e.operands[k], Delta) or len(e.inputs[k]) % 2:
        raise RuleError("delta elimination needs a delta operand")
    rep = _delta_classes(e, k)
    inputs = [_sub(s, rep) for j, s in enumerate(e.inputs) if j != k]
    ops = [o for j, o in enumerate(e.operands) if j != k]
    if keep_domain:
        one = ir.SEMIRINGS[e.semiring].one
        for x in dict.fromkeys(rep[y] for y in e.inputs[k]):
            if x not in _syms(inputs) and x not in _sub(e.output, rep):
                inputs.append((x,))  # keep the domain: an all-ones operand
                ops.append(Const(one))
    return Ein(tuple(inputs), _sub(e.output, rep), tuple(ops), e.semiring, _extents(e, rep))


def _keeps_domain(t, k, keep_domain=True):
    if keep_domain:
        return True
    rep = _delta_classes(t, k)
    rest = _syms(_sub(s, rep) for j, s in enumerate(t.inputs) if j != k) | set(_sub(t.output, rep))
    return all(rep[x] in rest for x in t.inputs[k])


DELTA = Rule(
    "delta-elimination", "R8", "§7 (delta tensors)",
    "#(ab, .. -> I; delta, ..)  =>  #(..[b:=a] -> I[b:=a]; ..)",
    (Precondition("keep-domain", "a symbol that no longer occurs anywhere keeps its domain through an "
                  "all-ones operand", _keeps_domain),),
    ABSORBING, _delta, ("#(ij,jk->ik; A, delta)", "#(ik->ik; A)"))


# ---------------------------------------- R9 all-ones operands, constants

def _ones(t: Term, k: int) -> Term:
    e = _ein(t, "all-ones removal")
    return Ein(e.inputs[:k] + e.inputs[k + 1:], e.output, e.operands[:k] + e.operands[k + 1:], e.semiring,
               e.extents)


def _elsewhere(t, k):
    rest = _syms(s for j, s in enumerate(t.inputs) if j != k)
    explicit = {x for x, _ in t.extents}
    return all(x in rest or (x in t.output and x in explicit) for x in t.inputs[k])


ONES = Rule(
    "ones-removal", "R9", "§7 (constant tensors)",
    "#(t, .. -> I; 1, ..)  =>  #(.. -> I; ..)",
    (Precondition("is-one", "the operand is the semiring's one everywhere",
                  lambda t, k: isinstance(t.operands[k], Const)
                  and t.operands[k].value == ir.SEMIRINGS[t.semiring].one),
     Precondition("symbols-elsewhere", "every symbol of its string occurs in another operand (or in the "
                  "output with an explicit extent)", _elsewhere)),
    ALL, _ones, ("#(ij,j->i; A, 1)", "#(ij->i; A)"),
    note="in (R,+,x) dropping the only occurrence of j loses a factor d_j")


def _split(t: Term, k: int) -> Term:
    e = _ein(t, "constant split")
    c = e.operands[k]
    if not isinstance(c, Const):
        raise RuleError("constant split needs a constant operand")
    one = ir.SEMIRINGS[e.semiring].one
    return Ein(e.inputs[:k] + ((), e.inputs[k]) + e.inputs[k + 1:], e.output,
               e.operands[:k] + (Const(c.value), Const(one)) + e.operands[k + 1:], e.semiring, e.extents)


SPLIT = Rule(
    "constant-split", "R9", "§7 (constant tensors)",
    "#(t, .. -> I; c, ..)  =>  #('', t, .. -> I; c, 1, ..)",
    (), ALL, _split, ("#(ij,j->i; A, 3)", "#(ij,,j->i; A, 3, 1)"),
    note="a constant tensor is a scalar times the all-ones tensor")


def vacuous_value(semiring: str, n: int) -> float:
    """The (+)-sum of n ones: what aggregating a symbol of extent n that no operand reads gives."""
    from ..ir_literal import PLUS
    S = ir.SEMIRINGS[semiring]
    return PLUS[S.plus]([S.one] * n)


def _only_here(t, k, symbol):
    others = _syms(s for j, s in enumerate(t.inputs) if j != k) | set(t.output)
    return symbol in t.inputs[k] and symbol not in others


def _vacuous(t: Term, k: int, symbol: str) -> Term:
    e = _ein(t, "constant aggregation")
    ext = dict(e.extents)
    if not isinstance(e.operands[k], Const):
        raise RuleError("constant aggregation needs a constant operand")
    if symbol not in ext:
        raise RuleError(f"constant aggregation needs the extent of '{symbol}'")
    c = vacuous_value(e.semiring, ext[symbol])
    kept = tuple(x for x in e.inputs[k] if x != symbol)
    return Ein(e.inputs[:k] + (kept,) + e.inputs[k + 1:] + ((),), e.output, e.operands + (Const(c),),
               e.semiring, tuple(sorted((x, n) for x, n in ext.items() if x != symbol)))


VACUOUS = Rule(
    "constant-aggregation", "R9", "§7 (constant tensors; derived from the semantics)",
    "#(t, .. -> I; c, ..) with x of extent d only in t  =>  #(t\\x, .., '' -> I; c, .., (+)^d 1)",
    (Precondition("only-here", "the symbol occurs in no other operand and not in the output", _only_here),),
    ALL, _vacuous, ("#(i,j->i; x, 2) with j=3", "#(i,,->i; x, 2, 3)"),
    note="(+)^d 1 is d in (R,+,x), log d for log-sum-exp, and one in idempotent semirings")


RULES: dict[str, Rule] = {r.name: r for r in (RENAME, COMMUTE, GROUP, DISTRIBUTE, EARLY, SCALAR, PERMUTE,
                                              DENEST, DENEST_GENERAL, DELTA, ONES, SPLIT, VACUOUS)}


# ------------------------------------------------- nonlinear barriers

def _barriers() -> tuple[tuple[str, str, Term, Term], ...]:
    A, x, y = Leaf("A"), Leaf("x"), Leaf("y")
    return (
        ("distribute", "relu(x + y) is not relu(x) + relu(y)",
         Ein((("i", "j"), ("j",)), ("i",), (A, Apply("relu", (Plus((x, y)),)))),
         Plus((Ein((("i", "j"), ("j",)), ("i",), (A, Apply("relu", (x,)))),
               Ein((("i", "j"), ("j",)), ("i",), (A, Apply("relu", (y,))))))),
        ("early-aggregation", "sum_j exp(A_ij) is not exp(sum_j A_ij)",
         Ein((("i", "j"),), ("i",), (Apply("exp", (A,)),)),
         Apply("exp", (Ein((("i", "j"),), ("i",), (A,)),))),
        ("denest", "an einsum inside a nonlinearity is not an operand of the outer einsum",
         Ein((("i", "j"), ("j",)), ("i",), (A, Apply("relu", (Ein((("j", "k"),), ("j",), (Leaf("B"),)),)))),
         Apply("relu", (Ein((("i", "j"), ("j", "k")), ("i",), (A, Leaf("B"))),))),
        ("scalar-factor", "relu(c x) is not c relu(x) for c < 0",
         Apply("relu", (Ein((("i",), ()), ("i",), (x, Const(-1.0))),)),
         Ein((("i",), ()), ("i",), (Apply("relu", (x,)), Const(-1.0)))),
    )


NONLINEAR_BARRIERS = _barriers()
"""(rule, why, before, after): moving the rule's rewrite across an elementwise nonlinearity
changes the value (the counterexamples are in tests/test_rewrite_rules.py).  No rule in
``RULES`` crosses a nonlinearity: ``Apply`` is opaque to every pattern."""
