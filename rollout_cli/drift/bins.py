"""Reference bins for each drift column, and the SQL expression that puts a value in its bin.

Bin 0 is always "missing" (NULL). Numeric columns: the distinct deciles of the reference cut the
line into up to ten bins (`<= e1`, `(e1, e2]`, ..., `> ek`) — quantile bins make every bin hold
about a tenth of the reference, so no bin's share is estimated from a handful of rows. Categorical
columns: one bin per reference value (the `MAX_CATEGORIES` most frequent; rarer ones and values
the reference never had share the last bin, "unseen" or "other or unseen").
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from rollout_cli.data.source import BoundSource, SqlParams, type_class
from rollout_cli.errors import DataError

Kind = Literal["numeric", "categorical"]
DECILES = [i / 10 for i in range(1, 10)]
MAX_CATEGORIES = 50


@dataclass(frozen=True)
class ColumnBins:
    """How one column is binned; `labels[i]` names bin i."""

    name: str  # what reports call it: the feature, or "prediction (candidate)"
    column: str  # the column in the logs
    kind: Kind
    edges: tuple[float, ...] = ()  # numeric
    categories: tuple[str, ...] = ()  # categorical
    capped: bool = False  # the reference had more than MAX_CATEGORIES values

    @property
    def labels(self) -> tuple[str, ...]:
        if self.kind == "numeric":
            e = [f"{x:.4g}" for x in self.edges]
            if not e:
                return ("missing", "all values")
            middle = [f"({a}, {b}]" for a, b in pairwise(e)]
            return ("missing", f"<= {e[0]}", *middle, f"> {e[-1]}")
        return ("missing", *self.categories, "other or unseen" if self.capped else "unseen")

    def expression(self, quoted: str, params: SqlParams) -> str:
        """SQL giving the bin index of `quoted` (a column of the source), edges and categories as parameters."""
        if self.kind == "numeric":
            cases = " ".join(f"WHEN CAST({quoted} AS DOUBLE) <= {params.add(edge)} THEN {i + 1}"
                             for i, edge in enumerate(self.edges))
            return f"(CASE WHEN {quoted} IS NULL THEN 0 {cases} ELSE {len(self.edges) + 1} END)"
        position = f"list_position({params.add(list(self.categories))}, CAST({quoted} AS VARCHAR))"
        return f"(CASE WHEN {quoted} IS NULL THEN 0 ELSE coalesce({position}, {len(self.categories) + 1}) END)"


def kind_of(feature: str, reference: BoundSource, logs_source: BoundSource, declared: Kind | None) -> Kind:
    """The column's kind: declared, else numeric for numbers and categorical otherwise — after
    checking the column exists on both sides and has not changed type between them."""
    for source in (reference, logs_source):
        if feature not in source.columns:
            raise DataError(f"feature {feature!r} is missing from {source.name} ({source.description})",
                            hint="add the column, or remove the feature from drift.features")
    ref_type, log_type = reference.columns[feature], logs_source.columns[feature]
    ref_class, log_class = type_class(ref_type), type_class(log_type)
    if ref_class != log_class and not {ref_class, log_class} <= {"number", "boolean"}:
        raise DataError(f"feature {feature!r} changed type: {ref_type} in {reference.name} but {log_type} in "
                        f"{logs_source.name} ({logs_source.description})",
                        hint="fix the producer of the logs, or the reference, so both have the same type")
    if declared == "numeric" and ref_class != "number":
        raise DataError(f"feature {feature!r} is declared numeric but is {ref_type} in {reference.name}")
    return declared or ("numeric" if ref_class == "number" else "categorical")
