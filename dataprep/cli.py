"""The ``dataprep`` command line. Every command reads and writes record JSONL, so one stage
can run alone on a user's own file; ``dataprep run`` runs a whole recipe.

Exit codes: 0 success, 1 the data has errors (``validate`` found problems), 2 bad usage
or unreadable input (one line naming the file and line, never a traceback).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Optional

import orjson
import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from .errors import DataprepError, UsageError
from .formats import format_help
from .terminal import SafeConsole, error_line, visible

if TYPE_CHECKING:  # the runner pulls in numpy, jinja2 and jsonschema: imported when a command runs, not for --help
    from .recipe import InputSpec
    from .runner import SingleOutcome


class HelpfulGroup(TyperGroup):
    """Flags take no value, so --help shows none for them (typer would print '<bool>')."""

    def get_command(self, ctx: Any, name: str) -> Any:
        command = super().get_command(ctx, name)
        for param in command.get_params(ctx) if command is not None else ():
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return command


app = typer.Typer(cls=HelpfulGroup, add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Turn production LLM traffic into a fine-tuning dataset people can trust.\n\n"
                       "Start with [bold]dataprep run recipes/quickstart.yaml[/bold].")
review_app = typer.Typer(cls=HelpfulGroup, no_args_is_help=True,
                         help="Human review in Label Studio: push a sample, pull verdicts.")
app.add_typer(review_app, name="review")
out = SafeConsole()
err = SafeConsole(stderr=True)


# -- shared helpers ----------------------------------------------------------------------
def side_path(out_path: Path, place: str, given: Optional[Path] = None) -> Path:
    """Where a stage's set-aside records go by default: beside ``--out`` (``train.duplicates.jsonl``)."""
    return given or out_path.with_name(f"{out_path.stem}.{place}.jsonl")


def records_input(paths: list[Path], fmt: str = "records", mapping: Optional[dict[str, str]] = None) -> list["InputSpec"]:
    from .recipe import InputSpec

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
    from .pipeline import get_stage
    from .recipe import check_stage_options

    options = given(options)
    stage_cls = get_stage(name)
    check_stage_options(name, options, f"dataprep {name}")
    return stage_cls(**options)


def given(options: dict[str, Any]) -> dict[str, Any]:
    """The options set on the command line (None: unset, the schema's default)."""
    return {key: value for key, value in options.items() if value is not None}


JUDGE_PROVIDER = typer.Option("openai", help="The judge's SDK.")
JUDGE_BASE_URL = typer.Option(None, help="The judge's endpoint, for a proxy or an OpenAI-compatible server.")


def judge_options(model: str | None, provider: str, base_url: str | None) -> dict[str, Any] | None:
    """A stage's judge from the command line: none without a model."""
    return given({"model": model, "provider": provider, "base_url": base_url}) if model else None


