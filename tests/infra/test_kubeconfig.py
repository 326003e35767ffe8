"""The kubeconfig Pulumi uses for AKS: kubelogin switched to the Azure CLI login."""

from __future__ import annotations

import base64

import pytest
import yaml

from headwater_infra.azure.kubeconfig import use_azure_cli_login

from .harness import AKS_KUBECONFIG


def test_device_code_login_becomes_azure_cli_login():
    encoded = base64.b64encode(AKS_KUBECONFIG.encode()).decode()  # as the AKS API returns it
    config = yaml.safe_load(use_azure_cli_login(encoded))
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["command"] == "kubelogin"
    assert exec_["args"] == ["get-token", "--login", "azurecli", "--server-id",
                             "6dae42f8-4368-4678-94ff-3960e28e3630"]
    assert config["clusters"] == yaml.safe_load(AKS_KUBECONFIG)["clusters"]
    assert use_azure_cli_login(AKS_KUBECONFIG) == use_azure_cli_login(encoded)


def test_other_users_are_left_alone():
    config = yaml.safe_load(AKS_KUBECONFIG)
    config["users"].append({"name": "token", "user": {"token": "abc"}})
    out = yaml.safe_load(use_azure_cli_login(yaml.safe_dump(config)))
    assert out["users"][1] == {"name": "token", "user": {"token": "abc"}}


def test_a_kubelogin_user_without_server_id_is_an_error():
    config = yaml.safe_load(AKS_KUBECONFIG)
    config["users"][0]["user"]["exec"]["args"] = ["get-token", "--login", "devicecode"]
    with pytest.raises(ValueError, match="no --server-id"):
        use_azure_cli_login(yaml.safe_dump(config))
