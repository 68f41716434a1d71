"""The directives tlang knows, as data, and the check that refuses every other one.

In: a parsed program (``ast.Program``, after includes are spliced).  Out:
nothing, or a located ``TlangCheckError`` (several at once: ``DirectiveErrors``)
for a directive that would otherwise be accepted and ignored:

- an unknown name (``@minimise``: "did you mean '@minimize'?"), or a known one
  in the wrong place (``@minimize`` on its own line instead of after a query);
- an unknown argument (``epoch=5``: "did you mean 'epochs'?", and the list of
  arguments), a positional one where names are needed, a repeated one;
- a value of the wrong type (``lr=fast``, ``epochs=2.5``, ``optimizer=3``) or
  outside its range: ``seed`` an integer in [0, 2**32 - 1], ``epochs`` an
  integer in [0, MAX_STEPS], numbers finite (``1e309`` is infinite), ``lr``,
  ``scale`` and ``eps`` positive, ``tol`` not negative, ``momentum``,
  ``beta1`` and ``beta2`` in [0, 1);
- ``@sample``: the paper's sampling (Table 3, "sampling -> selective
  projection") is not implemented, so it is refused, not ignored;
- two training directives on one query.

``DIRECTIVES`` is the one table: each directive's name, where it may appear
(``QUERY``: after a query, ``STANDALONE``: on its own line) and its arguments
(``Arg``: type, default, range or choices).  ``tlang.learn`` takes its
training options, their defaults and their checks from it.  Errors point at
the argument (``key=value``, or the value) where the directive's source text
can be read back, else at the directive.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from dataclasses import dataclass
from typing import Any

from . import ast as A
from .source import Span, TlangCheckError, TlangErrors

QUERY, STANDALONE = "query", "standalone"

MAX_STEPS = 10_000_000          # epochs and patience: ten million full-batch steps at most
MAX_SEED = 2 ** 32 - 1          # numpy's SeedSequence takes any non-negative int; keep it to 32 bits

OPTIMIZER_NAMES = ("sgd", "adam")              # tlang.learn_runtime.OPTIMIZERS
INIT_NAMES = ("normal", "zeros", "uniform")    # tlang.learn_runtime.init_params
BACKEND_NAMES = ("numpy", "jax")


@dataclass(frozen=True)
class Arg:
    """One argument of a directive: ``kind`` is ``int``, ``float`` or ``name`` (a bare name or a
    string, one of ``choices``); numbers lie in ``[low, high]`` (an end is left out where
    ``low_open``/``high_open``; None: unbounded)."""
    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def range_text(self) -> str:
        if self.low is not None and self.high is not None:
            return (f"{'(' if self.low_open else '['}{_num(self.low)}, "
                    f"{_num(self.high)}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return "any finite number"

    def describe(self) -> str:
        """``lr: learning rate, a number > 0`` (for notes)."""
        if self.kind == "name":
            return f"{self.name}: {self.help}, one of {', '.join(self.choices)}"
        kind = "an integer" if self.kind == "int" else "a number"
        bounds = self.range_text()
        return f"{self.name}: {self.help}, {kind}" + ("" if bounds == "any finite number" else f" {bounds}"
                                                      if bounds[0] in "<>" else f" in {bounds}")


@dataclass(frozen=True)
class Directive:
    """A known directive: where it may appear, its arguments, and (``unsupported``) why it is
    refused although the paper has it."""
    name: str
    where: tuple[str, ...]
    args: tuple[Arg, ...] = ()
    help: str = ""
    unsupported: str | None = None

    def arg(self, name: str) -> Arg | None:
        return next((a for a in self.args if a.name == name), None)


TRAINING_ARGS: tuple[Arg, ...] = (
    Arg("lr", "float", 0.01, "learning rate", low=0.0, low_open=True),
    Arg("epochs", "int", 100, "at most this many full-batch gradient steps", low=0, high=MAX_STEPS),
    Arg("optimizer", "name", "adam", "adam or sgd", choices=OPTIMIZER_NAMES),
    Arg("tol", "float", 0.0, "stop when the loss changes by less than this (0: off)", low=0.0),
    Arg("seed", "int", 0, "seed of the start values", low=0, high=MAX_SEED),
    Arg("patience", "int", 5, "epochs in a row below tol before stopping", low=1, high=MAX_STEPS),
    Arg("init", "name", "normal", "start values", choices=INIT_NAMES),
    Arg("scale", "float", 1.0, "multiplies the standard deviation of the start values", low=0.0, low_open=True),
    Arg("momentum", "float", 0.0, "sgd momentum", low=0.0, high=1.0, high_open=True),
    Arg("beta1", "float", 0.9, "adam: decay of the first moment", low=0.0, high=1.0, high_open=True),
    Arg("beta2", "float", 0.999, "adam: decay of the second moment", low=0.0, high=1.0, high_open=True),
    Arg("eps", "float", 1e-8, "adam: added to the denominator", low=0.0, low_open=True),
    Arg("backend", "name", None, "numpy (tlang's reverse mode) or jax (JAX autodiff)", choices=BACKEND_NAMES),
)

DIRECTIVES: dict[str, Directive] = {d.name: d for d in (
    Directive("minimize", (QUERY,), TRAINING_ARGS, "train the learnable tensors to minimise the query's tensor"),
    Directive("maximize", (QUERY,), TRAINING_ARGS, "train the learnable tensors to maximise the query's tensor"),
    Directive("sample", (QUERY, STANDALONE), (), "sampling (the paper's selective projection)",
              unsupported="sampling (selective projection, Table 3 of the paper) is not implemented"),
)}

TRAINING = ("minimize", "maximize")
DEFAULTS: dict[str, Any] = {a.name: a.default for a in TRAINING_ARGS}


class DirectiveErrors(TlangErrors, TlangCheckError):
    """Several directive errors of one program, reported together (still a ``TlangCheckError``)."""


# ------------------------------------------------------------ values

def _num(x: float) -> str:
    if isinstance(x, int):
        text = str(x)
        return text if len(text) <= 20 else f"{text[:6]}... ({len(text)} digits)"
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:g}"


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else _num(value) if isinstance(value, int) else repr(value)


def convert(arg: Arg, value: Any, span: Span | None = None) -> Any:
    """``value`` checked against ``arg`` and converted to its type (``int``, ``float``, ``str``)."""
    key = f"'{arg.name}'"
    if arg.kind == "name":
        if not isinstance(value, str):
            raise TlangCheckError(f"{key} must be a name, not {_show(value)}", span,
                                  [f"{arg.name}: {', '.join(arg.choices)}"])
        if value not in arg.choices:
            close = difflib.get_close_matches(value, arg.choices, n=1)
            raise TlangCheckError(f"unknown {arg.name} '{value}'", span,
                                  ([f"did you mean '{close[0]}'?"] if close else [])
                                  + [f"{arg.name}: {', '.join(arg.choices)}"])
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        finite = isinstance(value, str) and value.lower() in ("inf", "infinity", "nan")
        raise TlangCheckError(f"{key} must be a {'finite ' if finite else ''}number, not {_show(value)}", span,
                              [arg.describe()])
    out: int | float
    if isinstance(value, numbers.Integral):
        out = int(value)
        if arg.kind == "float":
            try:
                out = float(out)
            except OverflowError:
                raise TlangCheckError(f"{key} is too large: {_num(int(value))}", span,
                                      [arg.describe()]) from None
    else:
        number = float(value)
        if not math.isfinite(number):
            raise TlangCheckError(f"{key} must be a finite number, not {'NaN' if math.isnan(number) else number}",
                                  span, [arg.describe()]
                                  + ([] if math.isnan(number) else ["a literal beyond about 1.8e308 is infinite"]))
        if arg.kind == "int":
            if not number.is_integer():
                raise TlangCheckError(f"{key} must be an integer, not {_num(number)}", span, [arg.describe()])
            out = int(number)
        else:
            out = number
    low_bad = arg.low is not None and (out <= arg.low if arg.low_open else out < arg.low)
    high_bad = arg.high is not None and (out >= arg.high if arg.high_open else out > arg.high)
    if low_bad or high_bad:
        if arg.low == 0 and arg.low_open and arg.high is None:
            message = f"{key} must be positive, not {_num(out)}"
        elif arg.low == 0 and arg.high is None:
            message = f"{key} cannot be negative, not {_num(out)}"
        else:
            kind = "an integer" if arg.kind == "int" else "a number"
            message = f"{key} must be {kind} in {arg.range_text()}, not {_num(out)}"
        raise TlangCheckError(message, span, [arg.describe()])
    return out


# ------------------------------------------------------- argument spans

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\f\r]+|\\[ \t]*\r?\n)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-[ \t]*(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
               |(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*'*)
  | (?P<punct>[@(),=])
""", re.X)


