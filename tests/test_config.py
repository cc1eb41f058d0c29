"""resolve_config: option > env var > default for the four SPEC settings, and clear ConfigErrors."""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from pathlib import Path

import pytest

from harness.config import BACKENDS, BUNDLED_SQL_DIR, DEFAULT_SWEEP_TTL, SETTINGS, HarnessConfig, resolve_config
from harness.errors import ConfigError


def sql_dir(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "000_schema.sql").write_text("CREATE SCHEMA iu_core;\n")
    return folder


def sql_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text("SELECT 1;\n")
    return path


def test_settings_table_matches_spec() -> None:
    assert [(s.key, s.env, s.flag) for s in SETTINGS] == [
        ("backend", "IU_HARNESS_BACKEND", "--iu-backend"),
        ("dsn", "IU_HARNESS_DSN", "--iu-dsn"),
        ("sql_dir", "IU_HARNESS_SQL_DIR", "--iu-sql-dir"),
        ("extra_sql", "IU_HARNESS_EXTRA_SQL", "--iu-extra-sql"),
        # beyond the SPEC's four: the slow-sweep cap and where reports go
        ("max_n", "IU_HARNESS_MAX_N", "--iu-max-n"),
        ("report_dir", "IU_HARNESS_REPORT_DIR", "--iu-report-dir"),
        # SPEC: the PostgreSQL version(s); and where the embedded server's data goes
        ("pg", "IU_HARNESS_PG", "--iu-pg"),
        ("shm_dir", "IU_HARNESS_SHM_DIR", "--iu-shm-dir"),
        ("sweep_ttl", "IU_HARNESS_SWEEP_TTL", "--iu-sweep-ttl"),
        # the per-call resources (harness/run/resources.py): the N they are judged at, the memory budget
        ("target_n", "IU_HARNESS_TARGET_N", "--iu-target-n"),
        ("memory_budget", "IU_HARNESS_MEMORY_BUDGET", "--iu-memory-budget"),
    ]
    assert BACKENDS == ("embedded", "testcontainers", "dsn")


def test_max_n_and_report_dir() -> None:
    config = resolve_config({"max_n": "100_000"}, {"IU_HARNESS_REPORT_DIR": "/tmp/r"})
    assert config.max_n == 100000 and str(config.report_dir) == "/tmp/r"
    assert resolve_config({}, {}).max_n is None
    for bad in ("0", "-5", "lots"):
        with pytest.raises(ConfigError, match="not a positive integer"):
            resolve_config({"max_n": bad}, {})


def test_sweep_ttl_option_over_env_over_default() -> None:
    assert resolve_config({}, {}).sweep_ttl == DEFAULT_SWEEP_TTL == timedelta(hours=24)
    assert resolve_config({}, {"IU_HARNESS_SWEEP_TTL": "2d"}).sweep_ttl == timedelta(days=2)
    assert resolve_config({"sweep_ttl": "90m"}, {"IU_HARNESS_SWEEP_TTL": "2d"}).sweep_ttl == timedelta(minutes=90)
    assert resolve_config({"sweep_ttl": "1h30m"}, {}).sweep_ttl == timedelta(minutes=90)
    for bad, source in (("24", "--iu-sweep-ttl"), ("0h", "--iu-sweep-ttl"), ("soon", "--iu-sweep-ttl")):
        with pytest.raises(ConfigError, match=rf"sweep TTL \(from {source}\).*fix: pass e.g. --iu-sweep-ttl 24h"):
            resolve_config({"sweep_ttl": bad}, {})
    with pytest.raises(ConfigError, match=r"\(from IU_HARNESS_SWEEP_TTL\): '3 weeks' is not a duration"):
        resolve_config({}, {"IU_HARNESS_SWEEP_TTL": "3 weeks"})


def test_defaults_with_empty_environment() -> None:
    config = resolve_config({}, {})
    assert config == HarnessConfig("embedded", None, BUNDLED_SQL_DIR, ())
    assert config.sql_dir_is_bundled
    assert (BUNDLED_SQL_DIR / "010_tables.sql").is_file()


