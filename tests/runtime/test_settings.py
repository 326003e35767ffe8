"""Settings: environment > profile file > default, profile selection, secrets kept out of
profiles, and a clear error for a broken profile."""

from __future__ import annotations

import json

import pytest

from headwater.exceptions import ConfigurationError
from headwater.settings import SECRET_KEYS, Settings, metaflow_home, profile_path

KEY = "METAFLOW_DEFAULT_DATASTORE"


def write_profile(home, data, name: str = "config.json"):
    home.mkdir(parents=True, exist_ok=True)
    path = home / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_environment_beats_profile_beats_default(tmp_path):
    home = tmp_path / "home"
    write_profile(home, {KEY: "azure", "METAFLOW_SERVICE_URL": "http://md:8080"})
    base = {"METAFLOW_HOME": str(home)}

    settings = Settings(env={**base, KEY: "s3"})
    assert settings.get(KEY) == "s3" and settings.source(KEY) == "env"
    assert settings.datastore_type == "s3"

    settings = Settings(env=base)
    assert settings.get(KEY) == "azure" and settings.source(KEY) == "profile"
    assert settings.get("METAFLOW_SERVICE_URL") == "http://md:8080"

    settings = Settings(env={**base, KEY: ""})  # an empty variable does not count as set
    assert settings.get(KEY) == "azure"

    settings = Settings(env={"METAFLOW_HOME": str(tmp_path / "empty")})
    assert settings.get(KEY) == "local" and settings.source(KEY) == "default"
    assert settings.metadata_type == "local"
    assert settings.get("METAFLOW_SERVICE_URL") is None
    assert settings.source("METAFLOW_SERVICE_URL") == "unset"
    assert settings.get("METAFLOW_SERVICE_URL", "fallback") == "fallback"


def test_metaflow_home_and_profile_select_the_file(tmp_path, monkeypatch):
    home = tmp_path / "home"
    write_profile(home, {KEY: "from-default-profile"})
    write_profile(home, {KEY: "from-prod"}, "config_prod.json")
    env = {"METAFLOW_HOME": str(home)}
    assert profile_path(env=env) == home / "config.json"
    assert profile_path(env={**env, "METAFLOW_PROFILE": "prod"}) == home / "config_prod.json"
    assert Settings(env=env).get(KEY) == "from-default-profile"
    assert Settings(env={**env, "METAFLOW_PROFILE": "prod"}).get(KEY) == "from-prod"
    assert Settings(env=env, profile="prod").get(KEY) == "from-prod"
    # a named profile that does not exist is an empty profile, not the default one
    assert Settings(env={**env, "METAFLOW_PROFILE": "qa"}).get(KEY) == "local"

    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert metaflow_home({}) == tmp_path / "user" / ".metaflowconfig"
    assert metaflow_home({"METAFLOW_HOME": "~/mf"}) == tmp_path / "user" / "mf"


def test_process_environment_is_the_default_source(tmp_path, monkeypatch):
    home = tmp_path / "home"
    write_profile(home, {KEY: "azure"}, "config_team.json")
    monkeypatch.setenv("METAFLOW_HOME", str(home))
    monkeypatch.setenv("METAFLOW_PROFILE", "team")
    assert Settings().get(KEY) == "azure"
    monkeypatch.setenv(KEY, "s3")
    assert Settings().get(KEY) == "s3"


def test_profile_values_are_strings(tmp_path):
    home = tmp_path / "home"
    write_profile(home, {"METAFLOW_SERVICE_HEADERS": {"x-api": "1"}, "A_FLAG": True,
                         "A_NUMBER": 3, "METAFLOW_UI_URL": None})
    settings = Settings(env={"METAFLOW_HOME": str(home)})
    assert json.loads(settings.get("METAFLOW_SERVICE_HEADERS")) == {"x-api": "1"}
    assert settings.get("A_FLAG") == "true" and settings.get("A_NUMBER") == "3"
    assert settings.source("METAFLOW_UI_URL") == "unset"
    assert {"A_FLAG", "METAFLOW_SERVICE_URL"} <= set(settings.keys())


@pytest.mark.parametrize("secret", sorted(SECRET_KEYS))
def test_a_secret_in_a_profile_is_ignored_with_a_warning(tmp_path, capsys, secret):
    home = tmp_path / "home"
    path = write_profile(home, {secret: "hunter2-very-secret", KEY: "azure"})
    settings = Settings(env={"METAFLOW_HOME": str(home)})
    warning = capsys.readouterr().err
    assert f"ignoring {secret} in {path}" in warning
    assert "secrets are read from the environment only" in warning
    assert "hunter2" not in warning
    assert settings.get(secret) is None and settings.source(secret) == "unset"
    assert secret not in settings.profile
    assert settings.get(KEY) == "azure"  # the rest of the profile still applies
    # from the environment the secret is fine
    assert Settings(env={"METAFLOW_HOME": str(home), secret: "env-value"}).get(secret) \
        == "env-value"


