"""SQL: a program's equations lowered to SQL, and run on DuckDB.

In: a ``ProgramIR`` (from ``build``).  Out: ``to_sql(prog)``, a SQL script,
and ``run_duckdb(prog)``, ``Results`` computed by an embedded DuckDB with
the same answers as the in-memory engine.

The mapping is that of Blacher et al., "Efficient and Portable Einstein
Summation in SQL" (SIGMOD 2023): one table per tensor with one column per
index (``c0``, ``c1``, ...; symbolic domains as VARCHAR, numeric ones as
BIGINT) and, for a numeric tensor, a value column ``v`` (COO format: only
nonzeros are stored).  An atom is a table in the FROM clause; shared
variables become equality predicates; constants select; a Boolean rule is a
``SELECT DISTINCT`` of its head variables, a numeric einsum a
``SUM(product of v) ... GROUP BY`` its output indices; negation is
``NOT EXISTS``; comparisons are WHERE predicates; rules with the same head
are a ``UNION``.  A recursive stratum runs semi-naively: a delta table per
relation, each round joining only the delta and keeping the ``EXCEPT`` of
what is known, until every delta is empty -- the loop is driven from Python
(``run_duckdb``) and written as commented steps in the script (``to_sql``).

What lowers: Boolean rules (joins of atoms with variables and constants,
negated atoms, comparisons), facts and data, and numeric equations that are
sums of einsums of stored tensors and constants.  Anything else (elementwise
functions, index arithmetic, numeric recursion) is a located
``TlangCheckError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import ir
from .relational import Relation, as_relation, cells
from .relational_rules import RuleSpec, rule_spec
from .source import TlangCheckError, TlangError

__all__ = ["to_sql", "run_duckdb", "lower", "SqlPlan"]

INLINE_ROWS = 1000      # data with more rows is loaded by the driver, not inlined in the script


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


@dataclass
class Step:
    """One step of the lowered program.

    kind: ``sql`` (run ``text``), ``load`` (fill table ``table`` from the data ``key``),
    ``fixpoint`` (run ``body`` until the tables ``deltas`` are all empty)."""
    kind: str
    text: str = ""
    table: str = ""
    key: str = ""
    tensor: str = ""
    body: list[str] = field(default_factory=list)
    deltas: list[str] = field(default_factory=list)
    comment: str = ""


@dataclass
class SqlPlan:
    steps: list[Step]
    prog: ir.ProgramIR
    columns: dict[str, list[tuple[str, str]]]   # table -> (column, SQL type)


class _Lowering:
    def __init__(self, prog: ir.ProgramIR) -> None:
        from .engine import strata
        self.prog = prog
        self.order = strata(prog)
        self.by_lhs: dict[str, list[tuple[int, ir.Equation]]] = {}
        for k, eq in enumerate(prog.equations):
            self.by_lhs.setdefault(eq.lhs, []).append((k, eq))
        self.eq_extents: dict[int, dict[str, int]] = {}
        for (k, v), n in prog.var_extents.items():
            self.eq_extents.setdefault(k, {})[v] = n
        data_rel = {eq.lhs for eq in prog.equations if isinstance(eq.rhs, ir.Data)
                    and isinstance(prog.data.get(eq.rhs.key), Relation)}
        self.is_boolean = lambda n: n in prog.tensors and (prog.tensors[n].boolean or n in data_rel) \
            and prog.tensors[n].virtual_axis is None
        self.steps: list[Step] = []
        self.columns: dict[str, list[tuple[str, str]]] = {}
        self.domain_tables: dict[str, str] = {}

    # tables ----------------------------------------------------------------
    def domain(self, tensor: str, axis: int) -> ir.Domain:
        info = self.prog.tensors[tensor]
        d = self.prog.domains.get(info.domains[axis])
        return d if d is not None else ir.Domain(info.domains[axis], info.shape[axis])

    def symbolic(self, d: ir.Domain) -> bool:
        return bool(d.symbols)

    def label(self, d: ir.Domain, pos: int):
        if not d.symbols:
            return int(pos)
        if pos >= len(d.symbols):
            raise TlangCheckError(f"domain '{d.name}' mixes names and integer positions ({pos}); "
                                  "SQL tables hold one or the other", None)
        return d.symbols[pos]

    def cols(self, tensor: str) -> list[tuple[str, str]]:
        info = self.prog.tensors[tensor]
        cols = [(f"c{a}", "VARCHAR" if self.symbolic(self.domain(tensor, a)) else "BIGINT")
                for a in range(len(info.stored_shape))]
        if not cols and self.is_boolean(tensor):
            cols = [("c", "INTEGER")]  # a proposition: one row when true
        if not self.is_boolean(tensor):
            cols.append(("v", "DOUBLE"))
        return cols

    def create(self, table: str, tensor: str) -> str:
        self.columns[table] = self.cols(tensor)
        body = ", ".join(f"{c} {t}" for c, t in self.columns[table])
        return f"CREATE OR REPLACE TABLE {quote(table)} ({body});"

    def domain_table(self, d: ir.Domain) -> str:
        name = self.domain_tables.get(d.name)
        if name is None:
            name = self.domain_tables[d.name] = f"_tl_dom_{len(self.domain_tables)}"
            self.steps.append(Step("load", table=name, key=f"domain:{d.name}",
                                   comment=f"every value of domain {d.name}"))
            self.columns[name] = [("c0", "VARCHAR" if self.symbolic(d) else "BIGINT")]
        return name

    # lowering --------------------------------------------------------------
    def run(self) -> SqlPlan:
        for name, info in self.prog.tensors.items():
            if info.virtual_axis is not None:
                raise TlangCheckError(f"'{name}' has a virtual index, which SQL cannot express", info.span)
            self.steps.append(Step("sql", self.create(name, name)))
        for comp in self.order:
            self.component(comp)
        return SqlPlan(self.steps, self.prog, self.columns)

    def component(self, comp: list[str]) -> None:
        members = set(comp)
        rules: dict[str, list[tuple[ir.Equation, RuleSpec | None]]] = {}
        for t in comp:
            rules[t] = []
            for k, eq in self.by_lhs.get(t, []):
                spec = rule_spec(eq, self.eq_extents.get(k, {}), self.is_boolean) \
                    if self.is_boolean(t) else None
                rules[t].append((eq, spec))
        recursive = len(comp) > 1 or any(spec is not None and any(a.tensor in members for a in spec.pos)
                                         for _, spec in rules[comp[0]]) or \
            any(spec is None and any(r.tensor in members for r in ir.tensors_read(eq.rhs))
                for eq, spec in rules[comp[0]])
        if not recursive:
            t = comp[0]
            selects = [self.select(eq, spec) for eq, spec in rules[t]]
            self.steps.append(Step("sql", self.combine(t, selects), comment=f"{t}"))
            return
        for t in comp:
            for eq, spec in rules[t]:
                if spec is None:
                    raise TlangCheckError(f"recursion over the numeric tensor '{t}' cannot be lowered "
                                          "to SQL (only Boolean rules recurse there)", eq.span)
        base = {t: [self.select(eq, spec) for eq, spec in rules[t]
                    if not any(a.tensor in members for a in spec.pos)] for t in comp}
        for t in comp:
            self.steps.append(Step("sql", self.combine(t, base[t]),
                                   comment=f"{t}: recursive, semi-naive; first its non-recursive rules"))
            self.steps.append(Step("sql", f"CREATE OR REPLACE TABLE {quote(t + '__delta')} AS "
                                   f"SELECT * FROM {quote(t)};"))
        body: list[str] = []
        for t in comp:
            variants = []
            for eq, spec in rules[t]:
                for k, a in enumerate(spec.pos):
                    if a.tensor in members:
                        variants.append(self.select(eq, spec, {k: a.tensor + "__delta"}))
            new = quote(t + "__new")
            if variants:
                union = "\nUNION\n".join(variants)
                body.append(f"CREATE OR REPLACE TABLE {new} AS\nSELECT * FROM (\n{union}\n) AS r\n"
                            f"EXCEPT SELECT * FROM {quote(t)};")
            else:
                body.append(f"CREATE OR REPLACE TABLE {new} AS SELECT * FROM {quote(t)} WHERE FALSE;")
        for t in comp:
            body.append(f"INSERT INTO {quote(t)} SELECT * FROM {quote(t + '__new')};")
        for t in comp:
            body.append(f"DROP TABLE {quote(t + '__delta')};")
            body.append(f"ALTER TABLE {quote(t + '__new')} RENAME TO {quote(t + '__delta')};")
        self.steps.append(Step("fixpoint", body=body, deltas=[t + "__delta" for t in comp],
                               comment=f"repeat until {', '.join(t + '__delta' for t in comp)} "
                                       f"{'is' if len(comp) == 1 else 'are'} empty"))
        for t in comp:
            self.steps.append(Step("sql", f"DROP TABLE {quote(t + '__delta')};"))

    def combine(self, t: str, selects: list[str]) -> str:
        cols = self.cols(t)
        if not selects:
            return self.create(t, t)
        self.columns[t] = cols
        if self.is_boolean(t):
            return f"CREATE OR REPLACE TABLE {quote(t)} AS\n" + "\nUNION\n".join(selects) + ";"
        keys = [c for c, _ in cols if c != "v"]
        ops = {self.combine_op(t)}
        agg = {"sum": "SUM", "max": "MAX", "min": "MIN"}[ops.pop()]
        union = "\nUNION ALL\n".join(selects)
        group = f"\nGROUP BY {', '.join(keys)}" if keys else ""
        sel = ", ".join(keys + [f"{agg}(v) AS v"])
        return (f"CREATE OR REPLACE TABLE {quote(t)} AS\nSELECT {sel} FROM (\n{union}\n) AS u{group}\n"
                f"HAVING {agg}(v) <> 0;")

    def combine_op(self, t: str) -> str:
        from .engine import COMBINE
        ops = {COMBINE[eq.op] for _, eq in self.by_lhs.get(t, []) if eq.kind not in ("data", "input", "fact")}
        ops.discard("sum") if len(ops) > 1 and "sum" in ops else None
        if len(ops) > 1 or ops & {"avg"}:
            eq = self.by_lhs[t][0][1]
            raise TlangCheckError(f"'{t}' combines its equations with {sorted(ops)}, which SQL lowering "
                                  "does not support", eq.span)
        return ops.pop() if ops else "sum"

    def select(self, eq: ir.Equation, spec: RuleSpec | None, tables: dict[int, str] | None = None) -> str:
        if isinstance(eq.rhs, ir.Data):
            table = f"_tl_data_{len([s for s in self.steps if s.kind == 'load'])}"
            self.steps.append(Step("load", table=table, key=eq.rhs.key, tensor=eq.lhs,
                                   comment=f"the data of {eq.lhs}"))
            self.columns[table] = self.cols(eq.lhs)
            return f"SELECT * FROM {quote(table)}"
        if spec is not None:
            return self.rule_select(eq, spec, tables or {})
        if self.is_boolean(eq.lhs):
            raise TlangCheckError("this rule cannot be lowered to SQL: SQL takes joins of atoms with "
                                  "variables and constants, negated atoms and comparisons", eq.span)
        return self.einsum_select(eq)

    def rule_select(self, eq: ir.Equation, spec: RuleSpec, tables: dict[int, str]) -> str:
        where: list[str] = []
        frm: list[str] = []
        col_of: dict[str, str] = {}
        dom_of: dict[str, ir.Domain] = {}
        for k, a in enumerate(spec.pos):
            alias = f"t{k}"
            frm.append(f"{quote(tables.get(k, a.tensor))} AS {alias}")
            for ax, arg in enumerate(a.args):
                col = f"{alias}.c{ax}"
                d = self.domain(a.tensor, ax)
                if isinstance(arg, str):
                    if arg in col_of:
                        where.append(f"{col_of[arg]} = {col}")
                    else:
                        col_of[arg] = col
                        dom_of[arg] = d
                else:
                    if arg >= d.extent:
                        where.append("FALSE")
                    else:
                        where.append(f"{col} = {_lit(self.label(d, arg))}")
        needed = [a for a in spec.head_args if isinstance(a, str)]
        needed += [v for a in spec.neg for v in a.args if isinstance(v, str)]
        needed += [v for c in spec.cmps for v in (c.left, c.right) if isinstance(v, str)]
        for v in dict.fromkeys(needed):
            if v not in col_of:  # ranges over its domain
                d = self._var_domain(spec, v)
                alias = f"d{len(frm)}"
                frm.append(f"{quote(self.domain_table(d))} AS {alias}")
                col_of[v] = f"{alias}.c0"
                dom_of[v] = d
        for c in spec.cmps:
            where.append(self.comparison(eq, c, col_of, dom_of))
        for j, a in enumerate(spec.neg):
            conds = []
            for ax, arg in enumerate(a.args):
                if arg is None:
                    continue
                col = f"n{j}.c{ax}"
                if isinstance(arg, str):
                    conds.append(f"{col} = {col_of[arg]}")
                else:
                    d = self.domain(a.tensor, ax)
                    conds.append(f"{col} = {_lit(self.label(d, arg))}" if arg < d.extent else "FALSE")
            cond = " AND ".join(conds) if conds else "TRUE"
            where.append(f"NOT EXISTS (SELECT 1 FROM {quote(a.tensor)} AS n{j} WHERE {cond})")
        head = []
        for ax, arg in enumerate(spec.head_args):
            if isinstance(arg, str):
                head.append(f"{col_of[arg]} AS c{ax}")
            else:
                d = self.domain(eq.lhs, ax)
                if arg >= d.extent:
                    where.append("FALSE")
                    head.append(f"NULL AS c{ax}")
                else:
                    head.append(f"{_lit(self.label(d, arg))} AS c{ax}")
        if not head:
            head = ["1 AS c"]
        sql = f"SELECT DISTINCT {', '.join(head)}"
        if frm:
            sql += f"\nFROM {', '.join(frm)}"
        if where:
            sql += "\nWHERE " + "\n  AND ".join(where)
        return sql

    def _var_domain(self, spec: RuleSpec, v: str) -> ir.Domain:
        for ax, a in enumerate(spec.head_args):
            if a == v:
                return self.domain(spec.head, ax)
        for atom in spec.neg:
            for ax, a in enumerate(atom.args):
                if a == v:
                    return self.domain(atom.tensor, ax)
        return ir.Domain(f"_{v}", spec.extents[v])

    def comparison(self, eq, c, col_of, dom_of) -> str:
        op = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[c.op]
        sides = []
        doms = [dom_of.get(x) for x in (c.left, c.right) if isinstance(x, str)]
        for x in (c.left, c.right):
            if isinstance(x, str):
                sides.append(col_of[x])
            else:
                d = doms[0] if doms else None
                if d is not None and self.symbolic(d):
                    if not float(x).is_integer() or not 0 <= x < len(d.symbols):
                        sides.append("NULL")
                    else:
                        sides.append(_lit(self.label(d, int(x))))
                else:
                    sides.append(str(int(x)) if float(x).is_integer() else repr(float(x)))
        if op not in ("=", "<>") and any(d is not None and self.symbolic(d) for d in doms):
            raise TlangCheckError("an ordering comparison of symbols (positions in tensor logic) "
                                  "cannot be lowered to SQL, where symbols are strings", eq.span)
        return f"{sides[0]} {op} {sides[1]}"

    def einsum_select(self, eq: ir.Equation) -> str:
        out_vars = []
        for ix in eq.indices:
            if not (isinstance(ix, ir.IAffine) and ix.is_var()) or ix.vars[0] in out_vars:
                raise TlangCheckError("SQL lowering needs distinct index variables on the left-hand side",
                                      eq.span)
            out_vars.append(ix.vars[0])
        k = next(k for k, e in enumerate(self.prog.equations) if e is eq)
        ext = self.eq_extents.get(k, {})
        return "\nUNION ALL\n".join(self._product_select(eq, factors, coef, out_vars)
                                     for coef, factors in self._terms(eq, eq.rhs, ext))

    def _terms(self, eq, e, ext) -> list[tuple[float, list]]:
        """``e`` as a sum of products (coefficient, factors): sums distribute out of
        contractions; a contracted variable that a term lacks multiplies it by its extent."""
        if isinstance(e, ir.Map) and e.fn in ("add", "sub") and len(e.args) == 2:
            right = -1.0 if e.fn == "sub" else 1.0
            return self._terms(eq, e.args[0], ext) + [(c * right, f) for c, f in
                                                       self._terms(eq, e.args[1], ext)]
        if isinstance(e, ir.Map) and e.fn == "neg" and len(e.args) == 1:
            return [(-c, f) for c, f in self._terms(eq, e.args[0], ext)]
        if isinstance(e, ir.Ref):
            return [(1.0, [e])]
        if isinstance(e, ir.Const):
            return [(float(e.value), [])]
        if isinstance(e, ir.Contract) and e.semiring == "sumprod":
            out: list[tuple[float, list]] = [(1.0, [])]
            for o in e.operands:
                out = [(c1 * c2, f1 + f2) for c1, f1 in out for c2, f2 in self._terms(eq, o, ext)]
            inner = {v for o in e.operands for v in ir.free_vars(o)} - set(e.out)
            done = []
            for c, f in out:
                have = {v for r in f for ix in r.indices for v in ix.vars}
                for v in inner - have:
                    c *= ext.get(v, 1)
                done.append((c, f))
            return done
        if isinstance(e, ir.Contract):
            raise TlangCheckError(f"a {e.semiring} contraction cannot be lowered to SQL (only sums of "
                                  "products are)", e.span or eq.span)
        raise TlangCheckError("this equation cannot be lowered to SQL: only sums of einsums "
                              "(joins, SUM and GROUP BY) are", getattr(e, "span", None) or eq.span,
                              ["elementwise functions and index arithmetic stay in the in-memory engine"])

    def _product_select(self, eq, factors, sign, out_vars) -> str:
        frm, where, vals = [], [], []
        col_of: dict[str, str] = {}
        dom_of: dict[str, ir.Domain] = {}
        coef = sign
        for k, f in enumerate(factors):
            if isinstance(f, ir.Const):
                coef *= f.value
                continue
            alias = f"t{k}"
            frm.append(f"{quote(f.tensor)} AS {alias}")
            if not self.is_boolean(f.tensor):
                vals.append(f"{alias}.v")
            for ax, ix in enumerate(f.indices):
                col = f"{alias}.c{ax}"
                d = self.domain(f.tensor, ax)
                if isinstance(ix, ir.IAffine) and ix.is_var():
                    v = ix.vars[0]
                    if v in col_of:
                        where.append(f"{col_of[v]} = {col}")
                    else:
                        col_of[v], dom_of[v] = col, d
                elif isinstance(ix, ir.IAffine) and ix.is_const():
                    where.append(f"{col} = {_lit(self.label(d, ix.const))}" if ix.const < d.extent
                                 else "FALSE")
                else:
                    raise TlangCheckError("index arithmetic cannot be lowered to SQL", f.span or eq.span)
        for ax, v in enumerate(out_vars):
            if v not in col_of:
                d = self.domain(eq.lhs, ax)
                alias = f"d{len(frm)}"
                frm.append(f"{quote(self.domain_table(d))} AS {alias}")
                col_of[v] = f"{alias}.c0"
        value = " * ".join(([repr(float(coef))] if coef != 1.0 or not vals else []) + vals)
        agg = {"sum": "SUM", "max": "MAX", "min": "MIN"}[self.combine_op(eq.lhs)]
        keys = [f"{col_of[v]} AS c{ax}" for ax, v in enumerate(out_vars)]
        sql = f"SELECT {', '.join(keys + [f'{agg}({value}) AS v'])}"
        if frm:
            sql += f"\nFROM {', '.join(frm)}"
        if where:
            sql += "\nWHERE " + " AND ".join(where)
        if out_vars:
            sql += "\nGROUP BY " + ", ".join(col_of[v] for v in out_vars)
        return sql


def lower(prog: ir.ProgramIR) -> SqlPlan:
    """The program as SQL steps (a located ``TlangCheckError`` for what SQL cannot express)."""
    return _Lowering(prog).run()


# ------------------------------------------------------------------ data

def _label_columns(plan: SqlPlan, tensor: str, value) -> dict[str, np.ndarray]:
    """The rows of a tensor's data as label columns (``c0``...; ``v`` for numeric tensors)."""
    low = _Lowering.__new__(_Lowering)
    low.prog = plan.prog
    info = plan.prog.tensors[tensor]
    boolean = isinstance(value, Relation) or info.boolean
    if boolean:
        rel = as_relation(value)
        cols = list(rel.cols) if rel.shape else []
        vals = None
        if not rel.shape:
            return {"c": np.ones(len(rel), dtype=np.int32)}
    else:
        arr = np.asarray(value, dtype=float)
        nz = np.nonzero(arr)
        cols = [np.asarray(c, dtype=np.int64) for c in nz]
        vals = arr[nz] if arr.ndim else np.asarray([float(arr)] if arr != 0 else [], dtype=float)
    out: dict[str, np.ndarray] = {}
    for a, c in enumerate(cols):
        d = low.domain(tensor, a)
        if d.symbols:
            if len(c) and c.max() >= len(d.symbols):
                raise TlangCheckError(f"the data of '{tensor}' mixes names and integer positions in "
                                      f"domain '{d.name}'; SQL tables hold one or the other", info.span)
            out[f"c{a}"] = np.asarray(d.symbols, dtype=object)[c] if len(c) else np.zeros(0, dtype=object)
        else:
            out[f"c{a}"] = c
    if vals is not None:
        out["v"] = vals
    return out


