"""The Ray engine's ground: joining the cluster, where a table lives (a file or a folder of
Parquet parts, local or s3://), and errors raised inside tasks brought back as themselves.

Reading is ``ray_read``, writing ``ray_write``, sets of rows ``ray_rows``.

A table is one file (``.csv .jsonl .parquet``, optionally ``.gz``) or a folder of Parquet
parts, local or ``s3://BUCKET/PREFIX`` (endpoint and credentials from the standard
``AWS_ENDPOINT_URL`` / ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``). Parquet is read
on the cluster, one task per row group, each row numbered by its place in the whole input
(``_dw_row``: parts in name order, then rows) — the order every output keeps. A CSV or JSON
lines file is read by this process (its encoding detection and ``data.dtypes``) and handed to
the cluster in blocks. A task that cannot read its part fails naming the part.

Output: a file is streamed from the cluster through this process in row order; a folder gets
one Parquet part per block, named by its first row (``part-000000001234.parquet``) so name
order is row order, and ``_datawheel.json`` (rows and parts) is written last: a folder
without it is an unfinished run.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from datawheel.errors import DataError, DatawheelError, MissingDependencyError, UsageError

__all__ = [
    "MANIFEST",
    "NOTE",
    "PART",
    "ROW",
    "Table",
    "connect",
    "open_table",
    "parts_of",
    "require_ray",
    "shuffle_partitions",
    "surface_errors",
]

ROW = "_dw_row"  # the row's place in the whole input, 0-based
NOTE = "_dw_note"  # a task's statistics for its block (JSON), on the block's first row
MANIFEST = "_datawheel.json"
PART = "part-{:012d}.parquet"
_LOCAL_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": a node on 127.0.0.1 stays there
_FILE_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")
_PARTITION_BYTES = 256 << 20  # a shuffle partition holds about this much


def require_ray() -> Any:
    """Import Ray (with Ray Data), or say which extra brings it."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependencyError("ray", "ray", purpose="--engine ray") from None
    return ray