def test_defaults_ignore_unrelated_and_empty_env() -> None:
    env = {"IU_HARNESS_BACKEND": "", "IU_HARNESS_DSN": "", "IU_HARNESS_SQL_DIR": "",
           "IU_HARNESS_EXTRA_SQL": "", "PGHOST": "elsewhere"}
    assert resolve_config({"backend": None, "dsn": ""}, env) == HarnessConfig()


def test_environ_none_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IU_HARNESS_BACKEND", "testcontainers")
    assert resolve_config({}).backend == "testcontainers"
    monkeypatch.delenv("IU_HARNESS_BACKEND")
    assert resolve_config().backend == "embedded"


# -- backend -------------------------------------------------------------------------------------
def test_backend_env_beats_default() -> None:
    assert resolve_config({}, {"IU_HARNESS_BACKEND": "testcontainers"}).backend == "testcontainers"


def test_backend_option_beats_env() -> None:
    config = resolve_config({"backend": "embedded"}, {"IU_HARNESS_BACKEND": "testcontainers"})
    assert config.backend == "embedded"


def test_backend_is_normalised() -> None:
    assert resolve_config({"backend": "  TestContainers "}, {}).backend == "testcontainers"


def test_unknown_backend_from_option() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config({"backend": "bogus"}, {"IU_HARNESS_BACKEND": "dsn"})
    message = str(info.value)
    assert "'bogus'" in message
    assert "--iu-backend" in message  # names where the value came from
    assert "embedded, testcontainers, dsn" in message
    assert "fix:" in message


def test_unknown_backend_from_env_names_env() -> None:
    with pytest.raises(ConfigError, match=r"unknown backend 'docker' \(from IU_HARNESS_BACKEND\)") as info:
        resolve_config({}, {"IU_HARNESS_BACKEND": "docker"})
    assert "fix: set IU_HARNESS_BACKEND / --iu-backend" in str(info.value)


# -- dsn -----------------------------------------------------------------------------------------
def test_dsn_default_is_none() -> None:
    assert resolve_config({}, {}).dsn is None


def test_dsn_env_beats_default() -> None:
    config = resolve_config({"backend": "dsn"}, {"IU_HARNESS_DSN": "host=envhost"})
    assert (config.backend, config.dsn) == ("dsn", "host=envhost")


def test_dsn_option_beats_env() -> None:
    config = resolve_config({"backend": "dsn", "dsn": "host=opthost"}, {"IU_HARNESS_DSN": "host=envhost"})
    assert config.dsn == "host=opthost"


def test_dsn_backend_without_dsn() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config({}, {"IU_HARNESS_BACKEND": "dsn"})
    message = str(info.value)
    assert "'dsn'" in message
    assert "IU_HARNESS_DSN" in message and "--iu-dsn" in message
    assert "fix:" in message


def test_dsn_ignored_requirement_for_other_backends() -> None:
    assert resolve_config({"backend": "embedded"}, {}).dsn is None


# -- sql dir -------------------------------------------------------------------------------------
def test_sql_dir_env_beats_default(tmp_path: Path) -> None:
    env_dir = sql_dir(tmp_path, "envsql")
    config = resolve_config({}, {"IU_HARNESS_SQL_DIR": str(env_dir)})
    assert config.sql_dir == env_dir.resolve()
    assert not config.sql_dir_is_bundled


def test_sql_dir_option_beats_env(tmp_path: Path) -> None:
    env_dir, opt_dir = sql_dir(tmp_path, "envsql"), sql_dir(tmp_path, "optsql")
    config = resolve_config({"sql_dir": str(opt_dir)}, {"IU_HARNESS_SQL_DIR": str(env_dir)})
    assert config.sql_dir == opt_dir.resolve()


def test_sql_dir_relative_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sql_dir(tmp_path, "rel")
    monkeypatch.chdir(tmp_path)
    assert resolve_config({"sql_dir": "rel"}, {}).sql_dir == (tmp_path / "rel").resolve()


def test_bundled_dir_passed_explicitly_counts_as_bundled() -> None:
    assert resolve_config({"sql_dir": str(BUNDLED_SQL_DIR)}, {}).sql_dir_is_bundled


