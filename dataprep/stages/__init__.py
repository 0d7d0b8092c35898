"""Importing this package registers every built stage with the pipeline."""

import importlib

for _module in ("mine", "dedup", "flag", "synth", "split", "review"):
    try:
        importlib.import_module(f"{__name__}.{_module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{_module}":
            raise
