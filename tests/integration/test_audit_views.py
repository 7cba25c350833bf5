"""The audit review pages: who may read what, filters, keyset pages, htmx fragments and the CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dli_admin.audit import services
from dli_admin.audit.export import EXPORT_COLUMNS
from dli_admin.audit.services import (
    AuditJobResult,
    audit_intent_record,
    audit_refusal_record,
    audit_results_record,
)
from dli_admin.projects.jobs import JobRef
from dli_admin.simulator.seed import DEMO_PROJECTS

pytestmark = pytest.mark.django_db
# The cast's two projects (project_a, project_b in tests/conftest.py).
A, B = DEMO_PROJECTS[0].id, DEMO_PROJECTS[1].id
NAMES = {A: DEMO_PROJECTS[0].name, B: DEMO_PROJECTS[1].name}
LIST = reverse("dli-audit-list")
EXPORT = reverse("dli-audit-export")


def intent(actor, project_id: str, *jobs: tuple[int, str, str], **extra) -> uuid.UUID:
    batch_id = uuid.uuid4()
    audit_intent_record(
        batch_id=batch_id,
        actor=actor,
        project_id=project_id,
        project_name=NAMES.get(project_id, ""),
        jobs=[JobRef(*job) for job in jobs],
        client_ip=extra.get("client_ip", "192.0.2.10"),
        user_agent=extra.get("user_agent", "Mozilla/5.0 (X11)"),
    )
    return batch_id


def results(batch_id, actor, project_id, *results_, source="delete"):
    audit_results_record(
        batch_id=batch_id, actor=actor, project_id=project_id, results=results_, source=source
    )


@pytest.fixture
def log(operator, owner_b, viewer):
    """Batch a (project A, olivia): 11 deleted, 12 failed. Batch b (project B, bob): 21 unknown, then
    reconciled deleted. A refusal in project A (victor) of ids 11 and -1."""
    a = intent(operator, A, (11, "etl-a", "job_finished"), (12, "=cmd|' /C calc'!A0", "job_failed"))
    results(
        a,
        operator,
        A,
        AuditJobResult(11, "etl-a", "deleted", dli_request_id="req-1", attempts=1, duration_ms=80),
        AuditJobResult(12, "=cmd|' /C calc'!A0", "failed", "+DLI refused", "DLI.0002", "req-2", 3, 900),
    )
    b = intent(owner_b, B, (21, "stream-b", "job_running"), client_ip="198.51.100.4", user_agent="curl/8")
    results(b, owner_b, B, AuditJobResult(21, "stream-b", "unknown", "DLI's answer was ambiguous"))
    results(b, None, B, AuditJobResult(21, "stream-b", "deleted", "confirmed gone"), source="reconcile")
    audit_refusal_record(
        actor=viewer,
        project_id=A,
        job_ids=["11", "-1"],
        reason="@role viewer may not delete jobs",
        client_ip="192.0.2.99",
        user_agent="Mozilla/5.0",
    )
    return SimpleNamespace(a=a, b=b)


def listed(response) -> list[str]:
    """The list's rows: a batch id, or "refusal"."""
    return [
        str(row.head.batch_id) if row.head.batch_id else "refusal" for row in response.context["page"].rows
    ]


def csv_rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


# --- Who may read what ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("auditor", 200),
        ("owner", 200),
        ("superuser", 200),
        ("operator", 403),
        ("viewer", 403),
        ("outsider", 403),
    ],
)
def test_only_auditors_owners_and_superusers_may_read_the_log(client, request, log, who, status):
    client.force_login(request.getfixturevalue(who))

    assert client.get(LIST).status_code == status
    assert client.get(EXPORT).status_code == status
    for name in ("dli-audit-batch", "dli-audit-batch-rows"):
        response = client.get(reverse(name, args=[log.a]), headers={"HX-Request": "true"})
        assert response.status_code == status


def test_anonymous_users_are_sent_to_log_in(client, log):
    response = client.get(LIST)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("who", ["auditor", "superuser"])
