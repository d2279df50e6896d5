"""ccanalytics.ui.parts: a snapshot's sections and rows, whatever the snapshot holds."""

from __future__ import annotations

import pytest

from ccanalytics.ui.parts import records, section


@pytest.mark.parametrize("value", [None, 3, "text", [1, 2], ("a",), float("nan")])
def test_a_section_that_is_not_an_object_reads_as_empty(value: object) -> None:
    assert section({"buyer": value}, "buyer") == {}


def test_a_section_that_is_an_object_is_itself() -> None:
    part = {"calls_24h": 3}
    assert section({"buyer": part}, "buyer") is part and section({}, "buyer") == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([{"a": 1}, None, 2, "x", [], {"b": 2}], [{"a": 1}, {"b": 2}]),
        (({"a": 1},), [{"a": 1}]),
        ({"a": 1}, []),  # an object is not a list of rows
        ("rows", []),
        (None, []),
        ([], []),
    ],
)
def test_records_keep_only_the_objects_of_a_list(value: object, expected: list[object]) -> None:
    assert records(value) == expected
