"""``dataprep report RUN_DIR``: one self-contained HTML page about a run (inline SVG, no network).

Everything on the page that comes from the logs is hostile until escaped: the template
autoescapes, the SVG builders escape every label, and the record browser's data travels as
inert JSON that the page's script only ever puts into ``textContent``.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson
from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape

from .jsonl import AtomicWriter
from .record import PLACES, message_text
from .run_facts import BROWSE_CAP_PER_PLACE, CONTEXT_LIMIT, RunFacts, category, gather, reason_family

COLORS = {"train": "#2f6fdf", "eval": "#e07a1f", "rag_candidates": "#8a4fd1", "duplicates": "#8a939e",
          "rejected": "#d64545", "input": "#3b4252", "created": "#2e9e6a"}
CHART_WIDTH = 760  # px: charts are drawn at the size they are shown, so 13px text stays 13px
LABEL_CHARS = 40  # a bar label wraps past this many characters (about 290px at 13px)
MESSAGE_CHARS = 4_000  # longer messages are cut in the record browser, saying how much was left out
NOTHING = Markup('<p class="muted">nothing to show</p>')


# -- inline SVG --------------------------------------------------------------------------------------
def svg(width: int, height: float, parts: list[str], title: str) -> Markup:
    """One chart: ``parts`` are SVG elements already built from escaped text."""
    return Markup(f'<svg viewBox="0 0 {width} {height:.0f}" width="100%" style="max-width:{width}px" role="img" '
                  f'aria-label="{escape(title)}">{"".join(parts)}</svg>')


def svg_text(x: float, y: float, content: Any, css: str = "", anchor: str = "start", rotate: bool = False) -> str:
    """An SVG text element; ``content`` is escaped (labels come from the logs)."""
    css_attr = f' class="{css}"' if css else ""
    turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{css_attr}{turn}>{escape(content)}</text>'


def wrapped_label(label: str, right: float, top: float) -> tuple[str, int]:
    """A right-aligned label in at most two lines (the whole label as a tooltip), and its line count."""
    lines = textwrap.wrap(label, LABEL_CHARS) or [""]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), LABEL_CHARS, placeholder=" …")]
    spans = "".join(f'<tspan x="{right:.1f}" dy="{0 if i == 0 else 16}">{escape(line)}</tspan>' for i, line in enumerate(lines))
    return f'<text y="{top:.1f}" text-anchor="end"><title>{escape(label)}</title>{spans}</text>', len(lines)


def hbar_chart(rows: list[tuple[str, float, str]], title: str, unit: str = "") -> Markup:
    """Horizontal bars: (label, value, color); labels wrap instead of being clipped."""
    if not rows:
        return NOTHING
    label_w, value_w = 300, 80
    top = max(value for _, value, _ in rows) or 1
    parts, y = [], 0.0
    for label, value, color in rows:
        label_svg, lines = wrapped_label(label, label_w - 10, y + 16)
        bar_h = 22 + 16 * (lines - 1)
        length = (CHART_WIDTH - label_w - value_w) * value / top
        parts += [label_svg, f'<rect x="{label_w}" y="{y:.1f}" width="{length:.1f}" height="{bar_h}" rx="3" fill="{color}"/>',
                  svg_text(label_w + length + 6, y + 16, f"{value:,.0f}{unit}", "num")]
        y += bar_h + 8
    return svg(CHART_WIDTH, y, parts, title)


def grouped_bars(categories: list[str], series: dict[str, Counter], sizes: dict[str, int], title: str) -> Markup:
    """Train vs eval side by side per category, as shares of each side's records (so sizes compare;
    a record may be in several slices, or in no category)."""
    return hbar_chart([(f"{name} · {side}", 100 * counter.get(name, 0) / (sizes.get(side) or 1), COLORS[side])
                       for name in categories for side, counter in series.items()], title, unit="%")


@dataclass(frozen=True)
class Plot:
    """Where a chart's plotting area sits inside its SVG."""
    left: float = 70
    top: float = 34
    width: float = CHART_WIDTH - 90
    height: float = 178

    def x(self, fraction: float) -> float:
        return self.left + self.width * fraction

    def y(self, fraction: float) -> float:
        return self.top + self.height * (1 - fraction)


