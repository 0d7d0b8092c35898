"""Whatever mix of copies, rewordings, disagreeing answers, facts and personal data the logs
hold, a whole run (mine, dedup, flag, split, export) keeps its promises: every record lands in
exactly one place and the manifest says so; every duplicate's keeper chain ends at a record that
was kept somewhere; no prompt is in both train and eval; no planted personal value reaches any
file the run writes. Corpora are drawn by hypothesis from a few support questions and their
answers, so the stages meet the cases that interact: exact and near copies, same question with
agreeing or disagreeing replies, conversation ids shared across questions, thumbs-down
feedback, categories, and recipes that keep several phrasings or drop what the flag finds."""

from __future__ import annotations

import io
import json
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from conftest import read_jsonl, write_jsonl
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

PLACES = ("train", "eval", "rag_candidates", "duplicates", "rejected")
PLANTED = {"name": "Wilhelmina Castellanos", "email": "w.castellanos@example.org", "phone": "+44 20 7946 0958"}
TRACES = ("Castellanos", "castellanos@", "7946 0958")  # what of them must not show anywhere either
QUESTIONS = [
    "Where is my order? It was supposed to arrive on Monday.",
    "How do I change the email address on my account?",
    "Can I get a refund for the tent? One pole snapped on the first night.",
    "Write a short, friendly reply thanking a customer for their review.",
    "Convert 12 kg to pounds for the shipping label, please.",
]
REPLIES = [
    "Sorry about the delay. Could you send me the order number so I can check where it is?",
    "Sorry about the delay, could you share your order number so I can look it up?",  # agrees, reworded
    "You can change it under Settings > Account > Email, then confirm the link we send you.",
    "Yes: tents are refunded in full within 30 days, and return shipping costs $6.95.",  # facts
    "Yes: tents are refunded in full within 45 days, and return shipping costs $4.99.",  # disagrees
    "Thank you so much for taking the time to review us. It means a lot to the whole team!",
    "12 kg is about 26.5 lb (12 x 2.2046).",
    "I can't help with that.",
]
spacing = st.sampled_from(["", " ", "  ", "\n"])
questions = st.builds(lambda q, case, tail: (q.upper() if case else q) + tail,
                      st.sampled_from(QUESTIONS), st.booleans(), spacing)
turns = st.fixed_dictionaries(
    {"question": questions, "reply": st.sampled_from(REPLIES)},
    optional={"planted": st.sampled_from(sorted(PLANTED)), "thumbs": st.just("down"),
              "conversation": st.sampled_from(["c1", "c2"]), "intent": st.sampled_from(["orders", "refunds", "misc"]),
              "markup": st.sampled_from(["<script>alert(1)</script>", "[bold red]hi[/]", "\x1b[31mred\x1b[0m"])})
corpora = st.lists(turns, min_size=2, max_size=40)
recipes = st.fixed_dictionaries({
    "threshold": st.sampled_from([0.5, 0.8]), "keep_per_cluster": st.sampled_from([1, 2]),
    "action": st.sampled_from(["route", "drop", "tag"]), "eval_size": st.sampled_from([0.2, 0.4]),
    "dedup_again": st.booleans()})


def logged(index: int, turn: dict) -> dict:
    question = turn["question"]
    if "planted" in turn:
        question = f"{question} I'm {PLANTED['name']}, reach me at {PLANTED[turn['planted']]}."
    if "markup" in turn:
        question = f"{question} {turn['markup']}"
    row = {"id": f"r{index}", "messages": [{"role": "system", "content": "You are the support assistant of Larkfield."},
                                           {"role": "user", "content": question},
                                           {"role": "assistant", "content": turn["reply"]}]}
    if "thumbs" in turn:
        row["feedback"] = {"thumbs": turn["thumbs"]}
    if "conversation" in turn:
        row["source"] = {"conversation_id": turn["conversation"]}
    if "intent" in turn:
        row["meta"] = {"metadata": {"intent": turn["intent"]}}
    return row


def prompt_of(row: dict) -> str:
    return " ".join(json.dumps(m.get("content")).casefold() for m in row["messages"][:-1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corpus=corpora, options=recipes)
def test_a_whole_run_places_every_record_once_and_keeps_its_promises(tmp_path_factory, corpus, options):
    tmp = tmp_path_factory.mktemp("run")
    rows = [logged(index, turn) for index, turn in enumerate(corpus)]
    write_jsonl(tmp / "in.jsonl", rows)
    dedup = {"threshold": options["threshold"], "keep_per_cluster": options["keep_per_cluster"]}
    stages = [{"mine": {}}, {"dedup": dedup}, {"flag": {"action": options["action"]}},
              *([{"dedup": dedup}] if options["dedup_again"] else []), {"split": {"eval_size": options["eval_size"]}}]
    recipe = tmp / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"seed": 3, "inputs": [{"path": str(tmp / "in.jsonl"), "format": "records"}],
                                      "stages": stages, "export": {"formats": ["openai"]}}), encoding="utf-8")
    manifest = run_recipe(load_recipe(recipe), tmp / "run", console=Console(file=io.StringIO())).manifest

    placed = {place: read_jsonl(tmp / "run" / f"{place}.jsonl") for place in PLACES}
    ids = {place: [row["id"] for row in found] for place, found in placed.items()}
    assert sorted(sum(ids.values(), [])) == sorted(row["id"] for row in rows)  # each record in exactly one place
    assert {place: manifest["counts"][place] for place in PLACES} == {place: len(ids[place]) for place in PLACES}

    kept = set(ids["train"] + ids["eval"] + ids["rag_candidates"] + ids["rejected"])
    keeper_of = {row["id"]: row["disposition"].get("keeper_id") for row in placed["duplicates"]}
    for duplicate in keeper_of:  # a chain of keepers ends at a record kept somewhere, with no loop
        seen, current = {duplicate}, keeper_of[duplicate]
        while current in keeper_of:
            assert current not in seen, f"keeper loop through {current}"
            seen.add(current)
            current = keeper_of[current]
        assert current in kept, f"{duplicate} points at {current}, which is nowhere"

    train_prompts = {prompt_of(row) for row in placed["train"]}
    leaked = [row["id"] for row in placed["eval"] if prompt_of(row) in train_prompts]
    assert not leaked, f"eval records whose prompt is also in train: {leaked}"

    written = "".join(path.read_text(encoding="utf-8") for path in (tmp / "run").rglob("*")
                      if path.is_file() and path.suffix in (".jsonl", ".json", ".html", ".md"))
    for value in TRACES:
        assert value not in written
    assert not re.search(r"\x1b", written)
