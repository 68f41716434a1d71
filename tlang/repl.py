"""The interactive REPL: statements in, answers out.

In: lines from a terminal (``tlang.repl_tty``: prompt_toolkit, history,
completion, highlighting) or from piped standard input (``run_lines``).
Out: query answers as tables, errors as located diagnostics.  The session
(``Session``) keeps the statements entered so far and survives any error;
statements are kept only once they build.  Commands start with ':'
(``:help`` lists them).  With ``:embed`` on, queries of relations are
answered in embedding space (``tlang.embed_kb``) and compared with exact
deduction; ``:explain`` shows the equations and proofs behind an answer
(``tlang.explain``).
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import ast as A
from .embed_kb import EmbedConfig
from .repl_commands import ALIASES, COMMANDS, HELP, Commands, help_text  # noqa: F401
from .source import Source, TlangError


def _sort_key(t: tuple) -> tuple:
    return tuple((0, x) if isinstance(x, int) else (1, str(x)) for x in t)


@dataclass
class Session(Commands):
    statements: list[A.Stmt] = field(default_factory=list)
    base_dir: Path = field(default_factory=Path.cwd)
    counter: int = 0
    backend: str = "numpy"
    max_iter: int = 1000
    embedding: bool = False
    config: EmbedConfig = field(default_factory=EmbedConfig)
    cutoff: float = 0.1                      # soft answers below this score are not listed
    allowed: list[Path] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ building
    def program(self) -> A.Program:
        return A.Program(tuple(self.statements))

    def _build(self, stmts, allow_undefined: bool = False):
        """The IR of ``stmts`` (the last few builds are remembered)."""
        from .api import expand
        from .build import build
        from .pipeline import wants_learning
        key = (tuple(stmts), allow_undefined, self.base_dir, tuple(self.allowed))
        builds = self._cache.setdefault("builds", {})
        if key in builds:
            return builds[key]
        prog = expand(A.Program(tuple(stmts)), self.base_dir)
        prog_ir = build(prog, self.base_dir, allowed_paths=self.allowed,
                        allow_undefined=allow_undefined or wants_learning(prog))
        if len(builds) >= 8:
            builds.pop(next(iter(builds)))
        builds[key] = prog_ir
        return prog_ir

    def _options(self, max_iter: int | None = None):
        from .engine import Options
        return Options(backend=self.backend, max_iter=max_iter or self.max_iter)

    def exact(self, needed: set[str] | None = None):
        """(IR, results) of the statements so far, evaluated exactly (cached); with ``needed``,
        only the tensors those depend on are computed (the others read as zeros)."""
        from .engine import evaluate
        prog_ir = self._build(self.statements, allow_undefined=True)
        cone = _cone(prog_ir, needed)
        _check_defined(prog_ir, cone)  # a tensor still undefined only matters to what reads it
        key = ("exact", tuple(self.statements), self.backend, self.max_iter)
        hit = self._cache.get("exact")
        if hit is None or hit[0] != key or not cone <= hit[2]:
            if hit is not None and hit[0] == key:
                cone = cone | hit[2]
            res = evaluate(_prune(prog_ir, cone), self._options())
            hit = self._cache["exact"] = (key, (prog_ir, res), cone)
        return hit[1]

    def embedded(self):
        """(EmbeddedProgram, IR, results, settled) of the statements in embedding space (cached)."""
        from .api import expand
        from .embed_kb import embed_program, expand_embedded
        from .engine import ConvergenceWarning, evaluate
        c = self.config
        key = ("embed", tuple(self.statements), c.dim, c.seed, c.T, tuple(sorted(c.temps.items())),
               self.backend, self.max_iter)
        hit = self._cache.get("embed")
        if hit is None or hit[0] != key:
            emb = embed_program(expand(self.program(), self.base_dir), self.base_dir, c)
            prog_ir = self._build(expand_embedded(emb, self.base_dir).statements)
            needed = {n for rel in emb.relations.values() for n in (rel.name, rel.soft)}
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                res = evaluate(_prune(prog_ir, _cone(prog_ir, needed)), self._options(min(self.max_iter, 200)))
            settled = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
            hit = self._cache["embed"] = (key, (emb, prog_ir, res, settled))
        return hit[1]

    # --------------------------------------------------------------- input
    def feed(self, text: str) -> list[str]:
        """Process one chunk of input (statements or a command); return the lines to print."""
        from .directives import check_directives
        from .parse import parse
        stripped = text.strip()
        if not stripped:
            return []
        self._cache.pop("builds", None)  # files may have changed since the last input
        if stripped.startswith(":"):
            return self.command(stripped)
        self.counter += 1
        prog = parse(Source(f"<repl:{self.counter}>", text))
        check_directives(prog)
        queries = [s for s in prog.statements if isinstance(s, A.Query)]
        others = [s for s in prog.statements if not isinstance(s, A.Query)]
        trial = self.statements + others
        if not queries:  # check the new statements build before keeping them
            self._build(trial, allow_undefined=True)
            self.statements = trial
            return []
        old = self.statements
        self.statements = trial
        try:
            out = self.answer(queries)
        except BaseException:
            self.statements = old
            raise
        return out

    def answer(self, queries: list[A.Query]) -> list[str]:
        """Answer queries against the statements so far (exactly, or in embedding space)."""
        from .engine import answer, evaluate
        from .show import format_answer
        if self.embedding:
            return self._answer_embedded(queries)
        if any(q.directives for q in queries):  # training and other directives: a full run
            prog_ir = self._build(self.statements + queries)
            return [format_answer(a) for a in evaluate(prog_ir, self._options()).answers]
        _, res = self.exact({q.target.name for q in queries})
        prog_q = self._build(self.statements + queries, allow_undefined=True)
        return [format_answer(answer(prog_q, q, res.tensors)) for q in prog_q.queries]

    def _answer_embedded(self, queries: list[A.Query]) -> list[str]:
        from .engine import answer
        from .show import format_answer
        emb, prog_e, res, settled = self.embedded()
        others = {q.target.name for q in queries if q.target.name not in emb.relations or not q.target.boolean}
        if others - _cone(prog_e, {n for r in emb.relations.values() for n in (r.name, r.soft)}):
            res = self._embedded_extra(prog_e, others)
        extra: list[A.Query] = []
        plan: list[tuple[str, int, int]] = []  # (kind, index of the query, index of the soft query)
        for q in queries:
            rel = emb.relations.get(q.target.name) if q.target.boolean else None
            extra.append(q)
            if rel is None:
                plan.append(("plain", len(extra) - 1, -1))
                continue
            soft = A.Query(A.Ref(rel.soft, q.target.indices, False, span=q.target.span), span=q.span)
            extra.append(soft)
            plan.append((q.target.name, len(extra) - 2, len(extra) - 1))
        prog_q = self._build(list(emb.program.statements) + extra)
        qirs = list(prog_q.queries)
        out: list[str] = []
        for kind, k, s in plan:
            exact = answer(prog_q, qirs[k], res.tensors)
            if kind == "plain":
                text = format_answer(exact)
                name = queries[len(out)].target.name
                if name in emb.skipped:
                    text += f"\n  (exact: {name} is not embedded: {emb.skipped[name]})"
                out.append(text)
                continue
            out.append(self._soft_answer(emb, kind, prog_q, qirs[s], exact, res.tensors, settled))
        return out

    def _embedded_extra(self, prog_e, names: set[str]):
        """Results of the embedded program that also cover ``names`` (not embedded relations)."""
        from .engine import evaluate
        key = ("embed+", self._cache["embed"][0], frozenset(names))
        hit = self._cache.get("embed+")
        if hit is None or hit[0] != key:
            base = {n for r in self._cache["embed"][1][0].relations.values() for n in (r.name, r.soft)}
            res = evaluate(_prune(prog_e, _cone(prog_e, base | names)), self._options(min(self.max_iter, 200)))
            hit = self._cache["embed+"] = (key, res)
        return hit[1]

    def _soft_answer(self, emb, relation: str, prog_q, q_soft, exact, tensors, settled: bool) -> str:
        from .engine import Answer, answer
        from .show import format_answer
        soft = answer(prog_q, q_soft, tensors)
        T = self.config.temperature(relation)
        dim = emb.dim if emb.dim is not None else "of Emb"
        tag = f"embedding space: dim {dim}, T = {T:g}" + ("" if settled else ", recursion did not settle")
        if soft.kind == "scalar":
            s = float(soft.value)
            truth = "true" if exact.value else "false"
            if T == 0:
                got = s > 0.5
                same = "; same as exact deduction" if got == bool(exact.value) else \
                    f"; exact deduction says {truth}"
                return f"{exact.query}? {'true' if got else 'false'}   ({tag}{same})"
            return f"{exact.query}? {s:.3g}   ({tag}; exact deduction: {truth})"
        arr = np.asarray(soft.value)
        labels = _labellers(prog_q, q_soft)
        truth = set(exact.tuples)
        if T == 0:
            tuples = sorted((tuple(lab(int(p)) for lab, p in zip(labels, pos)) for pos in np.argwhere(arr > 0.5)),
                            key=_sort_key)
            text = format_answer(Answer(exact.query, "relation", arr.shape, None, exact.vars, tuples))
            more, fewer = len(set(tuples) - truth), len(truth - set(tuples))
            verdict = "same as exact deduction" if not more and not fewer else \
                f"differs from exact deduction: {more} extra, {fewer} missing; try a larger :dim"
            return f"{text}\n  ({tag}; {verdict})"
        rows = []
        for pos in np.argwhere(arr >= self.cutoff):
            t = tuple(lab(int(p)) for lab, p in zip(labels, pos))
            rows.append((-float(arr[tuple(pos)]), _sort_key(t), t))
        rows.sort()
        shown = rows[:30]
        head = list(exact.vars) + ["score", "deduced"]
        cells = [[str(x) for x in t] + [f"{-s:.3f}", "yes" if t in truth else "no (analogy)"]
                 for s, _, t in shown]
        widths = [max([len(h)] + [len(c[k]) for c in cells]) for k, h in enumerate(head)]
        lines = [f"{exact.query}? {len(rows)} answer{'s' if len(rows) != 1 else ''} with score "
                 f">= {self.cutoff:g}   ({tag})"]
        lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
        lines.append("  " + "  ".join("-" * w for w in widths))
        for c in cells:
            lines.append("  " + "  ".join(x.ljust(w) for x, w in zip(c, widths)).rstrip())
        if len(rows) > len(shown):
            lines.append(f"  … {len(rows) - len(shown)} more")
        return "\n".join(lines)

    # --------------------------------------------------------- completion
    def names(self) -> list[str]:
        """Tensor names for completion: the session's, and the generated ones when embedding."""
        seen: dict[str, None] = {}
        for st in self.statements:
            for node in A.walk(st):
                if isinstance(node, A.Ref) or (isinstance(node, A.Name) and node.name[:1].isupper()):
                    seen[node.name] = None
        if self.embedding and "embed" in self._cache:
            for rel in self._cache["embed"][1][0].relations.values():
                for n in (rel.emb, rel.score, rel.soft, rel.temp):
                    seen[n] = None
        return list(seen)


