"""Extensions from installed packages: a tiny package ``acme_hw`` with a ``.dist-info``
(``entry_points.txt``) on a temporary path is how ``importlib.metadata`` finds any installed
distribution; through it the package adds a step decorator, a datastore, a secrets backend
and a card type that a real flow run uses, without any change to Headwater's registries."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
    import os

    from headwater.cards import CardType, Markdown
    from headwater.datastore.local import LocalBackend
    from headwater.decorators.base import StepDecorator
    from headwater.secrets.base import SecretsBackend


    class AnnounceDecorator(StepDecorator):
        name = "announce"
        defaults = {"text": "hello"}

        def task_pre_step(self, flow, ctx):
            print("ANNOUNCE", self.attributes["text"], ctx.step_name, flush=True)


    class AcmeBackend(LocalBackend):
        """The local datastore under another name (and its own folder)."""
        TYPE = "acme"

        @classmethod
        def from_settings(cls, settings, root=None):
            return cls(root or os.environ["ACME_ROOT"])


    class AcmeVault(SecretsBackend):
        TYPE = "acme-vault"

        @classmethod
        def from_settings(cls, settings, role=None):
            return cls()

        def fetch(self, source):
            return {"ACME_TOKEN": "token-for-" + source.id}

        def get(self, name):
            return None


    class AcmeCard(CardType):
        type = "acme"

        def title(self, task):
            return "acme"

        def render(self, task, components):
            return [Markdown("# made by the acme card type")]
'''

ENTRY_POINTS = '''
    [headwater.step_decorators]
    announce = acme_hw:AnnounceDecorator

    [headwater.datastores]
    acme = acme_hw:AcmeBackend

    [headwater.secrets_backends]
    acme-vault = acme_hw:AcmeVault

    [headwater.card_types]
    acme = acme_hw:AcmeCard
'''

FLOW = '''
    import os
    from headwater import FlowSpec, announce, card, secrets, step

    class PluginFlow(FlowSpec):
        @announce(text="from code")
        @secrets(sources=[{"type": "acme-vault", "id": "db"}])
        @card(type="acme")
        @step
        def start(self):
            self.token = os.environ["ACME_TOKEN"]
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        PluginFlow()
'''

READ = '''
    from headwater import Flow
    from headwater.cards import get_cards
    run = Flow("PluginFlow").latest_run
    start = run["start"].task
    print("DS", start.metadata_dict["ds-type"])
    print("TOKEN", start.data.token)
    print("CARD", "made by the acme card type" in get_cards(start)[0].html)
'''


@pytest.fixture
def plugin_path(tmp_path) -> Path:
    site = tmp_path / "site"
    (site / "acme_hw").mkdir(parents=True)
    (site / "acme_hw" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "acme_hw-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-hw\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    return site


def _env(plugin_path: Path, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_path), env.get("PYTHONPATH", "")])
    env["METAFLOW_DEFAULT_DATASTORE"] = "acme"
    env["ACME_ROOT"] = str(tmp_path / "acme-root")
    return env


@pytest.mark.slow
def test_a_flow_uses_what_an_installed_package_declares(plugin_path, tmp_path, write_flow):
    env = _env(plugin_path, tmp_path)
    flow = write_flow(FLOW)
    proc = subprocess.run([sys.executable, str(flow), "run", "--with", "announce:text=cli"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "ANNOUNCE from code start" in out  # the code's own wins on its step
    assert "ANNOUNCE cli end" in out  # --with adds it to the other steps
    assert (tmp_path / "acme-root" / "PluginFlow").is_dir()  # artifacts went to the plugin
    read = subprocess.run([sys.executable, "-c", textwrap.dedent(READ)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    assert read.stdout.split() == ["DS", "acme", "TOKEN", "token-for-db", "CARD", "True"]


def test_registries_read_entry_points_lazily_and_name_them(plugin_path, monkeypatch):
    from headwater import extensions
    from headwater.decorators import DecoratorError, step_decorator_class

    extensions.installed.cache_clear()
    monkeypatch.syspath_prepend(str(plugin_path))
    try:
        assert step_decorator_class("announce").__name__ == "AnnounceDecorator"
        assert "acme_hw" in sys.modules  # imported only once a flow asked for the name
        with pytest.raises(DecoratorError) as info:
            step_decorator_class("anounce")
        known = info.value.message.partition("; known: ")[2].split(", ")
        assert "announce" in known and "retry" in known
    finally:
        extensions.installed.cache_clear()
        sys.modules.pop("acme_hw", None)


def test_a_plugin_cannot_replace_a_built_in(plugin_path, tmp_path, monkeypatch):
    from headwater import extensions
    from headwater.decorators import step_decorator_class

    site = tmp_path / "shadow"
    info = site / "shadow-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shadow\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[headwater.step_decorators]\n"
                                           "retry = nowhere:Nothing\n")
    extensions.installed.cache_clear()
    monkeypatch.syspath_prepend(str(site))
    try:
        assert extensions.installed(extensions.ExtensionGroup.STEP_DECORATORS) == {
            "retry": "nowhere:Nothing"}
        assert step_decorator_class("retry").__module__ == "headwater.decorators.retry"
    finally:
        extensions.installed.cache_clear()


def test_import_headwater_reads_no_entry_points():
    code = ("import sys, headwater; from headwater import FlowSpec, retry; "
            "from headwater.task import TaskRunner; "
            "print('importlib.metadata' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr
