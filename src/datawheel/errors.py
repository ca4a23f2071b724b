"""The one exception hierarchy of datawheel.

::

    DatawheelError                 base; every error raised on purpose is one of these
    ├── UsageError                 bad input from the user (CLI exit 2, HTTP 4xx)
    │   ├── ConfigError            the project file: unknown key, wrong type, bad value
    │   ├── DataError              a data file: missing, malformed, wrong column, wrong type
    │   │   └── MediaError         an image or clip that does not decode (data.media.decode)
    │   └── NotFoundError          a model, dataset, run, tenant or key that does not exist
    ├── SecretKeyError             the secret key is missing, malformed or wrong
    ├── PermissionDenied           the caller's role does not allow the action
    │   └── Unauthenticated        no valid credentials (HTTP 401)
    ├── IntegrityError             the audit chain or an artifact hash does not verify
    ├── Cancelled                  work stopped on request (a served explanation's timeout)
    ├── NotFittedError             a transform or model used before ``fit``
    └── MissingDependencyError     an optional extra is not installed (names the pip command)

The CLI turns each into one line ``Error: …`` and an exit code; the HTTP API into a JSON body.
"""

from __future__ import annotations

__all__ = [
    "Cancelled",
    "ConfigError",
    "DataError",
    "DatawheelError",
    "IntegrityError",
    "MissingDependencyError",
    "NotFittedError",
    "NotFoundError",
    "PermissionDenied",
    "SecretKeyError",
    "Unauthenticated",
    "UsageError",
]


class DatawheelError(Exception):
    """Base of every error datawheel raises on purpose.

    ``hint`` says how to fix it; ``where`` names the file, line, column, key or field.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None):
        self.message = message
        self.hint = hint
        self.where = where
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message as the CLI prints it: where, what, and the fix."""
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} (hint: {self.hint})" if self.hint else text


class UsageError(DatawheelError):
    """The user asked for something that cannot be done as asked."""

    exit_code = 2


class ConfigError(UsageError):
    """The project file is invalid; ``where`` is the key path such as ``train.epochs``."""


class DataError(UsageError):
    """A data file cannot be read or does not match what the project expects."""


class NotFoundError(UsageError):
    """A named thing (model version, dataset, run, tenant, key) does not exist."""


class SecretKeyError(DatawheelError):
    """The secret key is missing, malformed, has loose permissions, or does not decrypt."""

    exit_code = 2


class PermissionDenied(DatawheelError):
    """The caller's role does not allow this action."""

    exit_code = 2


class Unauthenticated(PermissionDenied):
    """No credentials, or credentials that are malformed, unknown or revoked."""


class IntegrityError(DatawheelError):
    """Stored state failed verification: a broken audit chain or an artifact hash mismatch."""


class Cancelled(DatawheelError):
    """Work stopped because its caller asked (e.g. an explanation past the request timeout)."""


class NotFittedError(DatawheelError):
    """A transform or model was used before it was fitted."""


class MissingDependencyError(DatawheelError):
    """An optional dependency is absent; the hint names the ``pip install`` that brings it."""

    exit_code = 2

    def __init__(self, package: str, extra: str, *, purpose: str):
        super().__init__(
            f"{purpose} needs the optional package {package!r}",
            hint=f"pip install 'datawheel[{extra}]'",
        )
