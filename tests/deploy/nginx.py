"""Run the real nginx with deploy/nginx's template rendered, as the official image would."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "nginx" / "templates" / "default.conf.template"


def render(template: str, values: dict[str, str]) -> str:
    """envsubst as the official image runs it: ${NAME} of the variables it is given."""
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", template))
    assert used <= values.keys(), f"the template needs variables nobody sets: {used - values.keys()}"
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: values[m.group(1)], template)


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    if os.environ.get("SHOP_REQUIRE_NGINX") == "1":
        pytest.fail("SHOP_REQUIRE_NGINX=1 but nginx is not installed")
    pytest.skip("nginx is not installed (CI installs it and sets SHOP_REQUIRE_NGINX=1)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main_conf(prefix: Path) -> str:
    """A minimal nginx.conf like the official image's: conf.d/*.conf inside the http block."""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, workers would drop to nobody, who cannot enter pytest's private temporary directory.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
pid {prefix / "nginx.pid"};
events {{ worker_connections 256; }}
http {{
{temp}
    include {prefix / "conf.d"}/*.conf;
}}
"""


def wait_for_port(port: int, process: subprocess.Popen[bytes], error_log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited with {process.returncode}: {error_log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("nginx did not listen within 5 s")


@contextmanager
def running_nginx(prefix: Path, upstreams: Sequence[str], port: int) -> Iterator[Path]:
    """nginx on 127.0.0.1:port in front of the upstreams (host:port each), as long as the block
    runs; yields its access log. Several upstreams stand for a name with several addresses."""
    nginx = nginx_binary()
    (prefix / "conf.d").mkdir()
    # The template has one `server ${SHOP_UPSTREAM};` line: extra servers ride along in the value.
    values = {"SHOP_UPSTREAM": "; server ".join(upstreams), "NGINX_PORT": str(port)}
    (prefix / "conf.d" / "default.conf").write_text(render(TEMPLATE.read_text(), values))
    conf = prefix / "nginx.conf"
    conf.write_text(main_conf(prefix))
    command = [nginx, "-p", str(prefix), "-c", str(conf), "-e", "stderr"]

    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=10, check=False)
    assert check.returncode == 0, check.stderr
    assert "[warn]" not in check.stderr, check.stderr

    access_log, error_log = prefix / "access.log", prefix / "error.log"
    with access_log.open("wb") as out, error_log.open("wb") as err:
        process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=out, stderr=err)
    try:
        wait_for_port(port, process, error_log, time.monotonic() + 5)
        yield access_log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