def _domain_columns(plan: SqlPlan, name: str) -> dict[str, np.ndarray]:
    d = plan.prog.domains.get(name)
    if d is None:
        raise TlangError(f"internal: no domain '{name}'")
    if d.symbols:
        return {"c0": np.asarray(d.symbols, dtype=object)}
    return {"c0": np.arange(d.extent, dtype=np.int64)}


def _step_data(plan: SqlPlan, step: Step) -> dict[str, np.ndarray]:
    if step.key.startswith("domain:"):
        return _domain_columns(plan, step.key.split(":", 1)[1])
    return _label_columns(plan, step.tensor, plan.prog.data[step.key])


def _values_sql(table: str, cols: list[tuple[str, str]], data: dict[str, np.ndarray]) -> str:
    n = len(next(iter(data.values()))) if data else 0
    names = [c for c, _ in cols]
    head = f"CREATE OR REPLACE TABLE {quote(table)} ({', '.join(f'{c} {t}' for c, t in cols)});"
    if n == 0:
        return head
    if n > INLINE_ROWS:
        return head + f"\n-- {n} rows of data are loaded by the driver (tlang run --engine duckdb); " \
            f"load them with your engine's bulk loader, e.g. COPY {quote(table)} FROM 'file.csv'"
    rows = []
    for k in range(n):
        cells_ = []
        for c, t in cols:
            x = data[c][k]
            cells_.append(repr(float(x)) if t == "DOUBLE" else _lit(x if t == "VARCHAR" else int(x)))
        rows.append(f"({', '.join(cells_)})")
    return head + f"\nINSERT INTO {quote(table)} ({', '.join(names)}) VALUES\n  " + ",\n  ".join(rows) + ";"


