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


@pytest.mark.parametrize("trusted,peer,believed", [
    ("127.0.0.1", "127.0.0.1", True), ("127.0.0.1", "198.51.100.1", False),
    ("127.0.0.0/8", "127.0.0.1", True), ("127.0.0.0/8", "127.9.8.7", True), ("127.0.0.0/8", "128.0.0.1", False),
    ("10.0.0.0/8, 192.168.1.0/24", "192.168.1.77", True), ("10.0.0.0/8,192.168.1.0/24", "192.168.2.1", False),
    ("::1", "::1", True), ("fd00::/8", "fd12::5", True), ("fd00::/8", "fe80::1", False),
    ("10.0.0.0/8", "::ffff:10.1.2.3", True), ("*", "198.51.100.1", True), ("10.0.0.0/8", "unix-socket", False),
])
def test_proxy_headers_are_believed_from_trusted_proxies_only(settings, trusted: str, peer: str, believed: bool) -> None:
    expected = "203.0.113.7" if believed else peer
    app = create_app({"TESTING": True, "SETTINGS": settings, "SECRET_KEY": "t", "ANONYMOUS_READ": True,
                      "PROXY_HEADERS": True, "TRUSTED_PROXIES": trusted})

    @app.get("/api/peer")
    def peer_view():
        return jsonify(addr=request.remote_addr, scheme=request.scheme)

    answer = app.test_client().get("/api/peer", environ_base={"REMOTE_ADDR": peer},
                                   headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert answer.json["addr"] == expected
    assert answer.json["scheme"] == ("https" if expected == "203.0.113.7" else "http")


# -- every LATTEPROV_WEB_* setting is checked when the app is built ---------------------------------
@pytest.mark.parametrize("spelling,value", [
    *[(word, True) for word in ("true", "True", "TRUE", "1", "yes", "Yes", "on", "ON")],
    *[(word, False) for word in ("false", "False", "FALSE", "0", "no", "No", "off", "OFF")]])
@pytest.mark.parametrize("name", ["ANONYMOUS_READ", "ALLOW_WRITES", "READ_ONLY", "RATELIMIT_ENABLED", "PROXY_HEADERS"])
def test_boolean_settings_read_every_spelling(settings, monkeypatch, name: str, spelling: str, value: bool) -> None:
    monkeypatch.setenv(f"LATTEPROV_WEB_{name}", spelling)
    app = create_app({"TESTING": True, "SETTINGS": settings, "SECRET_KEY": "t"})
    assert app.config[name] is value


BAD_SETTINGS = [
    ("ANONYMOUS_READ", "maybe"), ("ALLOW_WRITES", "2"), ("PROXY_HEADERS", "[]"), ("RATELIMIT_ENABLED", "null"),
    ("DB_TIMEOUT", "abc"), ("DB_TIMEOUT", "-1"), ("DB_TIMEOUT", "0"), ("DB_TIMEOUT", "NaN"), ("DB_TIMEOUT", "1e400"),
    ("MAX_CONTENT_LENGTH", "abc"), ("MAX_CONTENT_LENGTH", "-5"), ("MAX_CONTENT_LENGTH", "1.5"),
    ("MAX_FORM_MEMORY_SIZE", "{}"), ("PAGE_SIZE", "0"), ("PAGE_SIZE", "abc"), ("PAGE_SIZE", "100000"),
    ("MAX_ELEMENTS", "abc"), ("FANOUT", "-1"), ("FANOUT", "true"),
    ("WRITE_RATE_LIMIT", "lots"), ("LOGIN_RATE_LIMIT", "5"), ("RATELIMIT_STORAGE_URI", "bogus://x"),
    ("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379"), ("RATELIMIT_STORAGE_URI", "7"),
    ("TRUSTED_PROXIES", "garbage"), ("TRUSTED_PROXIES", "10.0.0.0/33"), ("TRUSTED_PROXIES", ","),
    ("SETTINGS", "1"), ("SECRET_KEY", "7"),
]


@pytest.mark.parametrize("name,raw", BAD_SETTINGS)
def test_a_bad_setting_is_one_line_naming_it_when_the_app_is_built(settings, monkeypatch, name: str, raw: str) -> None:
    from latteprov.web.limits import WebConfigError

    monkeypatch.setenv(f"LATTEPROV_WEB_{name}", raw)
    overrides = {} if name == "SETTINGS" else {"SETTINGS": settings}
    with pytest.raises(WebConfigError) as caught:
        create_app({"TESTING": True, **overrides})
    message = str(caught.value)
    assert f"LATTEPROV_WEB_{name}" in message and "\n" not in message and len(message) < 250, message


@pytest.mark.parametrize("args,extra_env,words", [
    ((), {"LATTEPROV_WEB_DB_TIMEOUT": "abc"}, "LATTEPROV_WEB_DB_TIMEOUT"),
    ((), {"LATTEPROV_WEB_RATELIMIT_STORAGE_URI": "bogus://x"}, "LATTEPROV_WEB_RATELIMIT_STORAGE_URI"),
    (("--proxy-headers", "--forwarded-allow-ips", "garbage"), {}, "--forwarded-allow-ips: 'garbage'"),
    (("--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/33"), {}, "--forwarded-allow-ips: '10.0.0.0/33'"),
    (("--forwarded-allow-ips", "nonsense"), {}, "--forwarded-allow-ips: 'nonsense'"),
])
def test_serve_refuses_bad_settings_in_one_line_before_announcing(env: dict[str, str], args, extra_env, words) -> None:
    result = subprocess.run([*CLI, "serve", "--port", "0", *args], env={**os.environ, **env, **extra_env},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "latteprov web at" not in result.stderr, result.stderr
    assert words in result.stderr, result.stderr


@pytest.mark.parametrize("host,port,url", [("127.0.0.1", 5000, "http://127.0.0.1:5000/"),
                                           ("::1", 5932, "http://[::1]:5932/"), ("::", 80, "http://[::]:80/"),
                                           ("localhost", 8, "http://localhost:8/")])
def test_the_announced_url_is_a_url(host: str, port: int, url: str) -> None:
    from latteprov.web.serving import url_of

    assert url_of(host, port) == url


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                           ("127.0.0.2", True), ("0.0.0.0", False), ("::", False),
                                           ("192.0.2.4", False), ("example.org", False)])
