"""Golden tests for the parser: every construct of the language -> its AST, and
every kind of syntax error -> its full rendered text."""

# ruff: noqa: E501  (rendered error messages are compared whole)

from __future__ import annotations

import pytest

from tlang import ast as A
from tlang import parse
from tlang.source import TlangSyntaxError

V, C, Bi, Vt, Sl = A.IVar, A.IConst, A.IBin, A.IVirtual, A.ISlice
N, S, Nm, Call, U, B = A.Num, A.Str, A.Name, A.Call, A.Unary, A.Binary


def R(name: str, *ix: A.IndexExpr) -> A.Ref:
    """A numeric reference W[i, j]."""
    return A.Ref(name, ix, False)


def P(name: str, *ix: A.IndexExpr) -> A.Ref:
    """A Boolean atom R(x, y)."""
    return A.Ref(name, ix, True)


def E(lhs: A.Ref | str, rhs: A.Expr, op: str = "=") -> A.Equation:
    return A.Equation(R(lhs) if isinstance(lhs, str) else lhs, op, rhs)


def mul(*xs: A.Expr) -> A.Expr:
    out = xs[0]
    for x in xs[1:]:
        out = B("*", out, x)
    return out


i, j, x, y, z = V("i"), V("j"), V("x"), V("y"), V("z")

