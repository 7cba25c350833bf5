"""Fault switches: the ways a real DLI endpoint misbehaves, switchable per project, op and request count."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

OPS = frozenset(
    {"list", "show", "delete", "batch_delete", "batch_stop", "create_sql_job", "create_jar_job", "iam_token"}
)
BOOL_STYLES = ("string", "bool", "capital")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean, not {value!r}")


def _seconds(value: Any) -> float:
    if isinstance(value, bool):  # True would silently become 1.0 s
        raise ValueError(f"expected seconds, not {value!r}")
    seconds = float(value)
    if not seconds >= 0:  # also refuses NaN
        raise ValueError(f"expected seconds >= 0, not {value!r}")
    return seconds


def _count(value: Any) -> int:
    if isinstance(value, bool) or int(value) != float(value) or int(value) < 0:
        raise ValueError(f"expected a whole number >= 0, not {value!r}")
    return int(value)


def _job_ids(value: Any) -> frozenset[int]:
    if isinstance(value, str):  # "12,232" from the command line
        value = [part for part in value.split(",") if part.strip()]
    if isinstance(value, int | bool):
        raise ValueError(f"expected a list of job ids, not {value!r}")
    return frozenset(_count(item) for item in value)


def _bool_style(value: Any) -> str:
    if value not in BOOL_STYLES:
        raise ValueError(f"expected one of {', '.join(BOOL_STYLES)}, not {value!r}")
    return value


def _server_status(value: Any) -> int:
    status = _count(value)
    if not 500 <= status <= 599:
        raise ValueError(f"expected an HTTP 5xx status, not {value!r}")
    return status


def _positive_seconds(value: Any) -> float:
    seconds = _seconds(value)
    if seconds <= 0:
        raise ValueError(f"expected seconds > 0, not {value!r}")
    return seconds


# name -> how its value is checked and normalised (the same for Python, JSON and the command line).
FAULTS: dict[str, Callable[[Any], Any]] = {
    "latency": _seconds,
    "fail_ids": _job_ids,
    "single_reply": _bool,
    "reply_count": _count,
    "single_object": _bool,
    "doc_invalid_json": _bool,
    "empty_body": _bool,
    "bool_style": _bool_style,
    "throttle": _positive_seconds,
    "server_error": _server_status,
    "server_error_after": _server_status,
    "slow_reply": _seconds,
    "drop_after": _bool,
    "auth_fail": _bool,
}


def normalise(name: str, value: Any) -> Any:
    """The fault's value in canonical form; ValueError for an unknown name or a bad value."""
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
    try:
        return FAULTS[name](value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"fault {name}: {error}") from None


def normalise_ops(ops: Iterable[str] | str | None) -> frozenset[str] | None:
    if ops is None:
        return None
    ops = frozenset([ops] if isinstance(ops, str) else ops)
    if unknown := ops - OPS:
        raise ValueError(f"unknown op(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(OPS))}")
    return ops


@dataclass(frozen=True)
class Fault:
    """One switched-on fault. `remaining` None means until cleared; project_id None means every project."""

    project_id: str | None
    name: str
    value: Any
    ops: frozenset[str] | None
    remaining: int | None

    def matches(self, project_id: str | None, op: str | None) -> bool:
        return (self.project_id is None or self.project_id == project_id) and (
            self.ops is None or op in self.ops
        )

    def as_json(self) -> dict[str, Any]:
        value = sorted(self.value) if isinstance(self.value, frozenset) else self.value
        return {
            "project_id": self.project_id,
            "name": self.name,
            "value": value,
            "ops": sorted(self.ops) if self.ops is not None else None,
            "count": self.remaining,
        }


class FaultBoard:
    """The faults in force. Not thread-safe by itself: the simulator calls it under its state lock."""

    def __init__(self) -> None:
        self._faults: dict[tuple[str | None, str], Fault] = {}

    def set(
        self,
        project_id: str | None,
        name: str,
        value: Any = True,
        *,
        ops: Iterable[str] | str | None = None,
        count: int | None = None,
    ) -> Fault:
        fault = Fault(
            project_id=project_id,
            name=name,
            value=normalise(name, value),
            ops=normalise_ops(ops),
            remaining=None if count is None else _count(count),
        )
        self._faults[(project_id, name)] = fault
        return fault

    def clear(self, project_id: str | None = None) -> None:
        if project_id is None:
            self._faults.clear()
        else:
            self._faults = {key: f for key, f in self._faults.items() if f.project_id != project_id}

    def all(self) -> list[Fault]:
        return list(self._faults.values())

    def take(self, project_id: str | None, op: str | None, name: str) -> Any | None:
        """The value of fault `name` for this request, using up one of its count; None when not in force.

        Called at the moment the fault would take effect, so a counted fault is spent only on requests
        it really changed (a throttle of count=2 refuses exactly two requests).
        """
        for key in ((project_id, name), (None, name)):  # a project's own fault wins over an every-project one
            fault = self._faults.get(key)
            if fault is None or not fault.matches(project_id, op) or fault.remaining == 0:
                continue
            if fault.remaining is not None:
                if fault.remaining == 1:
                    del self._faults[key]
                else:
                    self._faults[key] = Fault(
                        fault.project_id, fault.name, fault.value, fault.ops, fault.remaining - 1
                    )
            return fault.value
        return None
