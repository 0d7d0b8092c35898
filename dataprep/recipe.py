"""Recipes: YAML files naming the inputs, the stages in order and their options."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import schemas
from .errors import RecipeError


@dataclass(slots=True)
class StageSpec:
    name: str
    options: dict[str, Any]


@dataclass(slots=True)
class InputSpec:
    path: str
    format: str = "auto"
    mapping: dict[str, str] = field(default_factory=dict)
    max_line_bytes: int | None = None  # None: the readers' default (jsonl.DEFAULT_MAX_LINE_BYTES)


@dataclass(slots=True)
class Recipe:
    path: Path
    data: dict[str, Any]
    text: str

    @property
    def name(self) -> str:
        return self.data.get("name") or self.path.stem

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def seed(self) -> int:
        return int(self.data.get("seed", 0))

    @property
    def budget_usd(self) -> float | None:
        """The run's LLM budget across all stages (None: no run-wide limit)."""
        value = self.data.get("budget_usd")
        return None if value is None else float(value)

    @property
    def engine(self) -> str:
        """Where per-record work runs: local (this machine, every core) or ray."""
        return self.data.get("engine", "local")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def inputs(self) -> list[InputSpec]:
        return [InputSpec(path=str(self.folder / item["path"]), format=item.get("format", "auto"),
                          mapping=item.get("mapping", {}), max_line_bytes=item.get("max_line_bytes"))
                for item in self.data["inputs"]]

    @property
    def stages(self) -> list[StageSpec]:
        return [StageSpec(name, dict(options or {})) for item in self.data["stages"] for name, options in item.items()]

    @property
    def export(self) -> dict[str, Any]:
        return self.data.get("export", {})

    def default_output(self) -> Path:
        output = self.data.get("output")
        return self.folder / output if output else Path("runs") / self.name


def check_stage_options(stage: str, options: dict[str, Any], where: str, file: str | None = None) -> None:
    """Validate one stage's options against ``schemas/stages/<stage>.schema.json`` (built-in stages)
    or the stage class's ``options_schema`` (plugin stages)."""
    schema = schemas.load(f"stages/{stage}") if schemas.has_schema(f"stages/{stage}") \
        else available_stages()[stage].options_schema
    if schema is None:
        if options:
            raise RecipeError(f"{where}: stage '{stage}' takes no options", file=file)
        return
    for path, message in schemas.errors_against(schema, options, prefix=where):
        raise RecipeError(f"{path}: {message}", file=file)


def available_stages() -> dict:
    from .pipeline import STAGES
    from . import stages  # noqa: F401  (importing the package registers every built stage)

    return STAGES


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe; a wrong one raises ``RecipeError`` naming the key and what is allowed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read recipe: {exc}", file=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RecipeError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                          line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise RecipeError("a recipe is a YAML mapping with at least 'inputs' and 'stages'", file=str(path))
    for where, message in schemas.errors("recipe", data):
        raise RecipeError(f"{where}: {message}", file=str(path))
    recipe = Recipe(path=path, data=data, text=text)
    # checked now, not after every stage (and every paid LLM call) has run
    for where, message in schemas.errors("export/options", recipe.export.get("options") or {}, prefix="export.options"):
        raise RecipeError(f"{where}: {message}", file=str(path))
    for index, spec in enumerate(recipe.stages):
        if spec.name not in available_stages():
            raise RecipeError(f"stages[{index}]: unknown stage '{spec.name}'; use one of: "
                              f"{', '.join(sorted(available_stages()))}", file=str(path))
        check_stage_options(spec.name, spec.options, f"stages[{index}].{spec.name}", file=str(path))
    return recipe