CASES = [
    # tensor equations and the Boolean form
    ("Y[i] = step(W[i] X[i])", E(R("Y", i), Call("step", (mul(R("W", i), R("X", i)),)))),
    ("Y[i] = W[i, j] * X[j]", E(R("Y", i), mul(R("W", i, j), R("X", j)))),
    ("R(x, y) = A(x, y)", E(P("R", x, y), P("A", x, y))),
    ("Y = a b c", E("Y", mul(Nm("a"), Nm("b"), Nm("c")))),
    ("Y = a + b - c / d ^ e", E("Y", B("-", B("+", Nm("a"), Nm("b")),
                                       B("/", Nm("c"), B("^", Nm("d"), Nm("e")))))),
    ("Y = -a^2", E("Y", U("-", B("^", Nm("a"), N(2))))),
    ("Y = a^-b", E("Y", B("^", Nm("a"), U("-", Nm("b"))))),
    ("Y = a^b^c", E("Y", B("^", Nm("a"), B("^", Nm("b"), Nm("c"))))),
    ("Y = (a + b) c", E("Y", mul(B("+", Nm("a"), Nm("b")), Nm("c")))),
    ("Y = -2", E("Y", U("-", N(2)))),
    ("Y = 1.5e3 + 2E-2 + 1e5 + .5 + 3.", E("Y", B("+", B("+", B("+", B("+", N(1500.0), N(0.02)),
                                                              N(100000.0)), N(0.5)), N(3.0)))),
    ("Y = 7", E("Y", N(7))),
    ("Y = sig(x, T)", E("Y", Call("sig", (Nm("x"), Nm("T"))))),
    ("Y = f()", E("Y", Call("f"))),
    ('Y = einsum("ij->i", A, semiring=boolean)',
     E("Y", Call("einsum", (S("ij->i"), Nm("A")), (("semiring", Nm("boolean")),)))),
    ('Y = f("a\\"b\\\\c\\nd\\te\\rf")', E("Y", Call("f", (S('a"b\\c\nd\te\rf'),)))),
    ("Y = sin(p / L^(d/De))", E("Y", Call("sin", (B("/", Nm("p"), B("^", Nm("L"),
                                                                     B("/", Nm("d"), Nm("De")))),)))),
    ("Y = R()", E("Y", P("R"))),
    ("Y = W[]", E("Y", R("W"))),
    # index forms
    ("Y = X[p', p'']", E("Y", R("X", V("p'"), V("p''")))),
    ('Y = X[Alice, 3, -2, "alice", "New York"]',
     E("Y", R("X", C("Alice"), C(3), C(-2), C("alice", True), C("New York", True)))),
    ("Y = X[i+1, i-1, x+dx, x/S, (x+1)/S]",
     E("Y", R("X", Bi("+", i, C(1)), Bi("-", i, C(1)), Bi("+", x, V("dx")), Bi("/", x, C("S")),
              Bi("/", Bi("+", x, C(1)), C("S"))))),
    ("Y[*t+1] = X[*t] + X[*t-2]", E(R("Y", Vt("t", 1)), B("+", R("X", Vt("t")), R("X", Vt("t", -2))))),
    ("Comp[p, p'.] = softmax(S[p, p'])", E(R("Comp", V("p"), V("p'", True)),
                                           Call("softmax", (R("S", V("p"), V("p'")),)))),
    ("Y = X[1:4, :4, -3:, 0:8:2, :, ::-1, :-3]",
     E("Y", R("X", Sl(1, 4), Sl(None, 4), Sl(-3, None), Sl(0, 8, 2), Sl(None, None), Sl(None, None, -1),
              Sl(None, -3)))),
    ("Y = sin(p / L)", E("Y", Call("sin", (B("/", Nm("p"), Nm("L")),)))),
    # projection operators
    *[(f"Y[i] {op} X[i, j]", E(R("Y", i), R("X", i, j), op)) for op in A.ASSIGN_OPS],
    ("Y[i] max=X[i, j]", E(R("Y", i), R("X", i, j), "max=")),
    # literals and element assignment
    ("W = [0.2, 1.9]", E("W", A.ListLit((0.2, 1.9)))),
    ("W = [[1, -2], [3.5, -0.25],]", E("W", A.ListLit((A.ListLit((1, -2)), A.ListLit((3.5, -0.25)))))),
    ("W = []", E("W", A.ListLit(()))),
    ("c = 1.5", E("c", N(1.5))),
    ("W[0, 1] = 0.5", E(R("W", C(0), C(1)), N(0.5))),
    # facts and rules
    ("Parent(Bob, Charlie)", A.Fact(P("Parent", C("Bob"), C("Charlie")))),
    ("Parent(Bob, Charlie).", A.Fact(P("Parent", C("Bob"), C("Charlie")))),
    ('Likes("carol", 3)', A.Fact(P("Likes", C("carol", True), C(3)))),
    ("Ancestor(x, z) <- Ancestor(x, y), Parent(y, z)",
     A.Rule(P("Ancestor", x, z), (P("Ancestor", x, y), P("Parent", y, z)))),
    ("Ancestor(x, z) <- Parent(x, z).", A.Rule(P("Ancestor", x, z), (P("Parent", x, z),))),
    ("A(x) ← B(x)", A.Rule(P("A", x), (P("B", x),))),
    ("A(x) :- B(x)", A.Rule(P("A", x), (P("B", x),))),
    ("A[x] <- B(x)", A.Rule(P("A", x), (P("B", x),))),
    ("A(x) <- B(x), not C(x), !D(x), ¬E(x)",
     A.Rule(P("A", x), (P("B", x), U("not", P("C", x)), U("not", P("D", x)), U("not", P("E", x))))),
    ("S(x, y) <- P(x, z), P(y, z), x != y, x ≠ z",
     A.Rule(P("S", x, y), (P("P", x, z), P("P", y, z), B("!=", Nm("x"), Nm("y")),
                           B("!=", Nm("x"), Nm("z"))))),
    ("M[i] = X[i] > 0", E(R("M", i), B(">", R("X", i), N(0)))),
    # queries and directives
    ("Y?", A.Query(R("Y"))),
    ("Ancestor(Alice, x)?", A.Query(P("Ancestor", C("Alice"), x))),
    ("W[0, 1]?", A.Query(R("W", C(0), C(1)))),
    ("Loss? @minimize(lr=0.01, epochs=100)",
     A.Query(R("Loss"), (A.Directive("minimize", (("lr", 0.01), ("epochs", 100))),))),
    ("Loss? @maximize(opt=adam, -3) @log",
     A.Query(R("Loss"), (A.Directive("maximize", (("opt", "adam"), (None, -3))), A.Directive("log")))),
    ('@sample(n=100, label="a b")', A.DirectiveStmt(A.Directive("sample", (("n", 100), ("label", "a b"))))),
    # files
    ('X = "data.csv"', A.Load(R("X"), "data.csv")),
    ('X[i, j] = "m.npy"', A.Load(R("X", i, j), "m.npy")),
    ('R(x, y) = "r.csv"', A.Load(P("R", x, y), "r.csv")),
    ('"out.csv" = Y', A.Store("out.csv", R("Y"))),
    # declarations and modules
    ("domain Person = {Alice, Bob}", A.DomainDecl("Person", None, ("Alice", "Bob"))),
    ('domain City = {"New York", paris, 3}', A.DomainDecl("City", None, ("New York", "paris", "3"))),
    ("domain L = 4", A.DomainDecl("L", 4)),
    ("index i, j : Person", A.IndexDecl(("i", "j"), "Person")),
    ("index k : 10", A.IndexDecl(("k",), 10)),
    ("tensor W[4, Person] : real", A.TensorDecl("W", (4, "Person"), False, "real")),
    ("tensor R(Person, Person)", A.TensorDecl("R", ("Person", "Person"), True)),
    ("tensor S", A.TensorDecl("S", ())),
    ("const W, V", A.MarkDecl("const", ("W", "V"))),
    ("learn W", A.MarkDecl("learn", ("W",))),
    ("import embed", A.Import("embed")),
    ('include "x.tl"', A.Include("x.tl")),
    # names that begin with a keyword are plain names
    ("constant = notable + learning", E("constant", B("+", Nm("notable"), Nm("learning")))),
]


