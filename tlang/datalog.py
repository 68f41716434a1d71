"""Datalog syntax (Souffle style): ``.dl`` text -> ``tlang.ast.Program``.

In: program text and its name (a path; its folder is where ``.input`` and
``.output`` files live).  Out: the same AST a ``.tl`` program gives --
Boolean ``Ref`` atoms, ``Rule``/``Fact`` statements, ``TensorDecl`` for
relations, ``Load`` for ``.input``, ``Store``/``Query`` for ``.output`` --
or a located ``TlangSyntaxError`` / ``TlangCheckError`` (``file:line:col``
with a caret) for bad syntax, unsafe variables, arity or type mismatches,
undeclared relations and negation through recursion.  This module lexes and
parses; ``datalog_check.py`` checks and builds the AST.

The language (docs/datalog.md)::

    .decl edge(x: number, y: number)        // symbol, number, unsigned, or a .type
    .decl path(x: number, y: number)
    .input edge                              // edge.facts, tab-separated (or filename="...")
    .output path                             // path.csv after the run (or IO=stdout)
    path(x, y) :- edge(x, y).
    path(x, z) :- path(x, y), edge(y, z), x != z, !blocked(z).
    edge(1, 2).  edge("a", _) ...

Bare identifiers in atoms are variables, quoted strings and integers are
constants, ``_`` is a fresh variable per occurrence, ``!`` or ``not``
negates an atom, and comparisons are ``= != < <= > >=``.  Relation names may
be lowercase: they become tensor names as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import ast as A
from .source import Source, Span, TlangSyntaxError

__all__ = ["parse_datalog", "parse_datalog_file"]

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n\f]+)
  | (?P<lcomment>//[^\n]*)
  | (?P<bcomment>/\*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<badstring>")
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<directive>\.[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_?][A-Za-z0-9_?]*)
  | (?P<op>:-|<:|!=|<=|>=|[(),.:;=<>!|+\-*/%@\[\]{}^&])
""", re.VERBOSE)

CMP = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
BASE_TYPES = {"symbol": "symbol", "number": "number", "unsigned": "number"}
QUALIFIERS = {"brie", "btree", "btree_delete", "inline", "no_inline", "magic", "no_magic",
              "overridable", "printsize", "input", "output"}


@dataclass
class _Tok:
    kind: str
    text: str
    start: int
    end: int


@dataclass
class _Term:
    kind: str                 # 'var' | 'sym' | 'num' | 'wild'
    value: str | int
    span: Span


@dataclass
class _Atom:
    name: str
    args: list[_Term]
    span: Span
    negated: bool = False


@dataclass
class _Cmp:
    op: str
    left: _Term
    right: _Term
    span: Span


@dataclass
class _Clause:
    heads: list[_Atom]
    body: list[_Atom | _Cmp]
    span: Span


@dataclass
class _Decl:
    name: str
    attrs: list[tuple[str, str]]
    span: Span


@dataclass
class _IO:
    kind: str                 # 'input' | 'output'
    name: str
    params: dict[str, str]
    span: Span
    name_span: Span


@dataclass
class _Program:
    decls: dict[str, _Decl] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)      # type name -> 'symbol' | 'number'
    clauses: list[_Clause] = field(default_factory=list)
    ios: list[_IO] = field(default_factory=list)


# ------------------------------------------------------------------ lexing

def _lex(src: Source) -> list[_Tok]:
    text = src.text
    out: list[_Tok] = []
    pos = 0
    match = _TOKEN.match
    while pos < len(text):
        m = match(text, pos)
        if m is None:
            raise TlangSyntaxError(f"unexpected character {text[pos]!r}", Span(src, pos, pos + 1))
        kind = m.lastgroup
        end = m.end()
        if kind == "ws" or kind == "lcomment":
            pos = end
            continue
        if kind == "bcomment":
            close = text.find("*/", end)
            if close < 0:
                raise TlangSyntaxError("this comment is not closed (no '*/')", Span(src, pos, pos + 2))
            pos = close + 2
            continue
        if kind == "badstring":
            raise TlangSyntaxError("unterminated string", Span(src, pos, pos + 1))
        if kind == "directive" and out and out[-1].end == pos and out[-1].text != ".":
            # 'a(1).b(2)': a '.' that ends a clause, glued to the next name
            out.append(_Tok("op", ".", pos, pos + 1))
            out.append(_Tok("name", m.group()[1:], pos + 1, end))
        else:
            out.append(_Tok(kind, m.group(), pos, end))
        pos = end
    out.append(_Tok("eof", "", len(text), len(text)))
    return out


def _unquote(text: str) -> str:
    body = text[1:-1]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), body)


# ----------------------------------------------------------------- parsing

