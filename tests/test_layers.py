"""The house keeps its layers: lint-imports (import-linter) with the contracts of pyproject.toml,
and every module of the library placed in a layer, so a new one cannot slip past them."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import latteprov

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept() -> None:
    script = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(script) if script.exists() else "lint-imports", "--config", str(ROOT / "pyproject.toml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout and "KEPT" in done.stdout


def test_every_module_of_the_package_is_in_a_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layered = {name.strip() for contract in config["contracts"] if contract["type"] == "layers"
               for layer in contract["layers"] for name in layer.replace("|", ":").split(":")}
    modules = {f"latteprov.{m.name}" for m in pkgutil.iter_modules(latteprov.__path__)}
    assert modules - layered == set(), "place these in a layer of pyproject.toml's import contracts"