def histogram(values: dict[str, list[int]], title: str, bins: int = 20) -> Markup:
    """Overlaid histograms of tokens per example for train and eval, as shares of each split."""
    present = {name: v for name, v in values.items() if v}
    if not present:
        return NOTHING
    plot, high = Plot(), max(max(v) for v in present.values()) or 1
    shares = {name: bin_shares(data, high, bins) for name, data in present.items()}
    top = max(max(s) for s in shares.values()) or 1
    parts = axes(plot, [(f, f"{top * f:.0%}") for f in (0, 0.5, 1)], [(f, f"{high * f:,.0f}") for f in (0, 0.25, 0.5, 0.75, 1)],
                 "tokens per example", "share of examples")
    for index, (name, share) in enumerate(shares.items()):
        points = " ".join(f"{plot.x((i + 0.5) / bins):.1f},{plot.y(s / top):.1f}" for i, s in enumerate(share))
        parts += [f'<polyline points="{points}" fill="none" stroke="{COLORS[name]}" stroke-width="2.5"/>',
                  f'<rect x="{plot.left + 150 * index}" y="8" width="12" height="12" fill="{COLORS[name]}"/>',
                  svg_text(plot.left + 150 * index + 17, 19, f"{name} ({len(present[name]):,})")]
    return svg(CHART_WIDTH, plot.top + plot.height + 48, parts, title)


def axes(plot: Plot, y_ticks: list[tuple[float, str]], x_ticks: list[tuple[float, str]], x_label: str, y_label: str) -> list[str]:
    """Both axes with their ticks (fraction along the axis, label) and titles."""
    bottom = plot.top + plot.height
    parts = [f'<line x1="{plot.left}" y1="{plot.top}" x2="{plot.left}" y2="{bottom}" stroke="#9aa3ad"/>',
             f'<line x1="{plot.left}" y1="{bottom}" x2="{plot.x(1)}" y2="{bottom}" stroke="#9aa3ad"/>']
    parts += [svg_text(plot.left - 6, plot.y(f) + 4, label, "num", "end") for f, label in y_ticks]
    parts += [svg_text(plot.x(f), bottom + 18, label, "num", "middle") for f, label in x_ticks]
    return parts + [svg_text(plot.x(0.5), bottom + 42, x_label, anchor="middle"),
                    svg_text(16, plot.y(0.5), y_label, anchor="middle", rotate=True)]


