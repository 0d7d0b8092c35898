"""Export records to training formats, validated before anything is written.

Formats: ``openai`` (chat SFT), ``openai-dpo`` (preference), ``bedrock`` (Anthropic on
Bedrock), ``trl`` (Hugging Face TRL: messages, prompt-completion or preference), ``sharegpt``,
``alpaca`` and ``hf`` (a ``datasets`` dataset on disk with parquet and a card). What each
format keeps and drops is documented in ``dataprep/exporters/rows.py``.

``dataprep export`` calls ``export_command``; a recipe's ``export:`` section calls
``export_run``, which writes ``<run>/exports/<split>.<format>.jsonl`` (``hf``: ``<run>/exports/hf/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from .errors import UsageError
from .exporters.core import NothingToExport, FORMATS, ExportOptions, ExportSummary, export_rows
from .exporters.hf import export_hf
from .jsonl import AtomicWriter
from .record import SPLITS
from .validate import RULES


def export_file(inputs: list[Path], fmt: str, out_path: Path, options: ExportOptions,
                manifest: dict[str, Any] | None = None) -> ExportSummary:
    """Export record files to ``out_path`` (a folder for hf); raise and write nothing if a row is invalid."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if fmt == "hf":
        return export_hf(inputs, out_path, options, manifest)
    summary = ExportSummary(fmt, str(out_path))
    with AtomicWriter(out_path) as writer:
        for _, row in export_rows(inputs, fmt, options, summary):
            writer.write(row)
    return summary


def export_command(in_file: Path, fmt: str, out_path: Path, console: Console) -> None:
    """``dataprep export IN --format FMT --out PATH`` with the default options."""
    options = ExportOptions()
    summary = export_file([in_file], fmt, out_path, options)
    print_summary(summary.to_dict(options), console)


def export_run(run_dir: Path, formats: list[str], options: dict[str, Any] | None = None,
               manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """A recipe's ``export:`` section: each format for the run's train and eval records.

    Returns ``{format: {split: summary}}`` for the manifest (``hf``: ``{"hf": summary}``). A
    split with no records is not exported. ``manifest`` feeds the hf dataset card; without
    it, ``<run>/manifest.json`` is read if present.
    """
    parsed = ExportOptions.parse(options)
    for fmt in formats:
        if fmt not in FORMATS:
            raise UsageError(f"export.formats: unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    inputs = {split: run_dir / f"{split}.jsonl" for split in SPLITS}
    present = {split: path for split, path in inputs.items() if path.is_file() and path.stat().st_size}
    results: dict[str, Any] = {}
    for fmt in formats:
        if fmt == "hf":
            results[fmt] = run_export(run_dir, list(present.values()), fmt, Path("exports/hf"), parsed,
                                      manifest or run_manifest(run_dir))
            continue
        results[fmt] = {split: run_export(run_dir, [path], fmt, Path(f"exports/{split}.{fmt}.jsonl"), parsed)
                        for split, path in present.items()}
    return results


def run_export(run_dir: Path, inputs: list[Path], fmt: str, out: Path, options: ExportOptions,
               manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """One export inside a run; its summary names paths relative to the run, as the manifest does.

    A split with nothing to export in this format (a DPO export of a split without
    preference pairs) is noted in the manifest rather than failing the whole run.
    """
    try:
        summary = export_file(inputs, fmt, run_dir / out, options, manifest).to_dict(options)
    except NothingToExport as exc:
        return {"format": fmt, "written": 0, "skipped_because": exc.message}
    return {**summary, "path": str(out)}


def run_manifest(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "manifest.json"
    return orjson.loads(path.read_bytes()) if path.is_file() else None


def print_summary(summary: dict[str, Any], console: Console) -> None:
    table = Table(title=f"dataprep export → {summary['path']} ({summary['format']})", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("records in", f"{summary['records_in']:,}")
    table.add_row("written", f"{summary['written']:,}" + (f" ({_splits(summary['splits'])})" if len(summary["splits"]) > 1 else ""))
    for reason, count in summary["skipped"].items():
        table.add_row(f"skipped: {reason}", f"{count:,}")
    for cls, count in summary["warnings"].items():
        table.add_row(f"warning: {cls}", f"{count:,}")
    table.add_row("tokens (cl100k)", f"{summary['tokens']:,}")
    cost = summary.get("training_cost")
    if cost:
        table.add_row(f"est. training cost ({cost['epochs']} epochs at ${cost['price_per_million_tokens']:.2f}/1M)",
                      f"${cost['estimated_usd']:,.2f}")
    fmt = summary["format"]
    table.add_row("validated with", f"dataprep validate --format {fmt}" if fmt in RULES else f"schemas/export/{fmt}.schema.json")
    console.print(table)


def _splits(splits: dict[str, int]) -> str:
    return ", ".join(f"{split} {count:,}" for split, count in splits.items())
