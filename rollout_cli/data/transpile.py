"""The metric queries' one definition (DuckDB SQL, data/queries.py) rendered for Spark SQL (docs/spark.md).

Contract of `to_spark(sql, params)`:
- `sql` is a statement as the evaluator builds it for DuckDB, with `$name` placeholders;
  `params` their values. The statement is parsed with sqlglot (dialect duckdb), every
  placeholder is replaced by a literal node (strings, numbers, booleans, timestamps, lists —
  escaped by the generator, never pasted as text), the DuckDB-only constructs below are
  rewritten, and Spark SQL comes out.
- The rewrite table (each row keeps results identical, see tests/spark/test_transpile.py):
  `UNION ALL BY NAME` -> positional `UNION ALL` with each branch's columns put in one order and
  `NULL` for the ones it lacks; `quantile_cont(x, q | [q…])` -> `percentile(x, q | array(q…))`
  (both exact, linear interpolation between order statistics); `isfinite(x)` -> `NOT isnan(x)
  AND abs(x) <> Infinity` (NULL stays NULL); `corr(x, y)` -> `coalesce(corr(x, y), CASE WHEN
  count(x, y) > 0 THEN NaN END)` (DuckDB's NaN without variance); `to_seconds(s)` ->
  `make_dt_interval(0, 0, 0, s)`; `hash(…)` (64-bit) -> `xxhash64(…)` (64-bit: where a hash only
  stands for its argument — equal ids join, an exact count verifies a distinct count — any
  64-bit hash gives the same results); `stable_hash(x)` stays, Spark's registered function for
  DuckDB's own hash (data/stable_hash.py), and the statement says it needs it (`stable_hash`).
  sqlglot itself renders `arg_min` as `min_by`, TIMESTAMP as TIMESTAMP_NTZ, VARCHAR as STRING.
- `spark_statement(sql, params, tables)` also takes the two statements that keep a temporary
  table (the shadow comparison's `pairs`): `CREATE [OR REPLACE] TEMP TABLE t AS q` becomes the
  query q with `creates = t`, and `DELETE FROM t WHERE c` the query `SELECT * FROM t WHERE NOT
  coalesce(c, false)` (the rows DuckDB keeps) with `creates = t`; the engine caches the query's
  rows as t (data/spark.py). A table named in `tables` is read under the view name it maps to.
- A placeholder without a value, or a value of an unknown type, is a ValueError, a statement other
  than those above a TypeError (bugs, not input).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp

from rollout_cli.data.stable_hash import NAME as STABLE_HASH


def to_spark(sql: str, params: Mapping[str, Any]) -> str:
    """Spark SQL for the DuckDB query `sql` with its parameters bound as literals."""
    return _render(sqlglot.parse_one(sql, read="duckdb"), params, {})


@dataclass(frozen=True)
class SparkStatement:
    sql: str  # a Spark SQL query
    creates: str | None = None  # the temporary table whose rows the query's rows become
    stable_hash: bool = False  # it calls stable_hash (the session must have it registered)


def spark_statement(sql: str, params: Mapping[str, Any], tables: Mapping[str, str] | None = None) -> SparkStatement:
    """The DuckDB statement `sql` for Spark: a query, or a temporary table's new rows (module contract)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    names = dict(tables or {})
    hashed = any(str(f.this).lower() == STABLE_HASH for f in tree.find_all(exp.Anonymous))
    if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "TABLE" \
            and tree.find(exp.TemporaryProperty) is not None and isinstance(tree.expression, exp.Query):
        return SparkStatement(_render(tree.expression, params, names), creates=tree.this.name, stable_hash=hashed)
    if isinstance(tree, exp.Delete):
        table = tree.this.name
        where = tree.args.get("where")
        kept = exp.select("*").from_(exp.to_table(table))
        if where is not None:
            kept = kept.where(exp.not_(exp.func("coalesce", exp.paren(where.this.copy()), exp.false())))
        else:
            kept = kept.where(exp.false())
        return SparkStatement(_render(kept, params, names), creates=table, stable_hash=hashed)
    if not isinstance(tree, exp.Query):
        raise TypeError(f"a {type(tree).__name__} statement cannot be rendered for Spark")
    return SparkStatement(_render(tree, params, names), stable_hash=hashed)


def _render(tree: exp.Expr, params: Mapping[str, Any], tables: Mapping[str, str]) -> str:
    tree = tree.transform(lambda node: _bind(node, params))  # first: the rewrites below copy bound children
    tree = tree.transform(_rewrite)
    tree = _positional_unions(tree)
    if tables:
        for table in list(tree.find_all(exp.Table)):
            if not table.args.get("db") and table.name in tables:
                table.set("this", exp.to_identifier(tables[table.name], quoted=True))
    return tree.sql(dialect="spark")


