"""The ``dataprep`` command line. Every command reads and writes record JSONL, so one stage
can run alone on a user's own file; ``dataprep run`` runs a whole recipe.

Exit codes: 0 success, 1 the data has errors (``validate`` found problems), 2 bad usage
or unreadable input (one line naming the file and line, never a traceback).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import DataprepError, UsageError
from .pipeline import get_stage
from .recipe import InputSpec, check_stage_options, load_recipe
from .runner import SingleOutcome, run_recipe, run_single_stage

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Turn production LLM traffic into a fine-tuning dataset people can trust.\n\n"
                       "Start with [bold]dataprep run recipes/quickstart.yaml[/bold].")
review_app = typer.Typer(no_args_is_help=True, help="Human review in Label Studio: push a sample, pull verdicts.")
app.add_typer(review_app, name="review")
out = Console()
err = Console(stderr=True)


# -- shared helpers ----------------------------------------------------------------------
def side_path(out_path: Path, place: str, given: Optional[Path] = None) -> Path:
    """Where a stage's set-aside records go by default: beside ``--out`` (``train.duplicates.jsonl``)."""
    return given or out_path.with_name(f"{out_path.stem}.{place}.jsonl")


def records_input(paths: list[Path], fmt: str = "records", mapping: Optional[dict[str, str]] = None) -> list[InputSpec]:
    return [InputSpec(path=str(path), format=fmt, mapping=mapping or {}) for path in paths]


def parse_mapping(text: Optional[str]) -> dict[str, str]:
    """``input=question,output=answer`` -> {"input": "question", "output": "answer"}."""
    if not text:
        return {}
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(pair) != 2 or not pair[0].strip() or not pair[1].strip() for pair in pairs):
        raise UsageError(f"--mapping takes KEY=COLUMN pairs separated by commas, e.g. input=question,output=answer; got {text!r}")
    return {key.strip(): column.strip() for key, column in pairs}


def stage_with(name: str, options: dict[str, Any]):
    """Build a registered stage from CLI options (dropping unset ones), validated like a recipe's."""
    options = {key: value for key, value in options.items() if value is not None}
    stage_cls = get_stage(name)
    check_stage_options(name, options, f"dataprep {name}")
    return stage_cls(**options)


