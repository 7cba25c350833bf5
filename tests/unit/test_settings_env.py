"""dli_admin.environment: django-environ's FileAwareEnv, made strict, and the .env reader."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from dli_admin.environment import Env, host_name, read_dot_env


def test_an_unset_empty_or_blank_value_is_the_default():
    env = Env({"EMPTY": "", "BLANK": "  "})
    assert env.bool("UNSET", default=True) is True
    assert env.bool("EMPTY", default=True) is True, "django-environ alone reads an empty bool as false"
    assert env.int("BLANK", default=7) == 7


def test_a_required_variable_that_is_unset_says_so():
    with pytest.raises(ImproperlyConfigured, match="^DJANGO_SECRET_KEY is not set$"):
        Env({}).str("DJANGO_SECRET_KEY")


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "On"])
def test_these_spellings_are_true(value):
    assert Env({"FLAG": value}).bool("FLAG", default=False) is True


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_these_spellings_are_false(value):
    assert Env({"FLAG": value}).bool("FLAG", default=True) is False


@pytest.mark.parametrize(
    ("method", "value"), [("bool", "2"), ("int", "1.5"), ("float", "1.5s"), ("float", "inf")]
)
def test_what_django_environ_would_guess_at_is_refused(method, value):
    with pytest.raises(ImproperlyConfigured, match=f"^X must be .*, not '{value}'$"):
        getattr(Env({"X": value}), method)("X", default=None)


def test_a_value_starting_with_a_dollar_is_not_another_variables_name():
    env = Env({"DLI_IAM_PASSWORD": "$HOME", "HOME": "/root"})
    assert env.str("DLI_IAM_PASSWORD", default="") == "$HOME"


def test_name_file_wins_over_name_and_is_stripped(tmp_path):
    secret = tmp_path / "dli_sk"
    secret.write_text("  sk-from-the-file\n")
    env = Env({"DLI_SK": "sk-from-the-environment", "DLI_SK_FILE": str(secret)})
    assert env.str("DLI_SK", default="") == "sk-from-the-file"


def test_a_value_from_the_environment_is_kept_as_written():
    assert Env({"DLI_IAM_PASSWORD": " pass phrase "}).str("DLI_IAM_PASSWORD") == " pass phrase "


@pytest.mark.parametrize("content", [None, b"\xff\xfe\x00binary"], ids=["missing", "binary"])
def test_an_unreadable_name_file_is_refused_with_its_name(tmp_path, content):
    path = tmp_path / "value"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImproperlyConfigured, match=f"^DLI_SK_FILE={path}: cannot read it"):
        Env({"DLI_SK_FILE": str(path)}).str("DLI_SK", default="")


def test_a_list_drops_blank_items_and_checks_each():
    env = Env({"HOSTS": " a.example.com, ,.b.example.com,", "BAD": "a.example.com,b.example.com/admin"})
    assert env.list("HOSTS", cast=host_name, default=[]) == ["a.example.com", ".b.example.com"]
    with pytest.raises(ImproperlyConfigured, match="not 'b.example.com/admin'$"):
        env.list("BAD", cast=host_name, default=[])


@pytest.mark.parametrize(
    "value",
    ["https://u:secret@dli.example.com", "https://dli.example.com?x=1", "ftp://dli.example.com", "https://"],
)
def test_an_endpoint_must_be_a_plain_http_url_and_is_not_echoed(value):
    with pytest.raises(ImproperlyConfigured) as refused:
        Env({"DLI_ENDPOINT": value}).http_url("DLI_ENDPOINT")
    assert "secret" not in str(refused.value)


def test_an_endpoint_loses_its_trailing_slash():
    assert Env({"E": "http://127.0.0.1:8765/"}).http_url("E") == "http://127.0.0.1:8765"


def test_a_database_url_becomes_djangos_entry():
    config = Env({"DATABASE_URL": "postgresql://dli:p%40ss@db:5432/dli_admin"}).db_url()
    assert (config["ENGINE"], config["HOST"], config["PASSWORD"]) == (
        "django.db.backends.postgresql",
        "db",
        "p@ss",
    )


@pytest.mark.parametrize(
    "value", ["mysql://u:db-secret@h/x", "nonsense", "postgresql://u:db-secret@h:port/x"]
)
def test_a_database_url_dli_admin_cannot_use_is_refused_without_its_password(value):
    with pytest.raises(ImproperlyConfigured) as refused:
        Env({"DATABASE_URL": value}).db_url()
    assert "db-secret" not in str(refused.value)


def test_a_choice_names_the_choices():
    with pytest.raises(ImproperlyConfigured, match="^F must be json or text, not 'xml'$"):
        Env({"F": "xml"}).str("F", choices=("json", "text"))


@pytest.fixture
def clean_environ(monkeypatch):
    """Lets read_dot_env write into os.environ; everything it adds is removed afterwards."""
    for name in ("DLI_ADMIN_ENV_FILE", "DLI_ADMIN_FROM_DOT_ENV", "DLI_ADMIN_ALREADY_SET"):
        monkeypatch.setenv(name, "")  # recorded as unset, so the undo removes what the test adds
        monkeypatch.delenv(name)
    return monkeypatch


def test_dot_env_in_the_project_root_is_read_when_present(tmp_path, clean_environ):
    (tmp_path / ".env").write_text("DLI_ADMIN_FROM_DOT_ENV=yes\nDLI_ADMIN_ALREADY_SET=from-file\n")
    clean_environ.setenv("DLI_ADMIN_ALREADY_SET", "from-the-environment")
    assert read_dot_env(tmp_path) == tmp_path / ".env"
    assert os.environ["DLI_ADMIN_FROM_DOT_ENV"] == "yes"
    assert os.environ["DLI_ADMIN_ALREADY_SET"] == "from-the-environment"


def test_no_dot_env_is_no_error(tmp_path, clean_environ):
    assert read_dot_env(tmp_path) is None


def test_an_empty_dli_admin_env_file_reads_none(tmp_path, clean_environ):
    (tmp_path / ".env").write_text("DLI_ADMIN_FROM_DOT_ENV=yes\n")
    clean_environ.setenv("DLI_ADMIN_ENV_FILE", "")
    assert read_dot_env(tmp_path) is None
    assert "DLI_ADMIN_FROM_DOT_ENV" not in os.environ


def test_a_dot_env_line_it_cannot_read_is_refused_without_showing_it(tmp_path, clean_environ):
    (tmp_path / ".env").write_text(
        "# comment\n\nexport DLI_ADMIN_FROM_DOT_ENV=yes\nDLI_SK = sk-secret-value\n"
    )
    with pytest.raises(ImproperlyConfigured, match=r"line 4: not NAME=value") as refused:
        read_dot_env(tmp_path)
    assert "sk-secret-value" not in str(refused.value)
    assert "DLI_ADMIN_FROM_DOT_ENV" not in os.environ, "nothing is read from a file with a bad line"
