"""Fault switch values are checked and normalised the same way from Python, JSON and the command line."""

from __future__ import annotations

import pytest

from dli_admin.simulator.faults import FAULTS, FaultBoard, normalise, normalise_ops


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("latency", "0.25", 0.25),
        ("latency", 0, 0.0),
        ("fail_ids", [3, 1], frozenset({1, 3})),
        ("fail_ids", "12, 232", frozenset({12, 232})),
        ("single_reply", "true", True),
        ("single_reply", False, False),
        ("reply_count", "2", 2),
        ("single_object", "1", True),
        ("doc_invalid_json", True, True),
        ("empty_body", "off", False),
        ("bool_style", "capital", "capital"),
        ("throttle", "1", 1.0),
        ("server_error", "503", 503),
        ("server_error_after", 502, 502),
        ("slow_reply", 2, 2.0),
        ("drop_after", "yes", True),
        ("auth_fail", True, True),
    ],
)
def test_it_normalises_values(name, given, expected):
    assert normalise(name, given) == expected


def test_every_fault_is_covered():
    assert set(FAULTS) == {
        "latency",
        "fail_ids",
        "single_reply",
        "reply_count",
        "single_object",
        "doc_invalid_json",
        "empty_body",
        "bool_style",
        "throttle",
        "server_error",
        "server_error_after",
        "slow_reply",
        "drop_after",
        "auth_fail",
    }


@pytest.mark.parametrize(
    ("name", "given"),
    [("latency", "nan"), ("throttle", -1), ("server_error", 200), ("fail_ids", True), ("nope", 1)],
)
def test_it_refuses_bad_values(name, given):
    with pytest.raises(ValueError):
        normalise(name, given)


def test_ops_are_checked():
    assert normalise_ops(None) is None
    assert normalise_ops("list") == frozenset({"list"})
    assert normalise_ops(["batch_delete", "delete"]) == frozenset({"batch_delete", "delete"})
    with pytest.raises(ValueError, match="bogus"):
        normalise_ops({"bogus"})


def test_a_counted_fault_is_spent_then_gone():
    board = FaultBoard()
    board.set("p", "throttle", 1, ops={"batch_delete"}, count=2)

    assert board.take("p", "list", "throttle") is None
    assert board.take("q", "batch_delete", "throttle") is None
    assert board.take("p", "batch_delete", "throttle") == 1.0
    assert board.all()[0].remaining == 1
    assert board.take("p", "batch_delete", "throttle") == 1.0
    assert board.take("p", "batch_delete", "throttle") is None
    assert board.all() == []


def test_a_project_fault_wins_over_an_every_project_fault():
    board = FaultBoard()
    board.set(None, "server_error", 503)
    board.set("p", "server_error", 500, ops={"list"})

    assert board.take("p", "list", "server_error") == 500
    assert board.take("p", "show", "server_error") == 503
    assert board.take("q", "list", "server_error") == 503


def test_faults_describe_themselves_as_json():
    board = FaultBoard()
    fault = board.set("p", "fail_ids", [5, 4], ops=["delete"], count=3)

    assert fault.as_json() == {
        "project_id": "p",
        "name": "fail_ids",
        "value": [4, 5],
        "ops": ["delete"],
        "count": 3,
    }
