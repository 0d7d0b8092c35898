"""Load the JSON Schemas in ``schemas/`` and validate against them with jsonschema."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # jsonschema costs ~80 ms to import: only when something is validated, not for --help
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

_CANDIDATES = (Path(__file__).resolve().parent.parent / "schemas", Path(__file__).resolve().parent / "_schemas")
#: where the schemas' ``$id``s point; a ``$ref`` to another schema file is read from schemas/, never fetched
ID_BASE = "https://dataprep.dev/schemas/"


def schema_dir() -> Path:
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the schemas/ folder is missing from this installation")


@cache
def load(name: str) -> dict[str, Any]:
    """Load ``schemas/<name>.schema.json`` (``name`` may contain a subfolder, e.g. ``stages/dedup``)."""
    return json.loads((schema_dir() / f"{name}.schema.json").read_text(encoding="utf-8"))


def _by_id(uri: str) -> dict[str, Any]:
    """The schema a ``$ref`` names (``https://dataprep.dev/schemas/stages/llm.schema.json``)."""
    if not uri.startswith(ID_BASE):
        raise ValueError(f"schema {uri} is not one of dataprep's")
    return load(uri.removeprefix(ID_BASE).removesuffix(".schema.json"))


@cache
def _registry() -> Any:
    from referencing import Registry, Resource

    return Registry(retrieve=lambda uri: Resource.from_contents(_by_id(uri)))


@cache
def validator(name: str) -> "Draft202012Validator":
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load(name), registry=_registry())


@cache
def fast_validator(name: str) -> Any:
    """The Rust validator: answers valid or not in microseconds; ``errors`` explains a failure."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(load(name), retriever=_by_id)


def is_valid(name: str, instance: Any) -> bool:
    return fast_validator(name).is_valid(instance)


def has_schema(name: str) -> bool:
    return (schema_dir() / f"{name}.schema.json").is_file()


def json_path(error: "ValidationError", prefix: str = "") -> str:
    """Render an error's location as ``stages[1].dedup.threshold``."""
    path = prefix
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def explain(error: "ValidationError") -> str:
    """A message that says what is allowed, not only what is wrong."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and "properties" in schema:
        allowed = ", ".join(sorted(schema["properties"]))
        return f"{error.message}; allowed keys: {allowed}"
    if error.validator == "enum":
        return f"{error.instance!r} is not allowed; use one of: {', '.join(map(str, error.validator_value))}"
    return error.message


def errors(name: str, instance: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(path, message)`` for every way ``instance`` breaks schema ``name``, in document order."""
    yield from _explained(validator(name), instance, prefix)


def errors_against(schema: dict[str, Any], instance: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    from jsonschema import Draft202012Validator

    yield from _explained(Draft202012Validator(schema, registry=_registry()), instance, prefix)


def _explained(checker: "Draft202012Validator", instance: Any, prefix: str) -> Iterator[tuple[str, str]]:
    found = sorted(checker.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    for error in found:
        yield json_path(error, prefix), explain(error)
