"""Every extension point reports a name it does not know in one shape:
``unknown <what> '<name>'; known: a, b, c`` and how to fix it."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from headwater.cards.components import CardError
from headwater.cards.registry import card_type_class
from headwater.cli.main import cli
from headwater.datastore import backend_class as datastore_class
from headwater.decorators import step_decorator_class
from headwater.deploy_api.base import DeployedFlow, DeployerError
from headwater.decorators.base import DecoratorError
from headwater.exceptions import ConfigurationError, SecretsError
from headwater.metadata import get_provider
from headwater.registry import unknown
from headwater.scheduler import backend_class as compute_class
from headwater.secrets.registry import backend_class as secrets_class
from headwater.settings import Settings


def test_the_shape():
    error = unknown("datastore type", "gcs", ["s3", "local", "azure", "s3"],
                    "set METAFLOW_DEFAULT_DATASTORE to one of them")
    assert isinstance(error, ConfigurationError)
    assert error.message == "unknown datastore type 'gcs'; known: azure, local, s3"
    assert error.fix == "set METAFLOW_DEFAULT_DATASTORE to one of them"
    assert unknown("thing", "x", [], "add one", DecoratorError).message == \
        "unknown thing 'x'; known: none"


@pytest.mark.parametrize("find, error, what, member", [
    (datastore_class, ConfigurationError, "datastore type", "local"),
    (lambda name: get_provider(Settings(), name), ConfigurationError, "metadata provider",
     "service"),
    (compute_class, ConfigurationError, "compute backend", "kubernetes"),
    (step_decorator_class, DecoratorError, "step decorator", "retry"),
    (secrets_class, SecretsError, "secrets backend type", "azure-key-vault"),
    (card_type_class, CardError, "card type", "default"),
    (DeployedFlow._type, DeployerError, "deployer", "step_functions"),
])
def test_every_extension_point_uses_it(find, error, what, member):
    with pytest.raises(error) as info:
        find("nosuch")
    assert re.fullmatch(rf"unknown {what} 'nosuch'; known: [a-z0-9_, -]+", info.value.message)
    assert member in info.value.message.partition("known: ")[2].split(", ")
    assert info.value.fix


def test_the_console_script_uses_it():
    result = CliRunner().invoke(cli, ["nosuch"])
    assert result.exit_code == 2  # a usage error, as click's own
    assert "unknown command 'nosuch'; known: card, configure, dev, runs, status" in result.output