def _cone(prog, needed: set[str] | None) -> frozenset[str]:
    """The tensors that ``needed`` depend on (all of them when ``needed`` is None)."""
    from .schedule import reads
    if needed is None:
        return frozenset(prog.tensors)
    by_lhs: dict[str, list] = {}
    for eq in prog.equations:
        by_lhs.setdefault(eq.lhs, []).append(eq)
    seen: set[str] = set()
    todo = [n for n in needed if n in prog.tensors]
    while todo:
        t = todo.pop()
        if t not in seen:
            seen.add(t)
            todo += [r for eq in by_lhs.get(t, []) for r, _, _ in reads(eq)]
    return frozenset(seen)


def _check_defined(prog, cone: frozenset[str]) -> None:
    """The error ``tlang run`` gives for a numeric tensor with no value, limited to ``cone``."""
    from .source import TlangCheckError
    defined = {eq.lhs for eq in prog.equations}
    for t in sorted(cone):
        info = prog.tensors[t]
        if t not in defined and not info.boolean:
            raise TlangCheckError(f"'{t}' has no value: no data, equation or input defines it", info.span,
                                  ["give it data (a literal or a file), an equation, or pass it as an input"])


def _prune(prog, keep: frozenset[str]):
    """The program restricted to the equations of the tensors in ``keep``."""
    import dataclasses
    if keep >= set(prog.tensors):
        return prog
    index = {}
    eqs = []
    for k, eq in enumerate(prog.equations):
        if eq.lhs in keep:
            index[k] = len(eqs)
            eqs.append(eq)
    extents = {(index[k], v): n for (k, v), n in prog.var_extents.items() if k in index}
    return dataclasses.replace(prog, equations=tuple(eqs), var_extents=extents, queries=(), stores=())


