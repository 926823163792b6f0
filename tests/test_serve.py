"""``latteprov serve`` in production: a real gunicorn started as a subprocess on a free loopback
port against the test Neo4j; its access log; a graceful stop on SIGTERM with no request cut;
one line and a non-zero exit for a port in use and for a database that does not answer; and
the limits (request size, database time, writers' rate, proxy headers) of every app."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from flask import jsonify, request

from latteprov import graph, users
from latteprov.server import manager
from latteprov.store import Store, StoreTimeout
from latteprov.web import create_app, db
from latteprov.web.db import get_store

CLI = [sys.executable, "-c", "from latteprov.cli import main; main()"]
PASSWORD = "correct horse battery"


def get(url: str, timeout: float = 30.0, data: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_serving(proc: subprocess.Popen, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            get(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing answered at {url} within {timeout} s")


@pytest.fixture
def served(store, env: dict[str, str], tmp_path: Path):
    """``latteprov serve`` (2 workers x 4 threads, anonymous reading) on a free port; yields
    (process, base URL, access log path); stopped with SIGTERM if still running at the end."""
    graph.write(store, _chain()[0])
    port = manager.free_port()
    log = tmp_path / "access.log"
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port), "--workers", "2", "--threads", "4",
                             "--anonymous-read", "--access-log", str(log)],
                            env={**os.environ, **env, "LATTEPROV_SECRET_KEY": "test-secret"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, base + "/api/schema")
        yield proc, base, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


def _chain():
    from latteprov.cli.demo import small_chain

    return small_chain()


def test_serves_pages_and_api_and_logs_each_request(served) -> None:
    proc, base, log = served
    status, body = get(base + "/api/find/GaugeConfig")
    assert status == 200 and b"l3296f211b630m0074m037m440e.300" in body
    assert get(base + "/dashboard")[0] == 200
    assert get(base + "/api/node/no-such-node")[0] == 404
    assert get(base + "/api/find/GaugeConfig?limit=notanumber")[0] == 400
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "no-such-node" not in log.read_text():
        time.sleep(0.1)
    lines = log.read_text().splitlines()
    assert any(re.search(r'"GET /api/find/GaugeConfig HTTP/1\.1" 200 \d+', line) for line in lines), lines
    assert any('"GET /api/node/no-such-node HTTP/1.1" 404' in line for line in lines), lines
    assert any('"GET /dashboard HTTP/1.1" 200' in line for line in lines), lines


def test_sigterm_stops_gracefully_and_finishes_requests_in_flight(served) -> None:
    proc, base, _ = served
    answers: list[int] = []

    def reader() -> None:
        for _ in range(20):
            try:
                answers.append(get(base + "/api/find/GaugeConfig", timeout=30)[0])
            except OSError:  # refused once the listener is closed: never a cut answer
                answers.append(-1)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(60)
    for t in threads:
        t.join(60)
    stderr = proc.stderr.read()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert answers and set(answers) <= {200, -1}, answers
    assert 200 in answers
    with pytest.raises(OSError):
        get(base + "/api/schema", timeout=2)


def test_a_large_body_is_refused_by_the_real_server(served) -> None:
    _, base, _ = served
    status, body = get(base + "/auth/login", data=b"username=" + b"x" * (2 << 20))
    assert status == 413


def test_port_in_use_is_one_line(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*CLI, "serve", "--port", str(port)], env={**os.environ, **env},
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "already in use" in result.stderr


def test_an_access_log_that_cannot_be_written_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run([*CLI, "serve", "--port", "0", "--access-log", str(tmp_path / "no" / "such" / "log")],
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "cannot write the access log" in result.stderr


def test_unreachable_database_is_one_line(env: dict[str, str]) -> None:
    result = subprocess.run([*CLI, "serve", "--port", str(manager.free_port())],
                            env={**os.environ, **env, "NEO4J_URI": f"bolt://127.0.0.1:{manager.free_port()}"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "cannot reach Neo4j" in result.stderr


# -- the limits every app has, whatever server runs it ---------------------------------------


def test_a_slow_question_is_ended_by_the_database_and_answers_503(store, settings, make_app) -> None:
    with Store(settings, tx_timeout=0.5) as bounded, pytest.raises(StoreTimeout):
        bounded.run_text("UNWIND range(1, 2000000000) AS x WITH x WHERE x % 7 = 8 RETURN count(x)")
    app = make_app(DB_TIMEOUT=0.5)

    @app.get("/api/slow")
    def slow():
        rows = get_store().run_text("UNWIND range(1, 2000000000) AS x WITH x WHERE x % 7 = 8 RETURN count(x) AS n")
        return jsonify(rows)

    answer = app.test_client().get("/api/slow")
    assert answer.status_code == 503
    assert "did not answer within" in answer.json["error"]


def _login(client, username: str) -> None:
    answer = client.post("/auth/login", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 302


def test_writers_are_rate_limited_per_user(store, settings) -> None:
    graph.write(store, _chain()[0])
    for name in ("w1", "w2"):
        users.add(store, name, PASSWORD, "writer")
    app = create_app({"TESTING": True, "SETTINGS": settings, "SECRET_KEY": "t", "ALLOW_WRITES": True,
                      "WTF_CSRF_ENABLED": False, "WRITE_RATE_LIMIT": "3 per minute"})
    try:
        first, second = app.test_client(), app.test_client()
        _login(first, "w1")
        _login(second, "w2")
        config = "l3296f211b630m0074m037m440e.300"
        statuses = [first.post(f"/node/{config}/{action}?format=json", data={"reason": "r"},
                               headers={"Accept": "application/json"}).status_code
                    for action in ("invalidate", "revalidate", "invalidate", "revalidate")]
        assert statuses == [200, 200, 200, 429]
        refused = first.post(f"/node/{config}/revalidate", data={"reason": "r"}, headers={"Accept": "application/json"})
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        # another writer has a count of their own; reading is not limited
        assert second.post(f"/node/{config}/revalidate", data={"reason": "r"},
                           headers={"Accept": "application/json"}).status_code == 200
        assert all(first.get("/api/status").status_code == 200 for _ in range(10))
    finally:
        db.close(app)


def test_login_attempts_are_rate_limited_per_address(store, settings) -> None:
    app = create_app({"TESTING": True, "SETTINGS": settings, "SECRET_KEY": "t", "WTF_CSRF_ENABLED": False,
                      "LOGIN_RATE_LIMIT": "3 per minute"})
    try:
        client = app.test_client()
        codes = [client.post("/auth/login", data={"username": "nobody", "password": "x"}).status_code
                 for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        assert client.get("/auth/login").status_code == 200  # the form itself is not counted
    finally:
        db.close(app)


@pytest.mark.parametrize("peer,expected", [("127.0.0.1", "203.0.113.7"), ("198.51.100.1", "198.51.100.1")])
def test_proxy_headers_are_believed_from_trusted_proxies_only(settings, peer: str, expected: str) -> None:
    app = create_app({"TESTING": True, "SETTINGS": settings, "SECRET_KEY": "t", "ANONYMOUS_READ": True,
                      "PROXY_HEADERS": True, "TRUSTED_PROXIES": "127.0.0.1"})

    @app.get("/api/peer")
    def peer_view():
        return jsonify(addr=request.remote_addr, scheme=request.scheme)

    answer = app.test_client().get("/api/peer", environ_base={"REMOTE_ADDR": peer},
                                   headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert answer.json["addr"] == expected
    assert answer.json["scheme"] == ("https" if expected == "203.0.113.7" else "http")