class _Parser:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.toks = _lex(src)
        self.k = 0
        self.prog = _Program()
        self._wild = 0

    # helpers ---------------------------------------------------------------
    @property
    def tok(self) -> _Tok:
        return self.toks[self.k]

    def span(self, t: _Tok) -> Span:
        return Span(self.src, t.start, max(t.end, t.start + 1))

    def spans(self, a: _Tok, b: _Tok) -> Span:
        return Span(self.src, a.start, max(b.end, a.start + 1))

    def err(self, msg: str, t: _Tok | Span, *notes: str):
        span = t if isinstance(t, Span) else self.span(t)
        raise TlangSyntaxError(msg, span, notes)

    def what(self, t: _Tok) -> str:
        return "end of input" if t.kind == "eof" else f"'{t.text}'"

    def next(self) -> _Tok:
        t = self.toks[self.k]
        self.k += 1
        return t

    def at(self, text: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == text

    def expect(self, text: str, context: str) -> _Tok:
        if not self.at(text):
            self.err(f"expected '{text}' {context}, found {self.what(self.tok)}", self.tok)
        return self.next()

    def name(self, context: str) -> _Tok:
        if self.tok.kind != "name":
            self.err(f"expected {context}, found {self.what(self.tok)}", self.tok)
        return self.next()

    # statements --------------------------------------------------------------
    def program(self) -> _Program:
        while self.tok.kind != "eof":
            if self.tok.kind == "directive":
                self.directive()
            else:
                self.clause()
        return self.prog

    def directive(self) -> None:
        t = self.next()
        word = t.text[1:]
        if word == "decl":
            self.decl(t)
        elif word == "type":
            self.type_decl(t)
        elif word in ("number_type", "symbol_type"):
            name = self.name("a type name")
            self.prog.types[name.text] = word.split("_")[0]
        elif word in ("input", "output"):
            self.io(t, word)
        elif word == "pragma":
            self.err("'.pragma' is not supported by tlang", t)
        else:
            self.err(f"'{t.text}' is not supported by tlang", t,
                     "tlang reads .decl, .type, .input and .output")

    def decl(self, start: _Tok) -> None:
        names = [self.name("a relation name after '.decl'")]
        while self.at(","):
            self.next()
            names.append(self.name("a relation name"))
        self.expect("(", "after the relation name")
        attrs: list[tuple[str, str]] = []
        if not self.at(")"):
            while True:
                a = self.name("an attribute name")
                self.expect(":", f"after attribute '{a.text}' (write {a.text}: symbol or {a.text}: number)")
                ty = self.name("a type (symbol or number)")
                self.check_type(ty)
                attrs.append((a.text, ty.text))
                if self.at(","):
                    self.next()
                    continue
                break
        end = self.expect(")", "to close the attribute list")
        while self.tok.kind == "name" and self.tok.text in QUALIFIERS | {"eqrel"}:
            q = self.next()
            if q.text == "eqrel":
                self.err("'eqrel' relations are not supported by tlang", q,
                         "write the reflexive, symmetric and transitive rules explicitly")
        for n in names:
            if n.text in self.prog.decls:
                other = self.prog.decls[n.text].span
                self.err(f"relation '{n.text}' is declared twice", n, f"first declared at {other.short()}")
            self.prog.decls[n.text] = _Decl(n.text, attrs, self.spans(start, end))

    def check_type(self, ty: _Tok) -> None:
        if ty.text in BASE_TYPES or ty.text in self.prog.types:
            return
        if ty.text == "float":
            self.err("type 'float' is not supported by tlang (constants are symbols or non-negative "
                     "integers)", ty)
        self.err(f"unknown type '{ty.text}'", ty, "types are symbol, number, unsigned, or one "
                 "declared with .type")

    def type_decl(self, start: _Tok) -> None:
        name = self.name("a type name after '.type'")
        if self.at("<:"):
            self.next()
            base = self.name("a base type")
            self.check_type(base)
            self.prog.types[name.text] = self.base(base.text)
            return
        self.expect("=", "or '<:' after the type name")
        kinds = set()
        while True:
            t = self.name("a type")
            self.check_type(t)
            kinds.add(self.base(t.text))
            if not self.at("|"):
                break
            self.next()
        if len(kinds) > 1:
            self.err(f"type '{name.text}' mixes symbols and numbers", name)
        self.prog.types[name.text] = kinds.pop()

    def base(self, ty: str) -> str:
        return BASE_TYPES.get(ty) or self.prog.types[ty]

    def io(self, start: _Tok, kind: str) -> None:
        while True:
            name = self.name(f"a relation name after '.{kind}'")
            params: dict[str, str] = {}
            end = name
            if self.at("("):
                self.next()
                while not self.at(")"):
                    key = self.name("a parameter name (filename, IO, delimiter)")
                    self.expect("=", f"after '{key.text}'")
                    v = self.next()
                    if v.kind == "string":
                        params[key.text] = _unquote(v.text)
                    elif v.kind in ("name", "number"):
                        params[key.text] = v.text
                    else:
                        self.err(f"expected a value for '{key.text}', found {self.what(v)}", v)
                    if not self.at(")"):
                        self.expect(",", "between parameters")
                end = self.next()
            self.prog.ios.append(_IO(kind, name.text, params, self.spans(start, end), self.span(name)))
            if not self.at(","):
                break
            self.next()

    def clause(self) -> None:
        first = self.tok
        heads = [self.atom()]
        while self.at(","):
            self.next()
            heads.append(self.atom())
        if self.at("."):
            end = self.next()
            if len(heads) > 1:
                for h in heads:
                    self.prog.clauses.append(_Clause([h], [], h.span))
                return
            self.prog.clauses.append(_Clause(heads, [], self.spans(first, end)))
            return
        if not self.at(":-"):
            self.err(f"expected ':-' or '.' after {'the head' if len(heads) == 1 else 'the heads'}, "
                     f"found {self.what(self.tok)}", self.tok,
                     "a fact ends with '.', a rule is 'head :- body.'")
        self.next()
        bodies: list[list] = [[]]
        while True:
            bodies[-1].append(self.literal())
            if self.at(","):
                self.next()
                continue
            if self.at(";"):
                self.next()
                bodies.append([])
                continue
            break
        if not self.at("."):
            self.err(f"expected ',' or '.' in the rule body, found {self.what(self.tok)}", self.tok,
                     "every rule ends with '.'")
        end = self.next()
        for body in bodies:  # 'h :- a ; b.' is two rules
            self.prog.clauses.append(_Clause(heads, body, self.spans(first, end)))

    def literal(self) -> _Atom | _Cmp:
        t = self.tok
        if self.at("!") or (t.kind == "name" and t.text == "not" and self.toks[self.k + 1].kind == "name"):
            self.next()
            a = self.atom()
            a.negated = True
            a.span = self.spans(t, self.toks[self.k - 1])
            return a
        if t.kind == "name" and self.toks[self.k + 1].kind == "op" and self.toks[self.k + 1].text == "(":
            if t.text in ("count", "sum", "min", "max", "mean", "range", "match", "contains", "ord",
                          "strlen", "substr", "cat", "to_number", "to_string"):
                self.err(f"'{t.text}' (aggregates and functors) is not supported by tlang", t)
            return self.atom()
        if t.kind == "name" and t.text in ("true", "false"):
            self.err(f"'{t.text}' is not supported by tlang", t)
        left = self.term()
        op = self.tok
        if not (op.kind == "op" and op.text in CMP):
            self.err(f"expected a comparison (=, !=, <, <=, >, >=) after {self.what(t)}, found "
                     f"{self.what(op)}", op)
        self.next()
        right = self.term()
        return _Cmp(CMP[op.text], left, right, Span(self.src, t.start, right.span.end))

    def atom(self) -> _Atom:
        name = self.name("a relation name")
        if not self.at("("):
            self.err(f"expected '(' after relation name '{name.text}', found {self.what(self.tok)}", self.tok,
                     "atoms are written name(arguments), e.g. edge(x, y)")
        self.next()
        args: list[_Term] = []
        if not self.at(")"):
            while True:
                args.append(self.term())
                if self.at(","):
                    self.next()
                    continue
                break
        end = self.expect(")", f"to close the arguments of '{name.text}'")
        return _Atom(name.text, args, self.spans(name, end))

    def term(self) -> _Term:
        t = self.next()
        if t.kind == "name":
            if t.text in ("count", "sum", "min", "max", "mean") and self.tok.kind == "op" \
                    and self.tok.text in (":", "{"):
                self.err(f"the aggregate '{t.text}' is not supported by tlang", t,
                         "aggregates need numeric tensors: write the program in tensor logic (.tl)")
            if t.text == "_":
                self._wild += 1
                term = _Term("wild", f"_w{self._wild}", self.span(t))
            else:
                term = _Term("var", t.text, self.span(t))
        elif t.kind == "string":
            term = _Term("sym", _unquote(t.text), self.span(t))
        elif t.kind == "number":
            if "." in t.text:
                self.err("floating-point numbers are not supported by tlang", t)
            term = _Term("num", int(t.text), self.span(t))
        elif t.kind == "op" and t.text == "-" and self.tok.kind == "number":
            self.err("negative numbers are not supported by tlang (numbers are non-negative "
                     "positions)", self.spans(t, self.tok))
        elif t.kind == "op" and t.text in ("@", "["):
            self.err("functors and records are not supported by tlang", t)
        else:
            self.err(f"expected a variable, a constant or '_', found {self.what(t)}", t)
        if self.tok.kind == "op" and self.tok.text in ("+", "-", "*", "/", "%", "^"):
            self.err("arithmetic is not supported by tlang", self.tok)
        return term


def parse_datalog(text: str, name: str = "<input>") -> A.Program:
    """Parse and check a Souffle-style Datalog program (see the module docstring)."""
    from .datalog_check import check
    src = text if isinstance(text, Source) else Source(name, text)
    return check(_Parser(src).program(), src)


def parse_datalog_file(path) -> A.Program:
    """Read and parse a ``.dl`` file (a ``TlangFileError`` if it cannot be read)."""
    from .source import read_program_text
    text = read_program_text(path)
    return parse_datalog(text, str(path))
