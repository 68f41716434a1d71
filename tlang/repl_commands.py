"""The REPL's commands (``:help``, ``:load``, ``:explain``, ``:embed`` ...), as a mixin of ``Session``.

In: the text after the command name.  Out: lines to print; a ``TlangError``
for bad usage (the session goes on).  ``COMMANDS`` (name -> arguments, what
it does) is the table that ``:help``, completion and dispatch share.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from . import ast as A
from .source import Source, TlangError

if TYPE_CHECKING:
    from .embed_kb import EmbedConfig

COMMANDS: dict[str, tuple[str, str]] = {  # name -> (arguments, what it does)
    ":help": ("", "this text"),
    ":load": ("FILE", "add the statements of a .tl file (its queries are not run)"),
    ":save": ("FILE", "write the statements entered so far"),
    ":list": ("", "tensors with type and shape"),
    ":show": ("NAME", "the value of a tensor"),
    ":explain": ("QUERY", "the equations behind an answer; for a relation, the proof of each fact"),
    ":plan": ("", "evaluation order and the contraction plan of every equation"),
    ":backend": ("[NAME]", "show or set the backend: numpy, jax, cupy or auto"),
    ":embed": ("[on|off|show]", "answer relation queries in embedding space; show the generated program"),
    ":embed-report": ("[DIMS] [--seeds N] [--plot FILE]", "error of embedded against exact reasoning, by dimension"),
    ":T": ("[RELATION] VALUE", "temperature of embedded reasoning (every relation, or one); 0 is deduction"),
    ":dim": ("[N]", "show or set the embedding dimension"),
    ":seed": ("[N]", "show or set the seed of the random embeddings"),
    ":reset": ("", "forget every statement"),
    ":quit": ("", "leave (also Ctrl-D)"),
}
ALIASES = {":h": ":help", ":?": ":help", ":q": ":quit", ":exit": ":quit", ":temp": ":T", ":t": ":T"}


def help_text() -> str:
    width = max(len(f"{c} {a}".strip()) for c, (a, _) in COMMANDS.items())
    lines = ["Enter facts, rules, equations and queries (a query ends with '?'), one at a time.",
             "An unfinished statement (open bracket, trailing comma or operator) keeps reading;",
             "an empty line ends it.  Ctrl-C cancels a long evaluation; an error never ends the session.",
             "Commands:"]
    for c, (args, what) in COMMANDS.items():
        lines.append(f"  {f'{c} {args}'.strip().ljust(width)}  {what}")
    return "\n".join(lines)


HELP = help_text()



class Commands:
    """``cmd_NAME(arg)`` for every command ``:NAME``; mixed into ``repl.Session``."""

    statements: list[A.Stmt]
    base_dir: Path
    counter: int
    backend: str
    embedding: bool
    config: EmbedConfig
    allowed: list[Path]
    _cache: dict

    def command(self, line: str) -> list[str]:
        cmd, _, arg = line.partition(" ")
        cmd = ALIASES.get(cmd, cmd)
        arg = arg.strip()
        handler = getattr(self, "cmd_" + cmd[1:].replace("-", "_"), None)
        if cmd not in COMMANDS or handler is None:
            import difflib
            close = difflib.get_close_matches(cmd, list(COMMANDS), n=1)
            raise TlangError(f"unknown command '{cmd}'", None,
                             [f"did you mean {close[0]}?" if close else "try :help"])
        return handler(arg)

    def cmd_help(self, arg: str) -> list[str]:
        return [HELP]

    def cmd_quit(self, arg: str) -> list[str]:
        raise EOFError

    def cmd_reset(self, arg: str) -> list[str]:
        self.statements = []
        self._cache.clear()
        return ["(empty)"]

    def cmd_load(self, arg: str) -> list[str]:
        from .parse import parse_file
        if not arg:
            raise TlangError("usage: :load FILE")
        path = Path(arg).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        prog = parse_file(path)
        stmts, queries = _relocate(prog, path.resolve().parent, self.base_dir)
        if path.resolve().parent not in self.allowed and path.resolve().parent != self.base_dir.resolve():
            self.allowed.append(path.resolve().parent)
        trial = self.statements + stmts
        self._build(trial, allow_undefined=True)
        self.statements = trial
        note = f"; its {queries} quer{'y was' if queries == 1 else 'ies were'} not run" if queries else ""
        return [f"loaded {len(stmts)} statement{'s' if len(stmts) != 1 else ''} from {arg}{note}"]

    def cmd_save(self, arg: str) -> list[str]:
        from .fmt import format_program
        from .io import write_text
        if not arg:
            raise TlangError("usage: :save FILE")
        path = Path(arg).expanduser()
        write_text(path if path.is_absolute() else self.base_dir / path, format_program(self.program()))
        return [f"saved {len(self.statements)} statement{'s' if len(self.statements) != 1 else ''} to {arg}"]

    def cmd_list(self, arg: str) -> list[str]:
        prog_ir = self._build(self.statements, allow_undefined=True)
        out = []
        for name, t in prog_ir.tensors.items():
            doms = ", ".join(t.domains)
            shape = "x".join(str(n) for n in t.shape) or "scalar"
            if t.boolean:
                out.append(f"{name}: relation ({doms}) {shape}")
            elif not t.shape:
                out.append(f"{name}: {t.dtype} scalar")
            else:
                out.append(f"{name}: {t.dtype} tensor [{doms}] {shape}")
        if self.embedding:
            try:
                emb = self.embedded()[0]
                out.append(f"embedded: {', '.join(emb.relations) or 'nothing'} (:embed show for the equations)")
            except TlangError as e:
                out.append(f"embedding: {e.message}")
        return out or ["(no tensors)"]

    def cmd_show(self, arg: str) -> list[str]:
        from .engine import answer
        from .show import format_answer
        if not arg:
            raise TlangError("usage: :show NAME")
        name = arg.split("[")[0].split("(")[0].strip()
        if self.embedding:
            emb, prog_e, res, _ = self.embedded()
            res = self._embedded_extra(prog_e, {name}) if name in prog_e.tensors else res
            stmts = list(emb.program.statements)
        else:
            _, res = self.exact({name})
            stmts = list(self.statements)
        names = self._build(stmts, allow_undefined=True).tensors
        if name not in names:
            import difflib
            close = difflib.get_close_matches(name, list(names), n=1)
            raise TlangError(f"no tensor named '{name}'", None, [f"did you mean {close[0]}?"] if close else [])
        boolean = names[name].boolean
        q = A.Query(A.Ref(name, (), boolean, span=None))
        prog_q = self._build(stmts + [q])
        return [format_answer(answer(prog_q, prog_q.queries[-1], res.tensors))]

    def cmd_explain(self, arg: str) -> list[str]:
        from .explain import explain, fact_spans
        from .parse import parse
        if not arg:
            raise TlangError("usage: :explain QUERY   e.g. :explain Ancestor(Alice, Charlie)")
        text = arg if arg.rstrip().endswith("?") else arg.rstrip() + "?"
        self.counter += 1
        parsed = parse(Source(f"<repl:{self.counter}>", text)).statements
        queries = [s for s in parsed if isinstance(s, A.Query)]
        if len(queries) != 1 or len(parsed) != 1:
            raise TlangError("usage: :explain QUERY   e.g. :explain Ancestor(Alice, Charlie)")
        q = queries[0]
        prog_ir, res = self.exact({q.target.name})
        prog_q = self._build(self.statements + [q])
        lines = explain(prog_q, res.tensors, prog_q.queries[-1], fact_spans(self.statements))
        if self.embedding and q.target.boolean:
            lines += self._explain_embedded(q)
        return ["\n".join(lines)]

    def _explain_embedded(self, q: A.Query) -> list[str]:
        from .explain import equation_cone
        emb, prog_e, _, _ = self.embedded()
        rel = emb.relations.get(q.target.name)
        if rel is None:
            return [f"not embedded: {emb.skipped.get(q.target.name, 'not a relation of the knowledge base')}"]
        lines = [f"in embedding space ({rel.soft} thresholds {rel.score} at 1/2 with temperature {rel.temp}):"]
        lines += self._answer_embedded([q])[0].splitlines()
        lines.append("embedded equations (in evaluation order):")
        for _, eq in equation_cone(prog_e, rel.soft):
            if eq.span is not None and eq.span.source.name == "<embed>":
                lines.append("  " + " ".join(eq.span.text().split()))
        return lines

    def cmd_plan(self, arg: str) -> list[str]:
        from .schedule import reads, strata
        prog_ir = self.embedded()[1] if self.embedding else self._build(self.statements)
        try:
            from .plan_program import format_plan, plan_program
            reports = plan_program(prog_ir)
        except ImportError:  # contraction planning is optional here
            reports, format_plan = [], None
        if arg:
            if arg not in prog_ir.tensors:
                raise TlangError(f"no tensor named '{arg}'")
            mine = [r for r in reports if r.lhs == arg]
            return [format_plan(mine, prog_ir) if mine and format_plan else f"{arg}: no contraction"]
        cost: dict[int, tuple[int, int, int]] = {}
        for r in reports:
            n, flops, peak = cost.get(r.equation, (0, 0, 0))
            cost[r.equation] = (n + 1, flops + (r.plan.flops if r.plan else r.elements),
                                max(peak, r.plan.peak_memory if r.plan else r.elements * 8))
        by_lhs: dict[str, list[int]] = {}
        for k, eq in enumerate(prog_ir.equations):
            by_lhs.setdefault(eq.lhs, []).append(k)
        lines = [f"evaluation order ({self.backend} backend; :plan NAME for the contraction paths):"]
        for n, comp in enumerate(strata(prog_ir), 1):
            ks = [k for t in comp for k in by_lhs.get(t, [])]
            recursive = len(comp) > 1 or any(r == comp[0] for k in ks for r, _, _ in reads(prog_ir.equations[k]))
            how = "once"
            if recursive:
                how = "fixpoint, semi-naive" if all(prog_ir.tensors[t].boolean for t in comp) else "fixpoint"
            lines.append(f"  {n}. {', '.join(comp)}: {how}")
            for k in ks:
                eq = prog_ir.equations[k]
                text = " ".join(eq.span.text().split()) if eq.span else eq.lhs
                if eq.kind == "fact":
                    text = f"facts of {eq.lhs}"
                if len(text) > 70:
                    text = text[:67] + "..."
                c = cost.get(k)
                extra = f"   [{c[0]} contraction{'s' if c[0] != 1 else ''}, {c[1]:,} flops, " \
                        f"peak {c[2]:,} bytes]" if c else ""
                lines.append(f"       {text}{extra}")
        return lines

    def cmd_backend(self, arg: str) -> list[str]:
        if not arg:
            return [f"backend: {self.backend}"]
        from .backends import get_backend
        get_backend(arg)  # raises a located error when it cannot run here
        self.backend = arg
        return [f"backend: {arg}"]

    def cmd_embed(self, arg: str) -> list[str]:
        if arg in ("off", "exact"):
            self.embedding = False
            return ["queries are answered by exact deduction"]
        if arg not in ("", "on", "show"):
            raise TlangError(f"usage: :embed {COMMANDS[':embed'][0]}")
        emb, prog_ir, res, settled = self.embedded()
        if arg == "show":
            return [emb.text.rstrip()]
        self.embedding = True
        if not emb.relations:
            out = ["nothing to embed yet: add facts and rules (relations)"]
        else:
            dim = f"dimension {emb.dim}" if emb.dim is not None else "the program's Emb"
            objs = ", ".join(f"{prog_ir.domains[d].extent} {d}" for d in emb.emb if d in prog_ir.domains)
            out = [f"embedded {len(emb.relations)} relation{'s' if len(emb.relations) != 1 else ''} "
                   f"({', '.join(emb.relations)}) in {dim}, seed {self.config.seed}, T = {self.config.T:g}"
                   + (f"; objects: {objs}" if objs else "")]
            out.append("relation queries are now answered in embedding space (:embed off for exact, "
                       ":embed show for the equations)")
            if not settled:
                out.append("warning: the embedded recursion did not settle; try a larger :dim")
        for n, why in emb.skipped.items():
            out.append(f"not embedded: {n}: {why}")
        return out

    def cmd_embed_report(self, arg: str) -> list[str]:
        from .api import expand
        from .embed_report import DEFAULT_DIMS, embed_report, format_report, parse_dims, plot_report
        words = shlex.split(arg)
        dims, seeds, plot = DEFAULT_DIMS, 3, "embed-report.png"
        k = 0
        try:
            while k < len(words):
                w = words[k]
                if w == "--seeds":
                    seeds, k = int(words[k + 1]), k + 2
                elif w == "--plot":
                    plot, k = words[k + 1], k + 2
                elif w == "--no-plot":
                    plot, k = "", k + 1
                else:
                    dims, k = parse_dims(w.removeprefix("--dims=")), k + 1
        except (IndexError, ValueError) as e:
            raise TlangError(f"usage: :embed-report {COMMANDS[':embed-report'][0]} ({e})") from None
        rep = embed_report(expand(self.program(), self.base_dir), self.base_dir, dims, max(1, seeds),
                           name="this session", seed=self.config.seed)
        out = [format_report(rep)]
        if plot and rep.relations:
            path = Path(plot) if Path(plot).is_absolute() else self.base_dir / plot
            out.append(f"plot saved to {plot_report(rep, path)}")
        return out

    def cmd_T(self, arg: str) -> list[str]:
        words = arg.split()
        if not words:
            per = "".join(f", {n}: {t:g}" for n, t in self.config.temps.items())
            return [f"T = {self.config.T:g}{per}"]
        try:
            value = float(words[-1])
        except ValueError:
            raise TlangError(f"usage: :T {COMMANDS[':T'][0]} (a number, not '{words[-1]}')") from None
        if not value >= 0 or len(words) > 2:
            raise TlangError("a temperature is a number >= 0 (0: deduction; higher: more analogy)")
        if len(words) == 2:
            self.config.temps[words[0]] = value
            return [f"T = {value:g} for {words[0]}"]
        self.config.T = value
        self.config.temps.clear()
        return [f"T = {value:g}" + ("" if self.embedding else " (used by :embed)")]

    def cmd_dim(self, arg: str) -> list[str]:
        if not arg:
            from .embed_kb import DEFAULT_DIM
            d = self.config.dim
            return [f"dim = {d}" if d is not None else f"dim = the program's domain Dim, else {DEFAULT_DIM}"]
        try:
            n = int(arg)
        except ValueError:
            n = 0
        if n < 1:
            raise TlangError(f"usage: :dim N (a positive integer, not '{arg}')")
        self.config.dim = n
        return [f"dim = {n}" + ("" if self.embedding else " (used by :embed)")]

    def cmd_seed(self, arg: str) -> list[str]:
        if not arg:
            return [f"seed = {self.config.seed}"]
        if not arg.isdigit():
            raise TlangError(f"usage: :seed N (a non-negative integer, not '{arg}')")
        self.config.seed = int(arg)
        return [f"seed = {arg}"]



def _relocate(prog: A.Program, folder: Path, base: Path) -> tuple[list[A.Stmt], int]:
    """A loaded file's statements with their file names made relative to the session's folder."""
    import dataclasses
    import os
    stmts, queries = [], 0
    for st in prog.statements:
        if isinstance(st, A.Query):
            queries += 1
            continue
        if isinstance(st, A.Load | A.Store | A.Include) and not Path(st.path).is_absolute() \
                and folder.resolve() != base.resolve():
            new = os.path.relpath(folder / st.path, base)
            st = dataclasses.replace(st, path=new if not new.startswith("..") else str(folder / st.path))
        stmts.append(st)
    return stmts, queries