def test_auditors_and_superusers_see_every_project(client, request, log, who):
    client.force_login(request.getfixturevalue(who))

    assert listed(client.get(LIST)) == ["refusal", str(log.b), str(log.a)]
    assert client.get(reverse("dli-audit-batch", args=[log.b])).status_code == 200


def test_an_owner_sees_only_the_projects_they_own(client, owner, log):
    client.force_login(owner)  # owner of A, only a viewer of B

    assert listed(client.get(LIST)) == ["refusal", str(log.a)]
    assert listed(client.get(LIST, {"project": B})) == []
    assert client.get(reverse("dli-audit-batch", args=[log.b])).status_code == 404
    assert (
        client.get(reverse("dli-audit-batch-rows", args=[log.b]), headers={"HX-Request": "1"}).status_code
        == 404
    )
    assert {row["project id"] for row in csv_rows(client.get(EXPORT))} == {A}


def test_an_unknown_batch_is_not_found(client, auditor, log):
    client.force_login(auditor)

    assert client.get(reverse("dli-audit-batch", args=[uuid.uuid4()])).status_code == 404


def test_the_pages_only_answer_get(client, auditor):
    client.force_login(auditor)

    assert client.post(LIST).status_code == 405
    assert client.post(EXPORT).status_code == 405


# --- The list and its filters --------------------------------------------------------------------


def test_the_list_shows_when_who_project_and_outcome_counts(client, auditor, log):
    client.force_login(auditor)

    response = client.get(LIST)
    rows = {str(row.head.batch_id): row for row in response.context["page"].rows}
    page = response.content.decode()

    assert rows[str(log.a)].outcome_counts == [("deleted", 1), ("failed", 1)]
    assert rows[str(log.b)].outcome_counts == [("deleted", 1)]  # the reconcile result supersedes "unknown"
    assert rows[str(log.a)].job_count == 2
    assert "olivia" in page and NAMES[B] in page and "anonymous" not in page
    assert "@role viewer may not delete jobs" in page
    assert "11, -1" in page


def test_a_batch_whose_process_died_shows_jobs_without_result(client, operator, auditor):
    batch = intent(operator, A, (1, "a", "s"), (2, "b", "s"))
    results(batch, operator, A, AuditJobResult(1, "a", "deleted"))
    client.force_login(auditor)

    row = client.get(LIST).context["page"].rows[0]

    assert (row.outcome_counts, row.no_result) == ([("deleted", 1)], 1)
    assert "1 no result" in client.get(LIST).content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"actor": "olivia"}, ["a"]),
        ({"actor": "victor"}, ["refusal"]),
        ({"actor": "oliv"}, []),  # whole usernames only
        ({"project": B}, ["b"]),
        ({"project": A}, ["refusal", "a"]),
        ({"outcome": "failed"}, ["a"]),
        ({"outcome": "unknown"}, ["b"]),  # any result of the batch, superseded or not
        ({"outcome": "deleted"}, ["b", "a"]),
        ({"outcome": "skipped"}, []),
        ({"outcome": "refused"}, ["refusal"]),
        ({"job": "21"}, ["b"]),
        ({"job": "11"}, ["refusal", "a"]),  # the refusal posted 11 too
        ({"job": "1"}, []),  # ids match whole
        ({"job": "stream"}, ["b"]),  # names match in part
        ({"job": "ETL-A"}, ["a"]),
        ({"actor": "olivia", "outcome": "failed", "job": "12", "project": A}, ["a"]),
        ({"actor": "olivia", "project": B}, []),
    ],
)
def test_each_filter_narrows_the_list(client, auditor, log, query, expected):
    client.force_login(auditor)

    names = {str(log.a): "a", str(log.b): "b", "refusal": "refusal"}
    assert [names[row] for row in listed(client.get(LIST, query))] == expected


