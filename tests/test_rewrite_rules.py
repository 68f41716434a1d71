"""Every rewrite rule: a property test in each semiring it claims (random shapes and tensors, both
sides by the reference semantics), and for every precondition a negative test: with the
precondition dropped, a counterexample is found.  Also the nonlinear barriers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlang import formal as F
from tlang import ir
from tlang.formal import Apply, Const, Delta, Ein, Leaf, Plus
from tlang.rewrite import NONLINEAR_BARRIERS, RULES, RuleError

DOMAIN = {"sumprod": [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], "boolean": [0.0, 1.0],
          "maxprod": [0.5, 1.0, 2.0, 3.0], "minprod": [0.5, 1.0, 2.0, 3.0],
          "maxplus": [-2.0, -1.0, 0.0, 1.0, 2.0], "minplus": [-2.0, -1.0, 0.0, 1.0, 2.0],
          "logsumexp": [-1.0, 0.0, 0.5, 1.0]}
SYMS = "ijkl"
cfg = settings(max_examples=12, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])


def ref(t, env, sr, ext):
    return F.evaluate(t, env, sr, ext, method="reference")


class Case:
    """Random leaves over symbols with random extents, in one semiring."""

    def __init__(self, draw, sr: str) -> None:
        self.draw, self.sr = draw, sr
        self.ext = {s: draw(st.integers(1, 3)) for s in SYMS}
        self.rng = np.random.default_rng(draw(st.integers(0, 2**31)))
        self.env: dict[str, np.ndarray] = {}

    def string(self, lo=0, hi=3, syms=SYMS):
        return tuple(self.draw(st.lists(st.sampled_from(syms), min_size=lo, max_size=hi)))

    def leaf(self, s) -> Leaf:
        name = f"T{len(self.env)}"
        self.env[name] = self.rng.choice(DOMAIN[self.sr], size=[self.ext[x] for x in s])
        return Leaf(name)

    def flat(self, lo=1, hi=3, out=None) -> Ein:
        inputs = [self.string(1) for _ in range(self.draw(st.integers(lo, hi)))]
        used = list(dict.fromkeys(x for s in inputs for x in s))
        if out is None:
            out = tuple(self.draw(st.permutations(used))[: self.draw(st.integers(0, len(used)))])
        return Ein(tuple(inputs), tuple(out), tuple(self.leaf(s) for s in inputs), self.sr)

    def check(self, before, after):
        a, b = ref(before, self.env, self.sr, self.ext), ref(after, self.env, self.sr, self.ext)
        assert a.shape == b.shape and np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True), \
            f"{F.show(before)}  =>  {F.show(after)}"


def gen_rename(c):
    e = c.flat()
    syms = e.symbols()
    new = c.draw(st.permutations(["m", "n", "o", "p", "i", "j"]))[: len(syms)]
    sigma = dict(zip(syms, new))
    for a, b in sigma.items():
        c.ext[b] = c.ext[a]
    return e, {"sigma": sigma}


def gen_commute(c):
    e = c.flat(2, 3)
    return e, {"perm": c.draw(st.permutations(range(len(e.operands))))}


def gen_group(c):
    e = c.flat(2, 4)
    n = len(e.operands)
    g = sorted(c.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n)))
    a = {x for k in g for x in e.inputs[k]}
    b = {x for k in range(n) if k not in g for x in e.inputs[k]} | set(e.output)
    extra = c.draw(st.sets(st.sampled_from(sorted(a)))) if a else set()
    u = tuple(c.draw(st.permutations(sorted((a & b) | extra))))
    return e, {"group": g, "u": u}


def gen_distribute(c):
    e = c.flat(1, 3)
    k = c.draw(st.integers(0, len(e.operands) - 1))
    s = e.inputs[k]
    plus = Plus((c.leaf(s), c.leaf(s)), c.sr)
    return Ein(e.inputs, e.output, e.operands[:k] + (plus,) + e.operands[k + 1:], c.sr), {"k": k}


def gen_early(c):
    e = c.flat(1, 3, out=())
    k = c.draw(st.integers(0, len(e.operands) - 1))
    s = e.inputs[k] + ("l", "l") if c.draw(st.booleans()) else e.inputs[k] + ("l",)
    others = [x for j, t in enumerate(e.inputs) if j != k for x in t]
    s = tuple(x for x in s if x == "l" or True)
    inputs = tuple(tuple(x for x in t if x != "l") if j != k else s for j, t in enumerate(e.inputs))
    ops = tuple(c.leaf(t) for t in inputs)
    used = [x for x in dict.fromkeys(x for t in inputs for x in t) if x != "l" or x in others]
    out = tuple(c.draw(st.permutations([x for x in used if x != "l"]))[:2])
    return Ein(inputs, out, ops, c.sr), {"k": k}


def gen_scalar(c):
    e = c.flat(0, 2)
    k = c.draw(st.integers(0, len(e.operands)))
    inputs = e.inputs[:k] + ((),) + e.inputs[k:]
    ops = e.operands[:k] + (c.leaf(()),) + e.operands[k:]
    return Ein(inputs, e.output, ops, c.sr), {"k": k}


def gen_permute(c):
    e = c.flat(1, 3)
    out = tuple(dict.fromkeys(e.output))
    inner = Ein(e.inputs, out, e.operands, c.sr)
    outer_s = tuple(c.draw(st.permutations(["m", "n", "o", "p"]))[: len(out)])
    for x, y in zip(outer_s, out):
        c.ext[x] = c.ext[y]
    return Ein((outer_s,), tuple(c.draw(st.permutations(outer_s))), (inner,), c.sr), {}


def gen_denest(c, general=False):
    inner_in = [c.string(1) for _ in range(c.draw(st.integers(1, 2)))]
    used = list(dict.fromkeys(x for s in inner_in for x in s))
    v = tuple(c.draw(st.lists(st.sampled_from(used), min_size=1, max_size=3, unique=not general)))
    inner = Ein(tuple(inner_in), v, tuple(c.leaf(s) for s in inner_in), c.sr)
    # the outer string: symbols with the extents of v's positions, reusing inner names on purpose
    u = []
    for x in v:
        cands = [y for y in SYMS if c.ext[y] == c.ext[x]]
        u.append(c.draw(st.sampled_from(cands)))
    u = tuple(u)
    rest = [c.string(0, 2) for _ in range(c.draw(st.integers(0, 2)))]
    allsym = list(dict.fromkeys(u + tuple(x for s in rest for x in s)))
    out = tuple(c.draw(st.permutations(allsym))[: c.draw(st.integers(0, len(allsym)))])
    outer = Ein((u, *rest), out, (inner, *(c.leaf(s) for s in rest)), c.sr)
    return outer, {"k": 0}


def gen_denest_general(c):
    return gen_denest(c, general=True)


def gen_delta(c):
    e = c.flat(1, 2)
    a, b = c.draw(st.sampled_from(SYMS)), c.draw(st.sampled_from(SYMS))
    c.ext[b] = c.ext[a]
    c.env.clear()  # re-draw the leaves: an extent may have changed
    ops = tuple(c.leaf(s) for s in e.inputs)
    k = c.draw(st.integers(0, len(ops)))
    return Ein(e.inputs[:k] + ((a, b),) + e.inputs[k:], e.output, ops[:k] + (Delta(),) + ops[k:], c.sr), {"k": k}


def gen_ones(c):
    e = c.flat(1, 3)
    used = sorted({x for s in e.inputs for x in s})
    t = tuple(c.draw(st.lists(st.sampled_from(used), max_size=2)))
    one = ir.SEMIRINGS[c.sr].one
    k = len(e.operands)
    return Ein(e.inputs + (t,), e.output, e.operands + (Const(one),), c.sr), {"k": k}


def gen_split(c):
    e = c.flat(1, 2)
    t = c.string(1, 2)
    val = float(c.rng.choice(DOMAIN[c.sr]))
    return Ein(e.inputs + (t,), e.output, e.operands + (Const(val),), c.sr), {"k": len(e.operands)}


def gen_vacuous(c):
    e = c.flat(1, 2)
    x = "m"
    c.ext[x] = c.draw(st.integers(1, 4))
    t = (x,) + tuple(c.draw(st.lists(st.sampled_from(sorted(e.symbols()) + [x]), max_size=2)))
    val = float(c.rng.choice(DOMAIN[c.sr]))
    e = Ein(e.inputs + (t,), e.output, e.operands + (Const(val),), c.sr, ((x, c.ext[x]),))
    return e, {"k": len(e.operands) - 1, "symbol": x}


GEN = {"rename": gen_rename, "commute": gen_commute, "group": gen_group, "distribute": gen_distribute,
       "early-aggregation": gen_early, "scalar-factor": gen_scalar, "output-permutation": gen_permute,
       "denest": gen_denest, "denest-general": gen_denest_general, "delta-elimination": gen_delta,
       "ones-removal": gen_ones, "constant-split": gen_split, "constant-aggregation": gen_vacuous}

CLAIMS = [(name, sr) for name, rule in RULES.items() for sr in rule.semirings]


def test_every_rule_is_a_datum_with_a_generator():
    assert set(GEN) == set(RULES)
    for r in RULES.values():
        assert r.name and r.section and r.pattern and r.semirings and r.example[0]
        assert not r.crosses_nonlinearity


@pytest.mark.parametrize("name,sr", CLAIMS, ids=[f"{n}-{s}" for n, s in CLAIMS])
@cfg
@given(data=st.data())
def test_rule_preserves_the_value(name, sr, data):
    c = Case(data.draw, sr)
    before, params = GEN[name](c)
    rule = RULES[name]
    assert rule.violated(before, **params) == [], (F.show(before), params)
    after = rule.apply(before, **params)
    c.check(before, after)


# ----------------------------------------------------------- negative tests

def counterexample(before, after, shapes, sr="sumprod", ext=None, tries=40):
    """Random inputs on which the two sides differ, or None."""
    rng = np.random.default_rng(0)
    for _ in range(tries):
        env = {n: rng.choice(DOMAIN[sr], size=s) for n, s in shapes.items()}
        a = F.evaluate(before, env, sr, ext, method="reference")
        b = F.evaluate(after, env, sr, ext, method="reference")
        if a.shape != b.shape or not np.allclose(a, b, equal_nan=True):
            return env
    return None


A3, B3 = Leaf("A"), Leaf("B")
SQ = {"A": (3, 3), "B": (3, 3)}
NEGATIVE = [
    ("rename", "injective", F.parse_expr("#(ij->i; A)"), {"sigma": {"j": "i"}}, SQ, "sumprod", None),
    ("commute", "strings-follow-operands", F.parse_expr("#(ij,jk->ik; A, B)"),
     {"perm": (1, 0), "string_perm": (0, 1)}, SQ, "sumprod", None),
    ("group", "interface", F.parse_expr("#(i,i,i->; a, b, c)"), {"group": (0, 1), "u": ()},
     {"a": (3,), "b": (3,), "c": (3,)}, "sumprod", None),
    ("group", "within-group", F.parse_expr("#(ij,j->i; A, x)"), {"group": (0,), "u": ("i", "j", "k")},
     {"A": (2, 3), "x": (3,)}, "sumprod", {"k": 2}),
    ("distribute", "same-semiring", Ein((("i", "j"), ("j",)), ("i",), (A3, Plus((Leaf("x"), Leaf("y")), "maxplus"))),
     {"k": 1}, {"A": (2, 3), "x": (3,), "y": (3,)}, "sumprod", None),
    ("early-aggregation", "private", F.parse_expr("#(ij,j->i; A, x)"), {"k": 0, "symbols": ("j",)},
     {"A": (2, 3), "x": (3,)}, "sumprod", None),
    ("scalar-factor", "scalar", F.parse_expr("#(i,j->i; x, 2)"), {"k": 1}, {"x": (3,)}, "sumprod", {"j": 3}),
    ("output-permutation", "distinct-string", F.parse_expr("#(ii->i; #(jk->jk; A))"), {}, SQ, "sumprod", None),
    ("output-permutation", "permutation", Ein((("i", "j"),), ("i",), (F.parse_expr("#(jk->jk; A)"),), "maxplus"),
     {}, SQ, "maxplus", None),
    ("denest", "distinct-output", F.parse_expr("#(ab,b->a; #(i->ii; v), w)"), {"k": 0},
     {"v": (3,), "w": (3,)}, "sumprod", {"a": 3}),
    ("denest", "rename-apart", F.parse_expr("#(ij,j->i; A, #(ji->j; B))"), {"k": 1, "rename_apart": False},
     SQ, "sumprod", None),
    ("denest", "same-semiring", Ein((("i", "j"), ("j",)), ("i",), (A3, F.parse_expr("#maxplus(jk->j; B)"))),
     {"k": 1}, SQ, "sumprod", None),
    ("denest-general", "identify", F.parse_expr("#(ab,b->a; #(i->ii; v), w)"), {"k": 0, "identify": False},
     {"v": (3,), "w": (3,)}, "sumprod", {"a": 3}),
    ("denest-general", "rename-apart", F.parse_expr("#(ij,j->i; A, #(ji->j; B))"),
     {"k": 1, "rename_apart": False}, SQ, "sumprod", None),
    ("denest-general", "same-semiring", Ein((("i", "j"), ("j",)), ("i",), (A3, F.parse_expr("#maxplus(jk->j; B)"))),
     {"k": 1}, SQ, "sumprod", None),
    ("delta-elimination", "keep-domain", F.parse_expr("#(ab->; delta)"), {"k": 0, "keep_domain": False},
     {}, "sumprod", {"a": 3, "b": 3}),
    ("ones-removal", "is-one", F.parse_expr("#(ij,j->i; A, 2)"), {"k": 1}, SQ, "sumprod", None),
    ("ones-removal", "symbols-elsewhere", F.parse_expr("#(i,j->i; x, 1)"), {"k": 1}, {"x": (3,)}, "sumprod",
     {"j": 3}),
    ("constant-aggregation", "only-here", Ein((("i", "j"), ("j",)), ("i",), (A3, Const(1.0)), "sumprod",
                                          (("j", 3),)), {"k": 1, "symbol": "j"}, SQ, "sumprod", None),
]


def test_every_precondition_has_a_negative_test():
    covered = {(r, p) for r, p, *_ in NEGATIVE}
    assert covered == {(r.name, p.name) for r in RULES.values() for p in r.preconditions}


@pytest.mark.parametrize("rule,pre,before,params,shapes,sr,ext", NEGATIVE,
                         ids=[f"{r}-{p}" for r, p, *_ in NEGATIVE])
def test_dropping_a_precondition_gives_a_counterexample(rule, pre, before, params, shapes, sr, ext):
    r = RULES[rule]
    assert pre in r.violated(before, **params)
    with pytest.raises(RuleError, match=pre):
        r.apply(before, **params)
    after = r.apply(before, check=False, **params)
    assert counterexample(before, after, shapes, sr, ext) is not None, (F.show(before), F.show(after))


@pytest.mark.parametrize("rule,why,before,after", NONLINEAR_BARRIERS, ids=[b[0] for b in NONLINEAR_BARRIERS])
def test_no_rule_crosses_a_nonlinearity(rule, why, before, after):
    shapes = {"A": (2, 3), "B": (3, 2), "x": (3,), "y": (3,)}
    names = set(F.leaves(before))
    shapes = {n: s for n, s in shapes.items() if n in names}
    if rule == "scalar-factor":
        shapes = {"x": (3,)}
    assert counterexample(before, after, shapes) is not None, why
    assert isinstance(before, Ein | Apply)


def test_maxprod_is_not_claimed_where_zeros_multiply():
    # (-inf) * (-inf) = +inf: the max-times 'semiring' with zero -inf is not absorbing
    assert "maxprod" not in RULES["denest-general"].semirings
    assert "maxprod" not in RULES["delta-elimination"].semirings
