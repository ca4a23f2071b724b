"""The workspace database: SQLAlchemy Core tables, engines for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.exc import ArgumentError, OperationalError

from datawheel.errors import UsageError

__all__ = [
    "connect",
    "metadata",
    "now_iso",
    "ordered_id",
    "purge_deleted",
    "reading",
    "safe_url",
    "seed",
]

metadata = MetaData()
_ts = String(32)  # ISO-8601 UTC timestamps sort and read the same on every database
# Partial indexes on columns most rows leave empty: only the rows that name a subject are indexed.
_NAMED = text("subject IS NOT NULL")


def now_iso() -> str:
    """The current UTC time as stored in every table."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def ordered_id() -> str:
    """A 32-hex-digit id that sorts by creation time: 12 digits of milliseconds since the epoch,
    then 80 random bits (the layout of a UUIDv7). Rows keyed by it land at the end of their
    index; random ids scatter every insert over the whole B-tree, which on a prediction log of
    a million rows made each write-behind commit several times slower."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # raw clean anonymized train val test feedback
    Column("parent_id", String(40), nullable=True),
    Column("artifact", String(64), nullable=True),  # None once erased from the store
    Column("encrypted", Boolean, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("schema", JSON, nullable=False),  # {column: {"dtype", "role"}}
    Column("stats", JSON, nullable=False),  # rows in/out, dropped by reason, timings
    Column("fingerprint", String(64), nullable=False),  # sha256 of the plaintext parquet
    Column("run_id", String(40), nullable=True),
    Column("created_at", _ts, nullable=False),
)

lineage = Table(
    "lineage",
    metadata,
    Column("dataset_id", String(40), ForeignKey("datasets.id"), primary_key=True),
    Column("subject", String(80), primary_key=True),  # keyed pseudonym, never the raw id
    Index("ix_lineage_subject", "subject"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),  # train retrain tune
    Column("status", String(20), nullable=False),  # running finished failed
    Column("params", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("history", JSON, nullable=False),  # per-epoch metrics and seconds
    Column("environment", JSON, nullable=False),  # versions, device, precision
    Column("dataset_id", String(40), nullable=True),
    Column("started_at", _ts, nullable=False),
    Column("finished_at", _ts, nullable=True),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(40), primary_key=True),  # "v1", "v2", …
    Column("number", Integer, nullable=False, unique=True),
    Column("stage", String(20), nullable=False),  # challenger champion shadow archived tainted
    Column("artifact", String(64), nullable=False),
    Column("run_id", String(40), nullable=True),
    Column("dataset_id", String(40), nullable=False),  # the training set
    Column("eval_dataset_id", String(40), nullable=True),  # the held-out set
    Column("metrics", JSON, nullable=False),
    Column("fairness", JSON, nullable=False),
    Column("input_schema", JSON, nullable=False),
    Column("needs_retraining", Boolean, nullable=False, default=False),
    Column("notes", Text, nullable=False, default=""),
    Column("created_at", _ts, nullable=False),
    Column("stage_changed_at", _ts, nullable=False),
)

stage_events = Table(
    "stage_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(40), nullable=False),
    Column("from_stage", String(20), nullable=True),
    Column("to_stage", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", _ts, nullable=False),
)

gate_decisions = Table(
    "gate_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("challenger", String(40), nullable=False),
    Column("champion", String(40), nullable=True),
    Column("decision", String(20), nullable=False),  # promote reject
    Column("reasons", JSON, nullable=False),
    Column("comparison", JSON, nullable=False),
    Column("created_at", _ts, nullable=False),
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("plan", String(40), nullable=False),
    Column("created_at", _ts, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), ForeignKey("tenants.id"), nullable=False),
    Column("key_hash", String(64), nullable=False),  # sha256 of the presented key
    Column("role", String(20), nullable=False),
    Column("created_at", _ts, nullable=False),
    Column("revoked_at", _ts, nullable=True),
    Column("expires_at", _ts, nullable=True),  # refused from this instant on (None: never)
    # HMAC under a key derived from the secret key over id, tenant, role, expiry and key_hash
    # (store.credentials): a row written without the secret key does not authenticate
    Column("key_mac", String(64), nullable=True),
)

usage = Table(
    "usage",
    metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("endpoint", String(40), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("requests", Integer, nullable=False, default=0),  # answered (what is billed)
    Column("rows", Integer, nullable=False, default=0),
    # refused once the key was known (4xx: bad input, limits, role) or failed (5xx); not billed
    Column("client_errors", Integer, nullable=False, default=0, server_default="0"),
    Column("server_errors", Integer, nullable=False, default=0, server_default="0"),
)

quota_counters = Table(  # admission control: rows reserved per tenant and month (never > quota)
    "quota_counters",
    metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("month", String(7), primary_key=True),  # YYYY-MM (UTC)
    Column("reserved", Integer, nullable=False, default=0),  # served + leased to workers
)

quota_leases = Table(  # rows of quota_counters.reserved that one worker holds and may spend
    "quota_leases",
    metadata,
    Column("worker", String(40), primary_key=True),  # a random id per serving process
    Column("tenant_id", String(40), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("units", Integer, nullable=False),  # granted and not yet metered as served
    Column("expires_at", Float, nullable=False),  # seconds on the server's clock
)

rate_buckets = Table(  # the per-tenant token bucket shared by every worker
    "rate_buckets",
    metadata,
    Column("tenant_id", String(40), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),  # seconds on the server's clock
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), nullable=True),
    Column("model_version", String(40), nullable=False),
    Column("subject", String(80), nullable=True),  # pseudonym of the data subject, if sent
    Column("features", JSON, nullable=False),  # anonymized inputs only
    Column("label", String(200), nullable=False),
    Column("probabilities", JSON, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("shadow", Boolean, nullable=False, default=False),
    Column("created_at", _ts, nullable=False),
    # One id per served request row, shared by the champion's and the shadow's prediction of it;
    # serve fills it (null on rows logged before it did: the loop then pairs by features + time).
    Column("request_id", String(40), nullable=True),
    Index("ix_predictions_created", "created_at"),
    Index("ix_predictions_request", "request_id"),
    Index("ix_predictions_subject", "subject", sqlite_where=_NAMED, postgresql_where=_NAMED),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("prediction_id", String(40), ForeignKey("predictions.id"), nullable=False),
    Column("tenant_id", String(40), nullable=True),
    Column("subject", String(80), nullable=True),
    Column("label", String(200), nullable=True),
    Column("issue", String(80), nullable=True),
    Column("comment", Text, nullable=True),  # scrubbed of PII before storage
    Column("rating", Integer, nullable=True),
    Column("created_at", _ts, nullable=False),
    Index("ix_feedback_prediction", "prediction_id"),
    Index("ix_feedback_created", "created_at"),  # the console's newest-first drill-down
    Index("ix_feedback_issue_created", "issue", "created_at"),
    Index("ix_feedback_subject", "subject", sqlite_where=_NAMED, postgresql_where=_NAMED),
)

erased_subjects = Table(
    "erased_subjects",
    metadata,
    # Written by erasure (privacy), read by the loop: feedback and training rows of these
    # subjects never enter a new training set. Keyed pseudonym, never the raw id.
    Column("subject", String(80), primary_key=True),
    Column("erased_at", _ts, nullable=False),
)

drift_references = Table(
    "drift_references",
    metadata,
    # The training distribution of one model version, computed once (lazily) from its training
    # set: quantile bins + counts per numeric feature, category counts, top text n-grams.
    Column("version", String(40), primary_key=True),
    Column("dataset_id", String(40), nullable=False),
    Column("reference", JSON, nullable=False),
    Column("created_at", _ts, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts", _ts, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(80), nullable=False),
    Column("target", String(200), nullable=False),
    Column("details", Text, nullable=False),  # canonical JSON, hashed as stored
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_action_seq", "action", "seq"),  # the console's "latest checks of the loop"
)

artifact_keys = Table(
    "artifact_keys",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("wrapped_key", String(200), nullable=False),  # data key wrapped by the KEK (base64)
    Column("key_fingerprint", String(16), nullable=False),
)

# -- sharing and licensing ----------------------------------------------------------------------

signing_keys = Table(  # every public key that ever signed a release or license (rotation-proof)
    "signing_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("public_key", String(64), nullable=False),  # raw Ed25519, base64
    Column("first_used_at", _ts, nullable=False),
)

releases = Table(  # data handed to a partner: what, to whom, under which policy
    "releases",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("partner", String(200), nullable=False),
    Column("source", String(400), nullable=False),  # dataset id or file fingerprint
    Column("rows", Integer, nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("encrypted_to", String(16), nullable=True),  # the partner key's id, if encrypted
    Column("policy", JSON, nullable=False),
    Column("created_at", _ts, nullable=False),
)

release_subjects = Table(  # which subjects (keyed pseudonyms) a release held: erasure lists them
    "release_subjects",
    metadata,
    Column("release_id", String(40), ForeignKey("releases.id"), primary_key=True),
    Column("subject", String(80), primary_key=True),
)

dp_budgets = Table(  # the privacy-loss ledger of one dataset: spent never exceeds the budget
    "dp_budgets",
    metadata,
    Column("dataset", String(400), primary_key=True),  # dataset id or file:sha256
    Column("epsilon_budget", Float, nullable=False),
    Column("delta_budget", Float, nullable=False),
    Column("epsilon_spent", Float, nullable=False, default=0.0),
    Column("delta_spent", Float, nullable=False, default=0.0),
)

dp_queries = Table(
    "dp_queries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(400), nullable=False, index=True),
    Column("epsilon", Float, nullable=False),
    Column("delta", Float, nullable=False),
    Column("query", JSON, nullable=False),
    Column("created_at", _ts, nullable=False),
)

licenses = Table(  # the register of licenses issued for exported models
    "licenses",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("licensee", String(200), nullable=False),
    Column("expires", String(10), nullable=False),  # YYYY-MM-DD, last valid day (UTC)
    Column("features", JSON, nullable=False),
    Column("max_rows", Integer, nullable=True),
    Column("model_sha256", String(64), nullable=False),  # the licensed model file
    Column("key_id", String(16), nullable=False),
    Column("issued_at", _ts, nullable=False),
    Column("revoked_at", _ts, nullable=True),
    Column("revoked_reason", Text, nullable=True),
)


# -- the web console ----------------------------------------------------------------------------

users = Table(  # console accounts: operators (tenant_id NULL) and customers' people
    "users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-case
    Column("tenant_id", String(40), ForeignKey("tenants.id"), nullable=True),
    Column("role", String(20), nullable=False),  # admin engineer analyst | owner developer
    Column("password_hash", String(200), nullable=False),  # argon2id, parameters inline
    Column("created_at", _ts, nullable=False),
    Column("disabled_at", _ts, nullable=True),
)

console_sessions = Table(  # signed-in browsers; only the SHA-256 of the cookie is stored
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", _ts, nullable=False),
    Column("expires_at", Float, nullable=False),  # seconds since the epoch
)

login_failures = Table(  # failed sign-ins per e-mail and per client address, for the rate limit
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False),  # "email:…" or "ip:…"
    Column("at", Float, nullable=False),
    Index("ix_login_failures_key_at", "key", "at"),
)

feedback_daily = Table(  # feedback counted as it arrives, so the console never scans the log
    "feedback_daily",
    metadata,
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("issue", String(80), primary_key=True),  # "" when none was given
    Column("model_version", String(40), primary_key=True),
    Column("tenant_id", String(40), primary_key=True),  # "" when none
    Column("feedback", Integer, nullable=False, default=0),
    Column("labelled", Integer, nullable=False, default=0),  # with a label …
    Column("correct", Integer, nullable=False, default=0),  # … equal to the prediction's
)

api_key_details = Table(  # what the console adds to a key: a name, an expiry, who made it
    "api_key_details",
    metadata,
    Column("key_id", String(40), ForeignKey("api_keys.id"), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("expires_on", String(10), nullable=True),  # YYYY-MM-DD, last valid day (UTC)
    Column("created_by", String(320), nullable=False),
)

api_key_usage = Table(  # when each key was last used: the serving path's write-behind, at most
    "api_key_usage",  # once per key and auth-cache period per worker, never a write per request
    metadata,
    Column("key_id", String(40), ForeignKey("api_keys.id"), primary_key=True),
    Column("last_used_at", _ts, nullable=False),
)

plans = Table(  # plans made or changed in the console; they override serve.plans of that name
    "plans",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("requests_per_minute", Integer, nullable=False),
    Column("monthly_quota", Integer, nullable=False),  # rows per calendar month
    Column("feedback_per_minute", Integer, nullable=False),
    Column("feedback_max_chars", Integer, nullable=False),
    Column("updated_at", _ts, nullable=False),
    Column("updated_by", String(320), nullable=False),
)

signup_tokens = Table(  # one-time sign-up links; only the SHA-256 of the token is stored
    "signup_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", _ts, nullable=False),
    Column("expires_at", Float, nullable=False),  # seconds since the epoch
    Column("used_at", _ts, nullable=True),  # set once, when the password is chosen
    Column("created_by", String(320), nullable=False),
)

drift_daily = Table(  # each served version's drift per feature and UTC day: the latest measure
    "drift_daily",  # that day, so the console draws drift over time without recomputing it
    metadata,
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("version", String(40), primary_key=True),
    Column("feature", String(200), primary_key=True),
    Column("psi", Float, nullable=False),
    Column("drifted", Boolean, nullable=False),  # above the threshold and significant
    Column("recent", Integer, nullable=False),  # recent rows the measure compared
    Column("measured_at", _ts, nullable=False),
)

console_jobs = Table(  # work the console started in the background (retrain now) and its state
    "console_jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),  # retrain
    Column("state", String(20), nullable=False),  # running finished failed
    Column("requested_by", String(320), nullable=False),
    Column("requested_at", _ts, nullable=False),
    Column("finished_at", _ts, nullable=True),
    Column("owner", JSON, nullable=False),  # host, pid, start time: a dead owner is interrupted
    Column("result", JSON, nullable=False),  # the loop's report in short, or the error
    Index("ix_console_jobs_requested", "requested_at"),
)


_READ_ONLY = "datawheel_read_only"


def reading(engine: Engine) -> Connection:
    """A connection for reads: ``with reading(ws.engine) as conn: …``.

    On SQLite its transaction is a deferred ``BEGIN``: a WAL snapshot that neither waits for nor
    blocks a writer. Write transactions (``engine.begin()``) take the write lock up front
    (``BEGIN IMMEDIATE``); a read that did so would queue behind every commit, and SQLite's busy
    handler sleeps in steps of up to 100 ms: the server's key checks and registry polls stalled
    requests for 50–250 ms that way. Nothing commits a reading transaction: a write there is lost.
    """
    return engine.connect().execution_options(**{_READ_ONLY: True})


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL for concurrent readers; IMMEDIATE transactions so writers queue instead of failing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are zeroed, not left in pages
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-16384")  # 16 MB of pages: a big log's index tails
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def connect(url: str | None, *, workspace: Path) -> Engine:
    """An engine for ``url`` (default: SQLite in the workspace), checked to answer. Its tables
    are made or upgraded by ``store.schema_version.prepare``."""
    if url is None:
        workspace.mkdir(parents=True, exist_ok=True)
        _private_file(workspace / "datawheel.db")
        url = f"sqlite:///{workspace / 'datawheel.db'}"
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, json_serializer=_json_dumps)
            _sqlite_pragmas(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps)
        with engine.connect():
            pass  # the first connection: a wrong URL or a server that is down fails here
    except ArgumentError as exc:
        raise UsageError(
            f"invalid database URL: {exc}",
            where="DATAWHEEL_DB_URL",
            hint="e.g. postgresql+psycopg://user@127.0.0.1:5432/db",
        ) from None
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise UsageError(
            f"cannot open the database: {reason}",
            where=safe_url(url),
            hint="check that the server is running and the URL is right",
        ) from None
    return engine


def _private_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does (its -wal and -shm files copy the
    database's mode), or take group and other bits off one we own."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        try:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
        except PermissionError:  # another user's file: theirs to protect
            pass


def purge_deleted(engine: Engine) -> bool:
    """After an erasure: move the WAL's pages into the database and truncate it, so old page
    images holding erased rows are gone from disk (``secure_delete`` zeroes them in the
    database file itself). SQLite only; True when the checkpoint completed.

    PostgreSQL keeps dead row versions until VACUUM reuses their space (docs/security.md)."""
    if engine.dialect.name != "sqlite":
        return False
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        busy, _log, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        raw.close()
    return busy == 0


def seed(conn: Connection) -> None:
    """Rows that must exist before concurrent writers arrive (the audit chain's head), written
    when the database is created."""
    conn.execute(insert(meta).values(key="audit_head", value="0:" + "0" * 64))


def safe_url(url: str) -> str:
    """The URL with any password hidden, for error messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "DATAWHEEL_DB_URL"