def test_a_job_name_matches_as_a_whole_text_not_by_its_longest_part(client, operator, auditor):
    # On PostgreSQL the index is asked for "145536" alone; the whole text must still match.
    names = ["flink-job-145536", "Flink-Job-1455367", "145536-flink-job", "flink-job-x145536", "etl-145536"]
    batches = {str(intent(operator, A, (i + 1, name, "s"))): name for i, name in enumerate(names)}
    client.force_login(auditor)

    def found(text):
        return sorted(batches[batch] for batch in listed(client.get(LIST, {"job": text})))

    assert found("flink-job-145536") == ["Flink-Job-1455367", "flink-job-145536"]
    assert found("JOB-145536") == ["Flink-Job-1455367", "flink-job-145536"]
    assert found("145536-f") == ["145536-flink-job"]
    assert found("b-x1") == ["flink-job-x145536"]  # no run of three letters or digits: the text as it is
    assert found("job-145536-") == []
    exported = csv_rows(client.get(EXPORT, {"job": "flink-job-145536"}))
    assert sorted(row["job name"] for row in exported) == ["Flink-Job-1455367", "flink-job-145536"]


def test_the_date_range_is_in_local_dates_both_inclusive(client, operator, auditor, settings, monkeypatch):
    settings.TIME_ZONE = "Europe/Berlin"
    batches = {}
    for name, when in [
        ("feb28", datetime(2026, 2, 28, 12, 0, tzinfo=UTC)),
        ("mar2-early", datetime(2026, 3, 1, 23, 30, tzinfo=UTC)),  # 00:30 on 2 March in Berlin
        ("mar2-late", datetime(2026, 3, 2, 22, 59, tzinfo=UTC)),  # 23:59 on 2 March in Berlin
        ("mar3", datetime(2026, 3, 2, 23, 0, tzinfo=UTC)),
    ]:
        monkeypatch.setattr(services, "timezone", SimpleNamespace(now=lambda when=when: when))
        batches[str(intent(operator, A, (1, name, "s")))] = name
    client.force_login(auditor)

    def names(query):
        return [batches[batch] for batch in listed(client.get(LIST, query))]

    assert names({"date_from": "2026-03-02", "date_to": "2026-03-02"}) == ["mar2-late", "mar2-early"]
    assert names({"date_from": "2026-03-01"}) == ["mar3", "mar2-late", "mar2-early"]
    assert names({"date_to": "2026-03-01"}) == ["feb28"]
    response = client.get(LIST, {"date_from": "2026-03-02"})
    assert "2026-03-02 00:30:00 CET" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-03-02", "date_to": "2026-03-01"},
        {"project": "not a project!"},
        {"date_from": "yesterday"},
    ],
)
def test_invalid_filters_are_shown_and_nothing_is_listed(client, auditor, log, query):
    client.force_login(auditor)

    response = client.get(LIST, query)

    assert response.status_code == 200
    assert response.context["page"] is None
    assert "fix them above" in response.content.decode()
    assert client.get(EXPORT, query).status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        {"job": "9223372036854775808"},  # one past the largest job id: a name, found nowhere
        {"job": "99999999999999999999999"},
        {"job": "١٢"},  # Arabic-Indic digits are not a job id
        {"before": "99999999999999999999999"},
        {"after": "-5"},
        {"job": "\x00", "actor": "\x00"},
    ],
)
def test_out_of_range_or_odd_input_never_breaks_the_pages(client, auditor, log, query):
    client.force_login(auditor)

    response = client.get(LIST, query)

    assert response.status_code == 200
    assert client.get(EXPORT, query).status_code in (200, 400)


def test_the_form_keeps_the_filters(client, auditor, log):
    client.force_login(auditor)

    page = client.get(LIST, {"actor": "olivia", "job": "etl"}).content.decode()

    assert 'value="olivia"' in page and 'value="etl"' in page
    assert f"{EXPORT}?actor=olivia&amp;job=etl" in page


# --- Keyset pages -------------------------------------------------------------------------------------


