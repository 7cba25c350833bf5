"""selectors.raw_rows, which the export and audit_verify read every row through: all rows in order over
many fetches, the cursor closed when the reader stops early, a database error raised as Django's."""

from __future__ import annotations

import threading
from contextlib import closing

import pytest
from django.db import DataError, connection, transaction

from dli_admin.audit.selectors import raw_rows

pytestmark = pytest.mark.django_db

NUMBERS = (
    "WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < %s) "
    "SELECT i, i * i FROM numbers ORDER BY i"
)


def open_cursors() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("chunk_size", [1, 3, 10, 11, 1000])
def test_every_row_in_order_over_many_fetches(chunk_size):
    with transaction.atomic():
        rows = list(raw_rows(NUMBERS, [10], chunk_size))

    assert rows == [(i, i * i) for i in range(1, 11)]


def test_a_reader_that_stops_early_closes_the_cursor_and_leaves_the_connection_usable():
    with transaction.atomic():
        rows = raw_rows(NUMBERS, [100], 7)
        with closing(rows):
            first = [next(rows) for _ in range(9)]  # into the second chunk, the third one asked for
        assert first == [(i, i * i) for i in range(1, 10)]
        if connection.vendor == "postgresql":
            assert open_cursors() == 0
        assert list(raw_rows(NUMBERS, [2], 7)) == [(1, 1), (2, 4)]
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("dli-admin-fetch")]


def test_an_error_in_a_later_fetch_is_raised_as_djangos_and_closes_the_cursor():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite divides by zero into NULL")
    failing = NUMBERS.replace("i * i", "1 / (50 - i)")

    with pytest.raises(DataError, match="division by zero"), transaction.atomic():
        # A server-side cursor makes rows as they are fetched: row 50 fails in a fetch after the first.
        for _ in raw_rows(failing, [100], 10):
            pass

    assert open_cursors() == 0