def to_sql(prog: ir.ProgramIR, source: str = "") -> str:
    """The program as a SQL script (DuckDB dialect; see docs/datalog.md for other engines)."""
    plan = lower(prog)
    out = [f"-- {source or 'tlang program'} lowered to SQL by tlang (tlang sql)",
           "-- one table per tensor: columns c0, c1, ... (one per index), v for numeric values;",
           "-- recursive strata are semi-naive loops: repeat the marked block until the delta is empty."]
    for st in plan.steps:
        if st.comment and st.kind != "fixpoint":
            out.append(f"\n-- {st.comment}")
        if st.kind == "sql":
            out.append(st.text)
        elif st.kind == "load":
            out.append(_values_sql(st.table, plan.columns[st.table], _step_data(plan, st)))
        else:
            out.append(f"\n-- BEGIN LOOP: {st.comment}")
            out.extend(st.body)
            out.append("-- END LOOP")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- DuckDB

def run_duckdb(prog: ir.ProgramIR, database: str | Path | None = None, timeout: float | None = None):
    """Evaluate the program in DuckDB (in memory, or in the database file ``database``, whose
    tables of the same names are replaced); return ``Results`` like ``engine.evaluate``."""
    import time

    from .engine import Results, answer
    from .source import TlangResourceError
    try:
        import duckdb
    except ImportError:
        raise TlangError("the duckdb engine needs the duckdb package: pip install 'tlang[sql]'") from None
    plan = lower(prog)
    deadline = time.monotonic() + timeout if timeout else None
    con = duckdb.connect(str(database) if database else ":memory:")
    try:
        for st in plan.steps:
            if st.kind == "sql":
                con.execute(st.text)
            elif st.kind == "load":
                data = _step_data(plan, st)
                cols = plan.columns[st.table]
                con.execute(f"CREATE OR REPLACE TABLE {quote(st.table)} "
                            f"({', '.join(f'{c} {t}' for c, t in cols)});")
                if data and len(next(iter(data.values()))):
                    con.register("_tl_load", {c: data[c] for c, _ in cols})
                    con.execute(f"INSERT INTO {quote(st.table)} SELECT * FROM _tl_load;")
                    con.unregister("_tl_load")
            else:
                while True:
                    if deadline is not None and time.monotonic() > deadline:
                        raise TlangResourceError(f"the run exceeded its time limit of {timeout} s", None)
                    for text in st.body:
                        con.execute(text)
                    sizes = [con.execute(f"SELECT COUNT(*) FROM {quote(d)}").fetchone()[0]
                             for d in st.deltas]
                    if not any(sizes):
                        break
        tensors = {name: _read_back(con, plan, name) for name in prog.tensors}
        for table in plan.columns:  # the driver's data and domain tables
            if table.startswith("_tl_"):
                con.execute(f"DROP TABLE IF EXISTS {quote(table)};")
    finally:
        con.close()
    answers = [answer(prog, q, tensors) for q in prog.queries]
    return Results(tensors, answers, prog)


def _read_back(con, plan: SqlPlan, name: str):
    """A table as the engine holds the tensor: a Relation (or small dense array) or a dense array."""
    from .relational_rules import result_value
    prog = plan.prog
    info = prog.tensors[name]
    low = _Lowering.__new__(_Lowering)
    low.prog = prog
    cols = plan.columns.get(name) or []
    got = con.execute(f"SELECT * FROM {quote(name)}").fetchnumpy()
    shape = info.stored_shape
    pos = []
    for a in range(len(shape)):
        d = low.domain(name, a)
        c = np.asarray(got[f"c{a}"])
        if d.symbols:
            index = {s: k for k, s in enumerate(d.symbols)}
            c = np.array([index[x] for x in c.tolist()], dtype=np.int64)
        pos.append(c.astype(np.int64))
    if any(c == "v" for c, _ in cols):
        out = np.zeros(shape)
        vals = np.asarray(got["v"], dtype=float)
        if shape:
            np.add.at(out, tuple(pos), vals)
        elif len(vals):
            out = np.asarray(vals.sum())
        return out
    if not shape:
        return np.asarray(1.0 if len(got["c"]) else 0.0)
    rel = Relation.from_columns(shape, pos)
    return result_value(rel) if cells(shape) else rel