def test_a_public_host_without_a_proxy_is_warned_about(host: str, loopback: bool) -> None:
    from latteprov.web.serving import ServeOptions, exposure_warning

    warning = exposure_warning(ServeOptions(host=host))
    assert (warning is None) == loopback
    if warning:
        assert "\n" not in warning and "--proxy-headers" in warning and "slow clients" in warning
    assert exposure_warning(ServeOptions(host=host, proxy_headers=True)) is None


def test_a_database_that_stops_answering_is_503_not_a_hang(env: dict[str, str], tmp_path: Path) -> None:
    """SIGSTOP a throwaway Neo4j after the app's connections are warm (a hung VM, a dropped
    route): every request, health check and pages alike, answers 503 instead of waiting for
    ever on a pooled connection; SIGCONT and it answers again. (Liveness, not speed: each
    request is given a minute; they take about DB_PATIENCE's acquisition deadline, 2-5 s.)"""
    from latteprov.config import load_settings

    home = tmp_path / "stopped"
    settings = load_settings(env)
    info, _ = manager.start(home, settings.cache_dir, port=manager.free_port(), auth=False, page_cache="32m",
                            heap="256m")
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "ANONYMOUS_READ": True, "DB_TIMEOUT": 5,
                      "SETTINGS": load_settings({**env, "NEO4J_URI": info.uri, "NEO4J_PASSWORD": ""})})
    client = app.test_client()
    try:
        assert [client.get("/healthz").status_code for _ in range(4)] == [200] * 4
        os.kill(info.pid, signal.SIGSTOP)
        answers: list[int] = []
        paths = ["/healthz", "/api/status", "/tables/Ensemble?format=json", "/healthz"] * 2
        threads = [threading.Thread(target=lambda p=p: answers.append(client.get(p).status_code), daemon=True)
                   for p in paths]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(t.is_alive() for t in threads), "a request hung on the stopped database"
        assert answers == [503] * len(paths)
        os.kill(info.pid, signal.SIGCONT)
        assert client.get("/healthz").status_code == 200
    finally:
        os.kill(info.pid, signal.SIGCONT)
        db.close(app)
        manager.stop(home)