@pytest.mark.parametrize("src, expected", CASES, ids=[c[0][:40] for c in CASES])
def test_construct(src: str, expected: A.Stmt) -> None:
    assert parse(src).statements == (expected,)


def test_spans_located() -> None:
    prog = parse("# comment\nY[i] = W[i, j] X[j]\n", "f.tl")
    eq = prog.statements[0]
    assert eq.span.where() == "f.tl:2:1"
    assert eq.rhs.right.span.text() == "X[j]"
    assert eq.lhs.indices[0].span.short() == "2:3"


LAYOUT = [
    # comments, blank lines, separators
    ("# comment\n\nY = X  # trailing\n// slashes\nZ = Y // also\n\n", (E("Y", Nm("X")), E("Z", Nm("Y")))),
    ("Y = X; Z = Y;", (E("Y", Nm("X")), E("Z", Nm("Y")))),
    ("A(Bob), B(Carol).", (A.Fact(P("A", C("Bob"))), A.Fact(P("B", C("Carol"))))),
    # continuation inside brackets and after an operator or comma
    ("Y[i] = W[i,\n        j] X[j]\n", (E(R("Y", i), mul(R("W", i, j), R("X", j))),)),
    ("Y = relu(\n  a\n  + b\n)\n", (E("Y", Call("relu", (B("+", Nm("a"), Nm("b")),))),)),
    ("A(x) <- B(x),\n        C(x)\n", (A.Rule(P("A", x), (P("B", x), P("C", x))),)),
    ("Y = a +\n    b", (E("Y", B("+", Nm("a"), Nm("b"))),)),
    ("Y = a \\\n    b", (E("Y", mul(Nm("a"), Nm("b"))),)),
    ("W = [[1, 2],\n     [3, 4]]", (E("W", A.ListLit((A.ListLit((1, 2)), A.ListLit((3, 4))))),)),
    ("Y = X\r\nZ = Y\r\n", (E("Y", Nm("X")), E("Z", Nm("Y")))),
    ("", ()),
    ("\n\n# only comments\n", ()),
]


@pytest.mark.parametrize("src, expected", LAYOUT, ids=[repr(c[0])[:40] for c in LAYOUT])
def test_layout(src: str, expected: tuple[A.Stmt, ...]) -> None:
    assert parse(src).statements == expected


# ----------------------------------------------------------------- errors

