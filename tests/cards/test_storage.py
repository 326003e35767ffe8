"""Card storage on each datastore: local files, Azure Blob (Azurite) and S3 (moto server).

Proves: ``CardStore`` writes a card's page and description under the card root and reads
them back (latest attempt by default, a live card replaced by the final one); a real run on
the Azure and S3 datastores puts its cards under ``METAFLOW_CARD_AZUREROOT`` /
``METAFLOW_CARD_S3ROOT`` (or ``<sysroot>/mf.cards``), where ``get_cards`` finds them.
The servers are the real Azurite and moto; what they do not prove is behaviour specific to
the cloud services (throttling, eventual listing).
"""

from __future__ import annotations

import pytest

from headwater.cards.storage import CardStatus, CardStore, StoredCard, check_name
from headwater.cards.components import CardError
from headwater.datastore.local import LocalBackend
from headwater.settings import Settings

from .conftest import FLOWS


def _card(attempt=0, slot="0", status=CardStatus.FINAL, card_id=None):
    return StoredCard("F", "1", "start", "2", attempt, slot, "default", card_id, status.value,
                      0.0, 0)


def _contract(store: CardStore) -> None:
    live = store.save(_card(status=CardStatus.RUNNING), "<p>live</p>")
    assert live.size == len("<p>live</p>") and live.updated_at > 0
    [found] = store.list("F", "1", "start", "2")
    assert found.status == "running" and store.html(found) == "<p>live</p>"
    store.save(_card(), "<p>final</p>")
    store.save(_card(slot="1", card_id="extra"), "<p>extra</p>")
    found = store.list("F", "1", "start", "2")
    assert [(c.slot, c.status, c.id) for c in found] == [("0", "final", None),
                                                         ("1", "final", "extra")]
    assert store.html(found[0]) == "<p>final</p>"
    assert store.describe(live).status == "final"
    store.save(_card(attempt=1), "<p>retry</p>")
    assert [c.attempt for c in store.list("F", "1", "start", "2")] == [1]
    assert len(store.list("F", "1", "start", "2", attempt=0)) == 2
    assert store.list("F", "1", "start", "3") == []


def test_local_card_store(tmp_path):
    _contract(CardStore(LocalBackend(str(tmp_path))))


def test_azure_card_store(azurite):
    from headwater.datastore.azure import AzureBlobBackend

    _contract(CardStore(AzureBlobBackend(azurite.new_container(), "cards",
                                         connection_string=azurite.connection_string)))


def test_s3_card_store(aws_env, s3_bucket):
    from headwater.datastore.s3 import S3Backend

    _contract(CardStore(S3Backend(s3_bucket, "cards", endpoint_url=aws_env.endpoint_url)))


def test_card_root_settings(tmp_path):
    settings = Settings(env={"METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp_path / "sys")})
    assert LocalBackend.for_cards(settings).root == str(tmp_path / "sys" / "mf.cards")
    settings = Settings(env={"METAFLOW_CARD_LOCALROOT": str(tmp_path / "cards")})
    assert LocalBackend.for_cards(settings).root == str(tmp_path / "cards")


def test_bad_card_names_are_refused():
    for bad in ("", "../x", "a/b", "x" * 81, ".hidden"):
        with pytest.raises(CardError, match="is not a valid name"):
            check_name(bad, "card id")
    assert check_name("metrics_v2.1", "card id") == "metrics_v2.1"


@pytest.fixture(params=["azure", "s3"])
def remote_cards(request, monkeypatch, hw_env):
    """A remote datastore with a separate card root; yields (card backend, sysroot backend)."""
    from headwater.datastore.azure import AzureBlobBackend
    from headwater.datastore.s3 import S3Backend

    if request.param == "azure":
        azurite = request.getfixturevalue("azurite")
        container = azurite.new_container()
        monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "azure")
        monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_AZURE", f"{container}/flows")
        monkeypatch.setenv("METAFLOW_CARD_AZUREROOT", f"{container}/cards")
        monkeypatch.setenv("METAFLOW_AZURE_STORAGE_CONNECTION_STRING",
                           azurite.connection_string)
        cards = AzureBlobBackend(container, "cards", connection_string=azurite.connection_string)
    else:
        moto = request.getfixturevalue("aws_env")
        bucket = request.getfixturevalue("s3_bucket")
        monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "s3")
        monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_S3", f"s3://{bucket}/flows")
        monkeypatch.setenv("METAFLOW_CARD_S3ROOT", f"s3://{bucket}/cards")
        monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", moto.endpoint_url)
        cards = S3Backend(bucket, "cards", endpoint_url=moto.endpoint_url)
    return cards


def test_run_on_remote_datastore_stores_cards_in_card_root(remote_cards, run_flow, tmp_path):
    import shutil

    from headwater import Flow
    from headwater.cards import get_cards

    flow_file = tmp_path / "small_card_flow.py"
    shutil.copy(FLOWS / "small_card_flow.py", flow_file)
    run_flow(flow_file, "run")
    keys = remote_cards.list("SmallCardFlow/")
    assert any(k.startswith("SmallCardFlow/1/start/") and k.endswith("/cards/0.0.html")
               for k in keys), keys
    assert any(k.startswith("SmallCardFlow/1/end/") and k.endswith("/cards/0.0.json")
               for k in keys), keys
    run = Flow("SmallCardFlow").latest_run
    [default] = get_cards(run["start"].task)
    assert "numbers" in default.html and "[1, 2, 3]" in default.html
    summary = get_cards(run["end"].task)["summary"]
    assert "<h1>Summary</h1>" in summary.html and "<td>6</td>" in summary.html


def test_task_entry_point_stores_its_own_cards(aws_env, s3_bucket, monkeypatch, run_flow,
                                              tmp_path):
    """What remote compute runs in a container (the hidden ``step`` command, with only the
    profile's settings) writes the task's card into the S3 card root itself."""
    import json
    import shutil

    from headwater import Flow, Task
    from headwater.cards import get_cards
    from headwater.task import InputRef, TaskSpec

    monkeypatch.setenv("METAFLOW_DEFAULT_DATASTORE", "s3")
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_S3", f"s3://{s3_bucket}/flows")
    monkeypatch.setenv("METAFLOW_CARD_S3ROOT", f"s3://{s3_bucket}/cards")
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", aws_env.endpoint_url)
    flow_file = tmp_path / "small_card_flow.py"
    shutil.copy(FLOWS / "small_card_flow.py", flow_file)
    run_flow(flow_file, "run")
    run = Flow("SmallCardFlow").latest_run
    end = run["end"].task
    spec = TaskSpec(flow_name="SmallCardFlow", run_id=run.id, step_name="end",
                    task_id=end.id, attempt=1,
                    inputs=[InputRef("start", run["start"].task.id, 0)], user="tester")
    elsewhere = tmp_path / "container"
    elsewhere.mkdir()
    run_flow(flow_file, "step", "--spec", json.dumps(spec.to_json()), cwd=elsewhere)
    task = Task(end.pathspec)
    assert task.current_attempt == 1
    summary = get_cards(task)["summary"]
    assert summary.attempt == 1 and "<td>6</td>" in summary.html
    assert [c.attempt for c in get_cards(task, attempt=0)] == [0]