def bin_shares(data: list[int], high: int, bins: int) -> list[float]:
    counts = [0] * bins
    for value in data:
        counts[min(bins - 1, bins * value // high)] += 1
    return [c / len(data) for c in counts]


def by_count(counter: Counter | dict[str, int]) -> list[tuple[Any, int]]:
    """Largest first, ties by name: the same order on every run."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))


# -- the sections: each returns what its part of the page shows, or None when it does not apply ----
def funnel_rows(facts: RunFacts) -> list[tuple[str, float, str]]:
    counts = facts.manifest["counts"]
    rows = [("input records", counts["input"], COLORS["input"])]
    if counts.get("created"):
        rows.append(("created (synthetic, grounded)", counts["created"], COLORS["created"]))
    reasons = by_count(facts.rejected_by_reason)
    rows += [(f"rejected: {reason}", n, COLORS["rejected"]) for reason, n in reasons[:6]]
    rest = counts["rejected"] - sum(n for _, n in reasons[:6])
    if rest > 0:
        rows.append(("rejected: other reasons", rest, COLORS["rejected"]))
    rows += [(f"duplicates ({stage})", n, COLORS["duplicates"]) for stage, n in by_count(facts.duplicates_by_stage)]
    if counts["rag_candidates"] or facts.ran("flag"):
        rows.append(("fact-heavy → RAG candidates", counts["rag_candidates"], COLORS["rag_candidates"]))
    rows.append(("train", counts["train"], COLORS["train"]))
    rows.append(("eval", counts["eval"], COLORS["eval"]))
    return rows


def funnel_section(facts: RunFacts) -> dict[str, Any]:
    return {"chart": hbar_chart(funnel_rows(facts), "where every record went")}


def tokens_section(facts: RunFacts) -> dict[str, Any] | None:
    if not any(facts.tokens.values()):
        return None
    stats = {split: {"n": len(v), "mean": sum(v) / len(v) if v else 0, "max": max(v, default=0),
                     "over_limit": facts.over_limit[split]} for split, v in facts.tokens.items()}
    return {"chart": histogram(facts.tokens, "tokens per example"), "stats": stats,
            "context_limit": CONTEXT_LIMIT, "cost": facts.training_cost()}


def clusters_section(facts: RunFacts) -> dict[str, Any] | None:
    if not facts.ran("dedup") or not facts.cluster_sizes:
        return None
    rows = [(f"cluster of {size}", n, COLORS["train"]) for size, n in sorted(facts.cluster_sizes.items())[:12]]
    return {"chart": hbar_chart(rows, "near-duplicate cluster sizes")}


def categories_section(facts: RunFacts) -> dict[str, Any] | None:
    totals = facts.categories["train"] + facts.categories["eval"]
    if not totals:
        return None
    names = [name for name, _ in by_count(totals)[:12]]
    return {"chart": grouped_bars(names, facts.categories, facts.counts, "categories, % of train and of eval")}


def slices_section(facts: RunFacts) -> dict[str, Any] | None:
    names = sorted(set(facts.slices["train"]) | set(facts.slices["eval"]))
    return ({"chart": grouped_bars(names, facts.slices, facts.counts, "difficulty slices, % of train and of eval")}
            if names else None)


def pii_section(facts: RunFacts) -> dict[str, Any] | None:
    if not facts.ran("mine"):
        return None
    found = facts.stage_stats("mine").get("pii") or {}
    return {"chart": hbar_chart([(kind, n, COLORS["rejected"]) for kind, n in by_count(found)], "PII scrubbed, by type")}


def synthetic_section(facts: RunFacts) -> dict[str, Any] | None:
    if not facts.ran("synth"):
        return None
    return {"counts": by_count(facts.synthetic), "acceptance": facts.synthetic_acceptance,
            "reviewed": facts.ran("review")}


def review_section(facts: RunFacts) -> dict[str, Any] | None:
    if not facts.ran("review"):
        return None
    stats = facts.stage_stats("review")
    return {"queue": stats.get("queue", 0), "picked": by_count(stats.get("picked") or {}),
            "verdicts": by_count(facts.review), "residual_pii": residual_pii_line(stats.get("residual_pii"))}


def residual_pii_line(found: dict[str, Any] | None) -> str | None:
    """'2 of 180 reviewed (1.1%, 95% CI 0.1–4.0%)': what reviewers still found after scrubbing."""
    if not found:
        return None
    if not found["reviewed"]:
        return "none reviewed yet"
    return (f"{found['flagged']:,} of {found['reviewed']:,} reviewed ({found['rate']:.1%}, "
            f"95% CI {100 * found['low']:.1f}–{100 * found['high']:.1f}%)")


def system_prompt_section(facts: RunFacts) -> dict[str, Any] | None:
    return (facts.manifest.get("exports") or {}).get("system_prompt") or None


def exports_section(facts: RunFacts) -> dict[str, Any] | None:
    """Each export file: written, left out and why, provider-limit warnings (as the terminal showed)."""
    from .export import EXPORT_COLUMNS, export_rows_shown

    results = facts.manifest.get("exports")
    return {"columns": EXPORT_COLUMNS, "rows": export_rows_shown(results)} if results else None


def stages_section(facts: RunFacts) -> list[dict[str, Any]]:
    """Per-stage counts; timings stay in the manifest so the page is the same on every run."""
    return [{"stage": s["stage"], "in": s["in"], "out": s["out"], "created": s.get("created", 0),
             "set_aside": sorted((s.get("set_aside") or {}).items())} for s in facts.manifest.get("stages", [])]


SECTIONS: dict[str, Callable[[RunFacts], Any]] = {
    "funnel": funnel_section, "tokens": tokens_section, "clusters": clusters_section,
    "categories": categories_section, "slices": slices_section, "pii": pii_section,
    "synthetic": synthetic_section, "review": review_section, "system_prompt": system_prompt_section,
    "exports": exports_section, "stages": stages_section,
}


# -- the record browser's data -----------------------------------------------------------------------
class SharedTexts:
    """Each message text stored once: production logs repeat the same long system prompt in
    every record, and the page should not carry it thousands of times."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def ref(self, value: str) -> int:
        return self.index.setdefault(value, len(self.index))

    def texts(self) -> list[str]:
        return list(self.index)


def browser_record(place: str, row: dict[str, Any], shared: SharedTexts) -> dict[str, Any]:
    """What the browser filters on and shows of one record; message texts are refs into ``shared``."""
    source = row.get("source") or {}
    reason = (row.get("disposition") or {}).get("reason", "")
    readable = isinstance(row.get("messages"), list)
    why = [f"{key}: {value}" for key, values in sorted((row.get("reasons") or {}).items()) for value in values[:4]]
    return {"place": place, "id": row.get("id") or f"{source.get('file')}:{source.get('line')}",
            "source": f"{source.get('file', '')}:{source.get('line', '')}" if source.get("file") else "",
            "reason": reason, "family": reason_family(reason) if reason else "", "why": why,
            "tags": [str(tag) for tag in row.get("tags") or []], "category": (category(row) if readable else None) or "",
            "cluster": str((row.get("groups") or {}).get("cluster", "")),
            "turns": [browser_turn(m, shared) for m in row["messages"] if isinstance(m, dict)] if readable
            else [{"role": "raw line", "text": shared.ref(cut(str(row.get("raw", "")))), "calls": []}]}


def browser_turn(message: dict[str, Any], shared: SharedTexts) -> dict[str, Any]:
    calls = [call.get("function") or {} for call in message.get("tool_calls") or [] if isinstance(call, dict)]
    turn = {"role": str(message.get("role", "?")), "text": shared.ref(cut(message_text(message))),
            "calls": [cut(f"{c.get('name', '')}({c.get('arguments', '')})") for c in calls]}
    if message.get("tool_call_id"):
        turn["call_id"] = str(message["tool_call_id"])
    return turn


def cut(value: str) -> str:
    return value if len(value) <= MESSAGE_CHARS else f"{value[:MESSAGE_CHARS]}… ({len(value) - MESSAGE_CHARS:,} more characters)"


def browser_data(facts: RunFacts) -> dict[str, Any]:
    shared = SharedTexts()
    records = [browser_record(place, row, shared) for place in PLACES for row in facts.browsable[place]]
    return {"texts": shared.texts(), "records": records}


def inert_json(value: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' that could end the
    block or open a tag, and no U+2028/2029 line separators."""
    encoded = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    for char, replacement in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        encoded = encoded.replace(char, replacement)
    return Markup(encoded)


# -- the page ----------------------------------------------------------------------------------------
def context(facts: RunFacts) -> dict[str, Any]:
    browsed = {place: {"total": facts.counts.get(place, 0), "shown": len(facts.browsable[place])} for place in PLACES}
    recipe = facts.manifest["recipe"].get("content") or {}
    return {"name": recipe.get("name") or facts.run_dir.name,
            "run_dir": str(facts.run_dir), "counts": facts.manifest["counts"], "verdicts": facts.verdicts(),
            "sections": {name: build(facts) for name, build in SECTIONS.items()},
            "browse": browsed, "browse_cap": BROWSE_CAP_PER_PLACE, "records_json": inert_json(browser_data(facts))}


def render(facts: RunFacts) -> str:
    environment = Environment(loader=PackageLoader("dataprep", "templates"), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("report.html.j2").render(**context(facts))


def write_report(facts: RunFacts) -> Path:
    """Write ``<run_dir>/report.html`` atomically and return its path."""
    page = render(facts)
    target = facts.run_dir / "report.html"
    with AtomicWriter(target) as writer:
        writer.write_raw(page.encode("utf-8"))
    return target


def report_command(run_dir: Path, console: Any) -> None:
    target = write_report(gather(run_dir))
    console.print(f"wrote {target} — open it in a browser")
