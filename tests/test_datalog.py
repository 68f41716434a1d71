"""Souffle-style Datalog (.dl): parsing, located errors, .input/.output, the example, the CLI."""

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from tlang import ast as A
from tlang.api import run
from tlang.cli import main
from tlang.datalog import parse_datalog
from tlang.outputs import relation_tuples
from tlang.source import TlangError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ancestor.dl"

TC = """
.decl edge(x: number, y: number)
.decl path(x: number, y: number)
edge(1, 2). edge(2, 3). edge(3, 4).
path(x, y) :- edge(x, y).
path(x, z) :- path(x, y), edge(y, z).
.output path(IO=stdout)
"""


def answers(text: str, **options) -> dict:
    return {a.query: a.tuples for a in run(text, syntax="datalog", **options).answers}


def test_parse_gives_the_tl_ast():
    prog = parse_datalog(TC, "tc.dl")
    rules = [s for s in prog.statements if isinstance(s, A.Rule)]
    assert rules[1].head == A.Ref("path", (A.IVar("x"), A.IVar("z")), True)
    assert rules[1].body == (A.Ref("path", (A.IVar("x"), A.IVar("y")), True),
                             A.Ref("edge", (A.IVar("y"), A.IVar("z")), True))
    facts = [s for s in prog.statements if isinstance(s, A.Fact)]
    assert facts[0].atom == A.Ref("edge", (A.IConst(1), A.IConst(2)), True)
    assert rules[1].span.where() == "tc.dl:6:1"


def test_transitive_closure_on_every_path():
    want = [(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)]
    for mode in ("never", "always", "auto"):
        assert answers(TC, relational=mode)["path"] == want


def test_variables_constants_wildcards_and_negation():
    text = """
    .decl e(x: symbol, y: symbol)
    .decl src(x: symbol)
    .decl mid(x: symbol)
    .decl from_a(y: symbol)
    .decl not_c(x: symbol)
    .decl same(x: symbol)
    e("a", "b"). e("b", "c"). e("c", "d"). e("X", "a").
    src(X) :- e(X, _), !e(_, X).
    mid(x) :- e(_, x), e(x, _).
    from_a(y) :- e("a", y).
    not_c(x) :- e(x, _), x != "c", not e(x, "a").
    same(x) :- e(x, y), y = "b".
    .output src(IO=stdout)
    .output mid(IO=stdout)
    .output from_a(IO=stdout)
    .output not_c(IO=stdout)
    .output same(IO=stdout)
    """
    got = answers(textwrap.dedent(text))
    assert got == {"src": [("X",)], "mid": [("a",), ("b",), ("c",)], "from_a": [("b",)],
                   "not_c": [("a",), ("b",)], "same": [("a",)]}


def test_comparisons_multiple_heads_and_disjunction():
    text = """
    .decl n(x: number)
    .decl lt(x: number, y: number)
    .decl small(x: number)
    .decl big(x: number)
    .decl odd_one(x: number)
    n(1). n(2). n(3).
    lt(x, y) :- n(x), n(y), x < y.
    small(x), big(y) :- lt(x, y), x <= 1, y >= 3.
    odd_one(x) :- n(x), x = 1 ; n(x), x = 3.
    .output lt(IO=stdout)
    .output small(IO=stdout)
    .output big(IO=stdout)
    .output odd_one(IO=stdout)
    """
    got = answers(textwrap.dedent(text))
    assert got == {"lt": [(1, 2), (1, 3), (2, 3)], "small": [(1,)], "big": [(3,)], "odd_one": [(1,), (3,)]}


def test_declared_relation_without_facts_is_empty():
    text = ".decl a(x: number)\n.decl b(x: symbol)\n.decl c(x: number, y: symbol)\nb(y) :- c(_, y).\n" \
           ".output a(IO=stdout)\n.output b(IO=stdout)\n"
    assert answers(text) == {"a": [], "b": []}


def test_input_and_output_files(tmp_path):
    (tmp_path / "edge.facts").write_text("a\tb\nb\tc\n")
    (tmp_path / "more.csv").write_text("c,d\n")
    prog = tmp_path / "p.dl"
    prog.write_text(textwrap.dedent("""
        .decl edge(x: symbol, y: symbol)
        .decl more(x: symbol, y: symbol)
        .decl path(x: symbol, y: symbol)
        .input edge
        .input more(filename="more.csv", delimiter=",")
        .output path
        .output path(filename="path.facts")
        path(x, y) :- edge(x, y).
        path(x, y) :- more(x, y).
        path(x, z) :- path(x, y), path(y, z).
        """))
    assert main(["run", str(prog)]) == 0
    want = "a,b\na,c\na,d\nb,c\nb,d\nc,d\n"
    assert (tmp_path / "path.csv").read_text() == want
    assert (tmp_path / "path.facts").read_text() == want.replace(",", "\t")


def test_relation_tuples_are_python_values():
    res = run(TC, syntax="datalog")
    tuples = relation_tuples(res.program, "path", res["path"])
    assert all(type(x) is int for t in tuples for x in t)
    res = run(TC, syntax="datalog", relational="always")
    assert sorted(relation_tuples(res.program, "path", res["path"])) == sorted(tuples)


def test_dsl_datalog_program():
    tl = pytest.importorskip("tlang.dsl")
    p = tl.Program(TC, syntax="datalog")
    assert p.relation("path") == {(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)}


# -------------------------------------------------------------------- errors