def summary(title: str, rows: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for key, value in rows.items():
        table.add_row(key, str(value))
    err.print(table)


def single_summary(title: str, outcome: SingleOutcome) -> None:
    read, stage = outcome.results
    rows: dict[str, Any] = {"records read": read.produced}
    if read.set_aside.get("rejected"):
        rows["unreadable lines"] = read.set_aside["rejected"]
    for place, count in outcome.counts.items():
        if count:
            rows[f"→ {outcome.paths.get(place, place)}"] = count
    rows.update({f"{stage.name}: {key}": value for key, value in stage.stats.items() if not isinstance(value, dict)})
    rows["seconds"] = round(read.seconds + stage.seconds, 2)
    summary(title, rows)


def parse_size(text: str) -> float | int:
    """--eval-size: a count (200) or a fraction (0.1)."""
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        raise UsageError(f"--eval-size takes a count (200) or a fraction (0.1), got {text!r}") from None


# -- run -----------------------------------------------------------------------------------
@app.command()
def run(recipe: Path = typer.Argument(..., help="A recipe YAML file, e.g. recipes/quickstart.yaml."),
        out_dir: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: the recipe's 'output', else runs/<name>)."),
        resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last completed stage.")):
    """Run a recipe end to end: read the inputs, run its stages in order, write the run folder.

    Every input record ends in exactly one of train.jsonl, eval.jsonl, rag_candidates.jsonl,
    duplicates.jsonl or rejected.jsonl; manifest.json holds the counts, which add up.

    Example: [bold]dataprep run recipes/quickstart.yaml --out runs/quickstart[/bold]
    """
    loaded = load_recipe(recipe)
    run_dir = out_dir or loaded.default_output()
    outcome = run_recipe(loaded, run_dir, resume=resume, console=err)
    table = Table(title=f"dataprep run {loaded.name} → {run_dir}", title_justify="left")
    for column in ("stage", "in", "out", "set aside", "seconds"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in outcome.manifest["stages"]:
        aside = ", ".join(f"{place} {count}" for place, count in stage["set_aside"].items()) or "-"
        table.add_row(stage["stage"], str(stage["in"]), str(stage["out"]), aside, f"{stage['seconds']:.2f}")
    err.print(table)
    summary("where every record went", outcome.manifest["counts"])


# -- one stage alone ---------------------------------------------------------------------------
@app.command()
def mine(paths: list[Path] = typer.Argument(..., help="Log files, folders or globs."),
         out_file: Path = typer.Option(..., "--out", help="Record JSONL to write."),
         rejected: Optional[Path] = typer.Option(None, help="Where unreadable and filtered lines go (default: beside --out)."),
         fmt: str = typer.Option("auto", "--format", help="auto (detect per file) or a reader name."),
         duplicates: Optional[Path] = typer.Option(None, help="Where collapsed conversation prefixes go (default: beside --out)."),
         mapping: Optional[str] = typer.Option(None, help="For tables (csv/tsv/parquet): KEY=COLUMN pairs, e.g. input=question,output=answer,category=intent.")):
    """Mine production LLM logs into records: one per model call, PII scrubbed.

    Example: [bold]dataprep mine sample_data/logs --out mined.jsonl[/bold]
    Tables: [bold]dataprep mine tickets.csv --mapping input=question,output=agent_answer --out t.jsonl[/bold]
    """
    outcome = run_single_stage(stage_with("mine", {}), records_input(paths, fmt, parse_mapping(mapping)), out_file,
                               {"rejected": side_path(out_file, "rejected", rejected),
                                "duplicates": side_path(out_file, "duplicates", duplicates)}, console=err)
    single_summary("dataprep mine", outcome)


@app.command()
def dedup(in_file: Path = typer.Argument(..., metavar="IN", help="Record JSONL."),
          out_file: Path = typer.Option(..., "--out", help="Kept records."),
          duplicates: Optional[Path] = typer.Option(None, help="Removed duplicates, each pointing at its keeper."),
          threshold: Optional[float] = typer.Option(None, help="MinHash Jaccard threshold for near-duplicates (0-1)."),
          against: Optional[list[Path]] = typer.Option(None, help="Reference files: drop records near-duplicate to them (decontamination).")):
    """Remove exact and near-duplicate records, flag labeling conflicts, decontaminate.

    Example: [bold]dataprep dedup mined.jsonl --out unique.jsonl --against eval.jsonl[/bold]
    """
    options = {"threshold": threshold, "against": [str(p) for p in against] if against else None}
    outcome = run_single_stage(stage_with("dedup", options), records_input([in_file]), out_file,
                               {"duplicates": side_path(out_file, "duplicates", duplicates),
                                "rejected": side_path(out_file, "rejected")}, console=err)
    single_summary("dataprep dedup", outcome)


@app.command()
def flag(in_file: Path = typer.Argument(..., metavar="IN", help="Record JSONL."),
         out_file: Path = typer.Option(..., "--out", help="Behaviour examples: keep for fine-tuning."),
         rag: Path = typer.Option(..., help="Fact-heavy examples: candidates for the RAG corpus."),
         threshold: Optional[float] = typer.Option(None, help="fact_heavy score at or above which a record is routed to RAG (0-1)."),
         knowledge: Optional[Path] = typer.Option(None, help="The team's documents (folder of .txt/.md, or JSONL with 'text'): facts found there become evidence."),
         action: Optional[str] = typer.Option(None, help="route (to --rag, default), drop (to rejected) or tag (keep, tagged fact-heavy)."),
         grounded_variants: bool = typer.Option(False, "--grounded-variants", help="Also write retrieval-grounded training variants of each fact-heavy example.")):
    """Flag examples whose replies rest on facts not in their input; route them to RAG.

    Example: [bold]dataprep flag unique.jsonl --out behaviour.jsonl --rag rag.jsonl --knowledge docs/[/bold]
    """
    options = {"threshold": threshold, "knowledge": str(knowledge) if knowledge else None, "action": action,
               "grounded_variants": grounded_variants or None}
    outcome = run_single_stage(stage_with("flag", options), records_input([in_file]), out_file,
                               {"rag_candidates": rag, "rejected": side_path(out_file, "rejected")}, console=err)
    single_summary("dataprep flag", outcome)


@app.command()
def synth(in_file: Path = typer.Argument(..., metavar="IN", help="Record JSONL to draw seeds from."),
          out_file: Path = typer.Option(..., "--out", help="Seeds plus the synthetic records."),
          provider: str = typer.Option(..., help="openai or anthropic."),
          model: str = typer.Option(..., help="Model name, e.g. gpt-4.1 or claude-sonnet-4-5."),
          n: int = typer.Option(..., "--n", help="How many synthetic examples to generate."),
          budget_usd: Optional[float] = typer.Option(None, help="Stop before spending more than this."),
          dry_run: bool = typer.Option(False, "--dry-run", help="Print estimated calls, tokens and cost; call nothing."),
          batch: bool = typer.Option(False, "--batch", help="Use the provider's Batch API (half price, slower).")):
    """Generate synthetic edge cases with a frontier model, cached and budgeted.

    Example: [bold]dataprep synth unique.jsonl --out with_synth.jsonl --provider openai --model gpt-4.1 --n 200 --dry-run[/bold]
    """
    options = {"provider": provider, "model": model, "n": n, "budget_usd": budget_usd, "dry_run": dry_run or None,
               "batch": batch or None}
    outcome = run_single_stage(stage_with("synth", options), records_input([in_file]), out_file,
                               {"rejected": side_path(out_file, "rejected")}, cache_dir=_cache_dir(), console=err)
    estimate = outcome.results[1].stats.get("estimate")
    if estimate:
        _print_estimate(estimate)
    else:
        single_summary("dataprep synth", outcome)


def _print_estimate(estimate: dict[str, Any]) -> None:
    """What ``synth --dry-run`` found: the calls, tokens and dollars a real run would take."""
    def usd(value: Optional[float]) -> str:
        return f"${value:,.4f}" if value is not None else f"unknown (no price for {estimate['model']})"

    summary(f"dataprep synth --dry-run: {estimate['provider']} {estimate['model']}"
            f"{' (batch, half price)' if estimate['batch'] else ''}; nothing was sent", {
                "calls planned": estimate["calls"],
                "already cached (free)": estimate["cached"],
                "calls to send": estimate["to_send"],
                "prompt tokens": f"{estimate['prompt_tokens']:,}",
                "output tokens (estimated)": f"{estimate['output_tokens_estimated']:,}",
                "output tokens (at most)": f"{estimate['output_tokens_max']:,}",
                "cost (estimated)": usd(estimate["cost_usd_estimated"]),
                "cost (at most)": usd(estimate["cost_usd_max"]),
            })


def _cache_dir() -> Optional[Path]:
    value = os.environ.get("DATAPREP_CACHE_DIR")
    return Path(value) if value else None


@app.command()
def split(in_file: Path = typer.Argument(..., metavar="IN", help="Record JSONL."),
          train: Path = typer.Option(..., help="Training records."),
          eval_file: Path = typer.Option(..., "--eval", help="Held-out worst-case eval records."),
          eval_size: Optional[str] = typer.Option(None, help="A count (200) or a fraction (0.1)."),
          seed: int = typer.Option(0, help="Same input and seed give the same split.")):
    """Hold out a worst-case eval set, split by group so no near-duplicate crosses it.

    Example: [bold]dataprep split unique.jsonl --train train.jsonl --eval eval.jsonl --eval-size 0.1[/bold]
    """
    size = None if eval_size is None else parse_size(eval_size)
    outcome = run_single_stage(stage_with("split", {"eval_size": size}), records_input([in_file]), train,
                               {"rejected": side_path(train, "rejected"), "duplicates": side_path(train, "duplicates")},
                               eval_out=eval_file, seed=seed, console=err)
    single_summary("dataprep split", outcome)


# -- review, export, validate, report (imported when used: they pull in heavy SDKs) -----------------
@review_app.command("push")
def review_push(in_file: Path = typer.Argument(..., metavar="IN", help="Records (or a run folder's review queue)."),
                project: str = typer.Option("dataprep review", help="Label Studio project title."),
                to_file: Optional[Path] = typer.Option(None, help="Write Label Studio import JSON + config instead of pushing."),
                allow_unscrubbed: bool = typer.Option(False, "--allow-unscrubbed", help="Send records the PII scrubber has not seen (no 'pii:scrubbed' tag).")):
    """Push records picked for review to Label Studio (idempotent: re-pushing adds only new ones).

    Needs LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY unless --to-file is given.
    Example: [bold]dataprep review push runs/quickstart/review/queue.jsonl[/bold]
    """
    from .review import push

    push(in_file=in_file, project=project, to_file=to_file, console=err,
         allow_unscrubbed=allow_unscrubbed)


@review_app.command("pull")
def review_pull(out_file: Path = typer.Option(..., "--out", help="Verdicts JSONL to write."),
                project: str = typer.Option("dataprep review", help="Label Studio project title."),
                from_file: Optional[Path] = typer.Option(None, help="Read a Label Studio JSON export instead of the server.")):
    """Pull verdicts and edits from Label Studio.

    Example: [bold]dataprep review pull --out runs/quickstart/review/verdicts.jsonl[/bold]
    """
    from .review import pull

    pull(out_file=out_file, project=project, from_file=from_file, console=err)


@review_app.command("status")
def review_status(project: str = typer.Option("dataprep review", help="Label Studio project title.")):
    """Show review progress per reason-picked and the running defect-rate estimate.

    Example: [bold]dataprep review status --project "dataprep review"[/bold]
    """
    from .review import status

    status(project=project, console=err)


@review_app.command("serve")
def review_serve(run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="A run folder: Label Studio keeps its data in RUN_DIR/label-studio."),
                 port: int = typer.Option(8080, help="Port on 127.0.0.1.")):
    """Start a local Label Studio (installed separately) and print its URL and login.

    Example: [bold]dataprep review serve runs/quickstart[/bold]
    """
    from .review import serve

    serve(run_dir=run_dir, port=port, console=err)


@app.command()
def export(in_file: Path = typer.Argument(..., metavar="IN", help="Record JSONL."),
           fmt: str = typer.Option(..., "--format", help="openai, openai-dpo, bedrock, trl, sharegpt, alpaca or hf."),
           out_path: Path = typer.Option(..., "--out", help="File to write (a folder for hf).")):
    """Export records to a training format; the export is validated before it is written.

    Example: [bold]dataprep export runs/quickstart/train.jsonl --format openai --out train.openai.jsonl[/bold]
    """
    from .export import export_command

    export_command(in_file=in_file, fmt=fmt, out_path=out_path, console=err)


@app.command()
def validate(file: Path = typer.Argument(..., help="A training file to check."),
             fmt: str = typer.Option("openai", "--format", help="openai, openai-dpo or bedrock."),
             as_json: bool = typer.Option(False, "--json", help="Print one JSON object for machines.")):
    """Check a training file against its target format; exit 1 if it has errors.

    Example: [bold]dataprep validate train.openai.jsonl --json[/bold]
    """
    from .validate import validate_command

    ok = validate_command(file=file, fmt=fmt, as_json=as_json, console=out, err_console=err)
    raise typer.Exit(0 if ok else 1)


@app.command()
def report(run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="A run folder.")):
    """Write report.html for a run: the funnel, distributions, verdict and examples.

    Example: [bold]dataprep report runs/quickstart[/bold]
    """
    from .report import report_command

    report_command(run_dir=run_dir, console=err)


def main() -> None:
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:  # without standalone mode click returns typer.Exit's code
            sys.exit(code)
    except DataprepError as exc:
        err.print(f"[red]error:[/red] {escape(exc.describe())}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted; rerun with --resume to continue from the last completed stage")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if os.environ.get("DATAPREP_DEBUG"):
            raise
        err.print(f"[red]internal error:[/red] {type(exc).__name__}: {escape(str(exc))} "
                  "(set DATAPREP_DEBUG=1 for a traceback)", highlight=False)
        sys.exit(3)


if __name__ == "__main__":
    main()
