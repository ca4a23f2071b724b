"""The learning task a target column calls for: binary, multiclass or regression."""

from __future__ import annotations

from typing import Literal

import polars as pl

from datawheel.errors import DataError, UsageError

__all__ = ["TASKS", "Task", "infer_task", "is_regression"]

Task = Literal["binary", "multiclass", "regression"]
TASKS = ("auto", "binary", "multiclass", "regression")
#: An integer target with more distinct values than this is a quantity, not a set of classes.
MAX_INTEGER_CLASSES = 20


def infer_task(target: pl.Series, *, declared: str = "auto") -> Task:
    """``declared`` unless ``auto``; else regression for a number with many values, else classes.

    A float target with fractional values, or an integer one with more than
    ``MAX_INTEGER_CLASSES`` distinct values, is a regression; anything else (strings,
    booleans, a few integers such as 0/1 or 1..5 ratings) is classification.
    """
    if declared not in TASKS:
        raise UsageError(f"unknown task {declared!r}", hint=f"use one of {', '.join(TASKS)}")
    values = target.drop_nulls()
    if declared == "regression":
        if not (values.dtype.is_numeric() or values.dtype == pl.String):
            raise DataError(
                f"a regression target must be numeric, {target.name!r} is {values.dtype}"
            )
        numbers = values.cast(pl.Float64, strict=False)
        if numbers.null_count() > 0:
            bad = values.filter(numbers.is_null())[0]
            raise DataError(
                f"regression target {target.name!r} holds a non-number: {bad!r}",
                where=target.name,
                hint="fix the values, or set data.task: multiclass",
            )
        return "regression"
    if declared in ("binary", "multiclass"):
        return declared  # type: ignore[return-value]
    distinct = values.n_unique()
    if values.dtype.is_float():
        fractional = bool((values != values.round(0)).any())
        if fractional or distinct > MAX_INTEGER_CLASSES:
            return "regression"
    elif values.dtype.is_integer() and distinct > MAX_INTEGER_CLASSES:
        return "regression"
    return "binary" if distinct <= 2 else "multiclass"


def is_regression(task: str) -> bool:
    return task == "regression"
