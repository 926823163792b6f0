"""A local Neo4j Community server without Docker: fetch jars once, start, stop, ask.

The jars come from Maven Central through ``mvn dependency:copy-dependencies`` into the user's
cache; the server is our ``Launcher.java`` run by ``java`` in single-source mode, detached,
with its pid and port in ``server.json`` and its output in ``neo4j.log`` beside the data.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from latteprov.errors import LatteprovError

NEO4J_VERSION = "5.26.30"
NEO4J_DEFAULT_PORT = 7687
READY_MARK = "LATTEPROV-READY"
JVM_FLAGS = [
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-XX:+UseG1GC",
]


class ServerError(LatteprovError):
    """The local server could not be fetched, started or stopped; the message says why."""


@dataclass(frozen=True)
class ServerInfo:
    """What a running local server is: its process and where it listens."""

    pid: int
    port: int
    home: Path

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"


def _resource(name: str) -> Path:
    return Path(str(resources.files("latteprov.server").joinpath(name)))


def java_major_version(java: str = "java") -> int:
    """The major version of the ``java`` on PATH (``JAVA_HOME`` wins when set)."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise ServerError("java not found: install Java 17 or newer (or set JAVA_HOME)") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise ServerError(f"cannot tell the Java version from: {out.stderr.strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else "java"


def ensure_jars(cache_dir: Path, quiet: bool = True) -> Path:
    """Return the directory holding Neo4j's jars, downloading them with Maven the first time."""
    lib = cache_dir / f"neo4j-{NEO4J_VERSION}" / "lib"
    if (lib / ".complete").is_file():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServerError("mvn not found: install Maven to fetch Neo4j's jars (or use docker compose)")
    partial = lib.with_name("lib.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    cmd = [mvn, "-B", "-f", str(_resource("pom.xml")), "dependency:copy-dependencies",
           f"-DoutputDirectory={partial}", "-DincludeScope=runtime"]
    if quiet:
        cmd.insert(2, "-q")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
        raise ServerError(f"mvn could not fetch Neo4j {NEO4J_VERSION}: {tail}")
    (partial / ".complete").write_text(NEO4J_VERSION)
    shutil.rmtree(lib, ignore_errors=True)
    partial.rename(lib)  # atomic: a half-downloaded cache is never taken for a whole one
    return lib


def _state_file(home: Path) -> Path:
    return home / "server.json"


def log_file(home: Path) -> Path:
    return home / "neo4j.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def running(home: Path) -> ServerInfo | None:
    """The server started from ``home`` if its process is alive, else None."""
    try:
        state = json.loads(_state_file(home).read_text())
    except (OSError, ValueError):
        return None
    info = ServerInfo(pid=int(state["pid"]), port=int(state["port"]), home=home)
    return info if _alive(info.pid) else None


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(home: Path, lines: int = 5) -> str:
    try:
        text = log_file(home).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    keep = [line for line in text if line.strip()][-lines:]
    return " | ".join(line.strip()[:300] for line in keep) or "(empty log)"


def ensure_password(home: Path) -> str:
    """The local server's password, generated once and kept in a file only the user reads."""
    path = home / "password"
    if path.is_file():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    return password


def start(home: Path, cache_dir: Path, port: int = 7687, auth: bool = True,
          page_cache: str = "512m", heap: str = "1g", timeout: float = 180.0) -> tuple[ServerInfo, bool]:
    """Start Neo4j with its data in ``home``; return (info, started_now)."""
    home = home.expanduser().resolve()
    existing = running(home)
    if existing is not None:
        return existing, False
    if port_in_use(port):
        raise ServerError(f"port {port} on 127.0.0.1 is already taken: stop what uses it or pass --port")
    major = java_major_version(_java())
    if major < 17:
        raise ServerError(f"Java {major} found, Neo4j {NEO4J_VERSION} needs Java 17 or newer (set JAVA_HOME)")
    lib = ensure_jars(cache_dir)
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("LATTEPROV_INITIAL_PASSWORD", None)
    if auth:
        env["LATTEPROV_INITIAL_PASSWORD"] = ensure_password(home)
    cmd = [_java(), f"-Xmx{heap}", *JVM_FLAGS, "-cp", f"{lib}/*", str(_resource("Launcher.java")),
           str(home / "db"), str(port), "true" if auth else "false", page_cache]
    with log_file(home).open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=home, env=env, start_new_session=True)
    info = ServerInfo(pid=proc.pid, port=port, home=home)
    _state_file(home).write_text(json.dumps({"pid": proc.pid, "port": port, "auth": auth,
                                                 "page_cache": page_cache, "heap": heap}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _state_file(home).unlink(missing_ok=True)
            raise ServerError(f"Neo4j exited with code {proc.returncode} while starting: {_log_tail(home)}")
        if READY_MARK in log_file(home).read_text(errors="replace"):
            return info, True
        time.sleep(0.2)
    stop(home)
    raise ServerError(f"Neo4j did not answer within {timeout:.0f} s: {_log_tail(home)}")


def start_settings(home: Path) -> dict | None:
    """How the running server of ``home`` was started ({port, auth, page_cache, heap}), to
    start it again the same way after an offline operation; None if none runs."""
    if running(home.expanduser().resolve()) is None:
        return None
    state = json.loads(_state_file(home.expanduser().resolve()).read_text())
    return {"port": int(state["port"]), "auth": bool(state.get("auth", True)),
            "page_cache": state.get("page_cache", "512m"), "heap": state.get("heap", "1g")}


def admin_command(cache_dir: Path, *args: str) -> list[str]:
    """The command line of Neo4j's ``neo4j-admin ARGS`` from the fetched jars (the class
    Neo4j's own bin/neo4j-admin runs); run it with ``NEO4J_HOME`` set to a server's ``db``."""
    lib = ensure_jars(cache_dir)
    return [_java(), "-cp", f"{lib}/*", "org.neo4j.cli.AdminTool", *args]


_EXCEPTION_LINE = re.compile(r"^(Caused by: )?[\w.$]+(?:Exception|Error): (.+)$")


def admin_failure(output: str, lines: int = 5, limit: int = 1000) -> str:
    """The cause of a failed ``neo4j-admin`` run (best with ``--verbose``) in one line, from its
    ``output`` (stdout then stderr): the message of the first exception it printed, with that of
    its last cause when they differ; without an exception, its last ``lines`` lines that are
    not Java stack frames (``at ...``, ``... N more``), blank or its "Run with '--verbose'" hint,
    joined by `` | ``. At most ``limit`` characters."""
    said = [line.strip() for line in output.splitlines()]
    said = [line for line in said
            if line and not line.startswith(("at ", "...")) and not line.startswith("Run with '--verbose'")]
    found = [m for m in map(_EXCEPTION_LINE.match, said) if m]
    if found:
        text = found[0].group(2)
        causes = [m.group(2) for m in found if m.group(1)]
        if causes and causes[-1] not in text:
            text = f"{text} (cause: {causes[-1]})"
    else:
        text = " | ".join(said[-lines:]) or "no output"
    return text if len(text) <= limit else text[:limit] + "…"


def stop(home: Path, timeout: float = 60.0) -> bool:
    """Stop the server started from ``home`` cleanly (SIGTERM); False if none was running."""
    home = home.expanduser().resolve()
    info = running(home)
    if info is None:
        _state_file(home).unlink(missing_ok=True)
        return False
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(info.pid):
        time.sleep(0.1)
    if _alive(info.pid):
        os.kill(info.pid, signal.SIGKILL)
    try:  # reap our own child, if it is one
        os.waitpid(info.pid, os.WNOHANG)
    except ChildProcessError:
        pass
    _state_file(home).unlink(missing_ok=True)
    return True
