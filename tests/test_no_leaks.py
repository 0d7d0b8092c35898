"""Keys and customers' details never reach any file a run writes, wherever the record ends up."""

from __future__ import annotations

from conftest import chat, write_jsonl
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

KEY = "sk-proj-AbC123dEf456GhI789jKl012MnO345pQr678"
EMAIL = "bob.smith@example.com"
SECRET = f"reach me at {EMAIL}, my key is {KEY}"


def test_no_output_file_holds_a_key_or_an_email(tmp_path):
    first_turn = chat(SECRET, "Thanks, noted.", source={"conversation_id": "c1"})
    rows = [
        first_turn,  # absorbed by its longer call: duplicates.jsonl
        {**first_turn, "messages": first_turn["messages"] + [{"role": "user", "content": "ok"},
                                                             {"role": "assistant", "content": "bye"}]},  # train
        chat(SECRET, ""),  # empty reply: rejected.jsonl
        f"not json at all: {SECRET}",  # unreadable line: rejected.jsonl with its raw text
    ]
    write_jsonl(tmp_path / "logs.jsonl", rows)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [{path: logs.jsonl}]\nstages: [{mine: {}}]\nexport: {formats: [openai]}\n",
                      encoding="utf-8")
    counts = run_recipe(load_recipe(recipe), tmp_path / "run").manifest["counts"]
    assert (counts["train"], counts["duplicates"], counts["rejected"]) == (1, 1, 2)
    # every file the run leaves, its scratch folder .work/ included (a run folder gets shared whole)
    written = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in written)
    for path in written:
        text = path.read_text(encoding="utf-8", errors="ignore")
        assert KEY not in text and EMAIL not in text, path
