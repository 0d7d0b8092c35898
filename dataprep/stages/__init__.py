"""Importing this package registers every stage with the pipeline."""

from . import dedup, flag, mine, review, split, synth  # noqa: F401
