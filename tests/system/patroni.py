"""A highly available PostgreSQL on one machine, as plain processes on loopback ports: one etcd, two
Patroni nodes with synchronous replication (an acknowledged commit is on both), and HAProxy sending
connections to whichever node Patroni's REST API calls the primary.

Everything lives in temporary directories and is stopped by `HaCluster.stop()`. The timings are
tuned so a lost leader is replaced within seconds: the leader key lives `TTL_S`, Patroni's loop runs
every `LOOP_WAIT_S`, HAProxy checks every half second.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.servers import (
    HOST,
    PG_BIN,
    Process,
    accepts,
    free_port,
    libpq_url,
    private_dir,
    sqlalchemy_url,
    wait_until,
)

TTL_S = 8  # how long the leader key outlives a leader that stopped renewing it
LOOP_WAIT_S = 1
RETRY_TIMEOUT_S = 3  # loop_wait + 2 * retry_timeout must stay within the ttl
BOOT_TIMEOUT_S = 90
SCOPE = "shop-ha"


def _get(port: int, path: str, timeout: float = 2) -> tuple[int, Any]:
    connection = HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body else None
    finally:
        connection.close()


class Etcd:
    def __init__(self) -> None:
        self.dir = private_dir("etcd")
        self.port, peer = free_port(), free_port()
        self.server = Process(
            "etcd",
            [
                "etcd",
                "--name=etcd0",
                f"--data-dir={self.dir / 'data'}",
                f"--listen-client-urls=http://{HOST}:{self.port}",
                f"--advertise-client-urls=http://{HOST}:{self.port}",
                f"--listen-peer-urls=http://{HOST}:{peer}",
                f"--initial-advertise-peer-urls=http://{HOST}:{peer}",
                f"--initial-cluster=etcd0=http://{HOST}:{peer}",
                "--log-level=warn",
                "--logger=zap",
            ],
            self.dir / "etcd.log",
        )

    def start(self) -> Etcd:
        self.server.launch()
        wait_until(lambda: not self.server.alive() or self.healthy(), 30, "etcd healthy", self.server.tail)
        assert self.server.alive(), self.server.tail()
        return self

    def healthy(self) -> bool:
        with contextlib.suppress(OSError, HTTPException, ValueError):
            return _get(self.port, "/health")[0] == 200
        return False

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PatroniNode:
    def __init__(self, name: str, etcd: Etcd) -> None:
        self.name = name
        self.dir = private_dir(name)
        self.data = self.dir / "data"
        self.pg_port, self.api_port = free_port(), free_port()
        config = {
            "scope": SCOPE,
            "name": name,
            "log": {"level": "INFO", "dir": str(self.dir)},
            "restapi": {"listen": f"{HOST}:{self.api_port}", "connect_address": f"{HOST}:{self.api_port}"},
            "etcd3": {"hosts": f"{HOST}:{etcd.port}"},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL_S,
                    "loop_wait": LOOP_WAIT_S,
                    "retry_timeout": RETRY_TIMEOUT_S,
                    "maximum_lag_on_failover": 16 * 1024 * 1024,
                    "synchronous_mode": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "max_connections": 100,
                            "shared_buffers": "32MB",
                            "wal_keep_size": "128MB",
                            "max_wal_senders": 5,
                            "max_replication_slots": 5,
                            "wal_log_hints": "on",
                            "hot_standby": "on",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
                "pg_hba": [f"host replication postgres {HOST}/32 trust", f"host all all {HOST}/32 trust"],
            },
            "postgresql": {
                "listen": f"{HOST}:{self.pg_port}",
                "connect_address": f"{HOST}:{self.pg_port}",
                "data_dir": str(self.data),
                "bin_dir": str(PG_BIN),
                "pgpass": str(self.dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres"},
                    "replication": {"username": "postgres"},
                    "rewind": {"username": "postgres"},
                },
                "parameters": {"unix_socket_directories": str(self.dir)},
            },
        }
        self.config = self.dir / "patroni.yml"
        self.config.write_text(yaml.safe_dump(config))
        if os.geteuid() == 0:
            shutil.chown(self.config, "postgres", "postgres")
        self.patroni = Process(name, ["patroni", str(self.config)], self.dir / "patroni.out")
        self.kills = 0

    def start(self) -> PatroniNode:
        self.patroni.launch()
        return self

    def role(self) -> str | None:
        """What this node's Patroni says it is: "primary", "replica", or None when it can't be asked."""
        with contextlib.suppress(OSError, HTTPException, ValueError):
            status, body = _get(self.api_port, "/patroni")
            if status in (200, 503) and isinstance(body, dict) and body.get("state") == "running":
                return "primary" if body.get("role") in ("master", "primary") else "replica"
        return None

    def is_sync_standby(self) -> bool:
        with contextlib.suppress(OSError, HTTPException, ValueError):
            return _get(self.api_port, "/sync")[0] == 200
        return False

    def postmaster(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def crash(self) -> None:
        """SIGKILL the postmaster, every PostgreSQL process under it, and Patroni: the node is gone."""
        postmaster = self.postmaster()
        if postmaster is not None:
            with contextlib.suppress(FileNotFoundError):
                children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
                for pid in [postmaster, *map(int, children)]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        self.patroni.process.send_signal(signal.SIGKILL)
        self.patroni.process.wait()
        self.kills += 1

    def stop(self) -> None:
        postmaster = self.postmaster()
        self.patroni.stop(timeout=20)
        if postmaster is not None:  # a postmaster Patroni left behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(postmaster, signal.SIGKILL)

    def tail(self) -> str:
        logs = [self.patroni.tail()]
        logs += [Process(f"{self.name} {log.name}", [], log).tail() for log in sorted(self.dir.glob("*.log"))]
        logs += [Process(f"{self.name} {log.name}", [], log).tail() for log in sorted(self.data.glob("log/*"))]
        return "\n".join(logs)


class HAProxy:
    """A TCP frontend sending every connection to the node whose Patroni answers 200 to GET /primary,
    and cutting the connections to a node marked down."""

    def __init__(self, nodes: list[PatroniNode]) -> None:
        self.dir = private_dir("haproxy")
        self.port = free_port()
        servers = [
            f"    server {node.name} {HOST}:{node.pg_port} maxconn 200 check port {node.api_port}" for node in nodes
        ]
        (self.dir / "haproxy.cfg").write_text(
            "\n".join(
                [
                    "global",
                    "    maxconn 1000",
                    "defaults",
                    "    mode tcp",
                    "    timeout connect 1s",
                    "    timeout client 30m",
                    "    timeout server 30m",
                    "    timeout check 1s",
                    "listen primary",
                    f"    bind {HOST}:{self.port}",
                    "    option httpchk GET /primary",
                    "    http-check expect status 200",
                    "    default-server inter 500ms fastinter 250ms fall 2 rise 1 on-marked-down shutdown-sessions",
                    *servers,
                    "",
                ]
            )
        )
        self.server = Process(
            "haproxy", ["haproxy", "-db", "-f", str(self.dir / "haproxy.cfg")], self.dir / "haproxy.log"
        )

    def start(self) -> HAProxy:
        self.server.launch()
        wait_until(lambda: not self.server.alive() or accepts(self.port), 30, "haproxy listening", self.server.tail)
        assert self.server.alive(), self.server.tail()
        return self

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class HaCluster:
    etcd: Etcd
    nodes: list[PatroniNode]
    haproxy: HAProxy

    @classmethod
    def start(cls) -> HaCluster:
        etcd = Etcd().start()
        nodes = [PatroniNode(f"node{i}", etcd) for i in range(2)]
        cluster = cls(etcd, nodes, HAProxy(nodes))
        try:
            nodes[0].start()
            cluster.wait(lambda: nodes[0].role() == "primary", "node0 bootstrapped as the primary")
            nodes[1].start()
            cluster.wait(lambda: nodes[1].is_sync_standby(), "node1 streaming as the synchronous standby")
            cluster.haproxy.start()
            # HAProxy counts every server up until its checks say otherwise: writes could reach the standby.
            cluster.wait(cluster.routes_to_the_primary, "haproxy sending every connection to the primary", 30)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def routes_to_the_primary(self, tries: int = 10) -> bool:
        for _ in range(tries):
            try:
                with psycopg.connect(libpq_url(self.url()), connect_timeout=2) as connection:
                    row = connection.execute("SELECT pg_is_in_recovery()").fetchone()
            except psycopg.OperationalError:
                return False
            if row is None or row[0]:
                return False
        return True

    def url(self, database: str = "postgres") -> str:
        """Through HAProxy: the primary, whichever node it is."""
        return sqlalchemy_url(self.haproxy.port, database)

    def node_url(self, node: PatroniNode, database: str = "postgres") -> str:
        return sqlalchemy_url(node.pg_port, database)

    def leader(self) -> PatroniNode:
        [leader] = [node for node in self.nodes if node.role() == "primary"]
        return leader

    def other(self, node: PatroniNode) -> PatroniNode:
        [other] = [n for n in self.nodes if n is not node]
        return other

    def wait(self, condition: Any, what: str, timeout: float = BOOT_TIMEOUT_S) -> None:
        wait_until(condition, timeout, what, self.tail)

    def rejoin(self, node: PatroniNode) -> None:
        """Start a crashed node's Patroni again; wait until it is the synchronous standby (rewound if
        its history went past the new primary's), so that it can take over next time."""
        node.start()
        self.wait(lambda: node.role() == "replica" and node.is_sync_standby(), f"{node.name} back as sync standby")

    def stop(self) -> None:
        with contextlib.suppress(AttributeError):
            self.haproxy.stop()
        for node in self.nodes:
            with contextlib.suppress(AttributeError, subprocess.SubprocessError):
                node.stop()
        self.etcd.stop()
        for node in self.nodes:
            shutil.rmtree(node.dir, ignore_errors=True)

    def tail(self) -> str:
        return "\n".join(node.tail() for node in self.nodes)


def wait_seconds(condition: Any, timeout: float) -> float | None:
    """Seconds until condition() is true, or None past timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    return None
