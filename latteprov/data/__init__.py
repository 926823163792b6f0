"""Data shipped with the package: the real a15m310 correlator file the demo and tests load."""
from importlib import resources
from pathlib import Path


def path(name: str) -> Path:
    """Filesystem path of a shipped data file."""
    return Path(str(resources.files(__name__).joinpath(name)))
