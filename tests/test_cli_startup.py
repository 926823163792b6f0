"""The CLI starts fast: each command's module (and the driver, neomodel, Flask behind it) is
loaded only when that command runs. Timings live in benchmarks/startup.py; here, what makes
them: the command table is complete and nothing heavy is imported before it is needed."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from latteprov.cli import AREAS, COMMAND_MODULES, main


@pytest.mark.parametrize("area", AREAS)
def test_the_command_table_names_every_command_of_each_module(area: str) -> None:
    module = importlib.import_module(f"latteprov.cli.{area}")
    assert {c.name for c in module.COMMANDS} == {name for name, a in COMMAND_MODULES.items() if a == area}


def test_no_module_defines_commands_the_table_does_not_know() -> None:
    import pkgutil

    import latteprov.cli as package
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"latteprov.cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            assert COMMAND_MODULES.get(command.name) == info.name, f"{command.name} of cli/{info.name}.py is not in COMMAND_MODULES"


def imported_by(*argv: str) -> set[str]:
    """The modules a ``latteprov ARGV`` process has imported when it ends."""
    code = ("import sys\nfrom latteprov.cli import main\n"
            f"try:\n    main({list(argv)!r})\nexcept SystemExit:\n    pass\n"
            "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return set(done.stderr.split())


def test_version_and_help_import_no_driver_neomodel_or_flask() -> None:
    for argv in (["--version"], ["db", "--help"]):
        loaded = imported_by(*argv)
        assert not {"neo4j", "neomodel", "flask", "werkzeug", "h5py", "numpy"} & loaded, argv


def test_a_query_command_does_not_import_the_web_stack_or_hdf5() -> None:
    loaded = imported_by("lineage", "--help")
    assert not {"flask", "h5py", "jsonschema"} & loaded


def test_every_command_is_reachable_through_the_lazy_group() -> None:
    ctx = main.make_context("latteprov", ["--version"], resilient_parsing=True)
    for name in main.list_commands(ctx):
        assert main.get_command(ctx, name).name == name
