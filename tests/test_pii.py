"""The PII scrubber: measured precision and recall on the labeled fixture must not regress, and
the behaviours the mine stage relies on (validators, consistent placeholders, JSON-safe)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dataprep import schemas
from dataprep.pii import DETECTOR_NAMES, Scrubber
from dataprep.record import Record

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_pii import load, score  # noqa: E402

ROWS = load()


def test_the_fixture_is_big_enough_and_its_spans_match_their_text():
    assert len(ROWS) >= 150
    assert sum(not row["spans"] for row in ROWS) >= 50  # hard negatives
    for row in ROWS:
        for span in row["spans"]:
            assert row["text"][span["start"]:span["end"]] == span["value"]
    kinds = {span["type"] for row in ROWS for span in row["spans"]}
    assert kinds == {"email", "phone", "card", "iban", "account", "order", "ssn", "ip", "address", "api_key", "token", "secret"}


def test_precision_and_recall_stay_at_the_measured_level():
    overlap, exact = score(ROWS, Scrubber()), score(ROWS, Scrubber(), exact=True)
    assert overlap.precision() >= 0.98, overlap.errors
    assert overlap.recall() >= 0.98, overlap.errors
    assert exact.precision() >= 0.97 and exact.recall() >= 0.97, exact.errors
    for kind in overlap.kinds():
        assert overlap.recall(kind) >= 0.9, (kind, overlap.errors)
        assert overlap.precision(kind) >= 0.9, (kind, overlap.errors)


@pytest.mark.parametrize("text, kind", [
    ("card 4111 1111 1111 1111", "card"),
    ("card 4111-1111-1111-1111 exp 09/27", "card"),
    ("amex 3782 822463 10005", "card"),
    ("call (415) 555-0123 today", "phone"),
    ("call +44 20 7946 0958", "phone"),
    ("call +1 692-604-7232", "phone"),  # written like a phone number, area code unassigned
    ("iban GB82 WEST 1234 5698 7654 32", "iban"),
    ("from 2001:db8::8a2e:370:7334", "ip"),
    ("key AKIAIOSFODNN7EXAMPLE", "api_key"),
])
def test_valid_values_are_found(text, kind):
    assert [found.kind for found in Scrubber().find(text)] == [kind]


@pytest.mark.parametrize("text", [
    "card 4111 1111 1111 1112",          # fails Luhn
    "serial 1234 5678 9012 3456",        # no card network starts with 1
    "ISBN 978-0-13-468599-1, SKU 88-1234-567",  # digit runs not written like phone numbers
    "on 2024-03-15 at 10:30:00",
    "iban GB82 WEST 1234 5698 7654 33",  # bad check digits
    "version 1.2.3.4 and build 10.0.19041.1",
    "commit 3f2a9c1b7e4d5f60718293a4b5c6d7e8f9012345",
    "id 550e8400-e29b-41d4-a716-446655440000",
    "total $1,299.00 for 12,500 units",
    "class CustomerOrderHistoryView2024Handler",
])
def test_lookalikes_are_left_alone(text):
    assert Scrubber().find(text) == ()


def test_one_value_written_two_ways_gets_one_placeholder():
    text = "Call (415) 555-0123 or +1 415-555-0123; mail Jane@Example.com or jane@example.com"
    assert Scrubber().scrub_text(text) == "Call <PHONE_1> or <PHONE_1>; mail <EMAIL_1> or <EMAIL_1>"


def test_a_value_found_once_is_scrubbed_wherever_it_stands_alone_in_the_record():
    record = Record(messages=[{"role": "user", "content": "order #A-77120 is late"},
                              {"role": "assistant", "content": "A-77120 ships today; A-771200 is another one."}])
    Scrubber().scrub_record(record)
    assert record.messages[1]["content"] == "<ORDER_1> ships today; A-771200 is another one."


def test_json_text_stays_valid_json_and_unchanged_json_keeps_its_exact_text():
    scrubber = Scrubber()
    scrubbed = scrubber.scrub_text('{"note": "line one\\nemail: x@y.com", "n": 3}')
    assert json.loads(scrubbed) == {"note": "line one\nemail: <EMAIL_1>", "n": 3}
    untouched = '{ "status" : "shipped",  "items": [1, 2] }'
    assert scrubber.scrub_text(untouched) == untouched


def test_placeholders_already_in_a_record_are_not_handed_out_again():
    record = Record(messages=[{"role": "user", "content": "I wrote <EMAIL_1> before; now it's new@example.com"}])
    Scrubber().scrub_record(record)
    assert record.messages[0]["content"] == "I wrote <EMAIL_1> before; now it's <EMAIL_2>"


def test_custom_pattern_with_a_value_group_replaces_only_the_value():
    scrubber = Scrubber(patterns={"badge": r"badge (?P<value>\d{5})"})
    assert scrubber.scrub_text("my badge 12345, thanks") == "my badge <BADGE_1>, thanks"


def test_a_built_in_name_replaces_that_detectors_pattern():
    scrubber = Scrubber(patterns={"order": r"\bLK-\d{4,}\b"})
    assert scrubber.scrub_text("LK-1234 and order #A-77120") == "<ORDER_1> and order #A-77120"


def test_the_schema_lists_exactly_the_built_in_detectors():
    listed = schemas.load("stages/mine")["properties"]["pii"]["properties"]["disable"]["items"]["enum"]
    assert listed == DETECTOR_NAMES
