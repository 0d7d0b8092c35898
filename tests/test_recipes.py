"""Every recipe we ship validates and runs offline on the bundled sample data."""

from __future__ import annotations

import pytest

from conftest import REPO
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

PLACES = ("train", "eval", "rag_candidates", "duplicates", "rejected")
RECIPES = sorted(p.name for p in (REPO / "recipes").glob("*.yaml") if p.name != "quickstart.yaml")  # quickstart: test_quickstart


@pytest.mark.parametrize("name", RECIPES)
def test_shipped_recipe_runs_and_accounts_for_every_record(name, tmp_path):
    manifest = run_recipe(load_recipe(REPO / "recipes" / name), tmp_path / "run").manifest
    counts = manifest["counts"]
    assert counts["input"] > 0 and counts["train"] > 0
    assert counts["input"] + counts["created"] == sum(counts[place] for place in PLACES)
