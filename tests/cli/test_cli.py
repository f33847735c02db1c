"""The ``urbanops`` command: keys, database, demo city, serve and clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer


def run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "urbanops.cli.main", *args],
        env={**os.environ, "URBANOPS_DATA_DIR": str(tmp_path), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_help_lists_commands(tmp_path: Path) -> None:
    r = run(tmp_path, "--help")
    assert r.returncode == 0
    for cmd in ("serve", "db", "keys", "demo"):
        assert cmd in r.stdout


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    r = run(tmp_path, "keys", "create", "--role", "admin", "--name", "ops desk")
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("uo_")
    listing = run(tmp_path, "keys", "list")
    assert "admin" in listing.stdout and "ops desk" in listing.stdout
    assert key.split("_", 2)[2] not in listing.stdout  # the secret is never shown again
    assert run(tmp_path, "keys", "revoke", "1").returncode == 0
    assert "revoked" in run(tmp_path, "keys", "list").stdout
    again = run(tmp_path, "keys", "revoke", "1")
    assert again.returncode == 1 and "no active key" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--role", "king"], "unknown role"),
        (["keys", "create", "--role", "device"], "needs --thing"),
        (["keys", "create", "--role", "device", "--thing", "42"], "does not exist"),
        (["keys", "create", "--role", "viewer", "--thing", "1"], "only device keys"),
    ],
)
def test_keys_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    r = run(tmp_path, *args)
    assert r.returncode == 1
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_db_upgrade_is_repeatable_and_bad_url_fails_cleanly(tmp_path: Path) -> None:
    assert "revision 0011" in run(tmp_path, "db", "upgrade").stdout
    assert run(tmp_path, "db", "upgrade").returncode == 0
    bad = run(tmp_path, "db", "upgrade", env={"URBANOPS_DATABASE_URL": "nosuchdb://x"})
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_demo_load_if_empty(tmp_path: Path) -> None:
    r = run(tmp_path, "demo", "load", "--days", "1")
    assert r.returncode == 0, r.stderr
    assert "200 sensors" in r.stdout and "25 districts" in r.stdout
    again = run(tmp_path, "demo", "load", "--if-empty")
    assert "already holds" in again.stdout
    bad = run(tmp_path, "demo", "load", "--days", "0")
    assert bad.returncode != 0


def test_serve_answers_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "var")
    try:
        assert httpx.get(server.url + "/docs").status_code == 200
        spec = httpx.get(server.url + "/openapi.json").json()
        assert "/sta/v1.1/Things" in spec["paths"]
    finally:
        server.proc.send_signal(signal.SIGINT)
        out, _ = server.proc.communicate(timeout=20)
    text = out.decode()
    assert server.proc.returncode == 0, text
    assert "Traceback" not in text
    assert "UrbanOps stopped" in text


def test_serve_with_two_workers_takes_concurrent_writes(tmp_path: Path) -> None:
    """Two worker processes share the SQLite database; concurrent bulk writes all land once."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.api.helpers import data_array, thing_body

    server = LiveServer(tmp_path / "var", args=("--workers", "2"))
    try:
        key = server.cli("keys", "create", "--role", "operator").stdout.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
            tid = c.post("/sta/v1.1/Things", json=thing_body(n_streams=4)).json()["@iot.id"]
            streams = [
                d["@iot.id"] for d in c.get(f"/sta/v1.1/Things({tid})/Datastreams").json()["value"]
            ]

        def send(ds: int) -> int:
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
                total = 0
                for batch in range(5):
                    rows = [(f"2024-07-01T{batch:02d}:{m:02d}:00Z", float(m)) for m in range(60)]
                    r = c.post("/sta/v1.1/CreateObservations", json=data_array(ds, rows))
                    assert r.status_code == 201, r.text
                    total += len(r.json())
                return total

        with ThreadPoolExecutor(4) as pool:
            assert sum(pool.map(send, streams * 2)) == 2 * 4 * 5 * 60  # each stream sent twice
        count = httpx.get(
            f"{server.url}/sta/v1.1/Observations?$count=true&$top=0", headers=headers
        ).json()["@iot.count"]
        assert count == 4 * 5 * 60  # the duplicates were not stored twice
    finally:
        server.stop()


def _add_district(data_dir: Path) -> None:
    from sqlalchemy import insert

    from urbanops.storage import tables as t
    from urbanops.storage.engine import make_engine

    ring = [[127.0, 37.4], [127.1, 37.4], [127.1, 37.5], [127.0, 37.4]]
    engine = make_engine(f"sqlite:///{data_dir / 'urbanops.db'}")
    with engine.begin() as conn:
        conn.execute(
            insert(t.zones).values(
                name="Seocho-gu",
                kind="district",
                geometry=json.dumps({"type": "Polygon", "coordinates": [ring]}),
            )
        )
    engine.dispose()


def test_rules_load_example_file_and_bad_files(tmp_path: Path) -> None:
    from tests.conftest import ROOT

    # Without districts the aggregate rule of the example is refused, and nothing is created.
    r = run(tmp_path, "rules", "load", str(ROOT / "examples" / "rules.yaml"))
    assert r.returncode == 1 and "no zone of kind 'district'" in r.stderr
    assert "Heat" not in run(tmp_path, "rules", "list").stdout
    _add_district(tmp_path)
    r = run(tmp_path, "rules", "load", str(ROOT / "examples" / "rules.yaml"))
    assert r.returncode == 0, r.stderr
    assert "6 rule(s) created" in r.stdout
    listing = run(tmp_path, "rules", "list").stdout
    assert "Flood - drain level rising fast" in listing and "rise=20" in listing
    assert "statistic=mean" in listing and "zone_kind=district" in listing
    again = run(tmp_path, "rules", "load", str(ROOT / "examples" / "rules.yaml"))
    assert again.returncode == 1 and "exists" in again.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: x\n  kind: threshold\n  scope: {datastream: 1}\n  params: {}\n")
    r = run(tmp_path, "rules", "load", str(bad))
    assert r.returncode == 1 and "rule 0" in r.stderr and "Traceback" not in r.stderr
    bad.write_text("rules: [unclosed")
    r = run(tmp_path, "rules", "load", str(bad))
    assert r.returncode == 1 and "not valid YAML" in r.stderr
    assert run(tmp_path, "rules", "load", str(tmp_path / "none.yaml")).returncode == 1