def _labellers(prog, q) -> list:
    """For each free variable of a query, a function from position to the constant's name."""
    info = prog.tensors[q.tensor]
    axes = [a for a in range(len(info.shape)) if a != info.virtual_axis]
    out = []
    for v in q.free:
        dom = None
        for a, ix in zip(axes, q.indices):
            if v in ix.vars and ix.is_var():
                dom = prog.domains.get(info.domains[a])
                break
        out.append(dom.label if dom is not None else (lambda p: p))
    return out


_CONTINUES = (",", "<-", "←", ":-", "=", "+", "*", "/", "-", "^", "\\", "max=", "min=", "avg=", "(", "[", "{")


def _complete(text: str) -> bool:
    """Whether the input so far is a complete statement (brackets balanced, no trailing operator)."""
    depth = 0
    in_str = False
    code = []
    k = 0
    while k < len(text):
        ch = text[k]
        if in_str:
            if ch == "\\":
                k += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "#" or text.startswith("//", k):
            while k < len(text) and text[k] != "\n":
                k += 1
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if not in_str:
            code.append(ch)
        k += 1
    t = "".join(code).rstrip()
    if t.startswith(":"):
        return True
    return depth <= 0 and not in_str and not t.endswith(_CONTINUES)


def _emit(session: Session, text: str, out, err) -> None:
    try:
        for o in session.feed(text):
            print(o, file=out, flush=True)
    except TlangError as e:
        print(e.render(), file=err, flush=True)
    except RecursionError:
        print("error: the input is nested too deeply", file=err, flush=True)
    except (EOFError, KeyboardInterrupt):
        raise
    except Exception as e:  # an internal error must not end the session
        print(f"internal error: {type(e).__name__}: {e}", file=err, flush=True)


def run_lines(session: Session, lines, out=sys.stdout, err=sys.stderr) -> None:
    """Piped mode: read statements and commands line by line and print the answers."""
    buf = ""
    try:
        for line in lines:
            blank = not line.strip()
            buf += line if line.endswith("\n") else line + "\n"
            if not _complete(buf) and not blank:  # a blank line ends an unfinished statement
                continue
            text, buf = buf, ""
            _emit(session, text, out, err)
        if buf.strip():
            _emit(session, buf, out, err)
    except EOFError:
        return


def main() -> int:
    session = Session()
    if not sys.stdin.isatty():
        run_lines(session, sys.stdin)
        return 0
    from .repl_tty import interact
    return interact(session)