def test_pages_follow_a_cursor_and_stay_put_while_new_records_arrive(client, operator, auditor):
    batches = [str(intent(operator, A, (n, f"job-{n}", "s"))) for n in range(120)]
    newest_first = batches[::-1]
    client.force_login(auditor)

    first = client.get(LIST)
    assert listed(first) == newest_first[:50]
    assert first.context["page"].newer is None
    older = first.context["page"].older

    for n in range(5):  # written while the auditor reads page 1
        intent(operator, A, (1000 + n, "new", "s"))

    second = client.get(LIST, {"before": older})
    assert listed(second) == newest_first[50:100]
    third = client.get(LIST, {"before": second.context["page"].older})
    assert listed(third) == newest_first[100:]
    assert third.context["page"].older is None
    back = client.get(LIST, {"after": second.context["page"].newer})
    assert listed(back) == newest_first[:50]  # the page the auditor saw, not shifted by the new batches
    assert len(listed(client.get(LIST, {"after": back.context["page"].newer}))) == 5
    assert "Older →" in second.content.decode() and "← Newer" in second.content.decode()


def test_pages_use_neither_offset_nor_a_count_of_the_log(client, operator, auditor):
    for n in range(60):
        intent(operator, A, (n, "j", "s"))
    client.force_login(auditor)
    older = client.get(LIST).context["page"].older

    with CaptureQueriesContext(connection) as queries:
        client.get(LIST, {"before": older, "outcome": "deleted", "job": "j"})

    statements = [query["sql"].upper() for query in queries.captured_queries]
    assert not [sql for sql in statements if "OFFSET" in sql]
    assert not [sql for sql in statements if "COUNT(" in sql and '"AUDIT_AUDITRECORD"."SEQ" IN' not in sql]


def test_a_page_costs_the_same_few_queries_whatever_it_shows(client, operator, viewer, auditor):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST).status_code == 200
        return len(captured.captured_queries)

    client.force_login(auditor)
    intent(operator, A, (1, "j", "s"))
    queries()  # the first request of a session does more
    few = queries()
    for n in range(30):
        batch = intent(operator, A, (n, "j", "s"), (n + 100, "k", "s"))
        results(batch, operator, A, AuditJobResult(n, "j", "deleted"))
        audit_refusal_record(
            actor=viewer, project_id=A, job_ids=[str(n)], reason="viewer", client_ip="", user_agent=""
        )

    # Session, user, the user's audit roles (the navigation asks no more), the page with each row's job
    # count and repeats, its outcome counts, the projects for the filter.
    assert queries() == few <= 6


# --- htmx ---------------------------------------------------------------------------------------------


def test_htmx_gets_the_results_fragment_and_a_browser_the_page(client, auditor, log):
    client.force_login(auditor)

    page = client.get(LIST)
    fragment = client.get(LIST, {"project": A}, headers={"HX-Request": "true"})
    restore = client.get(LIST, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})

    assert "HX-Request" in page["Vary"] and "HX-Request" in fragment["Vary"]
    assert b"<html" in page.content and b"<html" in restore.content
    assert b"<html" not in fragment.content and b'id="audit-results"' not in fragment.content
    assert b"audit-list" in fragment.content


def test_a_batch_row_expands_to_its_jobs(client, auditor, log):
    client.force_login(auditor)
    rows_url = reverse("dli-audit-batch-rows", args=[log.a])

    assert f'hx-get="{rows_url}"' in client.get(LIST).content.decode()
    fragment = client.get(rows_url, headers={"HX-Request": "true"})

    assert fragment.status_code == 200 and b"<html" not in fragment.content
    assert "HX-Request" in fragment["Vary"]
    text = fragment.content.decode()
    assert "etl-a" in text and "job_failed" in text and "+DLI refused" in text and "DLI.0002" in text
    plain = client.get(rows_url)
    assert (plain.status_code, plain["Location"]) == (302, reverse("dli-audit-batch", args=[log.a]))


def test_the_batch_page_shows_the_intent_every_job_and_later_reconcile_results(client, auditor, log):
    client.force_login(auditor)

    response = client.get(reverse("dli-audit-batch", args=[log.b]))
    text = response.content.decode()

    assert "198.51.100.4" in text and "curl/8" in text and "bob" in text and NAMES[B] in text
    assert "stream-b" in text and "job_running" in text
    assert [(r.source, r.outcome) for r in response.context["batch"].results] == [
        ("delete", "unknown"),
        ("reconcile", "deleted"),
    ]
    assert "(reconciled)" in text