@pytest.mark.parametrize("text,detail", [
    ('{"METAFLOW_DEFAULT_DATASTORE": "s3",}', "is not valid JSON (Expecting property name "
                                              "enclosed in double quotes at line 1, column 37)"),
    ("", "is not valid JSON (Expecting value at line 1, column 1)"),
    ('["METAFLOW_DEFAULT_DATASTORE"]', "must hold a JSON object of METAFLOW_* keys, not a list"),
])
def test_malformed_profile_names_the_file(tmp_path, text, detail):
    home = tmp_path / "home"
    path = write_profile(home, text, "config_broken.json")
    with pytest.raises(ConfigurationError) as info:
        Settings(env={"METAFLOW_HOME": str(home), "METAFLOW_PROFILE": "broken"})
    assert info.value.message == f"profile {path} {detail}"


def test_malformed_profile_suggests_a_fix(tmp_path):
    home = tmp_path / "home"
    write_profile(home, "{oops")
    with pytest.raises(ConfigurationError) as info:
        Settings(env={"METAFLOW_HOME": str(home)})
    assert "headwater configure import" in info.value.fix


def test_unreadable_profile(tmp_path):
    home = tmp_path / "home"
    (home / "config.json").mkdir(parents=True)
    with pytest.raises(ConfigurationError) as info:
        Settings(env={"METAFLOW_HOME": str(home)})
    assert info.value.message.startswith(f"cannot read profile {home / 'config.json'}")


def test_require_explains_what_is_missing_and_where_to_set_it(tmp_path):
    home = tmp_path / "home"
    settings = Settings(env={"METAFLOW_HOME": str(home)})
    with pytest.raises(ConfigurationError) as info:
        settings.require("METAFLOW_SERVICE_URL", "for the service metadata provider")
    assert info.value.message == ("METAFLOW_SERVICE_URL is not set; it is needed for the "
                                  "service metadata provider")
    assert f"export METAFLOW_SERVICE_URL=... or add it to {home / 'config.json'}" \
        in info.value.fix
    assert Settings(env={"METAFLOW_HOME": str(home), "METAFLOW_SERVICE_URL": "http://x"}
                    ).require("METAFLOW_SERVICE_URL", "") == "http://x"


def test_user_and_namespace(tmp_path):
    home = tmp_path / "home"
    write_profile(home, {"METAFLOW_USER": "profile-user", "METAFLOW_USER_NAMESPACE": "team"})
    env = {"METAFLOW_HOME": str(home), "USER": "os-user"}
    assert Settings(env=env).user == "profile-user"
    assert Settings(env={**env, "METAFLOW_USER": "env-user"}).user == "env-user"
    assert Settings(env={"METAFLOW_HOME": str(tmp_path / "none"), "USER": "os-user"}).user \
        == "os-user"
    assert Settings(env=env).namespace == "team"
    assert Settings(env={"METAFLOW_HOME": str(tmp_path / "none")}).namespace is None


@pytest.mark.parametrize("env,note", [
    ({"METAFLOW_DATASTORE_SYSROOT_AZURE": "metaflow-prod/artifacts",
      "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT": "https://acct.blob.core.windows.net"},
     "METAFLOW_DATASTORE_SYSROOT_AZURE is set, but METAFLOW_DEFAULT_DATASTORE is local"),
    ({"METAFLOW_DATASTORE_SYSROOT_S3": "s3://bucket/metaflow"},
     "METAFLOW_DATASTORE_SYSROOT_S3 is set, but METAFLOW_DEFAULT_DATASTORE is local"),
])
def test_a_cloud_sysroot_with_a_local_datastore_is_said_in_the_run_header(run_flow, write_flow,
                                                                          env, note):
    flow = write_flow("""
        from headwater import FlowSpec, step

        class NoteFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            NoteFlow()
    """)
    proc = run_flow(flow, "run", env=env)
    header = proc.stderr.splitlines()[:2]
    assert "local datastore" in header[0]
    assert note in header[1] and "artifacts stay on this machine" in header[1], header
    assert "METAFLOW_DEFAULT_DATASTORE=" in header[1]
    quiet = run_flow(flow, "run")  # nothing configured: no note
    assert "is set, but" not in quiet.stderr
