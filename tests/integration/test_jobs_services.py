"""The batch delete service against the simulator: validation, roles, chunking, settling, overlaps.

A confirmed batch is run here by calling the worker's runner directly (test_batch_worker.py runs real
worker processes)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from dli_admin.audit.models import AuditRecord
from dli_admin.audit.selectors import audit_unsettled_jobs
from dli_admin.deletes import runner, services
from dli_admin.deletes.models import DeleteBatch, DeleteBatchJob, JobState
from dli_admin.deletes.services import Requester, SelectionError

pytestmark = pytest.mark.django_db(transaction=True)  # the worker's lease keeper uses its own connection


def add_jobs(simulator, project, count, status="job_cancel_success", prefix="cleanup"):
    return [simulator.add_job(project.project_id, name=f"{prefix}-{n}", status=status) for n in range(count)]


def plan(user, project, ids, **kwargs):
    return services.flink_jobs_delete_plan(
        requester=Requester(user=user, client_ip="127.0.0.1"),
        project=project,
        job_ids=[str(i) for i in ids],
        **kwargs,
    )


@dataclass
class Ran:
    batch: DeleteBatch
    results: list[DeleteBatchJob]


def delete(user, project, token, confirm_name=""):
    """Confirm, then run the batch as a worker would; its jobs in their confirmed order."""
    batch = services.flink_jobs_delete(
        requester=Requester(user=user, client_ip="127.0.0.1"),
        project=project,
        token=token,
        confirm_name=confirm_name,
    )
    runner.batch_run(batch.pk)
    return Ran(batch, list(DeleteBatchJob.objects.filter(batch=batch).order_by("position")))


def outcomes(result):
    return {r.job_id: r.outcome for r in result.results}


class TestParseJobIds:
    @pytest.mark.parametrize(
        "values",
        [
            [],
            ["abc"],
            ["-5"],
            ["1.5"],
            [" 7"],
            ["\u0661\u0662"],
            [str(2**63)],
            ["9" * 20],
            ["0x10"],
            ["7", "7"],
        ],
    )
    def test_it_refuses_bad_ids(self, values):
        with pytest.raises(SelectionError):
            services.parse_job_ids(values)

    def test_it_refuses_more_than_the_ceiling(self, settings):
        settings.DLI_MAX_BATCH = 3
        with pytest.raises(SelectionError, match="at most 3"):
            services.parse_job_ids(["1", "2", "3", "4"])

    def test_it_accepts_the_largest_java_long(self):
        assert services.parse_job_ids([str(2**63 - 1), "0"]) == [2**63 - 1, 0]


class TestPlan:
    def test_it_lists_what_an_operator_may_delete_and_excludes_active_jobs(
        self, simulator, project_a, operator
    ):
        stopped = add_jobs(simulator, project_a, 2)
        running = add_jobs(simulator, project_a, 1, status="job_running")
        result = plan(operator, project_a, stopped + running)
        assert [j.job_id for j in result.eligible] == stopped
        assert [(j.job_id, j.excluded_because) for j in result.excluded] == [
            (running[0], "needs owner: the job is active")
        ]
        assert result.needs_name is False
        assert simulator.requests(op="batch_delete") == []

    def test_an_owner_may_delete_active_jobs_but_must_type_the_name(self, simulator, project_a, owner):
        running = add_jobs(simulator, project_a, 1, status="job_running")
        result = plan(owner, project_a, running)
        assert [j.job_id for j in result.eligible] == running
        assert result.needs_name is True

    def test_a_large_batch_needs_the_name(self, simulator, project_a, operator, settings):
        settings.DLI_CONFIRM_NAME_THRESHOLD = 2
        assert plan(operator, project_a, add_jobs(simulator, project_a, 3)).needs_name

    def test_it_refuses_a_viewer_and_audits_the_refusal(self, simulator, project_a, viewer):
        ids = add_jobs(simulator, project_a, 1)
        with pytest.raises(PermissionDenied):
            plan(viewer, project_a, ids)
        assert simulator.requests() == []
        (refusal,) = AuditRecord.objects.filter(kind="refusal")
        assert refusal.actor_username == viewer.username and refusal.refused_job_ids == [str(ids[0])]
        assert "may not delete" in refusal.reason

    def test_it_refuses_the_whole_batch_when_an_id_belongs_to_another_project(
        self, simulator, project_a, project_b, operator
    ):
        mine = add_jobs(simulator, project_a, 2)
        theirs = add_jobs(simulator, project_b, 1)
        with pytest.raises(SelectionError, match="not jobs of"):
            plan(operator, project_a, mine + theirs)
        assert simulator.requests(op="batch_delete") == []

    def test_select_across_expands_the_filter_up_to_the_ceiling(
        self, simulator, project_a, operator, settings
    ):
        ids = add_jobs(simulator, project_a, 5, prefix="zz-unique-sweep")
        filters = services.JobFilters(name="zz-unique-sweep")
        result = plan(operator, project_a, [], select_across=filters)
        assert sorted(j.job_id for j in result.jobs) == sorted(ids)
        settings.DLI_MAX_BATCH = 4
        with pytest.raises(SelectionError, match="5 jobs match; at most 4"):
            plan(operator, project_a, [], select_across=filters)


class TestDelete:
    def test_it_deletes_and_confirms_each_job_by_reading_it_back(self, simulator, project_a, operator):
        ids = add_jobs(simulator, project_a, 3)
        result = delete(operator, project_a, plan(operator, project_a, ids).token)
        assert outcomes(result) == dict.fromkeys(ids, "deleted")
        assert all(simulator.job(project_a.project_id, i) is None for i in ids)
        assert len(simulator.requests(op="batch_delete")) == 1
        assert not DeleteBatchJob.objects.exclude(state=JobState.SETTLED).exists()

    def test_it_sends_chunks_of_the_batch_size(self, simulator, project_a, operator, settings):
        settings.DLI_BATCH_SIZE = 2
        ids = add_jobs(simulator, project_a, 5)
        token = plan(operator, project_a, ids).token
        result = delete(operator, project_a, token, confirm_name="")
        assert outcomes(result) == dict.fromkeys(ids, "deleted")
        # The chunks go out a few at a time, so they may reach DLI in any order.
        assert sorted(len(r.job_ids) for r in simulator.requests(op="batch_delete")) == [1, 2, 2]

    def test_it_reports_a_job_dli_refused_as_failed_with_dlis_message(self, simulator, project_a, operator):
        ids = add_jobs(simulator, project_a, 3)
        simulator.set_fault(project_a.project_id, "fail_ids", [ids[1]])
        result = delete(operator, project_a, plan(operator, project_a, ids).token)
        assert outcomes(result) == {ids[0]: "deleted", ids[1]: "failed", ids[2]: "deleted"}
        failed = next(r for r in result.results if r.outcome == "failed")
        assert "locked" in failed.message

    def test_a_failure_message_never_reads_as_success(self, simulator, project_a, operator, monkeypatch):
        """Whatever text DLI puts in a failed element, a job that is still there is "failed"."""
        from dataclasses import replace

        from dli_admin.dli import client as dli_client

        parse = dli_client.parse_batch_reply

        def says_ok(body, count):  # DLI's element text, not its is_success, is what changes here
            shape, replies = parse(body, count)
            return shape, tuple(replace(reply, message="ok") for reply in replies)

        ids = add_jobs(simulator, project_a, 1)
        simulator.set_fault(project_a.project_id, "fail_ids", ids)
        monkeypatch.setattr(dli_client, "parse_batch_reply", says_ok)
        result = delete(operator, project_a, plan(operator, project_a, ids).token)
        assert outcomes(result) == {ids[0]: "failed"}
        assert result.results[0].message == "ok"

    @pytest.mark.parametrize(
        "fault",
        [
            ("single_reply", True),
            ("reply_count", 1),
            ("single_object", True),
            ("doc_invalid_json", True),
            ("empty_body", True),
            ("bool_style", "capital"),
        ],
    )
    def test_every_reply_shape_is_settled_by_read_back(self, simulator, project_a, operator, fault):
        ids = add_jobs(simulator, project_a, 3)
        simulator.set_fault(project_a.project_id, fault[0], fault[1], ops={"batch_delete"})
        result = delete(operator, project_a, plan(operator, project_a, ids).token)
        assert outcomes(result) == dict.fromkeys(ids, "deleted")

    def test_a_timeout_after_the_delete_is_settled_as_deleted_and_never_resent(
        self, simulator, project_a, operator, settings
    ):
        settings.DLI_TIMEOUT = 1.5
        ids = add_jobs(simulator, project_a, 2)
        token = plan(operator, project_a, ids).token
        simulator.set_fault(project_a.project_id, "slow_reply", 3.0, ops={"batch_delete"})
        result = delete(operator, project_a, token)
        assert outcomes(result) == dict.fromkeys(ids, "deleted")
        assert len(simulator.requests(op="batch_delete")) == 1

    def test_an_ambiguous_failure_with_the_job_still_there_is_unknown(self, simulator, project_a, operator):
        ids = add_jobs(simulator, project_a, 1)
        token = plan(operator, project_a, ids).token
        simulator.set_fault(project_a.project_id, "server_error", 500, ops={"batch_delete"})
        result = delete(operator, project_a, token)
        assert outcomes(result) == {ids[0]: "unknown"}
        assert [u.job_id for u in audit_unsettled_jobs(project_id=project_a.project_id)] == ids
        # "Check again" settles it: the job is still there, so it was not deleted.
        settled = services.flink_jobs_reconcile(project_id=project_a.project_id, job_ids=ids, actor=operator)
        assert [(r.job_id, r.outcome) for r in settled] == [(ids[0], "failed")]
        assert audit_unsettled_jobs(project_id=project_a.project_id) == []

    def test_a_replayed_confirmation_sends_nothing(self, simulator, project_a, operator):
        ids = add_jobs(simulator, project_a, 2)
        token = plan(operator, project_a, ids).token
        delete(operator, project_a, token)
        simulator.clear_requests()
        again = delete(operator, project_a, token)
        assert outcomes(again) == dict.fromkeys(ids, "skipped")
        assert simulator.requests(op="batch_delete") == []

    def test_a_job_that_changed_since_confirmation_is_skipped(self, simulator, project_a, operator):
        ids = add_jobs(simulator, project_a, 2)
        token = plan(operator, project_a, ids).token
        simulator.set_job_status(project_a.project_id, ids[0], "job_running")
        result = delete(operator, project_a, token)
        assert outcomes(result) == {ids[0]: "skipped", ids[1]: "deleted"}
        assert "changed since you confirmed" in result.results[0].message
        assert simulator.job(project_a.project_id, ids[0]) is not None

    def test_a_forged_confirmation_is_refused(self, simulator, project_a, operator):
        with pytest.raises(SelectionError, match="not valid"):
            delete(operator, project_a, "forged:token")
        assert simulator.requests() == []

    def test_a_confirmation_for_another_user_is_refused(self, simulator, project_a, operator, owner):
        token = plan(owner, project_a, add_jobs(simulator, project_a, 1)).token
        with pytest.raises(SelectionError, match="another project or user"):
            delete(operator, project_a, token)
        assert simulator.requests(op="batch_delete") == []

    def test_the_project_name_must_be_typed_for_active_jobs(self, simulator, project_a, owner):
        ids = add_jobs(simulator, project_a, 1, status="job_running")
        token = plan(owner, project_a, ids).token
        with pytest.raises(services.NameMismatch):
            delete(owner, project_a, token, confirm_name="wrong")
        assert simulator.requests(op="batch_delete") == []
        result = delete(owner, project_a, token, confirm_name=project_a.name)
        assert outcomes(result) == {ids[0]: "deleted"}

    def test_throttling_is_retried_and_reported_only_when_retries_run_out(
        self, simulator, project_a, operator
    ):
        ids = add_jobs(simulator, project_a, 1)
        token = plan(operator, project_a, ids).token
        simulator.set_fault(project_a.project_id, "throttle", 1, ops={"batch_delete"}, count=1)
        assert outcomes(delete(operator, project_a, token)) == {ids[0]: "deleted"}
        assert len(simulator.requests(op="batch_delete")) == 2

    def test_bad_credentials_fail_every_job_and_say_to_fix_the_configuration(
        self, simulator, project_a, operator
    ):
        ids = add_jobs(simulator, project_a, 2)
        token = plan(operator, project_a, ids).token
        simulator.set_fault(project_a.project_id, "auth_fail", True, ops={"batch_delete"})
        result = delete(operator, project_a, token)
        assert outcomes(result) == dict.fromkeys(ids, "failed")
        assert "credentials" in result.results[0].message
        assert len(simulator.requests(op="batch_delete")) == 1


def test_two_overlapping_batches_never_both_delete_a_job(simulator, project_a, operator, owner):
    """A job is in at most one live batch; the second batch skips what the first holds."""
    ids = add_jobs(simulator, project_a, 6)
    token_1 = plan(operator, project_a, ids[:4]).token
    token_2 = plan(owner, project_a, ids[2:]).token
    simulator.set_fault(project_a.project_id, "latency", 0.4, ops={"batch_delete"})
    results, errors = {}, []

    def run(name, user, token):
        try:
            results[name] = delete(user, project_a, token)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("one", operator, token_1)),
        threading.Thread(target=run, args=("two", owner, token_2)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sent = [job_id for request in simulator.requests(op="batch_delete") for job_id in request.job_ids]
    assert sorted(sent) == sorted(ids), "every job was sent exactly once"
    overlap = ids[2:4]
    fates = [outcomes(results["one"])[i] for i in overlap] + [outcomes(results["two"])[i] for i in overlap]
    assert sorted(fates) == ["deleted", "deleted", "skipped", "skipped"]
    assert all(simulator.job(project_a.project_id, i) is None for i in ids)