def test_missing_sql_dir(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    with pytest.raises(ConfigError) as info:
        resolve_config({"sql_dir": str(missing)}, {})
    message = str(info.value)
    assert str(missing) in message
    assert "--iu-sql-dir" in message
    assert "not a directory" in message
    assert "fix: point --iu-sql-dir / IU_HARNESS_SQL_DIR" in message


def test_sql_dir_that_is_a_file(tmp_path: Path) -> None:
    path = sql_file(tmp_path, "one.sql")
    with pytest.raises(ConfigError, match="not a directory"):
        resolve_config({}, {"IU_HARNESS_SQL_DIR": str(path)})


def test_sql_dir_without_sql_files(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("no sql here")
    (folder / "baselines").mkdir()
    (folder / "baselines" / "x.sql").write_text("SELECT 1;")  # a subfolder's .sql does not count
    with pytest.raises(ConfigError) as info:
        resolve_config({}, {"IU_HARNESS_SQL_DIR": str(folder)})
    message = str(info.value)
    assert str(folder) in message
    assert "IU_HARNESS_SQL_DIR" in message
    assert "no *.sql file" in message
    assert "fix:" in message


# -- extra sql -----------------------------------------------------------------------------------
def test_extra_sql_default_empty() -> None:
    assert resolve_config({}, {}).extra_sql == ()


def test_extra_sql_env_beats_default(tmp_path: Path) -> None:
    a = sql_file(tmp_path, "a.sql")
    assert resolve_config({}, {"IU_HARNESS_EXTRA_SQL": str(a)}).extra_sql == (a.resolve(),)


def test_extra_sql_option_beats_env(tmp_path: Path) -> None:
    a, b = sql_file(tmp_path, "a.sql"), sql_file(tmp_path, "b.sql")
    config = resolve_config({"extra_sql": str(b)}, {"IU_HARNESS_EXTRA_SQL": str(a)})
    assert config.extra_sql == (b.resolve(),)


def test_extra_sql_split_on_pathsep_in_order(tmp_path: Path) -> None:
    z, a, m = sql_file(tmp_path, "z.sql"), sql_file(tmp_path, "a.sql"), sql_file(tmp_path, "m.sql")
    value = os.pathsep.join([str(z), "", f" {a} ", str(m)])  # empty entries and blanks are skipped
    config = resolve_config({"extra_sql": value}, {})
    assert config.extra_sql == (z.resolve(), a.resolve(), m.resolve())
    assert "extra-sql=" + ", ".join(str(p) for p in config.extra_sql) in config.describe()


def test_missing_extra_sql_file(tmp_path: Path) -> None:
    good = sql_file(tmp_path, "good.sql")
    missing = tmp_path / "missing.sql"
    with pytest.raises(ConfigError) as info:
        resolve_config({"extra_sql": os.pathsep.join([str(good), str(missing)])}, {})
    message = str(info.value)
    assert str(missing) in message
    assert "--iu-extra-sql" in message
    assert "does not exist" in message
    assert f"separate several files with '{os.pathsep}'" in message


def test_missing_extra_sql_from_env_names_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(from IU_HARNESS_EXTRA_SQL\)"):
        resolve_config({}, {"IU_HARNESS_EXTRA_SQL": str(tmp_path / "nope.sql")})


def test_config_error_is_a_harness_error_with_parts() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config({"backend": "nope"}, {})
    error = info.value
    assert error.what.startswith("unknown backend 'nope'")
    assert error.checked and error.fix
    assert str(error) == f"{error.what}; checked: {error.checked}; fix: {error.fix}"


# -- frozen --------------------------------------------------------------------------------------
def test_config_is_frozen(tmp_path: Path) -> None:
    config = resolve_config({"extra_sql": str(sql_file(tmp_path, "a.sql"))}, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.backend = "dsn"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.sql_dir = tmp_path  # type: ignore[misc]
    assert isinstance(config.extra_sql, tuple)
    assert hash(config) == hash(resolve_config({"extra_sql": str(tmp_path / "a.sql")}, {}))


def test_describe_names_every_setting() -> None:
    text = resolve_config({"backend": "testcontainers"}, {}).describe()
    assert text == f"backend=testcontainers sql-dir={BUNDLED_SQL_DIR} extra-sql=none"