ERRORS = {
    "unsafe head variable": (
        ".decl e(x: number, y: number)\n.decl p(x: number, y: number)\np(x, z) :- e(x, y).\n",
        """\
        prog.dl:3:6: error: variable 'z' in the head is not bound by a positive atom of the body
            p(x, z) :- e(x, y).
                 ^
        note: every variable of the head, of a negated atom and of a comparison must occur in a positive (non-negated) body atom"""),  # noqa: E501
    "unsafe negated variable": (
        ".decl e(x: number, y: number)\n.decl p(x: number)\np(x) :- e(x, x), !e(x, w).\n",
        """\
        prog.dl:3:24: error: variable 'w' in a negated atom is not bound by a positive atom of the body
            p(x) :- e(x, x), !e(x, w).
                                   ^
        note: every variable of the head, of a negated atom and of a comparison must occur in a positive (non-negated) body atom"""),  # noqa: E501
    "unsafe comparison": (
        ".decl e(x: number, y: number)\n.decl p(x: number)\np(x) :- e(x, x), x < w.\n",
        """\
        prog.dl:3:22: error: variable 'w' in a comparison is not bound by a positive atom of the body
            p(x) :- e(x, x), x < w.
                                 ^
        note: every variable of the head, of a negated atom and of a comparison must occur in a positive (non-negated) body atom"""),  # noqa: E501
    "arity against the declaration": (
        ".decl e(x: number, y: number)\n.decl p(x: number)\np(x) :- e(x).\n",
        """\
        prog.dl:3:9: error: 'e' has 1 argument here but is declared with 2 at 1:1
            p(x) :- e(x).
                    ^^^^"""),
    "arity between uses": (
        "p(x) :- e(x, y).\nq(x) :- e(x).\n",
        """\
        prog.dl:2:9: error: 'e' has 1 argument here but has 2 at 1:9
            q(x) :- e(x).
                    ^^^^"""),
    "negation cycle": (
        ".decl a(x: number)\n.decl b(x: number)\n.decl n(x: number)\nn(1). n(2).\n"
        "a(x) :- n(x), !b(x).\nb(x) :- n(x), a(x).\n",
        """\
        prog.dl:5:15: error: negation through recursion: 'a' depends on the negation of 'b', which depends on 'a'
            a(x) :- n(x), !b(x).
                          ^^^^^
        note: cycle: a -> b -> a
        note: negation must be stratified: a relation cannot depend on the negation of itself"""),
    "undeclared relation": (
        ".decl edge(x: number, y: number)\n.decl p(x: number)\np(x) :- edg(x, _).\n",
        """\
        prog.dl:3:9: error: relation 'edg' is not declared
            p(x) :- edg(x, _).
                    ^^^^^^^^^
        note: did you mean 'edge'?"""),
    "missing period": (
        ".decl e(x: number, y: number)\ne(1, 2)\ne(2, 3).\n",
        """\
        prog.dl:3:1: error: expected ':-' or '.' after the head, found 'e'
            e(2, 3).
            ^
        note: a fact ends with '.', a rule is 'head :- body.'"""),
    "constant of the wrong type": (
        ".decl e(x: symbol, y: number)\ne(1, 2).\n",
        """\
        prog.dl:2:3: error: a number constant in attribute 'x' of 'e', which holds symbols
            e(1, 2).
              ^
        note: quote it to make it a symbol: "1\""""),
    "variable in a fact": (
        ".decl parent(x: symbol, y: symbol)\nparent(alice, \"bob\").\n",
        """\
        prog.dl:2:8: error: a fact must be ground, but 'alice' is a variable
            parent(alice, "bob").
                   ^^^^^
        note: quote names to make them constants: "alice"
        note: or write a rule: head :- body."""),
    "aggregate": (
        ".decl e(x: number, y: number)\n.decl c(n: number)\nc(n) :- n = count : { e(_, _) }.\n",
        """\
        prog.dl:3:13: error: the aggregate 'count' is not supported by tlang
            c(n) :- n = count : { e(_, _) }.
                        ^^^^^
        note: aggregates need numeric tensors: write the program in tensor logic (.tl)"""),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_located_errors(name):
    text, want = ERRORS[name]
    with pytest.raises(TlangError) as err:
        parse_datalog(text, "prog.dl")
    assert err.value.render() == textwrap.dedent(want)


def test_errors_from_the_command_line(tmp_path, capsys):
    prog = tmp_path / "bad.dl"
    prog.write_text(ERRORS["unsafe head variable"][0])
    assert main(["run", str(prog)]) == 1
    err = capsys.readouterr().err
    assert "bad.dl:3:6: error: variable 'z'" in err and "^" in err


# ---------------------------------------------------------------- example

def test_example_matches_expected(tmp_path):
    shutil.copytree(ROOT / "examples" / "data", tmp_path / "data")
    prog = tmp_path / "ancestor.dl"
    shutil.copy(EXAMPLE, prog)
    expected = [json.loads(x) for x in (ROOT / "examples" / "expected" / "ancestor.jsonl").read_text().splitlines()]
    assert [a.to_json() for a in run(prog).answers] == expected
    assert [a.to_json() for a in run(prog, relational="always").answers] == expected
    assert [a.to_json() for a in run(prog, relational="never").answers] == expected


def test_cli_syntax_flag_and_json(tmp_path, capsys):
    prog = tmp_path / "tc.txt"
    prog.write_text(TC)
    assert main(["run", str(prog), "--syntax", "datalog", "--json"]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert out == [{"query": "path", "kind": "relation", "vars": ["x", "y"],
                    "tuples": [[1, 2], [1, 3], [1, 4], [2, 3], [2, 4], [3, 4]]}]
