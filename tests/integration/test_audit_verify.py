"""audit_verify finds any single record or intent job line changed, removed or inserted behind the app.

The tampering is raw SQL, as someone with database access would do it; on PostgreSQL they would first
have to disable the append-only triggers, which the table owner can.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from dli_admin.audit.chain import PLAIN, RECORD_FIELDS, SNAPSHOT, record_hash
from dli_admin.audit.models import AuditRecord
from dli_admin.audit.services import (
    AuditJobResult,
    audit_intent_record,
    audit_refusal_record,
    audit_results_record,
)
from dli_admin.projects.jobs import JobRef

pytestmark = pytest.mark.django_db
PROJECT = "a" * 32
RECORDS = "audit_auditrecord"
LINES = "audit_auditintentjob"


@pytest.fixture(autouse=True)
def checkpoints(settings, tmp_path) -> Path:
    """This test's own checkpoint file."""
    path = tmp_path / "audit-checkpoints.jsonl"
    settings.DLI_ADMIN_AUDIT_CHECKPOINTS = str(path)
    return path


@pytest.fixture
def chain(django_capture_on_commit_callbacks):
    """8 records: 1 intent (3 jobs), 2-4 results, 5 refusal, 6 intent (2 jobs), 7-8 results; a signed
    checkpoint after each of the 6 writes (the test's transaction never commits: run what would)."""
    with django_capture_on_commit_callbacks(execute=True):
        write_chain()
    if connection.vendor == "postgresql":
        # What someone covering their tracks must do first; undone when the test's transaction rolls back.
        sql(f"ALTER TABLE {RECORDS} DISABLE TRIGGER USER")
        sql(f"ALTER TABLE {LINES} DISABLE TRIGGER USER")
    return head()


def write_chain() -> None:
    for job_ids in ((11, 12, 13), None, (21, 22)):
        if job_ids is None:
            audit_refusal_record(
                actor=None, project_id=PROJECT, job_ids=["x"], reason="bad", client_ip="", user_agent=""
            )
            continue
        batch_id = uuid.uuid4()
        audit_intent_record(
            batch_id=batch_id,
            actor=None,
            project_id=PROJECT,
            project_name="A",
            jobs=[JobRef(job_id, f"job-{job_id}", "job_finished") for job_id in job_ids],
            client_ip="192.0.2.1",
            user_agent="UA",
        )
        audit_results_record(
            batch_id=batch_id,
            actor=None,
            project_id=PROJECT,
            results=[AuditJobResult(job_id, f"job-{job_id}", "deleted") for job_id in job_ids],
        )


def sql(statement: str, params=(), *, check_now: bool = True) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER refuses to run with foreign key checks pending; renumbering needs them deferred.
            cursor.execute(f"SET CONSTRAINTS ALL {'IMMEDIATE' if check_now else 'DEFERRED'}")
        cursor.execute(statement, params)


def head() -> str:
    return AuditRecord.objects.order_by("-seq").values_list("hash", flat=True).first()


def db_value(field: str, value):
    return AuditRecord._meta.get_field(field).get_db_prep_value(value, connection)


def verify(*args: str) -> str:
    out = StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def insert(**values) -> None:
    """A record written with raw SQL, every column given."""
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    sql(f"INSERT INTO {RECORDS} ({columns}) VALUES ({marks})", [db_value(k, v) for k, v in values.items()])


def key() -> bytes:
    return settings.DLI_ADMIN_AUDIT_KEY.encode()


def rehash(seq: int, prev_hash: str, *, version: int = SNAPSHOT, with_key: bool = True) -> str:
    """Recompute a record's hash the way the application does, as a well-informed attacker would: one
    who holds the audit key (with_key), or one who does not and hashes as version 1 did."""
    record = AuditRecord.objects.get(seq=seq)
    record.prev_hash = prev_hash
    jobs = list(record.jobs.order_by("position").values_list("job_id", "name", "status"))
    if with_key:
        new_hash = record_hash(record.chain_values(), jobs, version=version, key=key())
    else:
        new_hash = record_hash(record.chain_values(), jobs)
    sql(
        f"UPDATE {RECORDS} SET prev_hash = %s, hash = %s, hash_version = %s WHERE seq = %s",
        [prev_hash, new_hash, version, seq],
    )
    return new_hash


def test_an_intact_chain_passes_and_prints_its_head(chain, checkpoints):
    out = verify()
    assert out.startswith(f"audit chain OK: 8 records (5 job lines), head 8 {chain}\n")
    assert "checked against the checkpoint of record 8" in out
    assert len(checkpoints.read_text().splitlines()) == 5, "one checkpoint per write"
    assert oct(checkpoints.stat().st_mode & 0o777) == "0o600"
    assert verify("--head", chain).startswith("audit chain OK")


