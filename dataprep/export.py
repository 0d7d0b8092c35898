"""Export records to training formats, validated before anything is written.

Formats: ``openai`` (chat SFT), ``openai-dpo`` (preference), ``bedrock`` (Anthropic on
Bedrock), ``trl`` (Hugging Face TRL: messages, prompt-completion or preference), ``sharegpt``,
``alpaca`` and ``hf`` (a ``datasets`` dataset on disk with parquet and a card). What each
format keeps and drops is documented in ``dataprep/exporters/rows.py``.

``dataprep export`` calls ``export_command``; a recipe's ``export:`` section calls
``export_run``, which writes ``<run>/exports/<split>.<format>.jsonl`` (``hf``: ``<run>/exports/hf/``)
and returns the manifest's ``exports`` block: ``{format: {split: summary}}`` (``hf``: one
summary), ``warnings`` (every provider-limit warning, flat) and, with the ``system_prompt``
option, ``system_prompt`` (what training under a short prompt saves).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any, Iterator

from rich.console import Console
from rich.table import Table

from .engine import Engine
from .errors import UsageError
from .exporters.core import NothingToExport, FORMATS, ExportOptions, ExportSummary, export_rows
from .exporters.hf import export_hf
from .exporters.rows import SYSTEM_ROLES
from .formats.common import parse_moment
from .jsonl import AtomicWriter, BadLine, iter_lines
from .providers.pricing import Prices
from .record import PLACES, SPLITS, message_text
from .run_folder import manifest_of
from .terminal import SafeConsole
from .tokens import count_text
from .validate import RULES

DEFAULT_MODEL = "gpt-4.1-mini"
DAYS_PER_MONTH = 365.25 / 12


def export_file(inputs: list[Path], fmt: str, out_path: Path, options: ExportOptions,
                manifest: dict[str, Any] | None = None, engine: Engine | None = None) -> ExportSummary:
    """Export record files to ``out_path`` (a folder for hf), rows made as ``engine``'s tasks when it
    is distributed; raise and write nothing if a row is invalid."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if fmt == "hf":
        return export_hf(inputs, out_path, options, manifest, engine)
    summary = ExportSummary(fmt, str(out_path))
    with AtomicWriter(out_path) as writer:
        for _, row in export_rows(inputs, fmt, options, summary, engine):
            writer.write(row)
    return summary


def export_command(in_file: Path, fmt: str, out_path: Path, console: Console) -> None:
    """``dataprep export IN --format FMT --out PATH`` with the default options. An input with
    no records is a note, not an error: there is nothing to write."""
    options = ExportOptions()
    try:
        summary = export_file([in_file], fmt, out_path, options)
    except NothingToExport as exc:
        if exc.records_in:
            raise
        console.print(f"nothing to export: {in_file} holds no records; nothing was written", style="yellow")
        return
    print_summary(summary.to_dict(options), console)


def export_run(run_dir: Path, formats: list[str], options: dict[str, Any] | None = None,
               manifest: dict[str, Any] | None = None, console: Console | None = None,
               engine: Engine | None = None) -> dict[str, Any]:
    """A recipe's ``export:`` section: each format for the run's train and eval records.

    Returns the manifest's ``exports`` block (see the module docstring) and prints what was
    written, left out and warned about. A split with no records is not exported.
    ``manifest`` feeds the hf dataset card and the default model; without it,
    ``<run>/manifest.json`` is read if present. Rows are made on ``engine`` (the run's).
    """
    manifest = manifest or manifest_of(run_dir)
    parsed = ExportOptions.parse(options)
    results = export_formats(run_dir, formats, parsed, manifest, engine)
    results["warnings"] = [{"format": fmt, **limit} for fmt, _, summary in summaries(results) for limit in summary.get("limits", ())]
    if parsed.rows.system_prompt:
        model = parsed.settings.get("model") or synth_option(manifest, "model") or DEFAULT_MODEL
        results["system_prompt"] = system_prompt_savings(run_dir, parsed.rows.system_prompt, model,
                                                         Prices(synth_option(manifest, "prices")))
    print_run_exports(results, console or SafeConsole(stderr=True))
    return results