def summary(title: str, rows: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for key, value in rows.items():
        table.add_row(key, str(value))
    err.print(table)


def schema_default(stage: str, option: str) -> str:
    """An option's default as the stage's schema states it, for --help (the recipe and the CLI share it)."""
    from .schemas import schema_dir

    schema = orjson.loads((schema_dir() / "stages" / f"{stage}.schema.json").read_bytes())
    return str(schema["properties"][option].get("default", ""))


def run_stage(name: str, options: dict[str, Any], inputs: list["InputSpec"], out_file: Path,
              sides: dict[str, Path], **settings: Any) -> "SingleOutcome":
    from .runner import run_single_stage

    return run_single_stage(stage_with(name, options), inputs, out_file, sides, console=err, **settings)


def next_step(*commands: str) -> None:
    """What to do next, as commands to copy (paths are the user's own, shown as text)."""
    for command in commands:
        err.print(Text.assemble(("next: ", "bold green"), visible(command)), soft_wrap=True)  # paths stay whole


def single_summary(title: str, outcome: "SingleOutcome") -> None:
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
        resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last completed stage."),
        plan: bool = typer.Option(False, "--plan", help="Only estimate: records per stage, LLM calls, tokens and dollars, "
                                                        "review hours and wall time, from a sample; nothing is written or sent."),
        sample: int = typer.Option(2000, help="With --plan: how many input lines to run the recipe on.", min=1),
        engine: Optional[str] = typer.Option(None, help="Where per-record work runs: local (every core of this machine) "
                                                        "or ray (RAY_ADDRESS's cluster, else a local Ray); default: "
                                                        "the recipe's engine, else local.")):
    """Run a recipe end to end: read the inputs, run its stages in order, write the run folder.

    Every input record ends in exactly one of train.jsonl, eval.jsonl, rag_candidates.jsonl,
    duplicates.jsonl or rejected.jsonl; manifest.json holds the counts, which add up.

    Example: [bold]dataprep run recipes/quickstart.yaml --out runs/quickstart[/bold]
    """
    from .recipe import load_recipe
    from .runner import run_recipe

    loaded = load_recipe(recipe)
    run_dir = out_dir or loaded.default_output()
    if plan:
        from .plan import plan_recipe

        print_plan(loaded.name, plan_recipe(loaded, run_dir, sample, console=err))
        next_step(f"dataprep run {recipe} --out {run_dir}")
        return
    outcome = run_recipe(loaded, run_dir, resume=resume, console=err, engine=engine)
    table = Table(title=f"dataprep run {loaded.name} → {run_dir}", title_justify="left")
    for column in ("stage", "in", "out", "set aside", "seconds"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage, reused in zip(outcome.manifest["stages"], outcome.reused):
        aside = ", ".join(f"{place} {count}" for place, count in stage["set_aside"].items()) or "-"
        table.add_row(stage["stage"], str(stage["in"]), str(stage["out"]), aside,
                      "reused" if reused else f"{stage['seconds']:.2f}")
    err.print(table)
    if resume:
        names = [stage["stage"] for stage in outcome.manifest["stages"]]
        err.print(f"--resume: reused {', '.join(n for n, r in zip(names, outcome.reused) if r) or 'nothing'}; "
                  f"re-ran {', '.join(n for n, r in zip(names, outcome.reused) if not r) or 'nothing'}", soft_wrap=True)
    summary("where every record went", outcome.manifest["counts"])
    run_next_steps(run_dir, outcome.manifest)


def print_plan(name: str, found: Any) -> None:
    """The --plan table: each stage at full scale, then the totals a person decides on."""
    scope = (f"all {found.input_records:,} input records read" if found.whole else
             f"~{found.input_records:,} input records ({found.input_lines:,} lines), estimated from the first "
             f"{found.sampled:,}")
    table = Table(title=f"dataprep run {name} --plan: {scope}; nothing was written or sent", title_justify="left")
    for column in ("stage", "in", "out", "set aside", "LLM calls to send", "tokens (in/out)", "cost", "time"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in found.stages:
        llm = stage.llm
        aside = ", ".join(f"{place} {n:,}" for place, n in stage.set_aside.items()) or "-"
        table.add_row(stage.name, f"{stage.records_in:,}", f"{stage.records_out:,}", aside,
                      f"{llm['to_send']:,} of {llm['calls']:,}" if llm else "-",
                      f"{llm['prompt_tokens']:,} / {llm['output_tokens_estimated']:,}" if llm else "-",
                      usd(llm.get("cost_usd_estimated")) if llm else "-", f"{stage.seconds:,.0f} s")
    err.print(table)
    hours = [stage.review_hours for stage in found.stages if stage.review_hours is not None]
    summary("the whole run", {
        "LLM cost (estimated)": usd(found.cost_usd), "LLM cost (at most)": usd(found.cost_usd_max),
        "run budget (budget_usd)": usd(found.budget_usd) if found.budget_usd is not None else "none set",
        "review (reviewer-hours)": f"{sum(hours):,.1f}" if hours else "no review stage",
        "wall time (estimated)": f"{found.seconds / 60:,.1f} min",
    })
    if found.budget_usd is not None and (found.cost_usd_max or 0) > found.budget_usd:
        err.print(error_line("warning", f"the worst case ({usd(found.cost_usd_max)}) is over the run's budget "
                                        f"({usd(found.budget_usd)}): the run stops sending when it is reached"))


def usd(value: Optional[float]) -> str:
    if value is None:
        return "unknown (no price for the model)"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"  # a few calls cost fractions of a cent


def review_folder_of_run(path: Path) -> bool:
    """``path`` lies in a run folder's ``review/`` (a queue or verdicts file of a run)."""
    return path.parent.name == "review" and (path.parent.parent / ".dataprep-run").is_file()


def recipe_of_run(run_dir: Path) -> Optional[str]:
    """The recipe a run folder's manifest names, if it has one."""
    from .run_folder import manifest_of

    return ((manifest_of(run_dir) or {}).get("recipe") or {}).get("path")


def run_next_steps(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Where the outputs are, how many records wait for a person, and the command to run next."""
    counts = manifest["counts"]
    err.print(f"wrote {run_dir}/: train.jsonl ({counts['train']:,}), eval.jsonl ({counts['eval']:,}), "
              f"rag_candidates.jsonl ({counts['rag_candidates']:,}), duplicates.jsonl, rejected.jsonl, manifest.json"
              + (", exports/" if manifest.get("exports") else ""), soft_wrap=True)
    err.print(f"report: {run_dir / 'report.html'}", soft_wrap=True)
    queue = run_dir / "review" / "queue.jsonl"
    waiting = sum(1 for _ in queue.open("rb")) if queue.exists() and any(
        s["stage"] == "review" for s in manifest["stages"]) else 0
    if waiting:
        err.print(f"review: {waiting:,} record(s) wait for a person in {queue}", soft_wrap=True)
        next_step(f"dataprep review push {queue}   (LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY set, "
                  f"or --to-file tasks.json)")
    else:
        next_step(f"dataprep validate {run_dir / 'exports'}/train.openai.jsonl" if manifest.get("exports")
                  else f"dataprep export {run_dir / 'train.jsonl'} --format openai --out train.openai.jsonl")


# -- one stage alone ---------------------------------------------------------------------------
@app.command()
def mine(paths: list[Path] = typer.Argument(..., help="Log files, folders or globs."),
         out_file: Path = typer.Option(..., "--out", help="Record JSONL to write."),
         rejected: Optional[Path] = typer.Option(None, help="Where unreadable and filtered lines go (default: beside --out)."),
         fmt: str = typer.Option("auto", "--format", help=format_help()),
         duplicates: Optional[Path] = typer.Option(None, help="Where collapsed conversation prefixes go (default: beside --out)."),
         mapping: Optional[str] = typer.Option(None, help="For tables (csv/tsv/parquet): KEY=COLUMN pairs, e.g. input=question,output=answer,category=intent.")):
    """Mine production LLM logs into records: one per model call, PII scrubbed.

    Example: [bold]dataprep mine sample_data/logs --out mined.jsonl[/bold]
    Tables: [bold]dataprep mine tickets.csv --mapping input=question,output=agent_answer --out t.jsonl[/bold]
    """
    outcome = run_stage("mine", {}, records_input(paths, fmt, parse_mapping(mapping)), out_file,
                        {"rejected": side_path(out_file, "rejected", rejected),
                         "duplicates": side_path(out_file, "duplicates", duplicates)})
    single_summary("dataprep mine", outcome)
    next_step(f"dataprep dedup {out_file} --out {out_file.with_name(out_file.stem + '.unique.jsonl')}")


@app.command()
def dedup(in_file: Path = typer.Argument(..., metavar="IN", help="Record JSONL."),
          out_file: Path = typer.Option(..., "--out", help="Kept records."),
          duplicates: Optional[Path] = typer.Option(None, help="Removed duplicates, each pointing at its keeper."),
          threshold: Optional[float] = typer.Option(None, help="MinHash Jaccard threshold for near-duplicates (0-1).",
                                                    show_default=schema_default("dedup", "threshold")),
          view: Optional[str] = typer.Option(None, help="What counts as the same example: auto (user turns + tool calls and results), user, user_assistant, input or conversation.",
                                             show_default=schema_default("dedup", "view")),
          keep_per_cluster: Optional[int] = typer.Option(None, help="Keep up to this many of each cluster, the most different ones.",
                                                         show_default=schema_default("dedup", "keep_per_cluster")),
          against: Optional[list[Path]] = typer.Option(None, help="Reference files: drop records near-duplicate to them (decontamination)."),
          answer_model: Optional[bool] = typer.Option(
              None, "--answer-model/--rules-only",
              help="Compare replies to one input with the rules and the shipped answer model (it also reads the words "
                   "one reply uses and the other does not, and weighs the rules' reading of a yes against a no), or the "
                   "rules alone.",
              show_default=schema_default("dedup", "answer_model")),
          answer_model_threshold: Optional[float] = typer.Option(
              None, help="How sure the answer model must be (0-1) to call two replies different answers: higher sends "
                         "fewer rewordings of one answer to review, and finds fewer real disagreements.",
              show_default=schema_default("dedup", "answer_model_threshold")),
          judge_model: Optional[str] = typer.Option(None, help="LLM judge: the model asked whether two replies to one input give the same answer (key from OPENAI_API_KEY or ANTHROPIC_API_KEY)."),
          judge_provider: Literal["openai", "anthropic"] = JUDGE_PROVIDER,
          judge_base_url: Optional[str] = JUDGE_BASE_URL,
          judge_scope: Optional[Literal["alike", "all"]] = typer.Option(
              None, help="Which pairs the judge sees: alike (the wordings the rules and the answer model call one answer) "
                         "or all (also those they split: agreeing replies misread become one answer).",
              show_default=schema_default("dedup", "judge_scope"))):
    """Remove exact and near-duplicate records, flag labeling conflicts, decontaminate.

    Example: [bold]dataprep dedup mined.jsonl --out unique.jsonl --against eval.jsonl[/bold]
    """
    options = {"threshold": threshold, "view": view, "keep_per_cluster": keep_per_cluster, "answer_model": answer_model,
               "answer_model_threshold": answer_model_threshold,
               "against": [str(p) for p in against] if against else None, "judge_scope": judge_scope,
               "judge": judge_options(judge_model, judge_provider, judge_base_url)}
    outcome = run_stage("dedup", options, records_input([in_file]), out_file,
                        {"duplicates": side_path(out_file, "duplicates", duplicates),
                         "rejected": side_path(out_file, "rejected")})
    single_summary("dataprep dedup", outcome)
    next_step(f"dataprep flag {out_file} --out {out_file.with_name(out_file.stem + '.behaviour.jsonl')} "
              f"--rag {out_file.with_name(out_file.stem + '.rag.jsonl')}")


@app.command()
def flag(in_file: Path = typer.Argument(..., metavar="IN", help="Record JSONL."),
         out_file: Path = typer.Option(..., "--out", help="Behaviour examples: keep for fine-tuning."),
         rag: Path = typer.Option(..., help="Fact-heavy examples: candidates for the RAG corpus."),
         threshold: Optional[float] = typer.Option(None, help="fact_heavy score at or above which a record is routed to RAG (0-1).",
                                                   show_default=schema_default("flag", "threshold")),
         knowledge: Optional[Path] = typer.Option(None, help="The team's documents (folder of .txt/.md, or JSONL with 'text'): facts found there become evidence."),
         action: Optional[Literal["route", "drop", "tag"]] = typer.Option(
             None, help="route (to --rag), drop (to rejected) or tag (keep, tagged fact-heavy).",
             show_default=schema_default("flag", "action")),
         grounded_variants: bool = typer.Option(False, "--grounded-variants", help="Also write retrieval-grounded training variants of each fact-heavy example."),
         judge_model: Optional[str] = typer.Option(None, help="LLM judge: the model asked whether a reply rests on facts its input lacks (key from OPENAI_API_KEY or ANTHROPIC_API_KEY)."),
         judge_provider: Literal["openai", "anthropic"] = JUDGE_PROVIDER,
         judge_base_url: Optional[str] = JUDGE_BASE_URL,
         judge_scope: Optional[Literal["uncertain", "kept", "all"]] = typer.Option(
             None, help="Which replies the judge sees: uncertain (near the threshold), kept (every one the scorer would keep "
                        "for training: it misses most facts with no digit and no name) or all.",
             show_default=schema_default("flag", "judge_scope")),
         probe_model: Optional[str] = typer.Option(None, help="Knowledge probe: the model to be fine-tuned, sampled on each prompt; facts it never states go to RAG."),
         probe_base_url: Optional[str] = typer.Option(None, help="The probe's OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (vLLM) or http://localhost:11434/v1 (Ollama)."),
         probe_samples: Optional[int] = typer.Option(None, min=1, help="Answers sampled per prompt by the probe (default: the flag schema's).")):
    """Flag examples whose replies rest on facts not in their input; route them to RAG.

    Example: [bold]dataprep flag unique.jsonl --out behaviour.jsonl --rag rag.jsonl --knowledge docs/[/bold]
    """
    probe = {"model": probe_model, "base_url": probe_base_url, "samples": probe_samples}
    options = {"threshold": threshold, "knowledge": str(knowledge) if knowledge else None, "action": action,
               "grounded_variants": grounded_variants or None, "judge_scope": judge_scope,
               "judge": judge_options(judge_model, judge_provider, judge_base_url),
               "probe": given(probe) if probe_model else None}
    outcome = run_stage("flag", options, records_input([in_file]), out_file,
                        {"rag_candidates": rag, "rejected": side_path(out_file, "rejected")})
    single_summary("dataprep flag", outcome)
    stem = out_file.with_name(out_file.stem)
    next_step(f"dataprep split {out_file} --train {stem}.train.jsonl --eval {stem}.eval.jsonl")


@app.command()
def synth(in_file: Path = typer.Argument(..., metavar="IN", help="Record JSONL to draw seeds from."),
          out_file: Path = typer.Option(..., "--out", help="Seeds plus the synthetic records."),
          provider: Literal["openai", "anthropic"] = typer.Option(..., help="Which SDK and API to call."),
          model: str = typer.Option(..., help="Model name, e.g. gpt-4.1 or claude-sonnet-4-5."),
          n: int = typer.Option(..., "--n", help="How many synthetic examples to generate."),
          budget_usd: Optional[float] = typer.Option(None, help="Stop before spending more than this."),
          dry_run: bool = typer.Option(False, "--dry-run", help="Print estimated calls, tokens and cost; call nothing."),
          batch: bool = typer.Option(False, "--batch", help="Use the provider's Batch API (half price, slower)."),
          replay: Optional[Path] = typer.Option(None, help="A folder of recorded answers to use instead of calling (offline runs)."),
          base_url: Optional[str] = typer.Option(None, help="Any API-compatible endpoint (default: OPENAI_BASE_URL / ANTHROPIC_BASE_URL, else the provider's).")):
    """Generate synthetic edge cases with a frontier model, cached and budgeted.

    Example: [bold]dataprep synth unique.jsonl --out with_synth.jsonl --provider openai --model gpt-4.1 --n 200 --dry-run[/bold]
    """
    options = {"provider": provider, "model": model, "n": n, "budget_usd": budget_usd, "dry_run": dry_run or None,
               "batch": batch or None, "replay": str(replay) if replay else None, "base_url": base_url}
    outcome = run_stage("synth", options, records_input([in_file]), out_file,
                        {"rejected": side_path(out_file, "rejected")}, cache_dir=_cache_dir())
    estimate = outcome.results[1].stats.get("estimate")
    if estimate:
        _print_estimate(estimate)
        next_step("the same command without --dry-run, to generate them")
    else:
        single_summary("dataprep synth", outcome)
        next_step(f"dataprep dedup {out_file} --out {out_file.with_name(out_file.stem + '.unique.jsonl')}"
                  "   (synthetic records pass dedup and flag like any other)")


def _print_estimate(estimate: dict[str, Any]) -> None:
    """What ``synth --dry-run`` found: the calls, tokens and dollars a real run would take."""
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
          eval_size: Optional[str] = typer.Option(None, help="A count (200) or a fraction (0.1).",
                                                  show_default=schema_default("split", "eval_size")),
          seed: int = typer.Option(0, help="Same input and seed give the same split."),
          train_disliked: bool = typer.Option(False, "--train-disliked", help="Train on replies users gave a "
                                              "thumbs-down that nobody corrected (by default eval may hold them "
                                              "as hard cases and the rest are rejected).")):
    """Hold out a worst-case eval set, split by group so no near-duplicate crosses it.

    Example: [bold]dataprep split unique.jsonl --train train.jsonl --eval eval.jsonl --eval-size 0.1[/bold]
    """
    size = None if eval_size is None else parse_size(eval_size)
    outcome = run_stage("split", {"eval_size": size, "train_disliked": train_disliked}, records_input([in_file]), train,
                        {"rejected": side_path(train, "rejected"), "duplicates": side_path(train, "duplicates")},
                        eval_out=eval_file, seed=seed)
    single_summary("dataprep split", outcome)
    next_step(f"dataprep export {train} --format openai --out {train.with_name(train.stem + '.openai.jsonl')}")


# -- review, export, validate, report (imported when used: they pull in heavy SDKs) -----------------
@review_app.command("push")
def review_push(in_file: Path = typer.Argument(..., metavar="IN", help="Records (or a run folder's review queue)."),
                project: str = typer.Option("dataprep review", help="Label Studio project title."),
                to_file: Optional[Path] = typer.Option(None, help="Write Label Studio import JSON + config instead of pushing."),
                allow_unscrubbed: bool = typer.Option(False, "--allow-unscrubbed", help="Send records the PII scrubber has not seen (no 'pii:scrubbed' tag).")):
    """Push records picked for review to Label Studio and show the reviewer-hours (a re-push adds only new ones).

    Needs LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY unless --to-file is given.
    Example: [bold]dataprep review push runs/quickstart/review/queue.jsonl[/bold]
    """
    from .review import push

    push(in_file=in_file, project=project, to_file=to_file, console=err,
         allow_unscrubbed=allow_unscrubbed)
    verdicts = in_file.parent / "verdicts.jsonl" if review_folder_of_run(in_file) else Path("verdicts.jsonl")
    if to_file is None:
        next_step(f'dataprep review status --project "{project}"   (while reviewers work), then '
                  f'dataprep review pull --project "{project}" --out {verdicts}')
    else:
        next_step(f"import {to_file} into a Label Studio project; when reviewers are done, export it as JSON and run "
                  f"dataprep review pull --from-file EXPORT.json --out {verdicts}")


@review_app.command("pull")
def review_pull(out_file: Path = typer.Option(..., "--out", help="Verdicts JSONL to write."),
                project: str = typer.Option("dataprep review", help="Label Studio project title."),
                from_file: Optional[Path] = typer.Option(None, help="Read a Label Studio JSON export instead of the server.")):
    """Pull verdicts and edits from Label Studio.

    Example: [bold]dataprep review pull --out runs/quickstart/review/verdicts.jsonl[/bold]
    """
    from .review import pull

    pull(out_file=out_file, project=project, from_file=from_file, console=err)
    run_dir = out_file.parent.parent
    if review_folder_of_run(out_file) and (recipe := recipe_of_run(run_dir)):
        next_step(f"dataprep run {recipe} --out {run_dir} --resume   (applies the verdicts)")
    else:
        next_step(f"dataprep run RECIPE --out RUN_DIR --resume, with {out_file} at RUN_DIR/review/verdicts.jsonl")


@review_app.command("status")
def review_status(project: str = typer.Option("dataprep review", help="Label Studio project title.")):
    """Show review progress per reason picked, the defect-rate estimate and the residual personal-data rate.

    Example: [bold]dataprep review status --project "dataprep review"[/bold]
    """
    from .review import status

    status(project=project, console=err)
    next_step(f'dataprep review pull --project "{project}" --out RUN_DIR/review/verdicts.jsonl   (when enough are done)')


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
    if fmt != "hf" and out_path.exists():
        next_step(f"dataprep validate {out_path}")


@app.command()
def validate(file: Path = typer.Argument(..., help="A training file to check."),
             fmt: Optional[str] = typer.Option(None, "--format", help="openai, openai-dpo, bedrock, trl, sharegpt or alpaca (default: told from the file's first lines)."),
             as_json: bool = typer.Option(False, "--json", help="Print one JSON object for machines.")):
    """Check a training file against what its trainer requires; exit 1 if it has errors.

    The format is told from the file's first lines unless --format names it.

    Example: [bold]dataprep validate train.openai.jsonl --json[/bold]
    """
    from .validate import validate_command

    ok = validate_command(file=file, fmt=fmt, as_json=as_json, console=out, err_console=err)
    if not as_json:
        next_step(f"upload {file} as your provider's training file" if ok
                  else "fix the lines listed above in the records and export again (dataprep export ...)")
    raise typer.Exit(0 if ok else 1)


@app.command()
def report(run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="A run folder.")):
    """Write report.html for a run: the funnel, distributions, verdict and examples.

    Example: [bold]dataprep report runs/quickstart[/bold]
    """
    from .report import report_command

    report_command(run_dir=run_dir, console=err)
    next_step(f"open {run_dir / 'report.html'} in a browser (one self-contained file, no network)")


def main() -> None:
    try:
        code = app(prog_name="dataprep", standalone_mode=False)
        if isinstance(code, int) and code:  # without standalone mode click returns typer.Exit's code
            sys.exit(code)
    except DataprepError as exc:
        err.print(error_line("error", exc.describe()), soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted; rerun with --resume to continue from the last completed stage")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except OSError as exc:  # a folder without permission, a full disk outside an output file, ...
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(error_line("error", f"{where}{exc.strerror or exc}"), soft_wrap=True)
        sys.exit(2)
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # click's usage errors: usage line, then why
            exc.show()
            sys.exit(2)
        if os.environ.get("DATAPREP_DEBUG"):
            raise
        err.print(error_line("internal error", f"{type(exc).__name__}: {exc} (set DATAPREP_DEBUG=1 for a traceback)"),
                  soft_wrap=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
