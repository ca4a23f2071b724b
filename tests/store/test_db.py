"""The workspace database's transaction modes on SQLite: reads take a snapshot and never queue
behind a writer; ids for logged rows sort by time."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from datawheel.store.db import meta, ordered_id, reading
from datawheel.store.workspace import Workspace
from waiting import TIMEOUT, wait_until


def test_reading_when_a_writer_holds_the_lock_then_reads_a_snapshot_at_once(tmp_path):
    ws = Workspace.open(tmp_path / "ws", key_dir=tmp_path)
    holding, read_done = threading.Event(), threading.Event()
    read_finished_first: list[bool] = []

    def writer() -> None:
        with ws.engine.begin() as conn:  # BEGIN IMMEDIATE: holds the write lock until commit
            conn.execute(sa.insert(meta).values(key="probe", value="written"))
            holding.set()
            read_done.wait(TIMEOUT)  # set at once, unless the read queued behind us
            read_finished_first.append(read_done.is_set())

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(TIMEOUT)
    with reading(ws.engine) as conn:  # would wait for the commit if it took the write lock
        value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "probe")).scalar()
    read_done.set()
    thread.join()
    assert read_finished_first == [True]
    assert value is None  # the snapshot from before the uncommitted write
    with reading(ws.engine) as conn:
        assert conn.execute(sa.select(meta.c.value).where(meta.c.key == "probe")).scalar() == (
            "written"
        )
    ws.close()


def test_ordered_id_when_made_later_then_sorts_later_and_stays_unique():
    first = [ordered_id() for _ in range(1000)]
    last_ms = int(max(first)[:12], 16)
    wait_until(lambda: time.time_ns() // 1_000_000 > last_ms, what="the next millisecond")
    second = [ordered_id() for _ in range(1000)]
    assert max(first) < min(second)  # a later millisecond always sorts after
    assert len(set(first + second)) == 2000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in first)


def test_open_when_workspace_predates_key_macs_then_columns_added_and_keys_signed(tmp_path):
    """A first-release workspace (api_keys without expires_at and key_mac, keys as plain
    SHA-256): opening it runs the migrations that add the columns; the first use with the key
    signs the keys."""
    import hashlib

    from datawheel.secret import SecretKey
    from datawheel.serve.tenants import authenticate, sign_legacy_keys
    from store.first_release import build_first_release

    root = tmp_path / "ws"
    root.mkdir()
    key = SecretKey.generate()
    old = sa.create_engine(f"sqlite:///{root / 'datawheel.db'}")
    build_first_release(old, key)
    secret = "dw_0123456789ab_legacylegacylegacylegacy"
    with old.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO api_keys VALUES ('0123456789ab', 't1', ?, 'service', '2026-01-01', NULL)",
            (hashlib.sha256(secret.encode()).hexdigest(),),
        )
    old.dispose()
    with Workspace.open(root, key=key, role="admin") as ws:
        columns = {c["name"] for c in sa.inspect(ws.engine).get_columns("api_keys")}
        assert {"expires_at", "key_mac"} <= columns
        assert sorted(sign_legacy_keys(ws)) == ["0123456789ab", "k1"]
        assert authenticate(ws, secret).tenant == "acme"
