"""Who may do what: the one action table, used by the CLI, the library, the API and the console.

A role comes from one of four places, and nowhere else:

- the API: the role stored with the caller's API key (`Principal.role`);
- the web console: the signed-in user's role (operators: admin, engineer, analyst; a tenant's
  people: owner, developer — ``CUSTOMER_ROLES``, scoped to their tenant);
- the CLI and the library: ``DATAWHEEL_ROLE``, when it is set;
- otherwise the *owner*: whoever owns ``datawheel.key`` (the file `datawheel init` created,
  0600) and opens the workspace with the key from that file acts as ``admin``.

Anyone else has no role, and every checked action is refused (fail closed) — except the
``KEYLESS`` actions, which touch neither the workspace nor the secret key (cleaning or scanning a
file the caller can already read). Checks run before anything is written.

In the CLI a role is a guard rail for the people who share a workspace, not a boundary against
a holder of the secret key: whoever holds the key can decrypt everything anyway. The boundaries
are the key itself and, for remote callers, API keys (see docs/security.md).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datawheel.errors import PermissionDenied, UsageError
from datawheel.secret import KEY_ENV, KEY_FILE

__all__ = [
    "ACTIONS",
    "CUSTOMER_ROLES",
    "KEYLESS",
    "PERMISSIONS",
    "ROLES",
    "ROLE_ENV",
    "Identity",
    "allowed",
    "check",
    "require",
    "resolve_identity",
    "role_from_env",
]

ROLE_ENV = "DATAWHEEL_ROLE"
ROLES = ("admin", "engineer", "analyst", "service")  # the workspace's, and API keys'
CUSTOMER_ROLES = ("owner", "developer")  # a tenant's people in the web console
_ALL = frozenset(ROLES)
_BUILD = frozenset({"admin", "engineer"})

# action → the roles that may take it; one row per thing a caller can do, whatever the door.
PERMISSIONS: dict[str, frozenset[str]] = {
    # the workspace, from the CLI or the library
    "read": _ALL,  # status, models, runs, evaluate, explain a file, feedback stats, audit verify
    "prepare": _BUILD | {"analyst"},  # clean, dedup: file to file, no key, no workspace
    "scan": _BUILD | {"analyst"},  # pii scan, privacy check
    "anonymize": _BUILD,  # apply the privacy rules with the keyed operators
    "train": _BUILD,  # run, train, tune, loop (retrain)
    "promote": _BUILD,  # promote, rollback, shadow
    "export": _BUILD,  # a deployable bundle of a model version
    "serve": _BUILD | {"service"},  # start the API server
    "tenants": frozenset({"admin"}),  # create, deactivate, change plan
    "keys": frozenset({"admin"}),  # mint, list, revoke API keys
    "users": frozenset({"admin"}),  # create console accounts (an operator admin can do much)
    # subject- and key-level actions reveal or destroy personal data (GDPR art. 15 / 17) or
    # change what can be decrypted: the admin's alone
    "reveal": frozenset({"admin"}),  # decrypt `encrypt`-operator fields
    "subject_export": frozenset({"admin"}),  # everything held about one subject
    "erase": frozenset({"admin"}),  # remove a subject everywhere
    "rotate": frozenset({"admin"}),  # new secret key, re-encrypt, re-tokenize
    "migrate": frozenset({"admin"}),  # upgrade the workspace database's schema (a shared one)
    "receive": _ALL,  # a partner's side: make a key pair, verify a release, serve a licensed
    # bundle — no workspace, no project key
    "share": frozenset({"admin"}),  # releases and DP statistics for partners (data leaves)
    "license": frozenset({"admin"}),  # issue and revoke model licenses (signed by the project)
    # the HTTP API, by the role of the caller's key
    "predict": _BUILD | {"service"},
    "explain": _BUILD | {"service"},
    "feedback": frozenset({"admin", "service"}),
    "models": _BUILD | {"analyst"},
    "usage": _BUILD | {"analyst"},  # also `usage export` (billing) in the CLI
    # the web console, by the signed-in user's role
    "operate": _BUILD | {"analyst"},  # every operator page (read); promotion is "promote"
    "customer": frozenset(CUSTOMER_ROLES),  # a tenant's own overview, usage, playground
    "tenant_keys": frozenset({"owner"}),  # mint and revoke API keys of the user's own tenant
}
ACTIONS = tuple(PERMISSIONS)

#: Actions that touch neither the workspace nor the secret key: a caller with no role may take
#: them (the file is theirs to read anyway); a declared role is still held to the table.
KEYLESS = frozenset({"prepare", "scan", "receive"})


@dataclass(frozen=True)
class Identity:
    """The role a CLI or library caller acts as, and why: ``owner`` when it came from owning
    the key file, not from ``DATAWHEEL_ROLE``. ``role`` None: no role (fail closed)."""

    role: str | None
    owner: bool = False


def _known_role(role: str, roles: tuple[str, ...] = ROLES + CUSTOMER_ROLES) -> str:
    if role not in roles:
        raise UsageError(
            f"unknown role {role!r}", where=ROLE_ENV, hint=f"use one of {', '.join(roles)}"
        )
    return role


def _known_action(action: str) -> str:
    if action not in PERMISSIONS:
        raise UsageError(f"unknown action {action!r}", hint=f"actions: {', '.join(ACTIONS)}")
    return action


def allowed(role: str | None, action: str) -> bool:
    """Whether ``role`` (None: no role) may take ``action``; unknown names are errors."""
    _known_action(action)
    if role is None:
        return action in KEYLESS
    return _known_role(role) in PERMISSIONS[action]


def check(role: str | None, action: str) -> None:
    """Raise `PermissionDenied` naming the role and the action unless it is allowed."""
    if allowed(role, action):
        return
    roles = ", ".join(r for r in ROLES + CUSTOMER_ROLES if r in PERMISSIONS[action])
    what = action.replace("_", " ")
    if role is None:
        raise PermissionDenied(
            f"no role: only the owner of {KEY_FILE} acts without one, and {what} needs a role",
            hint=f"set {ROLE_ENV} to one of: {roles}",
        )
    raise PermissionDenied(
        f"role {role!r} may not {what}", hint=f"this needs the role {roles} (set {ROLE_ENV})"
    )


def require(ws: Any, action: str) -> None:
    """`check` for the role a workspace was opened with (``Workspace.role``; absent: none)."""
    check(getattr(ws, "role", None), action)


def role_from_env() -> str | None:
    """``DATAWHEEL_ROLE`` if set (an unknown name is a `UsageError`), else None."""
    value = os.environ.get(ROLE_ENV, "").strip()
    return _known_role(value, ROLES) if value else None


def owns_key_file(key_dir: Path | None) -> bool:
    """Whether this process's user owns ``datawheel.key`` in ``key_dir`` and the key will come
    from it (``DATAWHEEL_KEY`` unset): the holder who initialised the project."""
    if os.environ.get(KEY_ENV) or not hasattr(os, "geteuid"):
        return False
    path = (key_dir or Path.cwd()) / KEY_FILE
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid()


def resolve_identity(key_dir: Path | None, role: str | None = None) -> Identity:
    """The caller's role: ``role`` if given, else ``DATAWHEEL_ROLE``, else admin for the owner of
    the key file, else none."""
    if role is not None:
        return Identity(_known_role(role, ROLES))
    declared = role_from_env()
    if declared is not None:
        return Identity(declared)
    if owns_key_file(key_dir):
        return Identity("admin", owner=True)
    return Identity(None)