def export_formats(run_dir: Path, formats: list[str], parsed: ExportOptions, manifest: dict[str, Any] | None,
                   engine: Engine | None = None) -> dict[str, Any]:
    for fmt in formats:
        if fmt not in FORMATS:
            raise UsageError(f"export.formats: unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    inputs = {split: run_dir / f"{split}.jsonl" for split in SPLITS}
    present = {split: path for split, path in inputs.items() if path.is_file() and path.stat().st_size}
    results: dict[str, Any] = {}
    for fmt in formats:
        if fmt == "hf":
            results[fmt] = run_export(run_dir, list(present.values()), fmt, Path("exports/hf"), parsed, manifest, engine)
            continue
        results[fmt] = {split: run_export(run_dir, [path], fmt, Path(f"exports/{split}.{fmt}.jsonl"), parsed,
                                          engine=engine)
                        for split, path in present.items()}
    return results


def run_export(run_dir: Path, inputs: list[Path], fmt: str, out: Path, options: ExportOptions,
               manifest: dict[str, Any] | None = None, engine: Engine | None = None) -> dict[str, Any]:
    """One export inside a run; its summary names paths relative to the run, as the manifest does.

    A split with nothing to export in this format (a DPO export of a split without
    preference pairs) is noted in the manifest rather than failing the whole run.
    """
    try:
        summary = export_file(inputs, fmt, run_dir / out, options, manifest, engine).to_dict(options)
    except NothingToExport as exc:
        return {"format": fmt, "written": 0, "skipped_because": exc.message}
    return {**summary, "path": str(out)}


def summaries(results: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(format, split, summary) for every export in an ``exports`` block, in the recipe's order
    (hf: every split in one summary)."""
    for fmt, found in results.items():
        if fmt == "hf":
            yield fmt, ", ".join(found.get("splits", {})) or "-", found
        elif fmt in FORMATS:
            yield from ((fmt, split, summary) for split, summary in found.items())


def synth_option(manifest: dict[str, Any] | None, key: str) -> Any:
    """An option of the recipe's first synth stage (its model prices the system-prompt savings)."""
    stages = (((manifest or {}).get("recipe") or {}).get("content") or {}).get("stages") or []
    return next(((spec.get("synth") or {}).get(key) for spec in stages if isinstance(spec, dict) and "synth" in spec), None)


# -- system-prompt compression (issue 16) -----------------------------------------------------------
def system_prompt_savings(run_dir: Path, choice: str | dict[str, str], model: str, prices: Prices) -> dict[str, Any]:
    """What training under a short prompt saves on every production call.

    The calls are the run's records (in every place: a duplicate or a rejected call was still
    paid for) whose ``source.timestamp`` says when they were made; their rate over the span
    from first to last gives calls per month. Without timestamps the prompt size comes from
    the exported records and the rate is unknown (None).
    """
    moments, tokens = observed_calls(run_dir)
    if not moments:
        tokens = [system_tokens(value) for value in run_records(run_dir, SPLITS)]
    before = round(mean(tokens)) if tokens else 0
    after = 0 if choice == "drop" else count_text(choice["replace_with"])
    days = (max(moments) - min(moments)).total_seconds() / 86_400 if moments else 0.0
    per_month = len(moments) / days * DAYS_PER_MONTH if days > 0 else None
    price = prices.for_model(model)
    usd = (before - after) * per_month * price["input"] / 1e6 if per_month is not None and price else None
    return {"mode": "drop" if choice == "drop" else "replace_with", "tokens_before": before, "tokens_after": after,
            "tokens_saved_per_call": before - after, "calls_observed": len(moments), "days_observed": round(days, 3),
            "calls_per_month": round(per_month, 1) if per_month is not None else None, "model": model,
            "usd_per_month": round(usd, 2) if usd is not None else None}


def observed_calls(run_dir: Path) -> tuple[list[datetime], list[int]]:
    """When each timestamped call was made, and its system-prompt tokens."""
    moments, tokens = [], []
    for value in run_records(run_dir, PLACES):
        moment = parse_moment((value.get("source") or {}).get("timestamp"))
        if moment:
            moments.append(moment)
            tokens.append(system_tokens(value))
    return moments, tokens


def run_records(run_dir: Path, places: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Record dicts of the run's place files (lenient: a line that is not a record is passed over)."""
    for place in places:
        path = run_dir / f"{place}.jsonl"
        if path.is_file():
            yield from (item.value for item in iter_lines(path) if not isinstance(item, BadLine) and isinstance(item.value, dict))


def system_tokens(record: dict[str, Any]) -> int:
    messages = record.get("messages") if isinstance(record.get("messages"), list) else []
    return count_text("\n\n".join(message_text(m) for m in messages if isinstance(m, dict) and m.get("role") in SYSTEM_ROLES))


# -- the terminal -------------------------------------------------------------------------------------
def print_run_exports(results: dict[str, Any], console: Console) -> None:
    """One row per export file: written, left out (with why), provider-limit warnings."""
    table = Table(title="exports", title_justify="left")
    for column in EXPORT_COLUMNS:
        table.add_column(column, justify="right" if column == "written" else "left", overflow="fold")
    for row in export_rows_shown(results):
        table.add_row(*row)
    console.print(table)
    saved = results.get("system_prompt")
    if saved:
        console.print(system_prompt_line(saved))


EXPORT_COLUMNS = ("format", "split", "written", "left out", "warnings")


def export_rows_shown(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """Per export file, as the terminal and the report show it: written, what was left out and
    why, the provider-limit warnings."""
    rows = []
    for fmt, split, summary in summaries(results):
        left_out = [f"{reason}: {count:,}" for reason, count in summary.get("skipped", {}).items()]
        rows.append((fmt, split, f"{summary.get('written', 0):,}", "; ".join(left_out) or summary.get("skipped_because", "-"),
                     "; ".join(limit["message"] for limit in summary.get("limits", ())) or "-"))
    return rows


def system_prompt_line(saved: dict[str, Any]) -> str:
    line = (f"system prompt ({saved['mode']}): {saved['tokens_before']:,} -> {saved['tokens_after']:,} tokens, "
            f"{saved['tokens_saved_per_call']:,} saved per call")
    if saved["usd_per_month"] is not None:
        line += f"; at {saved['calls_per_month']:,.0f} calls/month on {saved['model']}: ${saved['usd_per_month']:,.2f}/month"
    return line


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
    for limit in summary.get("limits", ()):
        table.add_row(f"warning: {limit['class']}", limit["message"])
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