@pytest.mark.parametrize("name", ["dli-audit-list", "dli-audit-batch"])
def test_the_pages_carry_no_inline_script_or_style(client, auditor, log, name):
    client.force_login(auditor)
    url = reverse(name, args=[log.a]) if name == "dli-audit-batch" else LIST

    text = client.get(url).content.decode()

    assert " style=" not in text and "<style" not in text and " hx-on" not in text
    assert text.count("<script") == text.count('nonce="')


# --- CSV export ------------------------------------------------------------------------------------


def test_the_export_is_a_dated_streamed_attachment_with_one_row_per_job_record(client, auditor, log):
    client.force_login(auditor)

    response = client.get(EXPORT)

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="dli-audit-20')
    rows = csv_rows(response)
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert [(row["kind"], row["job id"], row["outcome"] or row["status at intent"]) for row in rows] == [
        ("intent", "11", "job_finished"),
        ("intent", "12", "job_failed"),
        ("result", "11", "deleted"),
        ("result", "12", "failed"),
        ("intent", "21", "job_running"),
        ("result", "21", "unknown"),
        ("result", "21", "deleted"),
        ("refusal", "11", "refused"),
        ("refusal", "'-1", "refused"),
    ]
    failed = rows[3]
    assert failed["batch id"] == str(log.a) and failed["actor"] == "olivia" and failed["project id"] == A
    assert (failed["error code"], failed["DLI request id"], failed["attempts"], failed["duration ms"]) == (
        "DLI.0002",
        "req-2",
        "3",
        "900",
    )
    assert rows[0]["client ip"] == "192.0.2.10" and rows[6]["source"] == "reconcile"
    assert datetime.fromisoformat(rows[0]["time"]).tzinfo is not None
    assert rows[0]["time"].endswith("Z") and len(rows[0]["time"]) == len("2026-01-02T03:04:05Z")


def test_the_export_defuses_spreadsheet_formulas(client, auditor, log):
    client.force_login(auditor)

    rows = csv_rows(client.get(EXPORT))

    assert rows[1]["job name"] == "'=cmd|' /C calc'!A0"
    assert rows[3]["message"] == "'+DLI refused"
    assert rows[7]["message"] == "'@role viewer may not delete jobs"
    assert rows[8]["job id"] == "'-1"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"outcome": "failed"}, [("result", "12")]),
        ({"outcome": "refused"}, [("refusal", "11"), ("refusal", "'-1")]),
        ({"job": "21"}, [("intent", "21"), ("result", "21"), ("result", "21")]),
        ({"job": "11"}, [("intent", "11"), ("result", "11"), ("refusal", "11")]),
        ({"job": "stream"}, [("intent", "21"), ("result", "21"), ("result", "21")]),
        ({"actor": "bob"}, [("intent", "21"), ("result", "21")]),  # the reconcile was by nobody
        ({"project": B, "outcome": "unknown"}, [("result", "21")]),
    ],
)
def test_the_export_follows_the_filters_row_by_row(client, auditor, log, query, expected):
    client.force_login(auditor)

    rows = csv_rows(client.get(EXPORT, query))

    assert [(row["kind"], row["job id"]) for row in rows] == expected


def test_a_flood_of_refused_posts_is_one_record_shown_with_its_count(viewer, auditor, project_a, simulator):
    from django.test import Client

    job = simulator.add_job(project_a.project_id, name="etl", status="job_finish")
    client = Client()
    client.force_login(viewer)  # a viewer may not delete: every post is refused
    before = services.AuditRecord.objects.count()
    for _ in range(100):
        response = client.post(reverse("dli-job-delete-review", args=[A]), {"job_ids": [str(job)]})
        assert response.status_code == 403

    written = services.AuditRecord.objects.filter(kind="refusal")
    assert services.AuditRecord.objects.count() - before == written.count() <= 3  # a minute may turn over
    reader = Client()
    reader.force_login(auditor)
    html = reader.get(LIST).content.decode()
    counts = [row.repeats + 1 for row in reader.get(LIST).context["page"].rows]
    assert sum(counts) == 100
    assert f"×{counts[0]}" in html
