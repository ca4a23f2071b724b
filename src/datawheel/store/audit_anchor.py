"""The audit chain's head anchored in the object store, where an insider cannot roll it back.

With ``DATAWHEEL_ARTIFACTS_URL=s3://BUCKET/PREFIX`` every head the workspace commits (the last
entry's seq and hash, MAC'ed under the audit key) is also written to the bucket as its own
object, ``_audit-head/PREFIX/<key id>/<seq, 20 digits>`` (beside the artifacts, not among
them), with a conditional put
(``If-None-Match: *``): an object, once there, is never overwritten. The key id is a MAC of a
constant, so a rotated key starts a fresh series and the id reveals nothing.

An insider with write access to the database and the workspace folder can truncate the log and
put back an older head file; the bucket still holds the heads written after it, and
`BucketAnchor.check` finds them: any verified object past the log's end means entries were
deleted. A rolled-back log that went on growing meets the old objects: the conditional put
fails on a head with another hash, and a ``conflict-…`` object records that for `check`.
An object that does not verify (forged, or another key's) is reported too. With bucket
versioning on, deleted and overwritten versions are searched as well, so deleting the objects
with the application's own credentials does not hide them; docs/security.md says how to set the
bucket up (versioning, or Object Lock, and no delete of versions for the application).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from typing import Any

from datawheel.errors import DatawheelError

__all__ = ["PREFIX", "BucketAnchor", "head_mac"]

log = logging.getLogger(__name__)

PREFIX = "_audit-head"
_DIGITS = 20
_CONFLICT = "conflict-"
_MISSING = {"NoSuchKey", "404", "NotFound"}
_TAKEN = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def head_mac(key: bytes, seq: int, digest: str) -> str:
    """The MAC of one head (seq, hash) under the audit key; the head file uses the same."""
    return hmac.new(key, f"head\x1f{seq}\x1f{digest}".encode(), hashlib.sha256).hexdigest()


def _key_id(key: bytes) -> str:
    return hmac.new(key, b"datawheel audit anchor id", hashlib.sha256).hexdigest()[:16]


class BucketAnchor:
    """Write-once head objects under ``_audit-head/PREFIX/`` in a bucket (see the module doc)."""

    def __init__(self, client: Any, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.root = f"{PREFIX}/{prefix.strip('/')}/" if prefix.strip("/") else f"{PREFIX}/"
        self.location = f"s3://{bucket}/{self.root}"

    def _base(self, key: bytes) -> str:
        return f"{self.root}{_key_id(key)}/"

    def _name(self, key: bytes, seq: int) -> str:
        return f"{self._base(key)}{seq:0{_DIGITS}d}"

    # -- writing ---------------------------------------------------------------------------

    def write(self, key: bytes, seq: int, digest: str) -> None:
        """Anchor (seq, hash); if another hash holds that seq already, record the conflict."""
        body = self._body(key, seq, digest)
        if self._put_new(self._name(key, seq), body):
            return
        held = self._read(self._name(key, seq))
        if held is not None and held.get("hash") == digest:
            return  # this head is anchored already (another process, or a verify)
        marker = f"{self._base(key)}{_CONFLICT}{seq:0{_DIGITS}d}-{uuid.uuid4().hex[:12]}"
        log.error("audit head %s in %s conflicts with the one anchored", seq, self.location)
        self._put_new(marker, json.dumps({"seq": seq, "hash": digest, "held": held}).encode())

    @staticmethod
    def _body(key: bytes, seq: int, digest: str) -> bytes:
        mac = head_mac(key, seq, digest)
        return json.dumps({"seq": seq, "hash": digest, "mac": mac}).encode()

    def _put_new(self, name: str, body: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=name, Body=body, IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) in _TAKEN:
                return False
            raise self._error("write", exc) from None
        except BotoCoreError as exc:
            raise self._error("write", exc) from None
        return True

    # -- checking ----------------------------------------------------------------------------

    def check(self, key: bytes, entries: int, hash_at: dict[int, str]) -> str | None:
        """The first problem the bucket shows with a log of ``entries`` entries (``hash_at``:
        seq -> hash of the log's rows), or None."""
        base = self._base(key)
        if entries:
            held = self._read(self._name(key, entries))
            if held is not None:
                problem = self._judge(key, held, self._name(key, entries))
                if problem is None and held["hash"] != hash_at.get(entries):
                    problem = f"entry {entries} is not the one the object store anchors"
                if problem:
                    return problem
        for name, version in self._after(base, f"{base}{entries:0{_DIGITS}d}"):
            rest = name[len(base) :]
            if rest.startswith(_CONFLICT):
                seq = rest[len(_CONFLICT) :].split("-", 1)[0].lstrip("0") or "0"
                return (
                    f"the object store holds another head for entry {seq}: the log was rolled "
                    "back and written again"
                )
            held = self._read(name, version)
            if held is None:
                continue  # a delete marker's neighbour that is gone: nothing to read
            problem = self._judge(key, held, name)
            if problem is not None:
                return problem
            return (
                f"the object store anchors entry {held['seq']} but the log holds {entries}: "
                "entries were deleted or the log was rolled back"
            )
        return None

    def _judge(self, key: bytes, held: dict[str, Any], name: str) -> str | None:
        try:
            seq, digest, mac = int(held["seq"]), str(held["hash"]), str(held["mac"])
        except (KeyError, TypeError, ValueError):
            return f"the audit head object {name} in the object store is unreadable"
        if not name.endswith(f"{seq:0{_DIGITS}d}") or not hmac.compare_digest(
            mac, head_mac(key, seq, digest)
        ):
            return f"the audit head object {name} in the object store does not verify (forged?)"
        return None

    def _after(self, base: str, start_after: str) -> list[tuple[str, str | None]]:
        """(name, version id) of the objects under ``base`` named after ``start_after``: every
        version, deleted ones included, when the bucket keeps versions."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if self._versioned():
                answer = self.client.list_object_versions(
                    Bucket=self.bucket, Prefix=base, KeyMarker=start_after, MaxKeys=20
                )
                return [(v["Key"], v["VersionId"]) for v in answer.get("Versions", [])]
            answer = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=base, StartAfter=start_after, MaxKeys=20
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._error("list", exc) from None
        return [(item["Key"], None) for item in answer.get("Contents", [])]

    def _versioned(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_bucket_versioning(Bucket=self.bucket)
        except ClientError:
            return False  # a server without versioning: the current objects are all there is
        return answer.get("Status") == "Enabled"

    def _read(self, name: str, version: str | None = None) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"VersionId": version} if version else {}
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=name, **extra)
            data = json.loads(answer["Body"].read())
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise self._error("read", exc) from None
        except BotoCoreError as exc:
            raise self._error("read", exc) from None
        except ValueError:
            return {"seq": None}  # not JSON: `_judge` reports it unreadable
        return data if isinstance(data, dict) else {"seq": None}

    def _error(self, verb: str, exc: Exception) -> DatawheelError:
        return DatawheelError(
            f"cannot {verb} the audit head in the object store ({exc})",
            where=self.location,
            hint="check AWS_ENDPOINT_URL, the credentials and the bucket",
        )


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
