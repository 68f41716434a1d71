"""Datalog syntax (Souffle style): ``.dl`` text -> ``tlang.ast.Program``.

In: program text and its name (a path; its folder is where ``.input`` and
``.output`` files live).  Out: the same AST a ``.tl`` program gives --
Boolean ``Ref`` atoms, ``Rule``/``Fact`` statements, ``TensorDecl`` for
relations, ``Load`` for ``.input``, ``Store``/``Query`` for ``.output`` --
or a located ``TlangSyntaxError`` / ``TlangCheckError`` (``file:line:col``
with a caret) for bad syntax, unsafe variables, arity or type mismatches,
undeclared relations and negation through recursion.

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

import difflib
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from . import ast as A
from .source import Source, Span, TlangCheckError, TlangSyntaxError

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


# ---------------------------------------------------------------- checking

class _Checker:
    """Arity, types, declarations, safety and stratification; then the AST."""

    def __init__(self, p: _Program, src: Source) -> None:
        self.p = p
        self.src = src
        self.arity: dict[str, tuple[int, Span]] = {}
        self.kinds: dict[str, list[str | None]] = {}
        self.aux: list[A.Stmt] = []
        self.aux_names: dict[str, str] = {}

    def err(self, msg: str, span: Span | None, *notes: str):
        raise TlangCheckError(msg, span, notes)

    def run(self) -> A.Program:
        p = self.p
        for d in p.decls.values():
            self.arity[d.name] = (len(d.attrs), d.span)
            self.kinds[d.name] = [self.base(t) for _, t in d.attrs]
        strict = bool(p.decls)
        for io in p.ios:
            if io.name not in p.decls and (strict or io.name not in self.used()):
                self.err(f"'.{io.kind}' of relation '{io.name}', which is not declared", io.name_span,
                         *self.suggest(io.name))
        for c in p.clauses:
            for a in c.heads + [b for b in c.body if isinstance(b, _Atom)]:
                self.check_atom(a, strict)
        stmts: list[A.Stmt] = []
        rules = []
        for c in p.clauses:
            if not c.body:
                stmts.append(self.fact(c))
            else:
                rules.extend(self.rule(c))
        self.stratify(rules)
        stmts = self.decls() + self.inputs() + stmts + self.aux + [r for r, _, _ in rules] + self.outputs()
        return A.Program(tuple(stmts), span=Span(self.src, 0, len(self.src.text)))

    def base(self, ty: str) -> str:
        return BASE_TYPES.get(ty) or self.p.types.get(ty, "symbol")

    def used(self) -> set[str]:
        return {a.name for c in self.p.clauses for a in c.heads + [b for b in c.body if isinstance(b, _Atom)]}

    def suggest(self, name: str) -> list[str]:
        close = difflib.get_close_matches(name, list(self.p.decls), n=1)
        return [f"did you mean '{close[0]}'?"] if close else ["declare it with .decl"]

    def check_atom(self, a: _Atom, strict: bool) -> None:
        n = len(a.args)
        if a.name not in self.arity:
            if strict:
                self.err(f"relation '{a.name}' is not declared", a.span, *self.suggest(a.name))
            self.arity[a.name] = (n, a.span)
            self.kinds[a.name] = [None] * n
        m, where = self.arity[a.name]
        if m != n:
            decl = a.name in self.p.decls
            self.err(f"'{a.name}' has {n} argument{'s' * (n != 1)} here but "
                     f"{'is declared with' if decl else 'has'} {m} at {where.short()}", a.span)
        for k, t in enumerate(a.args):
            want = self.kinds[a.name][k]
            got = {"sym": "symbol", "num": "number"}.get(t.kind)
            if want and got and want != got:
                attr = self.p.decls[a.name].attrs[k][0] if a.name in self.p.decls else f"#{k + 1}"
                self.err(f"a {got} constant in attribute '{attr}' of '{a.name}', which holds "
                         f"{want}s", t.span, *(["quote it to make it a symbol: \"" + str(t.value) + "\""]
                                              if got == "number" else []))

    # statements -------------------------------------------------------------
    def ref(self, name: str, terms: list[_Term], span: Span, subst: dict[str, _Term] | None = None
            ) -> A.Ref:
        idx: list[A.IndexExpr] = []
        for t in terms:
            if subst and t.kind in ("var", "wild") and t.value in subst:
                t = subst[t.value]
            if t.kind in ("var", "wild"):
                idx.append(A.IVar(str(t.value), span=t.span))
            else:
                idx.append(A.IConst(t.value, quoted=t.kind == "sym", span=t.span))
        return A.Ref(name, tuple(idx), True, span=span)

    def fact(self, c: _Clause) -> A.Fact:
        h = c.heads[0]
        for t in h.args:
            if t.kind in ("var", "wild"):
                self.err(f"a fact must be ground, but '{t.value if t.kind == 'var' else '_'}' is a "
                         "variable", t.span, "quote names to make them constants: \"alice\"",
                         "or write a rule: head :- body.")
        return A.Fact(self.ref(h.name, h.args, h.span), span=c.span)

    def rule(self, c: _Clause) -> list[tuple[A.Rule, str, list[tuple[str, str, Span]]]]:
        subst = self.equalities(c)
        pos_vars: set[str] = set()
        for b in c.body:
            if isinstance(b, _Atom) and not b.negated:
                for t in b.args:
                    t = subst.get(t.value, t) if t.kind in ("var", "wild") else t
                    if t.kind in ("var", "wild"):
                        pos_vars.add(str(t.value))

        def bound(t: _Term, what: str) -> None:
            t2 = subst.get(t.value, t) if t.kind in ("var", "wild") else t
            if t2.kind == "var" and t2.value not in pos_vars:
                self.err(f"variable '{t.value}' {what} is not bound by a positive atom of the body",
                         t.span, "every variable of the head, of a negated atom and of a comparison "
                         "must occur in a positive (non-negated) body atom")

        for h in c.heads:
            for t in h.args:
                if t.kind == "wild":
                    self.err("'_' cannot appear in a rule head", t.span)
                bound(t, "in the head")
        body: list[A.Expr] = []
        deps: list[tuple[str, str, Span]] = []
        for b in c.body:
            if isinstance(b, _Atom):
                if b.negated:
                    for t in b.args:
                        if t.kind == "var":
                            bound(t, "in a negated atom")
                    body.append(A.Unary("not", self.ref(b.name, b.args, b.span, subst), span=b.span))
                    deps.append((b.name, "neg", b.span))
                else:
                    body.append(self.ref(b.name, b.args, b.span, subst))
                    deps.append((b.name, "pos", b.span))
            else:
                e = self.comparison(b, subst, bound)
                if e is not None:
                    body.append(e)
        if not any(isinstance(b, _Atom) and not b.negated for b in c.body):
            self.err("a rule needs at least one positive atom in its body", c.span)
        if "\x00false" in subst:  # a false equation of constants: the rule derives nothing
            body.append(self.never(c))
        return [(A.Rule(self.ref(h.name, h.args, h.span, subst), tuple(body), span=c.span), h.name, deps)
                for h in c.heads]

    def equalities(self, c: _Clause) -> dict[str, _Term]:
        """``x = y`` and ``x = "c"`` unify: the variable is replaced by the other side."""
        subst: dict[str, _Term] = {}

        def find(t: _Term) -> _Term:
            while t.kind in ("var", "wild") and t.value in subst:
                t = subst[t.value]
            return t

        for b in c.body:
            if isinstance(b, _Cmp) and b.op == "==":
                left, right = find(b.left), find(b.right)
                if left.kind == "var":
                    if not (right.kind == "var" and right.value == left.value):
                        subst[str(left.value)] = right
                elif right.kind == "var":
                    subst[str(right.value)] = left
                elif left.kind == "wild" or right.kind == "wild":
                    continue
                elif left.value != right.value or left.kind != right.kind:
                    subst["\x00false"] = left  # a constant equation that is false: an empty rule
        return {k: find(v) for k, v in subst.items()}

    def comparison(self, b: _Cmp, subst: dict[str, _Term], bound) -> A.Expr | None:
        if b.op == "==":
            return None  # solved by substitution
        terms = []
        for t in (b.left, b.right):
            if t.kind == "wild":
                self.err("'_' cannot appear in a comparison", t.span)
            if t.kind == "var":
                bound(t, "in a comparison")
            terms.append(subst.get(t.value, t) if t.kind == "var" else t)
        left, right = terms
        syms = [t for t in terms if t.kind == "sym"]
        if syms:
            if b.op != "!=":
                self.err("only = and != compare symbols in tlang", b.span,
                         "ordering comparisons (<, <=, >, >=) take numbers")
            if len(syms) == 2:
                return None if left.value != right.value else self.never(b)
            var = left if left.kind == "var" else right
            const = syms[0]
            return A.Unary("not", A.Ref(self.symbol_relation(str(const.value)),
                                        (A.IVar(str(var.value), span=var.span),), True, span=b.span),
                           span=b.span)

        def expr(t: _Term) -> A.Expr:
            return A.Name(str(t.value), span=t.span) if t.kind == "var" else A.Num(int(t.value), span=t.span)

        return A.Binary(b.op, expr(left), expr(right), span=b.span)

    def never(self, b: _Cmp | _Clause) -> A.Expr:
        return A.Binary("!=", A.Num(0, span=b.span), A.Num(0, span=b.span), span=b.span)

    def symbol_relation(self, sym: str) -> str:
        """A one-fact relation holding ``sym``: ``x != "c"`` is ``not _dl_symK(x)``."""
        if sym not in self.aux_names:
            name = f"_dl_sym{len(self.aux_names)}"
            self.aux_names[sym] = name
            self.aux.append(A.Fact(A.Ref(name, (A.IConst(sym, quoted=True),), True)))
        return self.aux_names[sym]

    def stratify(self, rules) -> None:
        graph: dict[str, list[tuple[str, str, Span]]] = {}
        for _rule, head, deps in rules:
            graph.setdefault(head, []).extend(deps)
        comp = _sccs(graph)
        for head, edges in graph.items():
            for dep, kind, span in edges:
                if kind == "neg" and comp.get(dep) is not None and comp.get(dep) == comp.get(head):
                    path = _path(graph, dep, head, comp)
                    self.err(f"negation through recursion: '{head}' depends on the negation of '{dep}', "
                             f"which depends on '{head}'", span,
                             f"cycle: {' -> '.join([head] + path)}",
                             "negation must be stratified: a relation cannot depend on the negation "
                             "of itself")

    # declarations and I/O ----------------------------------------------------
    def decls(self) -> list[A.Stmt]:
        """Every relation is Boolean with its arity; each column gets its own domain, so
        columns share positions (symbol tables) only where variables join them."""
        return [A.TensorDecl(name, tuple(f"{name}.{k}" for k in range(n)), True, span=span)
                for name, (n, span) in self.arity.items()]

    def inputs(self) -> list[A.Stmt]:
        out: list[A.Stmt] = []
        for io in self.p.ios:
            if io.kind != "input":
                continue
            path = self.io_path(io, ".facts")
            n = self.arity[io.name][0]
            target = A.Ref(io.name, tuple(A.IVar(f"_{k}") for k in range(n)), True, span=io.name_span)
            out.append(A.Load(target, path, span=io.span))
        return out

    def outputs(self) -> list[A.Stmt]:
        out: list[A.Stmt] = []
        for io in self.p.ios:
            if io.kind != "output":
                continue
            d = self.p.decls.get(io.name)
            if io.params.get("IO") == "stdout":
                names = [a for a, _ in d.attrs] if d else [f"x{k}" for k in range(self.arity[io.name][0])]
                idx = tuple(A.IVar(a) for a in names)
                out.append(A.Query(A.Ref(io.name, idx, True, span=io.name_span), span=io.span))
                continue
            path = self.io_path(io, ".csv")
            out.append(A.Store(path, A.Ref(io.name, (), True, span=io.name_span), span=io.span))
        return out

    def io_path(self, io: _IO, ext: str) -> str:
        known = {"IO", "filename", "delimiter", "file"}
        for key in io.params:
            if key not in known:
                self.err(f"'.{io.kind}' parameter '{key}' is not supported by tlang", io.span,
                         "tlang reads filename=, IO=file|stdout and delimiter=")
        kind = io.params.get("IO", "file")
        if kind not in ("file", "stdout") or (kind == "stdout" and io.kind == "input"):
            self.err(f"IO={kind} is not supported for .{io.kind}", io.span)
        path = io.params.get("filename") or io.params.get("file") or f"{io.name}{ext}"
        delim = io.params.get("delimiter")
        if delim is not None:
            want = {"\t": (".facts", ".tsv", ".tab"), "\\t": (".facts", ".tsv", ".tab"), ",": (".csv",)}
            suffix = PurePath(path).suffix.lower()
            if delim not in want or suffix not in want[delim]:
                self.err(f"delimiter {delim!r} does not match file type {suffix or '(none)'}", io.span,
                         "tlang takes the delimiter from the extension: tab for .facts/.tsv/.tab, "
                         "comma for .csv")
        return path


def _sccs(graph: dict[str, list]) -> dict[str, int]:
    """Strongly connected component id of each node (iterative Tarjan)."""
    nodes = set(graph) | {d for es in graph.values() for d, _, _ in es}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    comp: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(graph.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w, _, _ in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(graph.get(w, []))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp[w] = index[v]
                    if w == v:
                        break
    return comp


def _path(graph, start: str, goal: str, comp: dict[str, int]) -> list[str]:
    """Nodes from ``start`` to ``goal`` along dependencies inside one component."""
    from collections import deque
    prev = {start: None}
    q = deque([start])
    while q:
        v = q.popleft()
        if v == goal:
            break
        for w, _, _ in graph.get(v, []):
            if w not in prev and comp.get(w) == comp.get(start):
                prev[w] = v
                q.append(w)
    out = []
    v = goal
    while v is not None:
        out.append(v)
        v = prev.get(v)
    return out[::-1]


def parse_datalog(text: str, name: str = "<input>") -> A.Program:
    """Parse and check a Souffle-style Datalog program (see the module docstring)."""
    src = text if isinstance(text, Source) else Source(name, text)
    prog = _Parser(src).program()
    return _Checker(prog, src).run()


def parse_datalog_file(path) -> A.Program:
    """Read and parse a ``.dl`` file (a ``TlangFileError`` if it cannot be read)."""
    from pathlib import Path

    from .source import TlangFileError
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TlangFileError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise TlangFileError(f"{path} is a directory, not a program file") from None
    except UnicodeDecodeError as e:
        raise TlangFileError(f"{path} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise TlangFileError(f"cannot read {path}: {e.strerror}") from None
    return parse_datalog(text, str(path))
