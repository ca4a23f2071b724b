"""Layer 2: PII detection, anonymization operators, k-anonymity, and erasure.

The public names below are imported lazily, so importing one submodule stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "scan_pii": "scan",
    "scan_frame": "scan",
    "Span": "spans",
    "detect_pii_columns": "columns",
    "make_operator": "operators",
    "pseudonym": "operators",
    "decrypt_value": "operators",
    "encrypt_value": "operators",
    "Anonymizer": "anonymize",
    "subject_token": "anonymize",
    "anonymize_text": "free_text",
    "SpanRecord": "free_text",
    "anonymize_table": "files",
    "undeclared_pii": "files",
    "check_k_anonymity": "kanon",
    "enforce_k_anonymity": "kanon",
    "KAnonReport": "kanon",
    "EnforceReport": "kanon",
    "erase_subject": "erasure",
    "export_subject": "erasure",
    "ErasureReceipt": "erasure",
    "rotate_key": "rotation",
    "RotationReport": "rotation",
    "reveal_frame": "reveal",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'datawheel.privacy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"datawheel.privacy.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