def literal(value: Any) -> exp.Expression:
    """A literal node for one parameter value."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, float):
        if math.isfinite(value):
            return exp.Literal.number(repr(value))
        word = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return exp.cast(exp.Literal.string(word), "DOUBLE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, datetime):
        naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value  # naive = UTC (docs/data.md)
        return exp.cast(exp.Literal.string(naive.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP_NTZ", dialect="spark"))
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[literal(v) for v in value])
    raise ValueError(f"no Spark literal for a parameter of type {type(value).__name__}")


def _bind(node: exp.Expression, params: Mapping[str, Any]) -> exp.Expression:
    if isinstance(node, exp.Placeholder | exp.Parameter):
        name = str(node.name)
        if name not in params:
            raise ValueError(f"the statement's placeholder ${name} has no value")
        return literal(params[name])
    return node


def _corr(node: exp.Expr) -> exp.Expr:
    """`corr(x, y) [FILTER (…)]`: DuckDB's NaN where the pairs have no variance (one pair, a constant
    column), which Spark gives as NULL; NULL still when no pair has both values, on both."""
    call = node.this if isinstance(node, exp.Filter) else node
    args = [call.this.copy(), call.expression.copy()]

    def scoped(aggregate: exp.Expr) -> exp.Expr:
        return exp.Filter(this=aggregate, expression=node.expression.copy()) if isinstance(node, exp.Filter) else aggregate

    pairs = scoped(exp.Anonymous(this="count", expressions=[a.copy() for a in args]))
    nan = exp.cast(exp.Literal.string("NaN"), "DOUBLE")
    return exp.func("coalesce", scoped(exp.Anonymous(this="corr", expressions=args)),
                    exp.Case(ifs=[exp.If(this=exp.GT(this=pairs, expression=exp.Literal.number(0)), true=nan)]))


def _rewrite(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.Corr) or (
            isinstance(node, exp.Corr) and not isinstance(node.parent, exp.Filter)):
        return _corr(node)  # its inner call is Anonymous: not rewritten again
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)  # `AS [NOT] MATERIALIZED` is DuckDB's planning hint; Spark decides itself
        return node
    if isinstance(node, exp.PercentileCont | exp.Quantile):
        # the new node's children are not visited again: rewrite the argument here (isfinite inside it)
        return exp.Anonymous(this="percentile", expressions=[node.this.copy().transform(_rewrite), node.expression.copy()])
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "isfinite":
        x = node.expressions[0]
        infinity = exp.cast(exp.Literal.string("Infinity"), "DOUBLE")
        return exp.paren(exp.and_(exp.not_(exp.Anonymous(this="isnan", expressions=[x.copy()])),
                                  exp.NEQ(this=exp.Abs(this=x.copy()), expression=infinity)))
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "hash":
        # DuckDB's hash is 64-bit; Spark's `hash` is 32-bit Murmur3, whose collisions among millions of keys
        # would send every duplicate screen to its exact recount — xxhash64 keeps the screen's odds
        return exp.Anonymous(this="xxhash64", expressions=[e.copy() for e in node.expressions])
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "to_seconds":
        seconds = exp.cast(node.expressions[0].copy(), "DECIMAL(18, 6)")
        zero = exp.Literal.number(0)
        return exp.Anonymous(this="make_dt_interval", expressions=[zero, zero.copy(), zero.copy(), seconds])
    return node


def _branches(union: exp.Union) -> list[exp.Select]:
    out: list[exp.Select] = []
    for side in (union.this, union.expression):
        if isinstance(side, exp.Union) and side.args.get("by_name"):
            out += _branches(side)
        elif isinstance(side, exp.Select):
            out.append(side)
        else:
            raise ValueError("UNION ALL BY NAME over something other than SELECTs cannot be rendered for Spark")
    return out


def _positional_unions(tree: exp.Expr) -> exp.Expr:
    """Every `UNION ALL BY NAME` chain as a positional UNION ALL (Spark SQL has no BY NAME)."""
    for union in list(tree.find_all(exp.Union)):
        if not union.args.get("by_name") or (isinstance(union.parent, exp.Union) and union.parent.args.get("by_name")):
            continue  # a chain is handled once, from its top
        branches = _branches(union)
        order: list[str] = list(dict.fromkeys(e.alias_or_name for b in branches for e in b.expressions))
        rebuilt: exp.Expression | None = None
        for branch in branches:
            by_name = {e.alias_or_name: e for e in branch.expressions}
            branch = branch.copy()
            branch.set("expressions", [by_name[n].copy() if n in by_name else exp.alias_(exp.Null(), n, quoted=True)
                                       for n in order])
            rebuilt = branch if rebuilt is None else exp.union(rebuilt, branch, distinct=False)
        assert rebuilt is not None
        with_ = union.args.get("with_") or union.args.get("with")
        if with_ is not None:
            rebuilt.set("with_" if "with_" in union.args else "with", with_.copy())
        if union is tree:
            tree = rebuilt
        else:
            union.replace(rebuilt)
    return tree
