"""The ``hf`` export: a Hugging Face ``datasets`` DatasetDict on disk, parquet per split, a card.

Layout of the output folder (it loads with ``datasets.load_from_disk(folder)``, and the card's
``configs`` let ``datasets.load_dataset(folder)`` or the Hub read the parquet files)::

    README.md                 the dataset card
    data/<split>.parquet      one file per split
    dataset_dict.json, <split>/   written by DatasetDict.save_to_disk

Rows stream to parquet in batches, so memory stays bounded; the folder is built beside the
target (``.<name>.XXXXXXXX.tmp``) and renamed into place, so a crash never leaves a
half-written dataset, and the next export (or a run's ``--resume``) removes what a killed
one left behind.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ..engine import Engine
from ..record import PLACES, Record
from .core import ExportOptions, ExportSummary, export_rows
from .rows import Row

BATCH_ROWS = 2000


def features():
    from datasets import Features, List, Value  # imported late: datasets is slow to import

    tool_call = {"id": Value("string"), "type": Value("string"),
                 "function": {"name": Value("string"), "arguments": Value("string")}}
    part = {"type": Value("string"), "text": Value("string"), "data": Value("string")}
    message = {"role": Value("string"), "content": Value("string"), "name": Value("string"),
               "tool_call_id": Value("string"), "tool_calls": List(tool_call), "parts": List(part)}
    return Features({"id": Value("string"), "messages": List(message), "tools": Value("string"),
                     "tags": List(Value("string")), "source": Value("string"), "provenance": Value("string")})


def export_hf(inputs: list[Path], out_dir: Path, options: ExportOptions, manifest: dict[str, Any] | None = None,
              engine: Engine | None = None) -> ExportSummary:
    """Export record files to ``out_dir``; each record goes to the split its ``split`` names (rows
    made on ``engine``)."""
    import datasets

    datasets.disable_progress_bars()
    summary = ExportSummary("hf", str(out_dir))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        schema = features().arrow_schema
        write_parquet(export_rows(inputs, "hf", options, summary, engine), staging / "data", schema)
        with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}-cache.", suffix=".tmp", dir=out_dir.parent) as cache:
            splits = {split: split_dataset(staging / "data" / f"{split}.parquet", cache) for split in sorted(summary.splits)}
            datasets.DatasetDict(splits).save_to_disk(str(staging))
        (staging / "README.md").write_text(dataset_card(manifest, summary.to_dict(options)), encoding="utf-8")
        replace_folder(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def split_dataset(parquet: Path, cache: str):
    """A split as a Dataset whose fingerprint is its content's hash, so the same records give
    the same files (from_parquet alone would fingerprint the temporary paths)."""
    import datasets

    loaded = datasets.Dataset.from_parquet(str(parquet), features=features(), cache_dir=cache)
    with open(parquet, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()[:16]
    return datasets.Dataset(loaded.data, info=loaded.info, split=loaded.split, fingerprint=digest)


def write_parquet(rows: Iterable[tuple[Record, Row]], folder: Path, schema: pa.Schema) -> None:
    folder.mkdir(parents=True)
    writers: dict[str, pq.ParquetWriter] = {}
    batches: dict[str, list[Row]] = defaultdict(list)

    def flush(split: str) -> None:
        if split not in writers:
            writers[split] = pq.ParquetWriter(folder / f"{split}.parquet", schema)
        writers[split].write_table(pa.Table.from_pylist(batches.pop(split), schema=schema))

    try:
        for record, row in rows:
            batches[record.split].append(row)
            if len(batches[record.split]) >= BATCH_ROWS:
                flush(record.split)
        for split in list(batches):
            flush(split)
    finally:
        for writer in writers.values():
            writer.close()


def replace_folder(staging: Path, target: Path) -> None:
    """Swap the finished folder into place; the old one is removed only after the swap."""
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the dataset is not
    old = None
    if target.exists():  # an empty temp folder to swap into: a crash here leaves only a .tmp
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old.", suffix=".tmp", dir=target.parent))
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old) if old.is_dir() else old.unlink()


def remove_stale_staging(target: Path) -> None:
    """Folders a killed export of ``target`` left beside it (staging, datasets cache, old copy)."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}[.-]*.tmp"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)


