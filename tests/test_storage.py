"""Readers of the published warehouse get one whole publish, on real DuckDB files.

DuckDB opens a database file by name several times while connecting, so a publish (a rename
over warehouse.duckdb) landing in between makes a plain connection read the headers of one
file with the blocks of the other. The openers below rename at that moment on purpose.
"""

import os
from pathlib import Path

import duckdb
import pytest

from pipelines.storage import OPEN_PUBLISHED_ATTEMPTS, RefreshError, open_published


def write_publish(path: Path, version: int) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("create table publish as select ? as version", [version])
    finally:
        con.close()
    return path


def version_of(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select version from publish").fetchone()[0]


class PublishingWhileConnecting:
    """Opens read-only, but on the first ``publishes`` calls a new publish lands first."""

    def __init__(self, folder: Path, publishes: int, fail_with: str | None = None):
        self.folder, self.publishes, self.fail_with = folder, publishes, fail_with
        self.calls = 0

    def __call__(self, path: Path) -> duckdb.DuckDBPyConnection:
        self.calls += 1
        if self.calls <= self.publishes:
            landing = write_publish(self.folder / f"next-{self.calls}.duckdb", self.calls + 1)
            os.replace(landing, path)
            if self.fail_with:
                raise duckdb.IOException(self.fail_with)
        return duckdb.connect(str(path), read_only=True)


@pytest.fixture
def published(tmp_path) -> Path:
    return write_publish(tmp_path / "warehouse.duckdb", 1)


@pytest.mark.parametrize(
    "connect_error", [None, "No more data remaining in MetadataReader"], ids=["opened", "failed"]
)
def test_a_connection_that_straddles_a_publish_is_opened_again_on_the_new_one(
    published, connect_error
):
    opener = PublishingWhileConnecting(published.parent, publishes=1, fail_with=connect_error)
    con = open_published(published, opener)
    try:
        assert version_of(con) == 2
    finally:
        con.close()
    assert opener.calls == 2


def test_a_connect_error_without_a_publish_is_raised_at_once(tmp_path):
    not_a_database = tmp_path / "warehouse.duckdb"
    not_a_database.write_text("order_id,line_no\n")
    opener = PublishingWhileConnecting(tmp_path, publishes=0)
    with pytest.raises(duckdb.Error):
        open_published(not_a_database, opener)
    assert opener.calls == 1


def test_a_file_replaced_at_every_attempt_ends_in_an_error_naming_it(published):
    opener = PublishingWhileConnecting(published.parent, publishes=OPEN_PUBLISHED_ATTEMPTS)
    with pytest.raises(RefreshError, match=f"{published} was replaced 5 times"):
        open_published(published, opener)
    assert opener.calls == OPEN_PUBLISHED_ATTEMPTS


def test_a_plain_read_only_connection_is_the_default(published):
    con = open_published(published)
    try:
        assert version_of(con) == 1
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("create table written (n int)")
    finally:
        con.close()
