"""Execution engines: this process, a local process pool and Ray place every record alike.

Costs about two minutes on 2 cores, most of it the generated 200k-record input run twice
(the local engine's pool, and Ray) and starting a local Ray.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from conftest import REPO, SAMPLE_DATA, every_llm_path_stages, one_line_error, run_cli
from fake_llm_server import FakeLLMServer, answering_every_request, schema_of
from dataprep import engine
from dataprep.engine import LocalEngine, batched
from dataprep.minhash import Params, groups_of, sketch
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

PLACES = ("train", "eval", "rag_candidates", "duplicates", "rejected")


def square_in(batch: list[int], offset: int) -> list[tuple[int, int]]:
    """Engine work for the tests: each item squared, with the id of the process that did it."""
    return [(os.getpid(), item * item + offset) for item in batch]


def flat(results) -> list[tuple[int, int]]:
    return [item for done in results for item in done]


def test_pool_returns_every_result_in_input_order_from_worker_processes():
    results = flat(LocalEngine(workers=2, pool_after=1).map_batches(square_in, batched(range(500), 7), 3))
    assert [value for _, value in results] == [item * item + 3 for item in range(500)]
    assert os.getpid() not in {pid for pid, _ in results}


def test_small_input_stays_in_this_process():
    results = flat(LocalEngine(workers=2).map_batches(square_in, batched(range(30), 10), 0))
    assert [value for _, value in results] == [item * item for item in range(30)]
    assert {pid for pid, _ in results} == {os.getpid()}


def test_pool_holds_a_bounded_window_of_batches_not_the_input():
    drawn: list[int] = []

    def batches():
        for index in range(100_000):
            drawn.append(index)
            yield [index]

    results = LocalEngine(workers=2, pool_after=1).map_batches(square_in, batches(), 0)
    assert next(results)[0][1] == 0
    results.close()
    assert len(drawn) <= 1 + 2 * 2 + 1  # the peeked batch, the window, the one that filled it


@pytest.fixture(scope="module")
def local_ray():
    import ray  # the dev extra installs it

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


WAYS = {"in-process": ("1", "local"), "pool": ("2", "local"), "ray": ("2", "ray")}  # workers, engine


def run_ways(recipe: Path, out: Path, monkeypatch, batch_records: int, ways=tuple(WAYS)) -> dict[str, Path]:
    """The recipe run each way (in this process, in a 2-process pool, on Ray); their run folders."""
    from dataprep import formats

    monkeypatch.setattr(engine, "BATCH_RECORDS", batch_records)
    monkeypatch.setattr(engine, "POOL_AFTER_BATCHES", 2)
    monkeypatch.setattr(formats, "PIECE_BYTES", 2**20)  # big inputs are read in pieces on the workers too
    runs = {}
    for name in ways:
        workers, engine_name = WAYS[name]
        monkeypatch.setenv("DATAPREP_WORKERS", workers)
        runs[name] = out / name
        run_recipe(load_recipe(recipe), runs[name], engine=engine_name)
    return runs


def assert_same_placement(runs: dict[str, Path]) -> None:
    manifests = {name: orjson.loads((folder / "manifest.json").read_bytes()) for name, folder in runs.items()}
    reference = next(iter(runs))
    first = runs[reference]
    for name, folder in runs.items():
        for place in PLACES:
            assert (folder / f"{place}.jsonl").read_bytes() == (first / f"{place}.jsonl").read_bytes(), (name, place)
        assert manifests[name]["counts"] == manifests[reference]["counts"], name
        assert [(s["stage"], s["in"], s["out"], s["set_aside"], s["stats"]) for s in manifests[name]["stages"]] == \
            [(s["stage"], s["in"], s["out"], s["set_aside"], s["stats"]) for s in manifests[reference]["stages"]]
        assert manifests[name].get("exports") == manifests[reference].get("exports"), name
        for export in sorted((first / "exports").glob("*.jsonl")) if (first / "exports").is_dir() else ():
            assert (folder / "exports" / export.name).read_bytes() == export.read_bytes(), (name, export.name)
    counts = manifests[reference]["counts"]
    assert counts["input"] + counts["created"] == sum(counts[place] for place in PLACES)


def hostile_logs(folder: Path) -> list[tuple[Path, str]]:
    """Log files with what real logs hold between good lines: broken JSON, bytes that are not
    UTF-8, blank lines, a line over the size limit, the same example logged twice without an id."""
    chat = folder / "chat.jsonl"
    lines = []
    for number in range(600):
        call = {"request": {"messages": [{"role": "user", "content": f"question {number} <b>{'x' * (number % 50)}</b>"}]},
                "response": {"choices": [{"message": {"role": "assistant", "content": f"answer {number}"}}]}}
        lines.append(orjson.dumps(call) if number % 13 else (b"{broken" if number % 2 else b"\xff\xfe not utf-8"))
        if number % 97 == 0:
            lines.append(b"")
    lines.insert(300, b'{"request": "' + b"y" * 5000 + b'"}')
    chat.write_bytes(b"\n".join(lines) + b"\n")
    examples = folder / "examples.jsonl"
    example = orjson.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
    examples.write_bytes(b"\n".join([example, b"[1, 2]", *[example] * 40, b"not json"] * 20) + b"\n")
    return [(chat, "openai-chat"), (examples, "records")]


def items_read(inputs, on=None) -> list[dict]:
    """What reading gives, as dicts: a record read on a worker comes as its output line."""
    from dataprep.formats import read_inputs
    from dataprep.record import Serialized

    return [orjson.loads(item.line) if isinstance(item, Serialized) else item.to_dict()
            for item in read_inputs(inputs, engine=on)]


class Counting:
    """An engine that notes the batches it is given: pieces of files, for reading."""

    def __init__(self, engine_class, *args):
        self.engine, self.batches = engine_class(*args), []

    def runs_elsewhere(self, batches):
        return self.engine.runs_elsewhere(batches)

    def map_batches(self, fn, batches, *args):
        batches = list(batches)
        self.batches.extend(batches)
        return self.engine.map_batches(fn, batches, *args)


def read_ways(tmp_path, monkeypatch, engine_class, *args) -> tuple[list[dict], list[dict], Counting]:
    from dataprep import formats
    from dataprep.recipe import InputSpec

    inputs = [InputSpec(str(path), fmt, max_line_bytes=4096) for path, fmt in hostile_logs(tmp_path)]
    whole = items_read(inputs)
    monkeypatch.setattr(formats, "PIECE_BYTES", 2048)
    monkeypatch.setattr(engine, "POOL_AFTER_BATCHES", 2)
    counting = Counting(engine_class, *args)
    return whole, items_read(inputs, counting), counting


def test_big_files_read_in_pieces_on_workers_give_every_line_as_reading_them_whole(tmp_path, monkeypatch):
    """Records, rejected lines with their line numbers, ids made unique within a file: the same,
    in the same order, whether a file is read here whole or in pieces on a pool of processes."""
    whole, in_pieces, pool = read_ways(tmp_path, monkeypatch, LocalEngine, 2)
    assert in_pieces == whole and len(pool.batches) > 20
    reasons = [item["disposition"]["reason"] for item in whole if "raw" in item]
    for kind in ("not valid JSON", "not UTF-8", "line is 5,015 bytes", "expected a JSON object"):
        assert any(reason.startswith(kind) for reason in reasons), kind
    assert [item["source"]["line"] for item in whole if "raw" in item][:3] == [1, 15, 28]  # a blank line 2
    ids = [item["id"] for item in whole if "raw" not in item and item["source"]["format"] == "records"]
    assert len(ids) == len(set(ids)) == 820  # one example logged 41 times, 20 times over: each its own id


def test_big_files_read_in_pieces_as_ray_tasks_give_every_line_as_reading_them_whole(tmp_path, monkeypatch, local_ray):
    whole, on_ray, ray_engine = read_ways(tmp_path, monkeypatch, engine.RayEngine)
    assert on_ray == whole and len(ray_engine.batches) > 20


def test_lsh_bands_as_ray_tasks_find_the_groups_one_process_finds(local_ray):
    rng = random.Random(7)
    vocabulary = [f"w{n}" for n in range(400)]
    texts = []
    for _ in range(150):  # templated logs: many near-copies of one text crowd its LSH buckets
        words = rng.choices(vocabulary, k=40)
        for _ in range(rng.randint(1, 40)):
            edited = list(words)
            edited[rng.randrange(40)] = rng.choice(vocabulary)
            texts.append(" ".join(edited))
    sketches, tasks = sketch(texts, Params(threshold=0.8)), []

    class CountingRay(engine.RayEngine):
        def map_batches(self, fn, batches, *args):
            tasks.extend(batches)
            return super().map_batches(fn, tasks, *args)

    here, on_ray = groups_of(sketches), groups_of(sketches, CountingRay())
    assert len(tasks) == Params(threshold=0.8).bands_rows[0] - 1  # a task a band, the first one here
    assert (here.labels == on_ray.labels).all() and here.linked_pairs == on_ray.linked_pairs
    assert 150 <= here.labels.max() + 1 < len(texts) / 2  # near-copies grouped, other texts apart


def test_quickstart_places_every_record_alike_in_process_in_a_pool_and_on_ray(tmp_path, monkeypatch, local_ray):
    runs = run_ways(REPO / "recipes" / "quickstart.yaml", tmp_path, monkeypatch, batch_records=16)
    assert_same_placement(runs)  # the training exports too: made in batches on each engine
    assert len(list((runs["ray"] / "exports").glob("*.jsonl"))) == 4
    assert orjson.loads((runs["pool"] / "manifest.json").read_bytes())["stages"][1]["stats"]["pii"]  # scrubbed there


def test_every_llm_path_places_alike_in_a_pool_and_on_ray_and_a_rerun_on_ray_sends_nothing(tmp_path, monkeypatch,
                                                                                              local_ray):
    """Both judges, the probe, grounded variants and synth on the quickstart's data: each engine asks the same
    questions and places every record alike; a rerun on Ray takes every answer from its run's cache."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "returns.md").write_text("# Returns\nUnused items can be returned within 30 days.\n",
                                                  encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-loopback-only")
    with FakeLLMServer(responder=answering_every_request()) as server:
        llm = {"provider": "openai", "model": "gpt-4.1-mini", "base_url": server.openai_url}
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(json.dumps({"name": "every-path", "seed": 7, "inputs": [{"path": str(SAMPLE_DATA / "logs")}],
                                      "stages": every_llm_path_stages(llm, tmp_path / "docs"),
                                      "export": {"formats": ["openai"]}}), encoding="utf-8")
        runs = run_ways(recipe, tmp_path / "runs", monkeypatch, batch_records=64, ways=("pool", "ray"))
        asked = [json.dumps(call.body, sort_keys=True) for call in server.model_calls()]
        assert sorted(asked[:len(asked) // 2]) == sorted(asked[len(asked) // 2:])  # the pool's questions, then Ray's
        assert {schema_of(call.body) for call in server.model_calls()} >= {"fact_heavy_verdict", "same_answer_verdict",
                                                                           "synthetic_examples", None}
        assert_same_placement(runs)
        run_recipe(load_recipe(recipe), runs["ray"], engine="ray")
        assert len(server.model_calls()) == len(asked)


def generated_logs(path: Path, count: int) -> Path:
    """``count`` short chats: distinct questions, near-duplicates of earlier ones, conversations
    re-sent call by call, emails and phone numbers, thumbs down and errored calls."""
    rng = random.Random(5)
    vocabulary = [a + b + c for a in ("ka", "lo", "mi", "ne", "su", "ta") for b in ("ri", "po", "ve", "da", "xu")
                  for c in ("n", "s", "l", "m", "")]
    earlier: list[str] = []
    with open(path, "wb") as handle:
        for number in range(count * 7 // 8):  # every 7th call also writes the call before it: ``count`` in all
            if earlier and number % 10 == 0:  # a near-duplicate: an earlier question, one word changed
                question = rng.choice(earlier).rsplit(" ", 1)[0] + " " + rng.choice(vocabulary)
            else:
                question = " ".join(rng.choices(vocabulary, k=12))
            earlier = [*earlier[-999:], question]
            if number % 20 == 0:
                question += f" mail me at user{number}@example.com or call +1 415 555 01{number % 90 + 10}"
            messages = [{"role": "user", "content": question}, {"role": "assistant", "content": f"Answer {number}."}]
            if number % 7 == 0:  # the next call of the same conversation re-sends this one
                handle.write(orjson.dumps({"messages": messages}) + b"\n")
                messages = [*messages, {"role": "user", "content": "and then?"}, {"role": "assistant", "content": "Done."}]
            line = {"messages": messages, "source": {"finish_reason": "stop"}}
            if number % 17 == 0:
                line["feedback"] = {"thumbs": "down"}
            if number % 101 == 0:
                line["source"]["error"] = "upstream timeout"
            handle.write(orjson.dumps(line) + b"\n")
    return path


def test_200k_records_place_alike_on_the_local_engine_and_on_ray(tmp_path, monkeypatch, local_ray):
    """The local engine as a user runs it (a pool on every core) against Ray; this process and
    the pool are compared on the quickstart, with batches small enough for the pool to start."""
    logs = generated_logs(tmp_path / "logs.jsonl", 200_000)
    recipe = tmp_path / "recipe.yaml"
    # the generated chats hold emails and phone numbers, never a name or an address: those two
    # detectors, half of mining's time here, run on both engines in the quickstart comparison
    mine = {"pii": {"disable": ["name", "address"]}}
    recipe.write_text(orjson.dumps({"name": "big", "seed": 11, "inputs": [{"path": logs.name}],
                                    "stages": [{"mine": mine}, {"dedup": {}}, {"split": {"eval_size": 0.05}}]}).decode())
    runs = run_ways(recipe, tmp_path / "runs", monkeypatch, batch_records=1000, ways=("pool", "ray"))
    assert_same_placement(runs)  # the PII found too: every mail and phone number, scrubbed alike
    assert set(orjson.loads((runs["ray"] / "manifest.json").read_bytes())["stages"][1]["stats"]["pii"]) >= {"email", "phone"}


def test_export_rows_are_made_as_tasks_of_a_distributed_engine(tmp_path, monkeypatch):
    from dataprep.export import export_file
    from dataprep.exporters.core import ExportOptions

    shipped = []

    class Recording(engine.InProcessEngine):
        distributed = True  # as Ray is: rows are made as its tasks

        def map_batches(self, fn, batches, *args):
            batches = list(batches)
            shipped.extend(len(batch) for batch in batches)
            return super().map_batches(fn, batches, *args)

    monkeypatch.setattr(engine, "BATCH_RECORDS", 2)
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"".join(orjson.dumps({"id": f"r{n}", "messages": [
        {"role": "user", "content": f"question {n}"}, {"role": "assistant", "content": f"answer {n}"}]}) + b"\n"
        for n in range(5)))
    here = export_file([records], "openai", tmp_path / "here.jsonl", ExportOptions(), engine=engine.InProcessEngine())
    there = export_file([records], "openai", tmp_path / "there.jsonl", ExportOptions(), engine=Recording())
    assert shipped == [2, 2, 1] and here.written == there.written == 5  # every record went to the engine
    assert (tmp_path / "here.jsonl").read_bytes() == (tmp_path / "there.jsonl").read_bytes()


def test_pool_run_still_advances_the_progress_bars(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_RECORDS", 16)
    monkeypatch.setattr(engine, "POOL_AFTER_BATCHES", 2)
    monkeypatch.setenv("DATAPREP_WORKERS", "2")
    screen = io.StringIO()
    outcome = run_recipe(load_recipe(REPO / "recipes" / "mine.yaml"), tmp_path / "run",
                         console=Console(file=screen, force_terminal=True, width=120))
    mined = outcome.manifest["stages"][1]
    done = mined["out"] + sum(mined["set_aside"].values())
    assert f"{done}/{done}" in screen.getvalue()


def test_engine_ray_without_ray_installed_is_one_line_naming_the_extra(tmp_path):
    script = "import sys; sys.modules['ray'] = None; from dataprep.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", script, "run", str(REPO / "recipes" / "mine.yaml"),
                             "--out", str(tmp_path / "run"), "--engine", "ray"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "pip install 'dataprep[ray]'" in one_line_error(result)
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_unknown_engine_is_one_line_listing_the_engines(tmp_path):
    line = one_line_error(run_cli("run", REPO / "recipes" / "mine.yaml", "--out", tmp_path / "run", "--engine", "spark"))
    assert "spark" in line and "local, ray" in line


def test_recipe_engine_is_checked_against_the_schema(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("inputs: [{path: x.jsonl}]\nstages: [{mine: {}}]\nengine: spark\n")
    assert "engine" in one_line_error(run_cli("run", recipe, "--out", tmp_path / "run"))


def test_a_worker_without_the_key_file_hashes_identities_with_the_run_s_key(tmp_path):
    """A worker on another machine has no ~/.config/dataprep: the key travels with the work,
    not in the worker's environment (which a Ray cluster's metadata shows)."""
    from dataprep.record_fields import pseudonym, pseudonym_key

    probe = ("import sys, orjson\n"
             "from dataprep.record import Record\n"
             "import numpy as np\n"
             "from dataprep.stages.mine import Filters, mine_batch\n"
             "record = Record(messages=[{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'yo'}],\n"
             "                source={'user': 'maria_77'})\n"
             "work = ([orjson.dumps(record.to_dict())], [None], np.zeros(1, dtype=np.int64), np.zeros(1, dtype=bool))\n"
             "[(_, done, _)] = mine_batch(work, Filters(), {}, sys.stdin.buffer.read(), 'mine').records\n"
             "print(orjson.loads(done.line)['source']['user'])\n")
    env = {key: value for key, value in os.environ.items() if key != "DATAPREP_PSEUDONYM_KEY"}
    done = subprocess.run([sys.executable, "-c", probe], input=pseudonym_key(), capture_output=True, timeout=120,
                          env={**env, "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == pseudonym("maria_77")
    assert not (tmp_path / "dataprep" / "pseudonym.key").exists()  # it used the key it was given
