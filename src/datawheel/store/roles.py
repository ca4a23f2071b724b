"""Who may do what: the workspace roles and the actions each may take, enforced in the library.

The role is a guard rail for people who share a workspace, not a boundary against the holder of
the secret key: the CLI takes it from ``DATAWHEEL_ROLE`` (default ``admin``, the person holding
the key file) and passes it to ``Workspace.open(..., role=...)``; the API takes it from the key.
"""

from __future__ import annotations

import os
from typing import Any

from datawheel.errors import PermissionDenied, UsageError

__all__ = [
    "ACTIONS",
    "PERMISSIONS",
    "ROLES",
    "ROLE_ENV",
    "allowed",
    "check",
    "require",
    "role_from_env",
]

ROLE_ENV = "DATAWHEEL_ROLE"
ROLES = ("admin", "engineer", "analyst", "service")

# action → the roles that may take it. Subject-level and key-level actions are the admin's alone:
# they reveal or destroy personal data (GDPR art. 15 / 17) or change what can be decrypted.
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"admin", "engineer", "analyst", "service"}),  # status, models, reports
    "scan": frozenset({"admin", "engineer", "analyst"}),  # pii scan, privacy check
    "anonymize": frozenset({"admin", "engineer"}),  # apply privacy rules with the keyed operators
    "train": frozenset({"admin", "engineer"}),  # run, train, tune, retrain
    "promote": frozenset({"admin", "engineer"}),  # promote, rollback, shadow
    "serve": frozenset({"admin", "engineer", "service"}),  # predict, explain, feedback
    "reveal": frozenset({"admin"}),  # decrypt `encrypt`-operator fields
    "subject_export": frozenset({"admin"}),  # everything held about one subject
    "erase": frozenset({"admin"}),  # remove a subject everywhere
    "rotate": frozenset({"admin"}),  # new secret key, re-encrypt, re-tokenize
    "share": frozenset({"admin"}),  # releases and DP statistics for partners (data leaves)
    "license": frozenset({"admin"}),  # issue and revoke model licenses (signed by the project)
}
ACTIONS = tuple(PERMISSIONS)


def _known_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(
            f"unknown role {role!r}", where=ROLE_ENV, hint=f"use one of {', '.join(ROLES)}"
        )
    return role


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may take ``action`` (both must exist)."""
    if action not in PERMISSIONS:
        raise UsageError(f"unknown action {action!r}", hint=f"actions: {', '.join(ACTIONS)}")
    return _known_role(role) in PERMISSIONS[action]


def check(role: str, action: str) -> None:
    """Raise `PermissionDenied` naming the role and the action unless it is allowed."""
    if not allowed(role, action):
        roles = ", ".join(r for r in ROLES if r in PERMISSIONS[action])
        raise PermissionDenied(
            f"role {role!r} may not {action.replace('_', ' ')}",
            hint=f"this needs the role {roles} (set {ROLE_ENV})",
        )


def require(ws: Any, action: str) -> None:
    """`check` for the role a workspace was opened with (``Workspace.role``)."""
    check(getattr(ws, "role", "admin"), action)


def role_from_env() -> str:
    """``DATAWHEEL_ROLE``, default ``admin``; an unknown name is a `UsageError`."""
    return _known_role(os.environ.get(ROLE_ENV, "").strip() or "admin")
