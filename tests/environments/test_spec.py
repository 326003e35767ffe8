"""Specs, locks, the snapshot store and the decorators, without running a flow or the
resolver (except where a test says so)."""

from __future__ import annotations

import os

import pytest

from headwater.environments.spec import EnvironmentSpec, Lock, LockedPackage


def _lock(spec: EnvironmentSpec, sha: str = "a" * 64) -> Lock:
    return Lock(spec, (LockedPackage("six", "1.16.0", "six-1.16.0-py2.py3-none-any.whl", sha),),
                "uv")


def test_spec_key_ignores_spelling_and_order_but_not_versions():
    a = EnvironmentSpec.build("pypi", "3.11", {"Six": "1.16.0", "typing_extensions": ">=4"})
    b = EnvironmentSpec.build("pypi", "3.11", {"typing-extensions": ">=4", "six": "==1.16.0"})
    c = EnvironmentSpec.build("pypi", "3.11", {"six": "1.17.0"})
    assert a.requirements() == ["six==1.16.0", "typing-extensions>=4"]
    assert a.key == b.key and a.key != c.key
    assert EnvironmentSpec.build("pypi", "3.12", {"six": "1.16.0"}).key != \
        EnvironmentSpec.build("pypi", "3.11", {"six": "1.16.0"}).key
    assert EnvironmentSpec.build("conda", "3.11", {"six": "1.16.0"}).key != \
        EnvironmentSpec.build("pypi", "3.11", {"six": "1.16.0"}).key
    # "1.16.0" and "==1.16.0" are written differently but are the same request
    assert EnvironmentSpec.build("pypi", "3.11", {"six": "1.16.0"}).key == \
        EnvironmentSpec.build("pypi", "3.11", {"six": "==1.16.0"}).key


def test_lock_round_trips_and_its_hash_follows_the_wheels():
    spec = EnvironmentSpec.build("pypi", "3.11", {"six": "1.16.0"})
    lock = _lock(spec)
    again = Lock.from_json(lock.to_json())
    assert again == lock and again.lock_hash == lock.lock_hash
    assert _lock(spec, "b" * 64).lock_hash != lock.lock_hash
    assert lock.requirements_text() == f"six==1.16.0 --hash=sha256:{'a' * 64}\n"


def test_snapshot_stores_each_wheel_once_across_flows(tmp_path):
    from headwater.datastore.local import LocalBackend
    from headwater.environments.resolver import file_sha256
    from headwater.environments.snapshot import SnapshotStore

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = wheels / "six-1.16.0-py2.py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel")
    sha = file_sha256(str(wheel))
    store = SnapshotStore(LocalBackend(str(tmp_path / "ds")))
    one = _lock(EnvironmentSpec.build("pypi", "3.11", {"six": "1.16.0"}), sha)
    other = _lock(EnvironmentSpec.build("pypi", "3.11", {"six": ">=1.16,<1.17"}), sha)
    assert store.save(one, str(wheels)) == 1
    assert store.save(other, str(wheels)) == 0  # same wheel, not stored again
    assert store.lock_for(one.spec) == one
    assert store.lock_for(EnvironmentSpec.build("pypi", "3.11", {"six": "1.17.0"})) is None
    out = tmp_path / "out"
    store.fetch_wheels(one, str(out))
    assert (out / wheel.name).read_bytes() == b"not really a wheel"
    # a damaged stored wheel is refused, not installed
    stored = store.backend.local_path(store.wheel_key(sha, wheel.name))
    os.chmod(stored, 0o644)
    with open(stored, "wb") as f:
        f.write(b"tampered")
    from headwater.environments.errors import SnapshotMissing

    with pytest.raises(SnapshotMissing, match="does not match its sha256"):
        store.fetch_wheels(one, str(tmp_path / "out2"))


