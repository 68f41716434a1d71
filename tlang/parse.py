"""Parsing: program text -> ``tlang.ast.Program``.

In: a ``Source`` (name + text).  Out: a Program whose nodes carry spans, or a
``TlangSyntaxError`` that says in words what was expected where.  The lark
grammar lives in ``grammar/tlang.lark``; this module holds the post-lexer
(newlines inside brackets do not end a statement) and the tree -> AST
transformer.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast as A
from .functions import is_function_name
from .source import Source, Span, TlangSyntaxError

_OPEN = {"LPAR", "LSQB", "LBRACE"}
_CLOSE = {"RPAR", "RSQB", "RBRACE"}
# a newline after one of these cannot end a statement
_CONTINUE = {"COMMA", "ARROW", "ASSIGN_OP", "ADD_OP", "MUL_OP", "CIRCUMFLEX", "CMP_OP", "MINUS", "EQUAL"}


class _PostLex:
    """Drops newlines inside brackets and after a continuation token."""

    always_accept = ("_NL",)

    def process(self, stream):
        depth = 0
        prev = None
        for tok in stream:
            if tok.type == "_NL":
                if depth > 0 or prev in _CONTINUE:
                    continue
            elif tok.type in _OPEN:
                depth += 1
            elif tok.type in _CLOSE:
                depth = max(0, depth - 1)
            prev = tok.type
            yield tok


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "grammar" / "tlang.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", postlex=_PostLex(),
                propagate_positions=True, maybe_placeholders=True)


# ------------------------------------------------------------- transformer

def _unquote(text: str) -> str:
    body = text[1:-1]
    out, k = [], 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}
    while k < len(body):
        ch = body[k]
        if ch == "\\" and k + 1 < len(body):
            out.append(escapes.get(body[k + 1], body[k + 1]))
            k += 2
        else:
            out.append(ch)
            k += 1
    return "".join(out)


def _number(text: str) -> int | float:
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


class _Arg:
    """Intermediate: one argument inside brackets or parentheses."""

    __slots__ = ("kind", "value", "span")

    def __init__(self, kind: str, value, span: Span) -> None:
        self.kind, self.value, self.span = kind, value, span


class _ToAst(Transformer):
    def __init__(self, source: Source) -> None:
        super().__init__()
        self.src = source

    # helpers -------------------------------------------------------------
    def _span(self, meta_or_tok) -> Span | None:
        if isinstance(meta_or_tok, Token):
            return Span(self.src, meta_or_tok.start_pos, meta_or_tok.end_pos)
        if getattr(meta_or_tok, "empty", True):
            return None
        return Span(self.src, meta_or_tok.start_pos, meta_or_tok.end_pos)

    def _err(self, msg: str, span: Span | None, *notes: str):
        raise TlangSyntaxError(msg, span, notes)

    def _index(self, arg) -> A.IndexExpr:
        """Convert a parsed argument into an index expression."""
        if isinstance(arg, _Arg):
            if arg.kind == "dot":
                inner = self._index(arg.value)
                if not isinstance(inner, A.IVar):
                    self._err("only an index variable can carry the normalisation mark '.'", arg.span)
                return A.IVar(inner.name, True, span=arg.span)
            if arg.kind in ("virtual", "slice"):
                return arg.value
            self._err("a keyword argument cannot be an index", arg.span)
        try:
            return A.expr_to_index(self._as_expr(arg))
        except A.NotAnIndex as bad:
            if bad.reason == "float":
                self._err(f"index {bad.node.value!r} is not an integer", bad.node.span)
            self._err("this is not an index", getattr(bad.node, "span", None),
                      "indices are variables (i, p'), constants (Alice, 0, \"bob\"), "
                      "i+1, x+dx, x/S, virtual *t, or slices like 1:4")

    def _expr(self, arg) -> A.Expr:
        if isinstance(arg, _Arg):
            what = {"dot": "the normalisation mark '.'", "virtual": "a virtual index",
                    "slice": "a slice", "kwarg": "a keyword argument"}[arg.kind]
            self._err(f"{what} can only appear inside a tensor's indices", arg.span)
        return self._as_expr(arg)

    # heads / refs ----------------------------------------------------------
    @v_args(meta=True)
    def ref_bare(self, meta, children):
        (name,) = children
        return ("bare", str(name), None, self._span(meta))

    @v_args(meta=True)
    def ref_sq(self, meta, children):
        name, args = children
        return ("sq", str(name), args or [], self._span(meta))

    @v_args(meta=True)
    def ref_paren(self, meta, children):
        name, args = children
        return ("paren", str(name), args or [], self._span(meta))

    def args(self, children):
        return list(children)

    @v_args(meta=True)
    def arg_dot(self, meta, children):
        return _Arg("dot", children[0], self._span(meta))

    @v_args(meta=True)
    def arg_virtual(self, meta, children):
        name = str(children[0])
        offset = 0
        if len(children) == 3:
            offset = int(children[2]) * (1 if str(children[1]) == "+" else -1)
        span = self._span(meta)
        return _Arg("virtual", A.IVirtual(name, offset, span=span), span)

    @v_args(meta=True)
    def kwarg(self, meta, children):
        return _Arg("kwarg", (str(children[0]), self._expr(children[1])), self._span(meta))

    def sint(self, children):
        return int(children[0])

    def sint_neg(self, children):
        return -int(children[0])

    @v_args(meta=True)
    def slice2(self, meta, children):
        span = self._span(meta)
        return _Arg("slice", A.ISlice(children[0], children[1], None, span=span), span)

    @v_args(meta=True)
    def slice3(self, meta, children):
        span = self._span(meta)
        if children[2] == 0:
            self._err("slice step cannot be zero", span)
        return _Arg("slice", A.ISlice(children[0], children[1], children[2], span=span), span)

    def _as_ref(self, head, boolean_ok: bool = True) -> A.Ref:
        kind, name, args, span = head
        if kind == "bare":
            return A.Ref(name, (), False, span=span)
        return A.Ref(name, tuple(self._index(a) for a in args), kind == "paren", span=span)

    def _as_expr(self, head) -> A.Expr:
        if not isinstance(head, tuple):
            return head
        kind, name, args, span = head
        if kind == "bare":
            return A.Name(name, span=span)
        if kind == "paren" and is_function_name(name):
            pos, kw = [], []
            for a in args:
                if isinstance(a, _Arg) and a.kind == "kwarg":
                    kw.append(a.value)
                elif kw:
                    self._err("a positional argument cannot follow a keyword argument",
                              self._expr(a).span)
                else:
                    pos.append(self._expr(a))
            return A.Call(name, tuple(pos), tuple(kw), span=span)
        return self._as_ref(head)

    # expressions -----------------------------------------------------------
    @v_args(meta=True)
    def number(self, meta, children):
        return A.Num(_number(str(children[0])), span=self._span(meta))

    @v_args(meta=True)
    def neg_number(self, meta, children):
        return A.Num(-_number(str(children[0])), span=self._span(meta))

    @v_args(meta=True)
    def string(self, meta, children):
        return A.Str(_unquote(str(children[0])), span=self._span(meta))

    @v_args(meta=True)
    def binop(self, meta, children):
        left, op, right = children
        return A.Binary(str(op), self._as_expr(left), self._as_expr(right), span=self._span(meta))

    @v_args(meta=True)
    def compare(self, meta, children):
        left, op, right = children
        op = {"≠": "!=", "≤": "<=", "≥": ">="}.get(str(op), str(op))
        return A.Binary(op, self._as_expr(left), self._as_expr(right), span=self._span(meta))

    @v_args(meta=True)
    def join(self, meta, children):
        left, right = children
        return A.Binary("*", self._as_expr(left), self._as_expr(right), span=self._span(meta))

    @v_args(meta=True)
    def pow(self, meta, children):
        left, right = children
        return A.Binary("^", self._as_expr(left), self._as_expr(right), span=self._span(meta))

    @v_args(meta=True)
    def neg(self, meta, children):
        return A.Unary("-", self._as_expr(children[0]), span=self._span(meta))

    @v_args(meta=True)
    def negation(self, meta, children):
        return A.Unary("not", self._as_expr(children[1]), span=self._span(meta))

    @v_args(meta=True)
    def list_lit(self, meta, children):
        items = tuple(c.value if isinstance(c, A.Num) else c for c in children if c is not None)
        return A.ListLit(items, span=self._span(meta))

    # statements ------------------------------------------------------------
    @v_args(meta=True)
    def equation(self, meta, children):
        head, op, rhs = children
        span = self._span(meta)
        lhs = self._as_ref(head)
        rhs = self._as_expr(rhs)
        if isinstance(rhs, A.Str):
            if str(op) != "=":
                self._err(f"a file is read with '=', not '{op}'", self._span(op))
            return A.Load(lhs, rhs.value, span=span)
        return A.Equation(lhs, str(op), rhs, span=span)

    @v_args(meta=True)
    def rule(self, meta, children):
        head, _arrow, body = children
        lhs = self._as_ref(head)
        if not lhs.boolean and lhs.indices:
            lhs = A.Ref(lhs.name, lhs.indices, True, span=lhs.span)
        return A.Rule(lhs, body, span=self._span(meta))

    def body(self, children):
        return tuple(self._as_expr(c) for c in children)

    def _rhs(self, rhs):
        return self._as_expr(rhs)

    @v_args(meta=True)
    def facts(self, meta, children):
        out = []
        for head in children:
            if head is None or isinstance(head, Token):
                continue
            kind, name, args, span = head
            if kind != "paren":
                hint = f"did you mean the query '{span.text()}?'" if span else "did you mean a query?"
                self._err(f"'{span.text() if span else name}' on its own is not a statement", span,
                          "a fact is written R(A, B); an equation needs '='", hint)
            out.append(A.Fact(self._as_ref(head), span=span))
        return out

    @v_args(meta=True)
    def query(self, meta, children):
        head, *directives = children
        return A.Query(self._as_ref(head), tuple(directives), span=self._span(meta))

    @v_args(meta=True)
    def store(self, meta, children):
        path, head = children
        return A.Store(_unquote(str(path)), self._as_ref(head), span=self._span(meta))

    @v_args(meta=True)
    def directive(self, meta, children):
        name, *rest = children
        args = tuple(a for a in rest if a is not None)
        return A.Directive(str(name), args, span=self._span(meta))

    def darg(self, children):
        key, val = children
        if isinstance(val, A.Num | A.Str):
            val = val.value
        return (None if key is None else str(key), val)

    def dname(self, children):
        return str(children[0])

    @v_args(meta=True)
    def directive_stmt(self, meta, children):
        return A.DirectiveStmt(children[0], span=self._span(meta))

    @v_args(meta=True)
    def domain_size(self, meta, children):
        return A.DomainDecl(str(children[0]), int(children[1]), None, span=self._span(meta))

    @v_args(meta=True)
    def domain_syms(self, meta, children):
        syms = []
        for c in children[1:]:
            if c is None:
                continue
            text = str(c)
            syms.append(_unquote(text) if c.type == "STRING" else text)
        return A.DomainDecl(str(children[0]), None, tuple(syms), span=self._span(meta))

    @v_args(meta=True)
    def index_decl(self, meta, children):
        *names, dom = children
        d = int(dom) if dom.type == "INT" else str(dom)
        return A.IndexDecl(tuple(str(n) for n in names), d, span=self._span(meta))

    def dims(self, children):
        return tuple(int(c) if c.type == "INT" else str(c) for c in children)

    def _tensor(self, meta, children, boolean):
        name, dims, dtype = children
        return A.TensorDecl(str(name), dims or (), boolean, None if dtype is None else str(dtype),
                            span=self._span(meta))

    @v_args(meta=True)
    def tensor_sq(self, meta, children):
        return self._tensor(meta, children, False)

    @v_args(meta=True)
    def tensor_paren(self, meta, children):
        return self._tensor(meta, children, True)

    @v_args(meta=True)
    def mark_decl(self, meta, children):
        kind, *names = children
        return A.MarkDecl(str(kind), tuple(str(n) for n in names), span=self._span(meta))

    @v_args(meta=True)
    def import_stmt(self, meta, children):
        return A.Import(str(children[0]), span=self._span(meta))

    @v_args(meta=True)
    def include_stmt(self, meta, children):
        return A.Include(_unquote(str(children[0])), span=self._span(meta))

    @v_args(meta=True)
    def start(self, meta, children):
        stmts = []
        for c in children:
            if isinstance(c, list):
                stmts.extend(c)
            elif c is not None and not isinstance(c, Token):
                stmts.append(c)
        return A.Program(tuple(stmts), span=Span(self.src, 0, len(self.src.text)))


# ---------------------------------------------------------------- errors

_TOKEN_WORDS = {
    "NAME": "a name", "INT": "an integer", "NUMBER": "a number", "FLOAT": "a number",
    "STRING": "a string", "_NL": "end of line", "$END": "end of input",
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'",
    "COMMA": "','", "COLON": "':'", "SEMICOLON": "';'", "DOT": "'.'", "QMARK": "'?'",
    "CIRCUMFLEX": "'^'", "STAR": "'*'", "MINUS": "'-'", "EQUAL": "'='", "AT": "'@'",
    "ASSIGN_OP": "'=' (or +=, max=, min=, avg=)", "ARROW": "'<-'", "CMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*' or '/'", "NOT": "'not'", "MARK": "'const' or 'learn'",
}


def _describe(expected: set[str]) -> str:
    words = sorted({_TOKEN_WORDS.get(t, f"'{t.lower()}'" if t.isalpha() else t) for t in expected})
    if not words:
        return ""
    if len(words) > 8:
        words = words[:8] + ["..."]
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]


def _token_text(tok: Token) -> str:
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "$END":
        return "end of input"
    return f"'{tok}'"


def _unclosed(text: str, upto: int) -> list[tuple[str, int]]:
    """The brackets still open at offset ``upto`` (outside strings and comments)."""
    stack: list[tuple[str, int]] = []
    k = 0
    while k < upto:
        ch = text[k]
        if ch == '"':
            k += 1
            while k < len(text) and text[k] not in '"\n':
                k += 2 if text[k] == "\\" else 1
        elif ch == "#" or text.startswith("//", k):
            k = text.find("\n", k)
            if k < 0:
                break
        elif ch in "([{":
            stack.append((ch, k))
        elif ch in ")]}" and stack:
            stack.pop()
        k += 1
    return stack


def _convert(err: UnexpectedInput, src: Source) -> TlangSyntaxError:
    text_len = len(src.text)
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        ch = src.text[pos] if pos < text_len else ""
        msg = f"unexpected character {ch!r}" if ch.strip() else "unexpected character"
        if ch == '"':
            msg = "unterminated string"
        if ch == "'":
            msg = "unexpected character \"'\" (strings use double quotes; a prime follows a name, as in p')"
        notes = []
        if err.allowed:
            notes.append(f"expected {_describe(set(err.allowed))}")
        return TlangSyntaxError(msg, Span(src, pos, pos + 1), notes)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END" or tok.start_pos is None:
            pos = max(0, len(src.text.rstrip()) - 1)
            span = Span(src, pos, pos + 1)
        else:
            end = tok.end_pos if tok.type != "_NL" else tok.start_pos + 1
            span = Span(src, tok.start_pos, max(end, tok.start_pos + 1))
        expected = set(err.expected) | set(getattr(err, "accepts", None) or ())
        msg = f"unexpected {_token_text(tok)}"
        if expected:
            msg += f"; expected {_describe(expected)}"
        notes = []
        opened = _unclosed(src.text, len(src.text) if tok.type == "$END" else span.start)
        if opened and (tok.type == "$END" or src.line_col(opened[-1][1])[0] < span.line):
            ch, at = opened[-1]
            line, col = src.line_col(at)
            notes.append(f"the '{ch}' at {line}:{col} is not closed")
        return TlangSyntaxError(msg, span, notes)
    if isinstance(err, UnexpectedEOF):
        pos = max(0, len(src.text.rstrip()) - 1)
        return TlangSyntaxError("unexpected end of input; a bracket or parenthesis is not closed",
                                Span(src, pos, pos + 1))
    return TlangSyntaxError(str(err), None)


def parse(text: str | Source, name: str = "<input>") -> A.Program:
    """Parse program text into an AST (raises ``TlangSyntaxError``)."""
    src = text if isinstance(text, Source) else Source(name, text)
    body = src.text if src.text.endswith("\n") else src.text + "\n"
    if "\x00" in body:
        pos = body.index("\x00")
        raise TlangSyntaxError("unexpected NUL byte: this does not look like a text file",
                               Span(src, pos, pos + 1))
    try:
        tree = _parser().parse(body)
    except UnexpectedInput as err:
        raise _convert(err, src) from None
    try:
        return _ToAst(src).transform(tree)
    except VisitError as err:
        if isinstance(err.orig_exc, TlangSyntaxError):
            raise err.orig_exc from None
        raise


def parse_file(path: str | Path) -> A.Program:
    """Read and parse a .tl file (raises ``TlangFileError`` if unreadable)."""
    from .source import read_program_text
    text = read_program_text(path)
    return parse(Source(str(path), text))
