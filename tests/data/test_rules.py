"""The safe rule language: allowed grammar, refusals, and application."""

from __future__ import annotations

import polars as pl
import pytest

from datawheel.config import RuleConfig
from datawheel.data.rules import apply_rules, compile_rule
from datawheel.errors import DataError

FRAME = pl.DataFrame(
    {
        "age": [17, 30, 45, 70, None],
        "hours": [10, 40, 65, 20, 50],
        "job": ["student", "Private", "Private", "retired", None],
        "score": [0.5, 1.5, 2.5, None, 4.0],
    }
)


@pytest.mark.parametrize(
    ("when", "rows"),
    [
        ("hours > 60", [2]),  # plain comparison
        ("job in ['Private', 'retired']", [1, 2, 3]),  # membership in a list
        ("job not in ('Private',)", [0, 3]),  # tuple; null job matches nothing
        ("age >= 18 and hours < 50", [1, 3]),  # and
        ("age < 18 or age > 65", [0, 3]),  # or
        ("not hours > 30", [0, 3]),  # not
        ("age is None", [4]),  # null test
        ("score is not None and score != 1.5", [0, 2, 4]),  # is not None
        ("hours * 2 - 10 > age + 50", [2]),  # arithmetic; null age never matches
        ("18 <= age < 65", [1, 2]),  # chained comparison
        ("hours / 10 == 4", [1]),  # true division
        ("(age > 60 or job == 'student') and hours <= 20", [0, 3]),  # parentheses
        ("-age < -60", [3]),  # unary minus
    ],
)
def test_apply_rules_when_expression_then_matching_rows_set(when: str, rows: list[int]) -> None:
    frame, matched = apply_rules(FRAME, [RuleConfig(when=when, set={"flag": True})])
    assert [i for i, v in enumerate(frame["flag"].to_list()) if v] == rows
    assert matched == {when: len(rows)}


def test_apply_rules_when_column_exists_then_only_matching_cells_change() -> None:
    frame, _ = apply_rules(FRAME, [RuleConfig(when="hours > 60", set={"job": "overtime"})])
    assert frame["job"].to_list() == ["student", "Private", "overtime", "retired", None]


def test_apply_rules_when_chained_then_later_rule_sees_earlier_column() -> None:
    rules = [
        RuleConfig(when="hours > 60", set={"overtime": True}),
        RuleConfig(when="overtime == True", set={"label": "busy"}),
    ]
    frame, _ = apply_rules(FRAME, rules)
    assert frame["label"].to_list() == [None, None, "busy", None, None]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("__import__('os')", "a function call"),  # the classic escape
        ("age.__class__", "attribute access"),  # attribute walk
        ("job[0] == 's'", "subscripting"),  # subscript
        ("(lambda: 1)()", "function call"),  # call of a lambda
        ("[x for x in job]", "comprehension"),  # comprehension
        ("age ** 2 > 10", "Pow"),  # operator outside the grammar
        ("job in job", "list"),  # 'in' needs a literal list
        ("age is 3", "None"),  # 'is' only with None
        ("age > 1 if True else 0", "if-expression"),  # conditional expression
        ("agee > 3", "unknown column 'agee'"),  # unknown name, with suggestion
        ("age >", "not a valid expression"),  # syntax error
    ],
)
def test_compile_rule_when_outside_grammar_then_data_error(when: str, expected: str) -> None:
    with pytest.raises(DataError, match=expected) as info:
        compile_rule(when, FRAME.columns, where="clean.rules[0].when")
    assert "clean.rules[0].when" in str(info.value)


def test_compile_rule_when_unknown_column_then_lists_available() -> None:
    with pytest.raises(DataError, match=r"did you mean 'age'\? available columns: age, hours"):
        compile_rule("agee > 3", FRAME.columns)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (RuleConfig(when="age + 1", set={"x": 1}), "not true/false"),  # not boolean
        (RuleConfig(when="age > 'x'", set={"x": 1}), "cannot be evaluated"),  # type clash
        (RuleConfig(when="age > 60", set={"age": "old"}), "cannot set"),  # wrong value type
    ],
)
def test_apply_rules_when_bad_types_then_data_error(rule: RuleConfig, expected: str) -> None:
    with pytest.raises(DataError, match=expected):
        apply_rules(FRAME, [rule])
