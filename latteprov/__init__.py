"""latteprov: provenance of lattice-QCD data products, kept as a graph in Neo4j."""

__version__ = "0.1.0"

# The job-script API and connect() (questions through the model classes), imported on first use so that ``import latteprov`` stays cheap.
_LAZY = {"run": ("latteprov.record", "run"), "declare": ("latteprov.record", "declare"),
         "step": ("latteprov.ingest.step", "step"), "connect": ("latteprov.orm", "connect")}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from importlib import import_module

        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'latteprov' has no attribute {name!r}")