def connect(address: str | None) -> Any:
    """Join the cluster at ``address`` (``HOST:PORT``; ``auto`` or None: ``RAY_ADDRESS``, else a
    one-machine cluster on 127.0.0.1). A cluster on 127.0.0.1 is joined on 127.0.0.1 only.

    The token of a cluster with token auth comes from ``RAY_AUTH_TOKEN`` (Ray reads it)."""
    host = urlparse(f"//{address}").hostname if address and address != "auto" else None
    local = host in {"127.0.0.1", "localhost"} or not (address or os.environ.get("RAY_ADDRESS"))
    if local:
        os.environ.setdefault(_LOCAL_ONLY, "0")  # Ray otherwise reports the outward address
    ray = require_ray()
    if not ray.is_initialized():
        extra = {"_node_ip_address": "127.0.0.1"} if local else {}
        try:
            ray.init(
                address=address,
                log_to_driver=False,
                include_dashboard=False,
                logging_level=logging.WARNING,
                **extra,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UsageError(
                f"cannot join the Ray cluster at {address or 'RAY_ADDRESS'}: {reason}",
                where="--ray-address",
                hint="start it with `ray start --head`, pass its HOST:PORT, and set "
                "RAY_AUTH_TOKEN when the cluster uses token auth",
            ) from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = sys.stderr.isatty()  # Ray's bars, on a terminal
    context.raise_original_map_exception = True  # a task's DataError reaches us as one
    context.execution_options.preserve_order = True  # blocks leave in row order
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


def shuffle_partitions(ray: Any, nbytes: int) -> int:
    """Partitions of a shuffle: one per CPU of the cluster at least, more for big inputs."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(2, cpus, -(-nbytes // _PARTITION_BYTES))


# -- where a table lives ------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A table the Ray engine reads or writes: one file, or a folder of Parquet parts."""

    location: str  # as given: a path or s3://BUCKET/PREFIX
    path: str  # the filesystem's path (bucket/key for S3, absolute for local)
    filesystem: Any  # pyarrow.fs.FileSystem
    folder: bool

    @property
    def remote(self) -> bool:
        return self.location.startswith("s3://")


def open_table(location: str | os.PathLike[str], *, output: bool = False) -> Table:
    """Resolve ``location``; a folder is an existing folder, a name ending in ``/``, or (for an
    output) a name without a table extension."""
    import pyarrow.fs as pafs

    text = str(location)
    if text.startswith("s3://"):
        filesystem, path = _s3(text)
        info = filesystem.get_file_info(path)
        folder = info.type == pafs.FileType.Directory or text.endswith("/")
    elif "://" in text:
        raise UsageError(
            f"unsupported location {text!r}",
            where=text,
            hint="use a local path or s3://BUCKET/PREFIX",
        )
    else:
        filesystem, path = pafs.LocalFileSystem(), str(Path(text).resolve())
        folder = Path(text).is_dir() or text.endswith("/")
    if not folder and output:
        folder = not _table_suffix(text)
    return Table(text, path.rstrip("/"), filesystem, folder)


def _table_suffix(name: str) -> bool:
    lowered = name.lower().removesuffix(".gz")
    return lowered.endswith(_FILE_SUFFIXES)


def _s3(url: str) -> tuple[Any, str]:
    """pyarrow's S3 filesystem for ``url`` and the bucket/key path in it."""
    import pyarrow.fs as pafs

    parsed = urlparse(url)
    if not parsed.netloc:
        raise UsageError(f"no bucket in {url!r}", where=url, hint="use s3://BUCKET/PREFIX")
    options: dict[str, Any] = {
        "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    }
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        point = urlparse(endpoint)
        options["endpoint_override"] = point.netloc or point.path
        options["scheme"] = point.scheme or "https"
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        # the tasks carry this process's credentials; without them each node uses its own
        options["access_key"] = os.environ["AWS_ACCESS_KEY_ID"]
        options["secret_key"] = os.environ["AWS_SECRET_ACCESS_KEY"]
    return pafs.S3FileSystem(**options), f"{parsed.netloc}{parsed.path}"


def parts_of(table: Table) -> list[str]:
    """The Parquet parts of a folder, in name order (the manifest's list when there is one)."""
    import pyarrow.fs as pafs

    filesystem = table.filesystem
    try:
        manifest = _read_bytes(filesystem, f"{table.path}/{MANIFEST}")
        if manifest is not None:
            return [f"{table.path}/{p['name']}" for p in json.loads(manifest)["parts"]]
        infos = filesystem.get_file_info(pafs.FileSelector(table.path, allow_not_found=True))
    except OSError as exc:
        raise DataError(f"cannot list the folder: {exc}", where=table.location) from None
    names = sorted(
        info.path
        for info in infos
        if info.type == pafs.FileType.File
        and info.base_name.endswith(".parquet")
        and not info.base_name.startswith(("_", "."))
    )
    if not names:
        raise DataError(
            "no .parquet parts in the folder",
            where=table.location,
            hint="pass a folder of Parquet files, or one .csv/.jsonl/.parquet file",
        )
    return names


def _read_bytes(filesystem: Any, path: str) -> bytes | None:
    import pyarrow.fs as pafs

    if filesystem.get_file_info(path).type != pafs.FileType.File:
        return None
    with filesystem.open_input_stream(path) as stream:
        return bytes(stream.read())


# -- errors -----------------------------------------------------------------------------------


def surface_errors(run: Callable[[], Any]) -> Any:
    """Run ``run``; a datawheel error raised inside a task comes out as itself, not wrapped in
    Ray's task error (whose text carries the remote traceback)."""
    try:
        return run()
    except Exception as exc:
        cause = _datawheel_cause(exc)
        if cause is None:
            raise
        raise cause from None


def _datawheel_cause(exc: BaseException) -> DatawheelError | None:
    """The first datawheel error in ``exc``'s causes, copied free of Ray's wrapper."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        error = stack.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        inner = getattr(error, "cause", None)
        if isinstance(error, DatawheelError) and not isinstance(inner, BaseException):
            return error
        if isinstance(inner, DatawheelError):
            clean = type(inner).__new__(type(inner))
            clean.__dict__.update(inner.__dict__)
            Exception.__init__(clean, inner.one_line())
            return clean
        stack += [error.__cause__, error.__context__, inner]
    return None