# -- the dataset card ------------------------------------------------------------------------------------
def dataset_card(manifest: dict[str, Any] | None, exported: dict[str, Any] | None = None) -> str:
    """A README.md for the dataset: sources, counts, splits, filters, review share, known limits.

    ``manifest`` is a run's manifest.json (None for a file exported on its own); ``exported``
    is the export summary (rows per split, skips, review states, source formats).
    """
    manifest, exported = manifest or {}, exported or {}
    recipe = (manifest.get("recipe") or {}).get("content") or {}
    stages = [name for spec in recipe.get("stages", []) for name in spec]
    sections = [front_matter(exported.get("splits", {})),
                f"# {recipe.get('name', 'dataprep dataset')}\n\n"
                "Chat fine-tuning examples in OpenAI `messages` shape (with tool calls), made by "
                "dataprep from production LLM traffic.",
                splits_section(exported), sources_section(manifest, recipe, exported),
                filters_section(manifest, recipe, exported), review_section(exported),
                verdict_section(manifest), limits_section(stages)]
    return "\n\n".join(section for section in sections if section) + "\n"


def front_matter(splits: dict[str, int]) -> str:
    files = "".join(f"  - split: {split}\n    path: data/{split}.parquet\n" for split in sorted(splits))
    return f"---\nconfigs:\n- config_name: default\n  data_files:\n{files}tags:\n- dataprep\n- fine-tuning\n- chat\n---"


def table(header: tuple[str, str], rows: Iterable[tuple[Any, Any]]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    return "\n".join(lines)


def splits_section(exported: dict[str, Any]) -> str:
    splits = exported.get("splits", {})
    text = "## Splits\n\n" + table(("split", "examples"), sorted(splits.items()))
    return text + f"\n\nTokens (cl100k estimate): {exported.get('tokens', 0):,}."


def sources_section(manifest: dict[str, Any], recipe: dict[str, Any], exported: dict[str, Any]) -> str:
    parts = ["## Sources"]
    if recipe.get("inputs"):
        parts.append("Inputs of the recipe"
                     + (f" `{manifest['recipe'].get('path')}` (sha256 `{str(manifest['recipe'].get('sha256', ''))[:12]}`)" if manifest.get("recipe") else "")
                     + ":\n\n" + "\n".join(f"- `{spec.get('path')}` (format {spec.get('format', 'auto')})" for spec in recipe["inputs"]))
    if exported.get("sources"):
        parts.append("Examples by log format:\n\n" + table(("format", "examples"), exported["sources"].items()))
    if manifest.get("dataprep_version"):
        parts.append(f"Made with dataprep {manifest['dataprep_version']}.")
    return "\n\n".join(parts)


def filters_section(manifest: dict[str, Any], recipe: dict[str, Any], exported: dict[str, Any]) -> str:
    parts = ["## Filters"]
    if recipe.get("stages"):
        parts.append("Stages, in order:\n\n" + "\n".join(
            f"- `{name}` {orjson.dumps(options or {}, option=orjson.OPT_SORT_KEYS).decode()}"
            for spec in recipe["stages"] for name, options in spec.items()))
    counts = manifest.get("counts") or {}
    if counts:
        order = ["input", "created", *PLACES]
        rows = sorted(counts.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
        parts.append("Where every input record went:\n\n" + table(("place", "records"), rows))
    if exported.get("skipped"):
        parts.append("Left out at export:\n\n" + table(("reason", "records"), exported["skipped"].items()))
    return "\n\n".join(parts) if len(parts) > 1 else ""


def review_section(exported: dict[str, Any]) -> str:
    states = exported.get("review", {})
    total = sum(states.values())
    if not total:
        return ""
    picked = total - states.get("not picked", 0)
    return (f"## Human review\n\n{picked:,} of {total:,} examples ({picked / total:.1%}) were picked for review.\n\n"
            + table(("review status", "examples"), states.items()))


def verdict_section(manifest: dict[str, Any]) -> str:
    """The run report's verdict (knowledge vs behaviour, enough data, tail share), when the run has one."""
    verdicts = manifest.get("verdicts") or []
    return "## Verdict\n\n" + "\n".join(f"- **{v['title']}**: {v['text']}" for v in verdicts) if verdicts else ""


def limits_section(stages: list[str]) -> str:
    limits = ["Token counts use the cl100k tokenizer; other models count differently.",
              "Tool-call arguments and tool definitions are stored as JSON text.",
              "A message's `content` is its text; images, audio and files are in its `parts` (payload as JSON text in `data`)."]
    if "mine" in stages:
        limits.insert(0, "PII was scrubbed by pattern matching; unusual formats of personal data can slip through.")
    if "synth" in stages:
        limits.append("Some examples are synthetic (written by a model); see each record's provenance.")
    if "review" not in stages:
        limits.append("Examples not reviewed by a person are as good as the production traffic they came from.")
    return "## Known limits\n\n" + "\n".join(f"- {limit}" for limit in limits)
