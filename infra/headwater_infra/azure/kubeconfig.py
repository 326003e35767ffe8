"""The kubeconfig Pulumi uses to reach an AKS cluster that has no local accounts.

AKS hands out a kubeconfig whose user runs ``kubelogin`` with an interactive device-code
login. Pulumi cannot answer a prompt, so the login is switched to the Azure CLI's: whoever
runs ``pulumi up`` after ``az login`` reaches the cluster as themselves (the stack grants
them cluster admin through Azure RBAC). Same effect as ``kubelogin convert-kubeconfig -l
azurecli``.
"""

from __future__ import annotations

import base64

__all__ = ["use_azure_cli_login"]


def use_azure_cli_login(kubeconfig: str) -> str:
    """Rewrite every ``kubelogin get-token`` user of ``kubeconfig`` (YAML, or base64 of it as
    the AKS API returns it) to log in with the Azure CLI; other users are left alone."""
    import yaml

    text = kubeconfig
    if "apiVersion" not in text:
        text = base64.b64decode(text).decode("utf-8")
    config = yaml.safe_load(text)
    for user in config.get("users") or []:
        exec_ = (user.get("user") or {}).get("exec")
        if not exec_ or "kubelogin" not in str(exec_.get("command", "")):
            continue
        args = list(exec_.get("args") or [])
        server_id = _flag(args, "--server-id")
        if server_id is None:
            raise ValueError("the AKS kubeconfig's kubelogin user has no --server-id")
        exec_["args"] = ["get-token", "--login", "azurecli", "--server-id", server_id]
        exec_.pop("env", None)
    return yaml.safe_dump(config, sort_keys=False)


def _flag(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None