def test_an_empty_log_passes():
    assert verify().startswith("audit chain OK: 0 records")


TAMPERED = {
    "created_at": None,  # one microsecond later, below
    "kind": "withdrawn",
    "source": "reconcile",
    "batch_id": uuid.UUID(int=7),
    "actor_id": 999,
    "actor_username": "someone-else",
    "project_id": "b" * 32,
    "project_name": "B",
    "client_ip": "203.0.113.66",
    "user_agent": "curl/8",
    "reason": "why not",
    "refused_job_ids": ["12"],
    "job_id": 99,
    "job_name": "renamed",
    "outcome": "failed",
    "message": "it was fine",
    "error_code": "DLI.0001",
    "dli_request_id": "req-forged",
    "attempts": 7,
    "duration_ms": 12345,
    "prev_hash": "f" * 64,
    "snapshot_digest": "ab" * 32,
    "hash": "e" * 64,
}


def test_every_stored_field_is_tampered_with_below():
    assert set(TAMPERED) == {*RECORD_FIELDS, "hash"} - {"seq"}  # seq: see the removal/insertion tests


@pytest.mark.parametrize("field", TAMPERED)
@pytest.mark.parametrize("seq", [1, 3, 5, 8])
def test_a_changed_field_is_found(chain, field, seq):
    value = TAMPERED[field]
    if field == "created_at":
        value = AuditRecord.objects.get(seq=seq).created_at + timedelta(microseconds=1)
    sql(f"UPDATE {RECORDS} SET {field} = %s WHERE seq = %s", [db_value(field, value), seq])

    with pytest.raises(CommandError, match=rf"BROKEN at record {seq}: its content does not match its hash"):
        verify()


def test_a_changed_and_rehashed_record_is_found_at_the_next(chain):
    sql(f"UPDATE {RECORDS} SET outcome = 'failed' WHERE seq = 3")
    rehash(3, AuditRecord.objects.get(seq=2).hash)

    with pytest.raises(
        CommandError, match=r"BROKEN at record 4: its prev_hash does not match record 3's hash"
    ):
        verify()


def test_a_chain_rewritten_to_its_end_is_found_only_against_a_checkpoint_or_kept_head(
    chain, settings, tmp_path
):
    sql(f"UPDATE {RECORDS} SET outcome = 'failed' WHERE seq = 3")
    prev_hash = AuditRecord.objects.get(seq=2).hash
    for seq in range(3, 9):
        prev_hash = rehash(seq, prev_hash)

    # Consistent, and made with the key: only a kept head or the checkpoint can tell.
    with pytest.raises(
        CommandError, match="BROKEN at record 8: its hash is not the one the checkpoint signed"
    ):
        verify()

    settings.DLI_ADMIN_AUDIT_CHECKPOINTS = str(tmp_path / "none.jsonl")  # without the checkpoint
    assert verify().startswith("audit chain OK")
    with pytest.raises(CommandError, match=rf"the expected head {chain} is not in the chain"):
        verify("--head", chain)


@pytest.mark.parametrize("seq", [1, 3, 5, 6, 7])
def test_a_removed_record_is_found(chain, seq):
    sql(f"DELETE FROM {LINES} WHERE record_id = %s", [seq])  # an intent's jobs go with it
    sql(f"DELETE FROM {RECORDS} WHERE seq = %s", [seq])

    with pytest.raises(
        CommandError, match=rf"BROKEN at record {seq}: missing \(the next record is {seq + 1}\)"
    ):
        verify()


def test_removing_the_last_records_is_found_against_the_checkpoint(chain):
    sql(f"DELETE FROM {RECORDS} WHERE seq >= 7")

    with pytest.raises(CommandError, match="BROKEN at record 7: missing: the checkpoint signed record 8"):
        verify()


def forged(seq: int, prev_hash: str, **changes) -> dict:
    record = AuditRecord.objects.filter(seq=2).values(*RECORD_FIELDS).get()
    record.update(seq=seq, prev_hash=prev_hash, job_id=99, hash_version=SNAPSHOT, **changes)
    record["hash"] = record_hash([record[name] for name in RECORD_FIELDS], version=SNAPSHOT, key=key())
    return record


def test_a_record_inserted_in_the_middle_is_found(chain):
    for seq in range(8, 3, -1):  # make room after record 3, one by one so the key never collides
        sql(f"UPDATE {RECORDS} SET seq = seq + 1 WHERE seq = %s", [seq], check_now=False)
    sql(f"UPDATE {LINES} SET record_id = record_id + 1 WHERE record_id > 3", check_now=False)
    insert(**forged(4, AuditRecord.objects.get(seq=3).hash))

    with pytest.raises(CommandError, match="BROKEN at record 5: its content does not match"):
        verify()


