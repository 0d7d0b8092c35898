"""``dataprep report RUN_DIR``: one self-contained HTML page about a run (inline SVG, no network)."""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from .jsonl import AtomicWriter
from .record import readable_text
from .run_facts import CONTEXT_LIMIT, RunFacts, gather

COLORS = {"train": "#2f6fdf", "eval": "#e07a1f", "rag_candidates": "#8a4fd1", "duplicates": "#9aa3ad",
          "rejected": "#d64545", "input": "#3b4252", "created": "#2e9e6a"}


# -- inline SVG charts -------------------------------------------------------------------------
def hbar_chart(rows: list[tuple[str, float, str]], width: int = 640, unit: str = "") -> Markup:
    """Horizontal bars: (label, value, color)."""
    if not rows:
        return Markup('<p class="muted">nothing to show</p>')
    top = max(value for _, value, _ in rows) or 1
    bar_h, label_w = 22, 190
    parts = []
    for index, (label, value, color) in enumerate(rows):
        y = index * (bar_h + 6)
        length = (width - label_w - 90) * value / top
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{html.escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" rx="3" fill="{color}"/>'
                     f'<text x="{label_w + length + 6:.1f}" y="{y + 15}" class="num">{value:,.0f}{unit}</text>')
    height = len(rows) * (bar_h + 6)
    return Markup(f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">{"".join(parts)}</svg>')


def grouped_bars(categories: list[str], series: dict[str, Counter], width: int = 640) -> Markup:
    """Train vs eval side by side per category, as shares of each side (so sizes compare)."""
    if not categories:
        return Markup('<p class="muted">nothing to show</p>')
    totals = {name: sum(counter.values()) or 1 for name, counter in series.items()}
    rows = []
    for category in categories:
        for name, counter in series.items():
            rows.append((f"{category} · {name}", 100 * counter.get(category, 0) / totals[name], COLORS.get(name, "#555")))
    return hbar_chart(rows, width, unit="%")


def histogram(values: dict[str, list[int]], bins: int = 20, width: int = 640, height: int = 180) -> Markup:
    """Overlaid histograms (density) of a per-record number for train and eval."""
    present = {name: v for name, v in values.items() if v}
    if not present:
        return Markup('<p class="muted">nothing to show</p>')
    high = max(max(v) for v in present.values())
    edges = [high * i / bins for i in range(bins + 1)]
    parts, pad = [], 30
    plot_w, plot_h = width - 2 * pad, height - 2 * pad
    densities = {}
    for name, data in present.items():
        counts = [0] * bins
        for value in data:
            counts[min(bins - 1, int(bins * value / high) if high else 0)] += 1
        densities[name] = [c / len(data) for c in counts]
    top = max(max(d) for d in densities.values()) or 1
    for name, density in densities.items():
        points = " ".join(f"{pad + plot_w * (i + 0.5) / bins:.1f},{pad + plot_h * (1 - d / top):.1f}"
                          for i, d in enumerate(density))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{COLORS.get(name, "#555")}" stroke-width="2.5"/>')
    for i in (0, bins // 2, bins):
        parts.append(f'<text x="{pad + plot_w * i / bins:.1f}" y="{height - 8}" text-anchor="middle" class="num">{edges[i]:,.0f}</text>')
    legend = "".join(f'<tspan fill="{COLORS.get(n, "#555")}">■ {n} ({len(v):,})  </tspan>' for n, v in present.items())
    parts.append(f'<text x="{pad}" y="16">{legend}</text>')
    parts.append(f'<line x1="{pad}" y1="{pad + plot_h}" x2="{pad + plot_w}" y2="{pad + plot_h}" stroke="#bbb"/>')
    return Markup(f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">{"".join(parts)}</svg>')


# -- what goes on the page ------------------------------------------------------------------------
def funnel_rows(facts: RunFacts) -> list[tuple[str, float, str]]:
    counts = facts.manifest["counts"]
    rows = [("input records", counts["input"], COLORS["input"])]
    if counts.get("created"):
        rows.append(("created (synthetic, grounded)", counts["created"], COLORS["created"]))
    rows += [(f"rejected: {reason}", n, COLORS["rejected"]) for reason, n in facts.rejected_by_reason.most_common(6)]
    rest = counts["rejected"] - sum(n for _, n in facts.rejected_by_reason.most_common(6))
    if rest > 0:
        rows.append(("rejected: other reasons", rest, COLORS["rejected"]))
    rows += [(f"duplicates ({stage})", n, COLORS["duplicates"]) for stage, n in facts.duplicates_by_stage.most_common()]
    rows.append(("fact-heavy → RAG candidates", counts["rag_candidates"], COLORS["rag_candidates"]))
    rows.append(("train", counts["train"], COLORS["train"]))
    rows.append(("eval", counts["eval"], COLORS["eval"]))
    return rows


def render_message(message: dict[str, Any]) -> dict[str, str]:
    return {"role": message.get("role", "?"), "text": readable_text(message, call_prefix="→ ").strip()[:1200]}


def example_view(row: dict[str, Any]) -> dict[str, Any]:
    disposition = row.get("disposition") or {}
    why = [disposition.get("reason", "")] if disposition else []
    for key, values in (row.get("reasons") or {}).items():
        why += [f"{key}: {v}" for v in values[:4]]
    if "messages" not in row:  # an unreadable input line
        return {"id": f"{row['source'].get('file')}:{row['source'].get('line')}", "why": why,
                "turns": [{"role": "raw line", "text": row.get("raw", "")[:600]}]}
    return {"id": row.get("id", ""), "why": [w for w in why if w],
            "turns": [render_message(m) for m in row["messages"]]}


def context(facts: RunFacts) -> dict[str, Any]:
    counts = facts.manifest["counts"]
    categories = sorted(set(facts.categories["train"]) | set(facts.categories["eval"]),
                        key=lambda c: -(facts.categories["train"][c] + facts.categories["eval"][c]))[:12]
    slices = sorted(set(facts.slices["train"]) | set(facts.slices["eval"]))
    pii = facts.stage_stats("mine").get("pii", {})
    sizes = sorted(facts.cluster_sizes.items())
    return {
        "name": facts.manifest["recipe"]["content"].get("name", facts.run_dir.name),
        "run_dir": str(facts.run_dir), "counts": counts, "facts": facts, "verdicts": facts.verdicts(),
        "funnel": hbar_chart(funnel_rows(facts)),
        "tokens": histogram(facts.tokens),
        "token_stats": {split: {"n": len(v), "mean": sum(v) / len(v) if v else 0, "max": max(v) if v else 0}
                        for split, v in facts.tokens.items()},
        "context_limit": CONTEXT_LIMIT, "cost": facts.training_cost(),
        "categories": grouped_bars(categories, facts.categories),
        "slices": grouped_bars(slices, facts.slices),
        "cluster_sizes": hbar_chart([(f"cluster of {size}", n, COLORS["train"]) for size, n in sizes[:12]]),
        "pii": hbar_chart([(kind, n, COLORS["rejected"]) for kind, n in sorted(pii.items(), key=lambda kv: -kv[1])]),
        "synthetic": facts.synthetic, "synthetic_acceptance": facts.synthetic_acceptance,
        "examples": {bucket: [example_view(row) for row in rows] for bucket, rows in facts.examples.items()},
        "stages": facts.manifest.get("stages", []),
    }


def render(facts: RunFacts) -> str:
    environment = Environment(loader=PackageLoader("dataprep", "templates"), autoescape=select_autoescape())
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