ERRORS = [
    ("unclosed paren", "Y = relu(W[i] X[i]\n", """\
t.tl:1:18: error: unexpected end of input; expected '(', ')', '*' or '/', '+' or '-', ',', '.', ';', '<-' or ...
    Y = relu(W[i] X[i]
                     ^
note: the '(' at 1:9 is not closed"""),
    ("unclosed paren then more", "Y = relu(W[i] X[i]\nZ = 1\n", """\
t.tl:2:3: error: unexpected '='; expected '(', ')', '*' or '/', '+' or '-', ',', '.', ';', ']' or ...
    Z = 1
      ^
note: the '(' at 1:9 is not closed"""),
    ("unclosed bracket", "Y = X[i", """\
t.tl:1:7: error: unexpected end of input; expected '(', ')', '*' or '/', '+' or '-', ',', '.', '=', '[' or ...
    Y = X[i
          ^
note: the '[' at 1:6 is not closed"""),
    ("extra paren", "Y = (a))", """\
t.tl:1:8: error: unexpected ')'; expected ';' or end of line
    Y = (a))
           ^"""),
    ("unexpected token", "Y[i] = = 1", """\
t.tl:1:8: error: unexpected '='; expected '(', '-', '[', 'not', a name, a number, a string, an integer or ...
    Y[i] = = 1
           ^"""),
    ("dangling operator", "Y = X *", """\
t.tl:1:7: error: unexpected end of input; expected '(', '-', 'not', a name, a number, a string or an integer
    Y = X *
          ^"""),
    ("dangling comma", "R(x) <- A(x),", """\
t.tl:1:13: error: unexpected end of input; expected '(', '-', 'not', a name, a number, a string or an integer
    R(x) <- A(x),
                ^"""),
    ("chained comparison", "M = a <= b == (c ≥ d)", """\
t.tl:1:12: error: unexpected '=='; expected ')', '+' or '-', ',', '.', ';', ']' or end of line
    M = a <= b == (c ≥ d)
               ^^"""),
    ("bad character", "Y = X $ 2", """\
t.tl:1:7: error: unexpected character '$'
    Y = X $ 2
          ^
note: expected '(', ')', '*' or '/', '+' or '-', ',', '.', ';', '<-' or ..."""),
    ("single quotes", "Y = 'a'", """\
t.tl:1:5: error: unexpected character "'" (strings use double quotes; a prime follows a name, as in p')
    Y = 'a'
        ^
note: expected '(', '-', '[', 'not', a name, a number, a string, an integer or ..."""),
    ("unterminated string", 'Y = f("abc)\n', """\
t.tl:1:7: error: unterminated string
    Y = f("abc)
          ^
note: expected '(', ')', '*', '-', ':', 'not', a name, a number or ..."""),
    ("string across lines", 'Y = "ab\ncd"', """\
t.tl:1:5: error: unterminated string
    Y = "ab
        ^
note: expected '(', '-', '[', 'not', a name, a number, a string, an integer or ..."""),
    ("float index", "Y = X[1.5]", """\
t.tl:1:7: error: index 1.5 is not an integer
    Y = X[1.5]
          ^^^"""),
    ("float in index arithmetic", "Y[x+1.] = 1", """\
t.tl:1:5: error: index 1.0 is not an integer
    Y[x+1.] = 1
        ^^"""),
    ("not an index", "Y = X[f(x)]", """\
t.tl:1:7: error: this is not an index
    Y = X[f(x)]
          ^^^^
note: indices are variables (i, p'), constants (Alice, 0, "bob"), i+1, x+dx, x/S, virtual *t, or slices like 1:4"""),
    ("virtual index as a value", "Y = *t", """\
t.tl:1:5: error: unexpected '*'; expected '(', '-', '[', 'not', a name, a number, a string, an integer or ...
    Y = *t
        ^"""),
    ("virtual index in a call", "Y = f(*t)", """\
t.tl:1:7: error: a virtual index can only appear inside a tensor's indices
    Y = f(*t)
          ^^"""),
    ("virtual offset not a number", "Y = X[*t+j]", """\
t.tl:1:10: error: unexpected 'j'; expected an integer or end of line
    Y = X[*t+j]
             ^"""),
    ("dot outside an index", "Y = f(p.)", """\
t.tl:1:7: error: the normalisation mark '.' can only appear inside a tensor's indices
    Y = f(p.)
          ^^"""),
    ("dot on arithmetic", "Y[(i+1).] = 1", """\
t.tl:1:3: error: only an index variable can carry the normalisation mark '.'
    Y[(i+1).] = 1
      ^^^^^^"""),
    ("keyword argument as index", "Y = X[k=1]", """\
t.tl:1:7: error: a keyword argument cannot be an index
    Y = X[k=1]
          ^^^"""),
    ("positional after keyword", "Y = f(a=1, b)", """\
t.tl:1:12: error: a positional argument cannot follow a keyword argument
    Y = f(a=1, b)
               ^"""),
    ("zero slice step", "Y = X[0:1:0]", """\
t.tl:1:7: error: slice step cannot be zero
    Y = X[0:1:0]
          ^^^^^"""),
    ("load with +=", 'X += "a.csv"', """\
t.tl:1:3: error: a file is read with '=', not '+='
    X += "a.csv"
      ^^"""),
    ("lone name", "A = 1\nY\n", """\
t.tl:2:1: error: 'Y' on its own is not a statement
    Y
    ^
note: a fact is written R(A, B); an equation needs '='
note: did you mean the query 'Y?'"""),
    ("lone indexed name", "W[i, j]", """\
t.tl:1:1: error: 'W[i, j]' on its own is not a statement
    W[i, j]
    ^^^^^^^
note: a fact is written R(A, B); an equation needs '='
note: did you mean the query 'W[i, j]?'"""),
    ("keyword as a name", "domain = 3", """\
t.tl:1:8: error: unexpected '='; expected a name or end of line
    domain = 3
           ^"""),
    ("NUL byte", "Y = 1\x00", """\
t.tl:1:6: error: unexpected NUL byte: this does not look like a text file
    Y = 1\x00
         ^"""),
]


@pytest.mark.parametrize("src, rendered", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error(src: str, rendered: str) -> None:
    with pytest.raises(TlangSyntaxError) as info:
        parse(src, "t.tl")
    assert info.value.render() == rendered
    assert str(info.value) == rendered