def test_a_record_inserted_before_the_first_is_found(chain):
    from dli_admin.audit.chain import GENESIS

    insert(**forged(0, GENESIS))

    with pytest.raises(CommandError, match=r"BROKEN at record 0: out of sequence \(expected 1\)"):
        verify()


def test_a_record_appended_with_a_wrong_hash_is_found(chain):
    record = forged(9, chain)
    record["hash"] = "0" * 64
    insert(**record)

    with pytest.raises(CommandError, match="BROKEN at record 9: its content does not match"):
        verify()


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (
            f"UPDATE {LINES} SET name = 'other' WHERE record_id = 1 AND position = 1",
            "its content does not match",
        ),
        (f"UPDATE {LINES} SET status = 'job_running' WHERE record_id = 6 AND position = 0", "its content"),
        (
            f"UPDATE {LINES} SET job_id = 4711 WHERE record_id = 1 AND position = 2",
            "its content does not match",
        ),
        (
            f"UPDATE {LINES} SET project_id = 'x' WHERE record_id = 1 AND position = 0",
            "job line 0 names another batch",
        ),
        (f"DELETE FROM {LINES} WHERE record_id = 1 AND position = 1", "job line 1 is missing"),
        (f"DELETE FROM {LINES} WHERE record_id = 6 AND position = 1", "its content does not match"),
    ],
    ids=["name", "status", "job id", "project copy", "removed inside", "removed at the end"],
)
def test_a_changed_or_removed_intent_job_is_found_at_its_intent(chain, statement, problem):
    sql(statement)
    seq = 1 if "record_id = 1" in statement else 6

    with pytest.raises(CommandError, match=rf"BROKEN at record {seq}: {problem}"):
        verify()


def test_a_job_line_added_to_a_result_is_found(chain):
    batch_id = AuditRecord.objects.get(seq=2).batch_id
    sql(
        f"INSERT INTO {LINES} (record_id, position, batch_id, project_id, job_id, name, status) "
        "VALUES (2, 0, %s, %s, 1, 'x', 'y')",
        [db_value("batch_id", batch_id), PROJECT],
    )

    with pytest.raises(CommandError, match="BROKEN at record 2: its content does not match"):
        verify()


def test_a_record_moved_back_in_time_and_rehashed_is_found(chain):
    earlier = AuditRecord.objects.get(seq=2).created_at.replace(year=2020)
    sql(f"UPDATE {RECORDS} SET created_at = %s WHERE seq = 3", [db_value("created_at", earlier)])
    prev_hash = AuditRecord.objects.get(seq=2).hash
    for seq in range(3, 9):
        prev_hash = rehash(seq, prev_hash)

    with pytest.raises(CommandError, match="BROKEN at record 3: its time is before record 2's"):
        verify()


# --- The key and the checkpoints ------------------------------------------------------------------


def test_a_record_rehashed_without_the_key_is_found_there(chain):
    sql(f"UPDATE {RECORDS} SET outcome = 'failed' WHERE seq = 3")
    rehash(3, AuditRecord.objects.get(seq=2).hash, with_key=False)  # SHA-256, still claiming version 2

    with pytest.raises(CommandError, match="BROKEN at record 3: its content does not match its hash"):
        verify()


def test_a_record_downgraded_to_the_unkeyed_version_is_found_there(chain):
    sql(f"UPDATE {RECORDS} SET outcome = 'failed' WHERE seq = 3")
    prev_hash = AuditRecord.objects.get(seq=2).hash
    for seq in range(3, 9):
        prev_hash = rehash(seq, prev_hash, version=PLAIN, with_key=False)

    with pytest.raises(CommandError, match="BROKEN at record 3: it is not keyed but an earlier record is"):
        verify()


def test_a_whole_chain_rehashed_without_the_key_is_found_against_the_checkpoint(chain):
    from dli_admin.audit.chain import GENESIS

    prev_hash = GENESIS
    for seq in range(1, 9):
        prev_hash = rehash(seq, prev_hash, version=PLAIN, with_key=False)

    with pytest.raises(
        CommandError, match="BROKEN at record 8: its hash is not the one the checkpoint signed"
    ):
        verify()


def test_emptied_tables_are_found_against_the_checkpoint(chain):
    sql(f"DELETE FROM {LINES}")
    sql(f"DELETE FROM {RECORDS}")

    with pytest.raises(CommandError, match="BROKEN at record 1: missing: the checkpoint signed record 8"):
        verify()


def test_an_edited_checkpoint_line_is_found(chain, checkpoints):
    lines = checkpoints.read_text().splitlines()
    lines[1] = lines[1].replace('"seq": 4', '"seq": 40')
    checkpoints.write_text("\n".join(lines) + "\n")

    with pytest.raises(CommandError, match=r"checkpoint line 2: its signature fails \(record 40\)"):
        verify()