@dataclass(frozen=True)
class _ArgSpans:
    whole: Span | None
    key: Span | None
    value: Span | None


def argument_spans(d: A.Directive) -> list[_ArgSpans]:
    """Where each argument of ``d`` is written (``key=value``, the key, the value), read back
    from the directive's source text; the directive's own span where that cannot be done (a
    directive made in Python)."""
    fallback = [_ArgSpans(d.span, d.span, d.span) for _ in d.args]
    span = d.span
    if span is None:
        return fallback
    text, base = span.text(), span.start
    toks: list[tuple[str, str, int, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            return fallback
        if m.lastgroup != "ws":
            toks.append((m.lastgroup or "", m.group(), m.start(), m.end()))
        pos = m.end()
    if len(toks) < 2 or toks[0][1] != "@" or toks[1][1] != d.name:
        return fallback
    rest = toks[2:]
    if not rest:
        return fallback if d.args else []
    if rest[0][1] != "(" or rest[-1][1] != ")":
        return fallback
    inner = rest[1:-1]
    groups: list[list[tuple[str, str, int, int]]] = [[]]
    for tok in inner:
        if tok[1] == ",":
            groups.append([])
        else:
            groups[-1].append(tok)
    if groups == [[]]:
        groups = []
    if len(groups) != len(d.args):
        return fallback
    out = []

    def at(a: int, b: int) -> Span:
        return Span(span.source, base + a, base + b)

    for g in groups:
        if not g:
            return fallback
        whole = at(g[0][2], g[-1][3])
        if len(g) >= 3 and g[1][1] == "=":
            out.append(_ArgSpans(whole, at(g[0][2], g[0][3]), at(g[2][2], g[-1][3])))
        else:
            out.append(_ArgSpans(whole, whole, whole))
    return out


# ---------------------------------------------------------------- checks

def _where_text(spec: Directive) -> str:
    return " or ".join({"query": "after a query", "standalone": "on its own line"}[w] for w in spec.where)


def _known() -> str:
    parts = []
    for spec in DIRECTIVES.values():
        tag = " (not supported yet)" if spec.unsupported else f" ({_where_text(spec)})"
        parts.append(f"@{spec.name}{tag}")
    return ", ".join(parts)


def _example(spec: Directive) -> str:
    if spec.name in TRAINING:
        return f"Loss? @{spec.name}(lr=0.01, epochs=100)"
    return f"@{spec.name}"


def directive_errors(d: A.Directive, where: str) -> list[TlangCheckError]:
    """Every problem of one directive written ``where`` (``QUERY`` or ``STANDALONE``)."""
    spec = DIRECTIVES.get(d.name)
    if spec is None:
        close = difflib.get_close_matches(d.name, list(DIRECTIVES), n=1)
        return [TlangCheckError(f"unknown directive '@{d.name}'", d.span,
                                ([f"did you mean '@{close[0]}'?"] if close else []) + [f"directives: {_known()}"])]
    if spec.unsupported:
        return [TlangCheckError(f"@{d.name} (selective projection) is not supported yet" if d.name == "sample"
                                else f"@{d.name} is not supported yet", d.span,
                                [f"{spec.unsupported}; tlang refuses the directive rather than ignore it"])]
    if where not in spec.where:
        place = "on its own line" if where == STANDALONE else "after a query"
        return [TlangCheckError(f"@{d.name} cannot stand {place}: it belongs {_where_text(spec)}", d.span,
                                [f"as in {_example(spec)}"])]
    errors: list[TlangCheckError] = []
    names = [a.name for a in spec.args]
    seen: set[str] = set()
    for (key, value), spans in zip(d.args, argument_spans(d)):
        if key is None:
            if not spec.args:
                errors.append(TlangCheckError(f"@{d.name} takes no arguments", spans.whole))
            else:
                errors.append(TlangCheckError(
                    f"@{d.name} takes named arguments, not a positional {_show(value)}", spans.whole,
                    [f"as in {_example(spec)}", f"arguments: {', '.join(names)}"]))
            continue
        arg = spec.arg(key)
        if arg is None:
            close = difflib.get_close_matches(key, names, n=1)
            errors.append(TlangCheckError(f"@{d.name} has no argument '{key}'", spans.whole,
                                          ([f"did you mean '{close[0]}'?"] if close else [])
                                          + [f"arguments: {', '.join(names) or 'none'}"]))
            continue
        if key in seen:
            errors.append(TlangCheckError(f"'{key}' is given twice in @{d.name}", spans.whole))
            continue
        seen.add(key)
        try:
            convert(arg, value, spans.value)
        except TlangCheckError as e:
            errors.append(e)
    return errors


def directive_arguments(d: A.Directive) -> dict[str, Any]:
    """The checked arguments of a known directive after a query (the first error is raised)."""
    errors = directive_errors(d, QUERY)
    if errors:
        raise errors[0]
    spec = DIRECTIVES[d.name]
    return {key: convert(spec.arg(key), value) for key, value in d.args if key is not None}  # type: ignore[arg-type]


def program_errors(program: A.Program) -> list[TlangCheckError]:
    """Every directive problem of ``program``, in source order."""
    errors: list[TlangCheckError] = []
    for st in program.statements:
        if isinstance(st, A.Query):
            training = [d for d in st.directives if d.name in TRAINING]
            for d in st.directives:
                errors.extend(directive_errors(d, QUERY))
            for d in training[1:]:
                errors.append(TlangCheckError(
                    f"'{st.target.name}?' already has @{training[0].name}: one training directive per query",
                    d.span, ["write a second query for a second training run"]))
        elif isinstance(st, A.DirectiveStmt):
            errors.extend(directive_errors(st.directive, STANDALONE))
    return errors


def check_directives(program: A.Program) -> None:
    """Refuse a program with any directive tlang would not act on exactly as written."""
    errors = program_errors(program)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise DirectiveErrors(errors)


__all__ = ["Arg", "Directive", "DIRECTIVES", "TRAINING", "TRAINING_ARGS", "DEFAULTS", "QUERY", "STANDALONE",
           "MAX_STEPS", "MAX_SEED", "DirectiveErrors", "check_directives", "program_errors",
           "directive_errors", "directive_arguments", "convert", "argument_spans"]
