"""Grammar-aware fuzzing of whole programs: parse, check, build and run never raise anything
but a TlangError, and every error points at the source (a span) or names what it is about."""

import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlang.api import expand
from tlang.build import build
from tlang.engine import Options, evaluate
from tlang.parse import parse
from tlang.source import TlangError

NAMES = ["W", "X", "Y", "Z", "A", "B", "R", "S", "Parent", "Anc"]
VARS = ["i", "j", "k", "x", "y", "p'"]
CONSTS = ["0", "1", "2", "Alice", "Bob", '"c"']
FUNCS = ["relu", "sig", "exp", "step", "tanh", "sqrt", "abs", "log", "softmax", "lnorm", "concat", "sgi"]


@st.composite
def index(draw):
    kind = draw(st.integers(0, 9))
    v = draw(st.sampled_from(VARS))
    if kind < 5:
        return v
    if kind < 7:
        return draw(st.sampled_from(CONSTS))
    if kind == 7:
        return f"{v}+{draw(st.integers(-2, 2))}"
    if kind == 8:
        return f"{v}/{draw(st.integers(0, 3))}"
    return draw(st.sampled_from(["1:3", ":2", "-2:", "0:4:2", "*t", "*t+1"]))


@st.composite
def ref(draw, boolean=None):
    name = draw(st.sampled_from(NAMES))
    n = draw(st.integers(0, 3))
    idx = ", ".join(draw(index()) for _ in range(n))
    paren = draw(st.booleans()) if boolean is None else boolean
    if n == 0 and not paren:
        return name
    return f"{name}({idx})" if paren else f"{name}[{idx}]"


@st.composite
def expr(draw, depth=0):
    k = draw(st.integers(0, 7 if depth < 3 else 2))
    if k == 0:
        return draw(ref())
    if k == 1:
        return draw(st.sampled_from(["0", "1", "2.5", "-1", "1e3", "0.0", "1e308"]))
    if k == 2:
        return draw(st.sampled_from(VARS + ["C", "T"]))
    if k == 3:
        return f"{draw(expr(depth + 1))} {draw(expr(depth + 1))}"
    if k == 4:
        op = draw(st.sampled_from(["+", "-", "*", "/", "^", ">", "!="]))
        return f"{draw(expr(depth + 1))} {op} {draw(expr(depth + 1))}"
    if k == 5:
        return f"{draw(st.sampled_from(FUNCS))}({draw(expr(depth + 1))})"
    if k == 6:
        return f"-({draw(expr(depth + 1))})"
    return f"not {draw(ref(boolean=True))}"


@st.composite
def statement(draw):
    k = draw(st.integers(0, 9))
    if k == 0:
        return f"{draw(ref(boolean=True))}"
    if k == 1:
        return f"{draw(ref(boolean=True))} <- {draw(ref(boolean=True))}, {draw(ref(boolean=True))}"
    if k == 2:
        rows = draw(st.integers(0, 3))
        cols = draw(st.integers(1, 3))
        vals = draw(st.lists(st.lists(st.integers(-3, 3), min_size=cols, max_size=cols),
                             min_size=rows, max_size=rows))
        return f"{draw(st.sampled_from(NAMES))} = {vals}"
    if k == 3:
        return f"{draw(ref())}?"
    if k == 4:
        return f"index {draw(st.sampled_from(VARS[:5]))} : {draw(st.integers(0, 4))}"
    if k == 5:
        return f"{draw(st.sampled_from(NAMES))} = {draw(st.sampled_from(['1', '2', '0', '1.5']))}"
    if k == 6:
        return f'{draw(st.sampled_from(NAMES))} = "{draw(st.sampled_from(["nope.csv", "../x.csv", "a.npy"]))}"'
    op = draw(st.sampled_from(["=", "=", "+=", "max=", "min=", "avg="]))
    return f"{draw(ref())} {op} {draw(expr())}"


@st.composite
def program(draw):
    lines = draw(st.lists(statement(), min_size=1, max_size=6))
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 4)) == 0 and len(text) > 2:  # a subtly broken variant
        pos = draw(st.integers(0, len(text) - 1))
        text = text[:pos] + draw(st.sampled_from(["", "(", "]", ",", "?", "=", "x"])) + text[pos + 1:]
    return text


def run_guarded(text, tmp_path):
    try:
        prog = parse(text)
        prog = expand(prog, tmp_path)
        ir_prog = build(prog, tmp_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evaluate(ir_prog, Options(max_iter=50, timeout=5.0, memory_limit=10**8))
    except TlangError as e:
        text_out = e.render()
        assert "error" in text_out
        return e
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program())
def test_programs_fail_only_with_tlang_errors(tmp_path, text):
    run_guarded(text, tmp_path)
