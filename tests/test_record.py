from dataprep.record import Record, content_id
from dataprep.schemas import errors


def test_plain_openai_line_gets_a_stable_content_id():
    line = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    first, second = Record.from_dict(dict(line)), Record.from_dict(dict(line))
    assert first.id == second.id == content_id(line["messages"])
    other = Record.from_dict({"messages": [{"role": "user", "content": "hi!"}, {"role": "assistant", "content": "hello"}]})
    assert other.id != first.id


def test_unknown_top_level_keys_are_kept_under_meta():
    record = Record.from_dict({"messages": [{"role": "user", "content": "x"}], "customer_tier": "gold", "meta": {"a": 1}})
    assert record.meta == {"a": 1, "customer_tier": "gold"}
    assert record.to_dict()["meta"] == {"a": 1, "customer_tier": "gold"}


def test_round_trip_keeps_every_part_and_validates_against_the_schema():
    data = {"id": "r1", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                                     {"role": "assistant", "content": "a"}],
            "source": {"format": "openai-chat", "file": "x.jsonl", "line": 3}, "feedback": {"thumbs": "up"},
            "tags": ["t"], "scores": {"fact_heavy": 0.1}, "split": "eval"}
    record = Record.from_dict(data)
    assert record.to_dict() == data
    assert list(errors("record", record.to_dict())) == []


def test_replace_target_keeps_the_old_reply_as_the_rejected_side():
    record = Record.from_dict({"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "bad"}]})
    record.replace_target({"role": "assistant", "content": "good"}, stage="mine", why="user correction")
    assert record.target == {"role": "assistant", "content": "good"}
    assert record.rejected_reply == {"role": "assistant", "content": "bad"}
    assert record.provenance == [{"stage": "mine", "action": "replaced_target", "why": "user correction"}]