def test_a_new_database_beside_old_checkpoints_passes_and_says_so(checkpoints):
    from dli_admin.audit.checkpoints import Checkpoint

    old = str(uuid.uuid4())  # another database's, with a valid signature: the key is the same
    checkpoints.write_text(
        Checkpoint(database=old, seq=8, hash="a" * 64, at="2026-01-01T00:00:00Z").line(key()) + "\n"
    )

    out = verify()
    assert out.startswith("audit chain OK: 0 records")
    assert f"also holds checkpoints of another database, {old} (up to record 8)" in out


def test_the_printed_checkpoint_is_checked_from_a_file(chain, tmp_path, settings):
    kept = tmp_path / "kept.jsonl"
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    kept.write_text(out.getvalue())
    settings.DLI_ADMIN_AUDIT_CHECKPOINTS = str(tmp_path / "none.jsonl")  # the sink was lost
    assert '"seq": 8' in out.getvalue()
    assert "checked against the checkpoint of record 8" in verify("--checkpoint", str(kept))

    sql(f"DELETE FROM {RECORDS} WHERE seq = 8")
    with pytest.raises(CommandError, match="BROKEN at record 8: missing: the checkpoint signed record 8"):
        verify("--checkpoint", str(kept))


def test_checkpoints_can_go_to_the_log_instead(settings, caplog, django_capture_on_commit_callbacks):
    settings.DLI_ADMIN_AUDIT_CHECKPOINTS = "log"
    with (
        caplog.at_level("INFO", logger="dli_admin.audit.checkpoints"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        write_chain()

    records = [r for r in caplog.records if r.name == "dli_admin.audit.checkpoints"]
    assert len(records) == 5
    assert records[-1].audit_checkpoint["seq"] == 8


def test_records_from_before_the_key_still_verify_and_the_first_keyed_one_says_so(
    django_capture_on_commit_callbacks,
):
    from dli_admin.audit.chain import GENESIS

    prev_hash = GENESIS
    for seq in (1, 2):  # as version 1 wrote them, before there was a key
        record = {name: "" for name in RECORD_FIELDS} | {
            "seq": seq,
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            "kind": "refusal",
            "batch_id": None,
            "actor_id": None,
            "project_id": PROJECT,
            "refused_job_ids": [],
            "job_id": None,
            "attempts": 0,
            "duration_ms": 0,
            "prev_hash": prev_hash,
        }
        record["hash"] = prev_hash = record_hash([record[name] for name in RECORD_FIELDS])
        insert(**record)  # no hash_version: the column's default, 1
    with django_capture_on_commit_callbacks(execute=True):
        write_chain()

    versions = list(AuditRecord.objects.order_by("seq").values_list("hash_version", flat=True))
    assert versions == [1, 1] + [SNAPSHOT] * 8
    assert verify().startswith("audit chain OK: 10 records")


def test_records_of_versions_1_2_and_3_verify_in_one_chain_and_a_version_never_goes_down(
    django_capture_on_commit_callbacks,
):
    from dli_admin.audit.chain import GENESIS, KEYED

    prev_hash = GENESIS
    for seq, version in ((1, PLAIN), (2, KEYED), (3, KEYED)):  # as versions 1 and 2 wrote them
        record = {name: "" for name in RECORD_FIELDS} | {
            "seq": seq,
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            "kind": "refusal",
            "batch_id": None,
            "actor_id": None,
            "project_id": PROJECT,
            "refused_job_ids": [],
            "job_id": None,
            "attempts": 0,
            "duration_ms": 0,
            "prev_hash": prev_hash,
        }
        values = [record[name] for name in RECORD_FIELDS]
        record["hash"] = prev_hash = record_hash(values, version=version, key=key())
        record["hash_version"] = version
        del record["snapshot_digest"]  # the column's default, "", as for a record from before it existed
        insert(**record)
    with django_capture_on_commit_callbacks(execute=True):
        write_chain()

    versions = list(AuditRecord.objects.order_by("seq").values_list("hash_version", flat=True))
    assert versions == [PLAIN, KEYED, KEYED] + [SNAPSHOT] * 8
    assert verify().startswith("audit chain OK: 11 records")

    if connection.vendor == "postgresql":  # as the chain fixture does: the attacker owns the tables
        sql(f"ALTER TABLE {RECORDS} DISABLE TRIGGER USER")
    rehash(6, AuditRecord.objects.get(seq=5).hash, version=KEYED)  # a version-3 record made version 2
    with pytest.raises(
        CommandError, match="BROKEN at record 6: its hash version 2 is below an earlier record's 3"
    ):
        verify()
