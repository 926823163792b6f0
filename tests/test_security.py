"""Secrets stay secret: compose demands credentials, none is committed, none reaches a log."""
from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from latteprov.cli import main
from latteprov.server import manager

ROOT = Path(__file__).resolve().parent.parent
# `${VAR:?message}`: compose refuses to start when VAR is unset or empty.
REQUIRED_VAR = re.compile(r"^\$\{(\w+):\?[^}]+\}$")
# A secret-looking name given a quoted literal value ("password = 'hunter22'", "token: 'abc...'").
SECRET_LITERAL = re.compile(
    r"""(?ix)\b(password|passwd|pwd|secret|secret_key|api_key|token)\b["']?\s*[:=]\s*["']([^"'\s$<>{}]{6,})["']""")
# An environment-file line setting a credential.
SECRET_ENV = re.compile(r"(?m)^\s*(?:export\s+)?(NEO4J_AUTH|NEO4J_PASSWORD|LATTEPROV_SECRET_KEY)=(\S+)")
PLACEHOLDER = "change-me"


def is_placeholder(value: str) -> bool:
    """Documentation values that stand for a secret: 'change-me-please', '...', '<password>', '$VAR'."""
    return PLACEHOLDER in value or value.strip(".") == "" or value.startswith(("<", "$", "neo4j/<"))


def tracked_text_files() -> dict[str, str]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    texts = {}
    for name in names:
        data = (ROOT / name).read_bytes() if (ROOT / name).is_file() else b""
        if b"\0" not in data[:4096]:
            texts[name] = data.decode("utf-8", errors="replace")
    return texts


def test_compose_refuses_to_start_without_credentials() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    neo4j_env = compose["services"]["neo4j"]["environment"]
    assert REQUIRED_VAR.match(neo4j_env["NEO4J_AUTH"]).group(1) == "NEO4J_AUTH"
    web_env = compose["services"]["web"]["environment"]
    assert REQUIRED_VAR.match(web_env["NEO4J_PASSWORD"]).group(1) == "NEO4J_PASSWORD"
    for service in compose["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"AUTH|PASSWORD|SECRET", key):
                assert REQUIRED_VAR.match(str(value)), f"{key} in docker-compose.yml must come from .env"


def test_the_credential_patterns_catch_real_ones() -> None:
    assert SECRET_LITERAL.search('settings = {"password": "hunter2hunter2"}')
    assert SECRET_LITERAL.search("secret_key = 'a8f5f167f44f4964e6c998dee827110c'")
    assert not is_placeholder(SECRET_ENV.search("NEO4J_AUTH=neo4j/s3cr3tpass").group(2))
    assert is_placeholder(SECRET_ENV.search("export NEO4J_PASSWORD=...").group(2))


def test_no_credentials_are_committed() -> None:
    files = tracked_text_files()
    assert ".env" not in files
    found = []
    for name, text in files.items():
        if name.startswith("tests/"):
            continue  # throwaway credentials for the tests' own servers
        for match in SECRET_LITERAL.finditer(text):
            found.append(f"{name}: {match.group(0)}")
        for match in SECRET_ENV.finditer(text):
            if not is_placeholder(match.group(2)):
                found.append(f"{name}: {match.group(0)}")
    assert not found, "credentials in tracked files:\n" + "\n".join(found)


def test_env_example_holds_placeholders_only() -> None:
    values = dict(SECRET_ENV.findall((ROOT / ".env.example").read_text()))
    assert set(values) >= {"NEO4J_AUTH", "NEO4J_PASSWORD"}
    assert all(PLACEHOLDER in value for value in values.values())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    yield tmp_path / "server"
    manager.stop(tmp_path / "server")


def test_generated_password_appears_in_no_output_or_log(home: Path, env: dict[str, str], caplog) -> None:
    caplog.set_level(logging.DEBUG)
    local = {k: v for k, v in env.items() if k != "NEO4J_URI"}
    local["LATTEPROV_DATA_DIR"] = str(home.parent)
    port = str(manager.free_port())
    runner = CliRunner(env=local)
    started = runner.invoke(main, ["db", "start", "--data-dir", str(home), "--port", port])
    assert started.exit_code == 0, started.output
    password = (home / "password").read_text().strip()
    assert len(password) >= 16
    status = runner.invoke(main, ["db", "status"], env={"NEO4J_URI": f"bolt://127.0.0.1:{port}",
                                                       "NEO4J_PASSWORD": password})
    assert status.exit_code == 0, status.output
    stopped = runner.invoke(main, ["db", "stop", "--data-dir", str(home)])
    outputs = {"db start": started.output, "db status": status.output, "db stop": stopped.output,
               "neo4j.log": manager.log_file(home).read_text(errors="replace"), "python logging": caplog.text}
    for log in sorted(home.rglob("*.log")):
        outputs[str(log.relative_to(home))] = log.read_text(errors="replace")
    leaked = [where for where, text in outputs.items() if password in text]
    assert not leaked, f"the generated password appears in: {', '.join(leaked)}"
