# ruff: noqa: E501  (the template below is the list's loop as list.html had it, one line per cell)
"""The /audit/ entries built in Python (audit/rows.py) are the markup the template gave, value for value:
every kind of record, escaping, invisible characters, times in the reader's zone, the batch links."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from dli_admin.audit.models import AuditRecord
from dli_admin.audit.rows import audit_rows_html
from dli_admin.audit.selectors import BatchRow

TEMPLATE = Template(
    """{% load visible %}      {% for row in page.rows %}
        {% with head=row.head %}
        <tbody class="audit-entry audit-{{ head.kind }}">
          <tr>
            <td><time datetime="{{ head.created_at|date:'c' }}">{{ head.created_at|date:"DATETIME_FORMAT" }}</time></td>
            <td>{% if head.actor_username %}{{ head.actor_username }}{% elif head.kind == "access" %}command line{% else %}anonymous{% endif %}</td>
            <td>{{ head.project_name|default:head.project_id|default:"all projects" }}{% if head.project_name %} <span class="muted mono">{{ head.project_id|truncatechars:12 }}</span>{% endif %}</td>
            {% if head.kind == "intent" %}
              <td>{% if head.source == "restore" %}restore{% else %}delete{% endif %} {{ row.job_count }} job{{ row.job_count|pluralize }}</td>
              <td>
                {% for outcome, n in row.outcome_counts %}<span class="outcome outcome-{{ outcome }}">{{ n }} {{ outcome }}</span> {% endfor %}
                {% if row.no_result %}<span class="outcome outcome-none">{{ row.no_result }} no result</span>{% endif %}
              </td>
              <td>
                <a href="{% url 'dli-audit-batch' head.batch_id %}"
                   hx-get="{% url 'dli-audit-batch-rows' head.batch_id %}" hx-target="#jobs-{{ head.seq }}"
                   hx-swap="innerHTML" hx-push-url="false" aria-controls="jobs-{{ head.seq }}">Jobs</a>
              </td>
            {% elif head.kind == "access" %}
              <td>{{ head.reason|visible }}</td>
              <td><span class="outcome outcome-access">access change</span> <span class="muted">by {{ head.get_source_display }}{% if head.access_by %} ({{ head.access_by|visible }}){% endif %}</span></td>
              <td></td>
            {% elif head.kind == "cancel" %}
              <td>{{ head.reason|visible }}</td>
              <td><span class="outcome outcome-cancel">cancel</span></td>
              <td>{% if head.batch_id %}<a href="{% url 'dli-audit-batch' head.batch_id %}">Batch</a>{% endif %}</td>
            {% elif head.kind == "policy" %}
              <td>{{ head.reason|visible }}</td>
              <td><span class="outcome outcome-access">cleanup policy or webhook</span></td>
              <td></td>
            {% else %}
              <td>refused{% if head.refused_job_ids %}: {{ head.refused_job_ids|slice:":10"|join:", " }}{% if head.refused_job_ids|length > 10 %} … ({{ head.refused_job_ids|length }} ids){% endif %}{% endif %}</td>
              <td><span class="outcome outcome-refused">refused</span> {{ head.reason|visible }}{% if row.repeats %} <span class="refusal-repeats" title="repeated {{ row.repeats }} more times within a minute">×{{ row.repeats|add:1 }}</span>{% endif %}</td>
              <td></td>
            {% endif %}
          </tr>
          {% if head.kind == "intent" %}<tr class="audit-jobs"><td colspan="6" id="jobs-{{ head.seq }}"></td></tr>{% endif %}
        </tbody>
        {% endwith %}
      {% endfor %}
"""
)

WHEN = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)  # an hour before Berlin's clocks go forward
BATCH = uuid.UUID("12345678-1234-5678-1234-567812345678")
RLO = "\u202e"


def normalized(html: str) -> str:
    """Whitespace between tags and attributes as a browser reads it: not compared."""
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()


def by_template(rows: list[BatchRow]) -> str:
    return normalized(TEMPLATE.render(Context({"page": {"rows": rows}})))


def by_python(rows: list[BatchRow]) -> str:
    return normalized(audit_rows_html(rows))


def record(seq: int, kind: str, **values) -> AuditRecord:
    values.setdefault("created_at", WHEN)
    values.setdefault("project_id", "0123456789abcdef0123456789abcdef")
    return AuditRecord(seq=seq, kind=kind, **values)


ROWS = [
    BatchRow(
        head=record(9, "intent", batch_id=BATCH, actor_username="alice", project_name="prod <eu>"),
        job_count=12,
        counts={"unknown": 1, "deleted": 9, "failed": 1},
    ),
    BatchRow(head=record(8, "intent", batch_id=BATCH, source="restore", project_name="p"), job_count=1),
    BatchRow(
        head=record(7, "intent", batch_id=BATCH, project_id="short", project_name="p"),
        job_count=2,
        counts={"restored": 2},
    ),
    BatchRow(
        head=record(
            6,
            "access",
            source="command",
            reason=f"granted <b>operator{RLO}</b>",
            message=json.dumps({"by": f"root{RLO}"}),
        )
    ),
    BatchRow(
        head=record(5, "access", source="sso", actor_username="bob", reason="granted", message="not json")
    ),
    BatchRow(head=record(4, "cancel", batch_id=BATCH, actor_username="carol", reason="stop & think")),
    BatchRow(head=record(3, "cancel", reason="")),
    BatchRow(head=record(2, "policy", project_id="", reason="policy 'nightly' changed")),
    BatchRow(
        head=record(
            1, "refusal", refused_job_ids=[str(i) for i in range(11)] + ["<x>"], reason=f"not yours{RLO}"
        ),
        repeats=3,
    ),
    BatchRow(head=record(10, "refusal", refused_job_ids=["1", "2"], reason="")),
    BatchRow(head=record(11, "refusal", refused_job_ids=[], reason="forged")),
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kolkata"])
def test_the_entries_are_the_markup_the_template_gave(zone):
    with timezone.override(zone):
        assert by_python(ROWS) == by_template(ROWS)


text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["intent", "access", "cancel", "policy", "refusal"]),
    source=st.sampled_from(["", "delete", "restore", "command", "admin", "sso"]),
    actor=text,
    project_id=text,
    project_name=text,
    reason=text,
    ids=st.lists(text, max_size=13),
    counts=st.dictionaries(
        st.sampled_from(["deleted", "failed", "unknown", "skipped", "restored"]), st.integers(0, 30)
    ),
    job_count=st.integers(0, 40),
    repeats=st.integers(0, 5),
    when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Chatham"]),
)
def test_any_record_is_shown_as_the_template_showed_it(
    kind, source, actor, project_id, project_name, reason, ids, counts, job_count, repeats, when, zone
):
    head = AuditRecord(
        seq=42,
        kind=kind,
        source=source,
        batch_id=BATCH,
        actor_username=actor,
        project_id=project_id,
        project_name=project_name,
        reason=reason,
        refused_job_ids=ids,
        message=json.dumps({"by": actor}),
        created_at=when,
    )
    rows = [BatchRow(head=head, job_count=job_count, counts=counts, repeats=repeats)]
    with timezone.override(zone):
        assert by_python(rows) == by_template(rows)
