"""Where artifact bytes live: a local folder (the default) or an S3-compatible bucket.

Both backends hold immutable objects named by their sha256, so writing is "create if absent":
locally an atomic rename, in a bucket a conditional put (``If-None-Match: *``), so two hosts
writing the same object can never leave a torn or mixed one. ``DATAWHEEL_ARTIFACTS_URL``
(``s3://BUCKET/PREFIX``) selects the bucket; the endpoint and credentials come from the
standard ``AWS_ENDPOINT_URL`` / ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` variables.
The bucket only ever sees what the artifact store hands it — ciphertext for encrypted artifacts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from datawheel.atomic import atomic_write
from datawheel.errors import DatawheelError, MissingDependencyError, UsageError

__all__ = ["ARTIFACTS_URL_ENV", "BlobStore", "LocalBlobs", "S3Blobs", "open_blobs"]

ARTIFACTS_URL_ENV = "DATAWHEEL_ARTIFACTS_URL"


DATA_MODE = 0o600  # a local artifact holds data: its owner reads it, nobody else


class BlobStore(Protocol):
    """Immutable named objects; ``location`` says where, for messages and cache keys."""

    location: str

    def put_new(self, name: str, data: bytes) -> bool:
        """Create ``name`` unless it exists; True when this call wrote it."""

    def get(self, name: str) -> bytes | None:
        """The bytes, or None when there is no such object."""

    def exists(self, name: str) -> bool: ...

    def delete(self, name: str) -> None:
        """Remove the object; a missing one is not an error."""

    def names(self) -> Iterator[str]:
        """Every object's name (for audits: "nothing left behind")."""


class LocalBlobs:
    """Files under ``root/ab/abcdef…`` — the one-machine default."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.location = str(self.root)

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name

    def put_new(self, name: str, data: bytes) -> bool:
        target = self.path(name)
        if target.exists():
            return False
        atomic_write(target, data, mode=DATA_MODE)
        return True

    def get(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("??/*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.name


class S3Blobs:
    """Objects ``PREFIX/ab/abcdef…`` in an S3-compatible bucket, written with conditional puts."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client = client or _s3_client()

    @property
    def client(self) -> Any:
        """The boto3 client (shared with the audit head's anchor in the same bucket)."""
        return self._client

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name[:2]}/{name}" if self.prefix else f"{name[:2]}/{name}"

    def put_new(self, name: str, data: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.put_object(
                Bucket=self.bucket, Key=self.key(name), Body=data, IfNoneMatch="*"
            )
        except BotoCoreError as exc:
            raise _unreachable(exc, self) from None
        except ClientError as exc:
            code = _code(exc)
            if code in {"PreconditionFailed", "412"}:
                return False  # another host stored the same bytes first: content-addressed
            if code in {"ConditionalRequestConflict", "409"} and self.exists(name):
                return False  # a concurrent conditional put of the same name won
            raise _storage_error(exc, self, "write", name) from None
        return True

    def get(self, name: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self.key(name))
        except BotoCoreError as exc:
            raise _unreachable(exc, self) from None
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise _storage_error(exc, self, "read", name) from None
        return answer["Body"].read()

    def exists(self, name: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self.key(name))
        except BotoCoreError as exc:
            raise _unreachable(exc, self) from None
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "404", "NotFound"}:
                return False
            raise _storage_error(exc, self, "check", name) from None
        return True

    def delete(self, name: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.delete_object(Bucket=self.bucket, Key=self.key(name))
        except BotoCoreError as exc:
            raise _unreachable(exc, self) from None
        except ClientError as exc:
            if _code(exc) not in {"NoSuchKey", "404", "NotFound"}:
                raise _storage_error(exc, self, "delete", name) from None

    def names(self) -> Iterator[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""
        )
        for page in pages:
            for item in page.get("Contents", []):
                parts = item["Key"].rsplit("/", 2)
                if len(parts) >= 2 and parts[-2] == parts[-1][:2]:
                    yield parts[-1]  # an artifact (ab/abcdef…), not the audit head's objects


def open_blobs(url: str | None, default_root: Path | None) -> BlobStore:
    """The backend for ``url`` (``s3://BUCKET/PREFIX`` or a folder); None means ``default_root``."""
    if not url:
        if default_root is None:
            raise UsageError("no artifact location given", hint=f"set {ARTIFACTS_URL_ENV}")
        return LocalBlobs(default_root)
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise UsageError(
                f"{ARTIFACTS_URL_ENV}={url!r} names no bucket",
                where=ARTIFACTS_URL_ENV,
                hint="write s3://BUCKET/PREFIX",
            )
        return S3Blobs(parsed.netloc, parsed.path)
    if parsed.scheme in {"", "file"}:
        return LocalBlobs(Path(parsed.path if parsed.scheme else url))
    raise UsageError(
        f"{ARTIFACTS_URL_ENV}={url!r}: unsupported scheme {parsed.scheme!r}",
        where=ARTIFACTS_URL_ENV,
        hint="use s3://BUCKET/PREFIX or a local folder",
    )


def _s3_client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MissingDependencyError(
            "boto3", "s3", purpose="DATAWHEEL_ARTIFACTS_URL=s3://…"
        ) from None
    config = Config(
        retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"}
    )
    session = boto3.session.Session()  # its own: credentials read from the environment now
    return session.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"), config=config)


def _unreachable(exc: Exception, blobs: S3Blobs) -> DatawheelError:
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or "the default AWS endpoint"
    return DatawheelError(
        f"cannot reach the object store for {blobs.location} at {endpoint}: {exc}",
        where=ARTIFACTS_URL_ENV,
        hint="check AWS_ENDPOINT_URL and that the S3 server is up",
    )


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _storage_error(exc: Any, blobs: S3Blobs, verb: str, name: str) -> DatawheelError:
    code = _code(exc)
    where = f"{blobs.location}/{name[:12]}"
    if code in {"NoSuchBucket"}:
        return UsageError(
            f"the bucket {blobs.bucket!r} does not exist",
            where=ARTIFACTS_URL_ENV,
            hint="create it, or point DATAWHEEL_ARTIFACTS_URL at an existing bucket",
        )
    if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}:
        return UsageError(
            f"the object store refused to {verb} an artifact ({code})",
            where=where,
            hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's policy",
        )
    return DatawheelError(f"the object store failed to {verb} an artifact ({code})", where=where)