def test_step_spec_overlays_the_flow_base_and_leaves_plain_steps_alone():
    from headwater import FlowSpec, pypi, pypi_base, step
    from headwater.environments.declared import step_spec
    from headwater.graph import FlowGraph

    @pypi_base(packages={"idna": "3.7", "six": "1.16.0"}, python="3.11")
    class Based(FlowSpec):
        @pypi(packages={"six": "1.17.0"})
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    graph = FlowGraph(Based)
    assert step_spec(Based, graph, "start").requirements() == ["idna==3.7", "six==1.17.0"]
    assert step_spec(Based, graph, "end").requirements() == ["idna==3.7", "six==1.16.0"]

    class Plain(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert step_spec(Plain, FlowGraph(Plain), "start") is None


def test_with_pypi_parses_like_the_decorator():
    from headwater.decorators import parse_with

    deco = parse_with("pypi:packages={'six': '1.16.0', 'idna': '3.7'},python='3.11'")
    assert deco.packages() == {"six": "1.16.0", "idna": "3.7"}
    assert deco.attributes["python"] == "3.11"


@pytest.mark.parametrize("stderr, kind, text", [
    ("error: No solution found when resolving dependencies\n  cause: Because foo-bar was not "
     "found in the package registry and you require foo-bar==1.0, we can conclude ...",
     "PackageNotFound", "package 'foo-bar' does not exist"),
    ("  cause: Because there is no version of six==99.0 and you require six==99.0, ...",
     "PackageNotFound", "six has no version ==99.0"),
    ("  cause: Because a==1 depends on b>=2 and you require b==1, we can conclude that your "
     "requirements are unsatisfiable.", "ConflictingPins", "conflicting pins"),
    ("  cause: Because pywin32==306 has no wheels with a matching platform tag (e.g., "
     "`manylinux_2_36_x86_64`) and you require pywin32==306", "NoWheelForPlatform",
     "pywin32==306 has no wheel for"),
    ("error: Request failed after 3 retries\n  cause: Failed to fetch: http://127.0.0.1:9/"
     "simple/six/\n  cause: tcp connect error", "IndexUnreachable", "cannot be reached"),
])
def test_resolver_failures_are_classified(stderr, kind, text):
    from headwater.environments.resolver import classify_failure

    error = classify_failure(EnvironmentSpec.build("pypi", "3.11", {"six": "1"}), stderr)
    assert type(error).__name__ == kind
    assert text in error.message and "\n" not in error.message


def test_support_path_links_headwater_and_only_what_the_datastore_needs():
    import headwater
    from headwater.environments.cache import support_entries

    local = support_entries(())
    assert local["headwater"] == os.path.realpath(os.path.dirname(headwater.__file__))
    assert {"click", "cloudpickle", "urllib3"} <= set(local)
    assert "azure" not in local and "boto3" not in local
    azure = support_entries(("azure",))
    assert "azure" in azure and "msal" in azure  # the SDK and its own requirements
    for unrelated in ("pandas", "numpy", "pytest", "pulumi", "six"):
        assert unrelated not in azure


def test_conda_specs_keep_underscores_and_their_channels_are_part_of_the_key():
    plain = EnvironmentSpec.build("pypi", "3.11", {"six": "1.16.0"})
    # a spec without channels hashes as before channels existed (stored snapshots stay valid)
    assert plain.key == EnvironmentSpec("pypi", "3.11", plain.packages, plain.platform).key
    conda = EnvironmentSpec.build("conda", "3.11", {"Typing_Extensions": "4.12.2"})
    assert conda.packages == (("typing_extensions", "==4.12.2"),)
    forge = EnvironmentSpec.build("conda", "3.11", {"six": "1.16.0"}, ("conda-forge",))
    local = EnvironmentSpec.build("conda", "3.11", {"six": "1.16.0"}, ("file:///ch",))
    assert forge.key != local.key
    assert EnvironmentSpec.from_json(forge.to_json()) == forge
    assert "from conda-forge" in forge.describe()


def test_conda_lock_hash_follows_the_build_not_the_url():
    spec = EnvironmentSpec.build("conda", "3.11", {"six": "1.16.0"})

    def lock(build: str, url: str) -> Lock:
        return Lock(spec, (LockedPackage("six", "1.16.0", f"six-1.16.0-{build}.conda", "a" * 64,
                                         build=build, url=url),), "rattler")

    one = lock("py_0", "https://a.example/noarch/six-1.16.0-py_0.conda")
    assert one.lock_hash == lock("py_0", "file:///mirror/noarch/six-1.16.0-py_0.conda").lock_hash
    assert one.lock_hash != lock("py_1", "https://a.example/x").lock_hash
    # the rattler backend layers onto an interpreter, micromamba does not: not one environment
    assert Lock(spec, one.packages, "micromamba").lock_hash != one.lock_hash
    assert Lock.from_json(one.to_json()) == one
    assert one.describe()[0].startswith("six=1.16.0=py_0  six-1.16.0-py_0.conda  sha256:")


def test_conda_step_channels_come_before_the_flow_base():
    from headwater import FlowSpec, conda, conda_base, step
    from headwater.environments.declared import step_spec
    from headwater.graph import FlowGraph

    @conda_base(libraries={"idna": "3.7"}, channels=["conda-forge"])
    class Based(FlowSpec):
        @conda(libraries={"six": "1.17.0"}, channels=["file:///mine", "conda-forge"])
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    graph = FlowGraph(Based)
    assert step_spec(Based, graph, "start").channels == ("file:///mine", "conda-forge")
    assert step_spec(Based, graph, "end").channels == ("conda-forge",)
    assert step_spec(Based, graph, "end").kind == "conda"


def test_conda_backends_are_found_through_the_registry(monkeypatch):
    from headwater.environments.conda import backend_named, find_backend
    from headwater.environments.conda.py_rattler import RattlerBackend
    from headwater.environments.errors import ToolMissing
    from headwater.exceptions import ConfigurationError

    spec = EnvironmentSpec.build("conda", "3.11", {"six": "1.16.0"})
    monkeypatch.delenv("HEADWATER_CONDA_BACKEND", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no micromamba, no conda
    assert isinstance(find_backend(spec), RattlerBackend)
    monkeypatch.setenv("HEADWATER_CONDA_BACKEND", "conda")
    with pytest.raises(ToolMissing, match="the conda backend 'conda' is not installed here"):
        find_backend(spec)
    with pytest.raises(ConfigurationError, match="unknown conda backend 'mamba'"):
        backend_named("mamba")
