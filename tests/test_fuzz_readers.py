"""Fuzz every registered reader with its format forced: random bytes, truncated JSON, JSON of
the wrong type and real fixture lines with fields of the wrong type. No exception may escape
``read_inputs`` (a whole-file problem may be an ``InputError``, which the CLI reports in one
line), and every non-blank line must come out as a record or a rejected line: nothing lost.

Readers that join lines (a batch request with its result, a run with its feedback) make one
record or one rejected line of several lines, citing one of them; for them a line no item
cites is accepted only when something else came out that it may have joined (a file of lines
that join nothing must still give one item per line)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataprep.errors import InputError
from dataprep.formats import READERS, Reader, read_inputs, reader_names
from dataprep.jsonl import BOM, BadLine
from dataprep.recipe import InputSpec
from dataprep.record import Record

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"
MAPPING = {"input": "question", "output": "answer"}  # for the table reader
GENERIC_SEEDS = [
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
    {"request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
     "response": {"choices": [{"message": {"role": "assistant", "content": "hello"}}]}},
    {"question": "hi", "answer": "hello"},
]


def seeds_for(reader: str) -> list[dict]:
    """Real lines in the reader's own shape (its test fixtures), to be broken field by field."""
    seeds = []
    for path in sorted((FIXTURES / reader).rglob("*.jsonl")):
        for raw in path.read_bytes().splitlines():
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                seeds.append(value)
    return seeds[:40] + GENERIC_SEEDS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


def paths_of(value, prefix=()):
    """Every key path into a JSON value."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths_of(item, (*prefix, index))


def replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


@st.composite
def broken_seed(draw, seeds):
    """A real line with one field (at any depth) given a value of some other type, or dropped."""
    seed = draw(st.sampled_from(seeds))
    path = draw(st.sampled_from(list(paths_of(seed))[1:] or [()]))
    if path and draw(st.booleans()):  # drop the field instead of changing its type
        parent = seed
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict):
            return orjson.dumps(replaced(seed, path[:-1], {k: v for k, v in parent.items() if k != path[-1]}))
    return orjson.dumps(replaced(seed, path, draw(json_values)))


def lines_for(reader: str):
    seeds = seeds_for(reader)
    valid = st.sampled_from(seeds).map(orjson.dumps)
    line = st.one_of(
        st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")),
        valid.flatmap(lambda raw: st.integers(0, max(len(raw) - 1, 0)).map(lambda cut: raw[:cut])),
        json_values.map(orjson.dumps),
        broken_seed(seeds),
        valid,
    )
    return st.lists(line, min_size=1, max_size=8)


def covered_lines(items: list) -> set[int]:
    lines = set()
    for item in items:
        if isinstance(item, BadLine):
            lines.add(item.line)
        else:
            assert isinstance(item, Record), f"read_inputs yielded {type(item).__name__}"
            lines.add(item.source.get("line"))
    return lines


def joins_lines(reader: str) -> bool:
    return type(READERS[reader]).read_files is not Reader.read_files


@pytest.mark.parametrize("reader", reader_names())
def test_reader_survives_fuzzed_input_and_loses_no_line(reader):
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(lines=lines_for(reader))
    def check(lines):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "fuzz.jsonl"
            path.write_bytes(b"\n".join(lines) + b"\n")
            spec = InputSpec(path=str(path), format=reader, mapping=MAPPING if reader == "table" else {})
            try:
                items = list(read_inputs([spec]))
            except InputError:
                return  # a whole-file problem, reported as one line with exit 2
            expected = {number for number, raw in enumerate(path.read_bytes().removeprefix(BOM).split(b"\n")[:-1], start=1)
                        if raw.strip()}
            missing = expected - covered_lines(items)
            if joins_lines(reader) and items:
                return
            assert not missing, f"{reader}: lines {sorted(missing)} produced nothing"

    check()
