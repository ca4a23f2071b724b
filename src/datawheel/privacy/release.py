"""Apply a release policy to a table: the columns a partner gets, their operators, k-anonymity.

The policy is the project's privacy rules by default, or a YAML file. Whatever the policy says,
a release never carries a raw subject id, and every pseudonym in it is keyed for that partner:
two partners' releases do not join on tokens, nor with the workspace's own datasets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import Field, ValidationError

from datawheel.config import KAnonymityConfig, PrivacyConfig
from datawheel.errors import ConfigError, DataError
from datawheel.privacy.anonymize import Anonymizer
from datawheel.privacy.kanon import enforce_k_anonymity
from datawheel.secret import SecretKey

__all__ = ["ReleasePolicy", "ReleaseReport", "apply_policy", "load_policy"]


class ReleasePolicy(PrivacyConfig):
    """A privacy policy for one release (the project's rules plus what the partner may see)."""

    purpose: str = ""  # why the partner receives the data: printed on the datasheet
    keep: list[str] | None = None  # columns the partner gets (default: all not dropped)
    text_columns: list[str] = Field(default_factory=list)  # free-text columns scrubbed span by span
    k_anonymity: KAnonymityConfig = KAnonymityConfig(k=5)
    max_suppression: float = Field(0.05, ge=0.0, le=1.0)  # rows k-anonymity may remove, at most


@dataclass
class ReleaseReport:
    """What was removed and why: the datasheet prints it, the manifest records it."""

    rows_in: int
    rows_out: int
    columns_out: list[str]
    removed_columns: dict[str, str] = field(default_factory=dict)  # column → why
    operators: dict[str, str] = field(default_factory=dict)  # column → operator applied
    text_spans: dict[str, dict[str, int]] = field(default_factory=dict)
    k_anonymity: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_policy(path: Path) -> ReleasePolicy:
    """Read a policy file; an error names the key, the value and the fix."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read the policy file: {exc.strerror}", where=str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"the policy file is not valid YAML: {exc}", where=str(path)) from None
    try:
        return ReleasePolicy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"{key}: {first['msg']}",
            where=f"{path}: {key}",
            hint="see docs/sharing.md for the policy keys",
        ) from None


def apply_policy(
    frame: pl.DataFrame,
    policy: ReleasePolicy,
    key: SecretKey,
    *,
    partner: str,
    id_column: str | None = None,
) -> tuple[pl.DataFrame, ReleaseReport]:
    """The partner's table: operators, kept columns, then k-anonymity over the result."""
    known = set(frame.columns)
    named = set(policy.columns) | set(policy.keep or []) | set(policy.text_columns)
    named |= set(policy.k_anonymity.quasi_identifiers)
    unknown = sorted(named - known)
    if unknown:
        raise DataError(
            f"the policy names columns not in the data: {', '.join(unknown)}",
            where="policy",
            hint=f"available: {', '.join(frame.columns)}",
        )
    report = ReleaseReport(rows_in=frame.height, rows_out=frame.height, columns_out=[])
    if policy.keep is not None:
        for column in frame.columns:
            if column not in policy.keep and column not in policy.columns and column != id_column:
                report.removed_columns[column] = "not in the policy's keep list"
        frame = frame.drop([c for c in report.removed_columns if c in frame.columns])
    partner_key = key.child(f"release/{partner}")
    anonymizer = Anonymizer(
        policy, partner_key, id_column=id_column, text_columns=policy.text_columns
    )
    out, stats = anonymizer.frame(frame)
    report.operators = dict(stats.columns)
    if id_column and id_column in report.operators:
        report.operators[id_column] = "pseudonymize (keyed for this partner)"
    for column in stats.dropped_columns:
        report.removed_columns[column] = "dropped by its privacy rule"
    report.text_spans = stats.text_spans
    quasi = policy.k_anonymity.quasi_identifiers
    if quasi:
        out, enforced = enforce_k_anonymity(
            out, quasi, policy.k_anonymity.k, max_suppression=policy.max_suppression
        )
        report.k_anonymity = {
            "k": enforced.k,
            "quasi_identifiers": list(quasi),
            "k_achieved": enforced.after.k_achieved,
            "rows_suppressed": enforced.rows_suppressed,
            "generalization": enforced.generalization,
        }
    report.rows_out = out.height
    report.columns_out = list(out.columns)
    return out, report
