"""The scrubber's word lists are built once a machine and read back after."""

from __future__ import annotations

import os

import pytest

from dataprep import lexicons, pii


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def counting(words: frozenset[str]):
    calls = []

    def build() -> frozenset[str]:
        calls.append(1)
        return words

    return build, calls


def test_a_list_is_built_once_then_read_from_the_cache_folder(cache_home):
    build, calls = counting(frozenset({"Ana", "Bruno"}))
    assert lexicons.kept("names", build) == {"Ana", "Bruno"}
    assert lexicons.kept("names", build) == {"Ana", "Bruno"}
    assert len(calls) == 1
    assert [path.name.split("-")[0] for path in (cache_home / "dataprep" / "lexicons").iterdir()] == ["names"]


def test_a_damaged_file_is_built_again(cache_home):
    build, calls = counting(frozenset({"Ana"}))
    lexicons.kept("names", build)
    (path,) = (cache_home / "dataprep" / "lexicons").iterdir()
    path.write_bytes(b'["Ana", ')  # cut off mid-write by a full disk
    assert lexicons.kept("names", build) == {"Ana"} and len(calls) == 2
    assert lexicons.kept("names", build) == {"Ana"} and len(calls) == 2


def test_a_folder_that_cannot_be_written_only_costs_the_build(cache_home):
    (cache_home / "dataprep").write_text("a file where the folder would go")
    build, calls = counting(frozenset({"Ana"}))
    assert lexicons.kept("names", build) == {"Ana"} and lexicons.kept("names", build) == {"Ana"}
    assert len(calls) == 2


def test_a_list_as_large_as_the_scrubbers_is_read_back_whole(cache_home):
    fresh = pii.faker_names("last")
    assert lexicons.kept("last-names", lambda: frozenset(fresh)) == fresh  # written
    assert lexicons.kept("last-names", lambda: frozenset()) == fresh  # read back, not built
    assert os.listdir(cache_home / "dataprep" / "lexicons")[0].endswith(f"-{lexicons.fingerprint()}.json")
