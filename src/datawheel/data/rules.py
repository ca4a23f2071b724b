"""Label rules: a safe expression language (parsed with ``ast``, never eval'd) over columns."""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from datawheel.config import RuleConfig
from datawheel.errors import DataError

__all__ = ["apply_rules", "compile_rule"]

MAX_RULE_CHARS = 2_000
_CONSTANT_TYPES = (str, int, float, bool, type(None))
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_NAMES = {  # friendlier names for constructs people try
    ast.Call: "a function call",
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripting",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.IfExp: "an if-expression",
    ast.NamedExpr: "an assignment (:=)",
    ast.JoinedStr: "an f-string",
    ast.Starred: "unpacking (*)",
}


class _Translator:
    """Walks the parsed expression and builds the polars expression, refusing the rest."""

    def __init__(self, rule: str, columns: Sequence[str], where: str):
        self.rule, self.columns, self.where = rule, list(columns), where

    def fail(self, node: ast.AST, what: str | None = None) -> DataError:
        construct = what or _NAMES.get(type(node)) or type(node).__name__
        return DataError(
            f"{construct} is not allowed in rule {self.rule!r}",
            where=f"{self.where}:{getattr(node, 'col_offset', 0) + 1}",
            hint="use column names, constants, comparisons, and/or/not, in [...], "
            "is None, + - * / and parentheses",
        )

    def visit(self, node: ast.AST) -> pl.Expr:
        if isinstance(node, ast.BoolOp):
            parts = [self.visit(value) for value in node.values]
            combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            result = parts[0]
            for part in parts[1:]:
                result = combine(result, part)
            return result
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return ~operand
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.UAdd):
                return operand
            raise self.fail(node, f"the operator {type(node.op).__name__}")
        if isinstance(node, ast.BinOp):
            op = _ARITHMETIC.get(type(node.op))
            if op is None:
                raise self.fail(node, f"the operator {type(node.op).__name__}")
            return op(self.visit(node.left), self.visit(node.right))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Name):
            return self.column(node)
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, _CONSTANT_TYPES):
                raise self.fail(node, f"the constant {node.value!r}")
            return pl.lit(node.value)
        raise self.fail(node)

    def column(self, node: ast.Name) -> pl.Expr:
        if node.id not in self.columns:
            close = difflib.get_close_matches(node.id, self.columns, n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            raise DataError(
                f"unknown column {node.id!r} in rule {self.rule!r}",
                where=f"{self.where}:{node.col_offset + 1}",
                hint=f"{guess}available columns: {', '.join(self.columns)}",
            )
        return pl.col(node.id)

    def constants(self, node: ast.AST) -> list[Any]:
        if not isinstance(node, ast.List | ast.Tuple | ast.Set):
            raise self.fail(node, "'in' with anything but a [list] of constants")
        values = []
        for item in node.elts:
            if not (isinstance(item, ast.Constant) and isinstance(item.value, _CONSTANT_TYPES)):
                raise self.fail(item, "'in' with anything but a [list] of constants")
            values.append(item.value)
        return values

    def compare(self, node: ast.Compare) -> pl.Expr:
        """Chained comparisons: ``a < b < c`` means ``a < b and b < c``."""
        result: pl.Expr | None = None
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            left = self.visit(left_node)
            is_none = isinstance(right_node, ast.Constant) and right_node.value is None
            if isinstance(op, ast.In | ast.NotIn):
                part = left.is_in(self.constants(right_node))
                part = ~part if isinstance(op, ast.NotIn) else part
            elif isinstance(op, ast.Is | ast.IsNot) or (
                is_none and isinstance(op, ast.Eq | ast.NotEq)
            ):
                if not is_none:
                    raise self.fail(right_node, "'is' with anything but None")
                part = left.is_null() if isinstance(op, ast.Is | ast.Eq) else left.is_not_null()
            else:
                part = _COMPARE[type(op)](left, self.visit(right_node))
            result = part if result is None else result & part
            left_node = right_node
        assert result is not None  # ast guarantees at least one comparator
        return result


def compile_rule(when: str, columns: Sequence[str], *, where: str = "rule") -> pl.Expr:
    """Translate a rule's ``when`` into a polars expression, allowing only a small grammar.

    Parsed with ``ast`` and rebuilt node by node, so nothing in the text is ever executed:
    calls, attributes, subscripts, lambdas and the like raise DataError naming the construct.
    """
    if len(when) > MAX_RULE_CHARS:
        raise DataError(f"rule is longer than {MAX_RULE_CHARS} characters", where=where)
    try:
        tree = ast.parse(when.strip(), mode="eval")
    except SyntaxError as exc:
        raise DataError(
            f"rule {when!r} is not a valid expression: {exc.msg}",
            where=f"{where}:{exc.offset or 1}",
            hint="e.g. \"hours_per_week > 60 and workclass in ['Private']\"",
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise DataError(f"rule {when!r} is too deeply nested or malformed", where=where) from None
    try:
        return _Translator(when, columns, where).visit(tree.body)
    except RecursionError:
        raise DataError(f"rule {when!r} is too deeply nested", where=where) from None


def _assign(frame: pl.DataFrame, mask: pl.Series, column: str, value: Any) -> pl.Expr:
    """Set ``value`` where ``mask`` holds; an existing column keeps its dtype (strict cast)."""
    if column not in frame.columns:
        return pl.when(mask).then(pl.lit(value)).otherwise(None).alias(column)
    literal = pl.lit(value).cast(frame.schema[column], strict=True)
    return pl.when(mask).then(literal).otherwise(pl.col(column)).alias(column)


def apply_rules(
    frame: pl.DataFrame, rules: Sequence[RuleConfig], *, key: str = "clean.rules"
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Apply rules in order; each sets constants where its condition holds (null = no match).

    Returns the new frame and, per rule text, how many rows matched. A later rule sees the
    columns an earlier one set.
    """
    matched: dict[str, int] = {}
    for index, rule in enumerate(rules):
        where = f"{key}[{index}].when"
        expr = compile_rule(rule.when, frame.columns, where=where)
        try:
            mask = frame.select(expr.alias("_mask")).to_series()
        except pl.exceptions.PolarsError as exc:
            raise DataError(
                f"rule {rule.when!r} cannot be evaluated: {str(exc).splitlines()[0]}",
                where=where,
                hint="compare columns with values of their own type",
            ) from None
        if mask.dtype != pl.Boolean:
            raise DataError(
                f"rule {rule.when!r} gives {mask.dtype} values, not true/false",
                where=where,
                hint="write a comparison, e.g. 'age > 60'",
            )
        mask = mask.fill_null(False)
        try:
            frame = frame.with_columns(
                _assign(frame, mask, column, value) for column, value in rule.set.items()
            )
        except pl.exceptions.PolarsError as exc:
            raise DataError(
                f"rule {rule.when!r} cannot set {rule.set!r}: {str(exc).splitlines()[0]}",
                where=f"{key}[{index}].set",
                hint="set a value of the column's type",
            ) from None
        matched[rule.when] = matched.get(rule.when, 0) + int(mask.sum())
    return frame, matched
