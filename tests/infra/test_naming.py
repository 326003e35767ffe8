"""Naming rules per cloud (infra/headwater_infra/naming.py)."""

from __future__ import annotations

import pytest

from headwater_infra.naming import RULES, InvalidName, Naming, check

LONG_STACK = "sandbox-" + "a" * 32      # 40 characters: the longest stack name allowed


@pytest.mark.parametrize("stack", ["dev", "prod", "sandbox", "sandbox-alice", LONG_STACK,
                                   "acme/headwater-azure/sandbox-bob"])
def test_every_builder_gives_valid_names_even_for_long_stacks(stack):
    naming = Naming("headwatr", stack)  # the longest prefix allowed
    suffix = "x7k2p9"
    names = {
        "storage account": naming.storage_account(suffix),
        "key vault": naming.key_vault(suffix),
        "postgres server": naming.postgres_server(suffix),
        "container registry": naming.container_registry(suffix),
        "s3 bucket": naming.s3_bucket(suffix),
        "rds instance": naming.rds_instance(),
        "iam role": naming.iam_role("batch-execution"),
        "aws resource": naming.aws("metadata"),
        "aws name": naming.aws_name("sfn-state"),
        "kubernetes": naming.kubernetes("metadata"),
        "azure resource": naming.resource("aks-nodes"),
    }
    for kind, name in names.items():
        assert check(kind, name) == name
        assert len(name) <= RULES[kind].max_len
    # Globally unique names keep the whole suffix even when the root is cut.
    for kind in ("storage account", "key vault", "postgres server", "s3 bucket"):
        assert names[kind].endswith(suffix)


def test_names_carry_prefix_and_stack():
    naming = Naming("hw", "dev")
    assert naming.storage_account("abc123") == "hwdevabc123"
    assert naming.key_vault("abc123") == "hw-dev-abc123"
    assert naming.postgres_server("abc123") == "hw-dev-pg-abc123"
    assert naming.s3_bucket("abc123") == "hw-dev-artifacts-abc123"
    assert naming.resource("rg") == "hw-dev-rg"
    assert naming.iam_role("batch-task") == "hw-dev-batch-task"


def test_fully_qualified_stack_names_use_the_last_part():
    assert Naming("hw", "acme/headwater-aws/Sandbox-Bob").root == "hw-sandbox-bob"


def test_storage_account_rule_is_lowercase_alnum_3_to_24():
    check("storage account", "abc")
    for bad in ("ab", "a" * 25, "Hw1", "hw-dev", "hw_dev"):
        with pytest.raises(InvalidName, match="3-24 lowercase letters and digits"):
            check("storage account", bad)


def test_key_vault_rule():
    check("key vault", "hw-dev-abc123")
    for bad in ("1vault", "vault-", "hw--dev", "a" * 25, "ab"):
        with pytest.raises(InvalidName):
            check("key vault", bad)


def test_s3_bucket_rule():
    check("s3 bucket", "hw-dev-artifacts-abc123")
    for bad in ("Hw-dev", "-bucket", "bucket-", "a" * 64, "b--b", "ab"):
        with pytest.raises(InvalidName):
            check("s3 bucket", bad)


def test_kubernetes_and_blob_container_rules():
    check("kubernetes", "headwater-tasks")
    check("blob container", "artifacts")
    for bad in ("Headwater", "-x", "x-", "a" * 64):
        with pytest.raises(InvalidName):
            check("kubernetes", bad)
    with pytest.raises(InvalidName):
        check("blob container", "art--ifacts")


@pytest.mark.parametrize("prefix", ["", "Hw", "1hw", "hw-x", "toolongprefix"])
def test_bad_prefix_is_refused_with_the_rule(prefix):
    with pytest.raises(InvalidName, match="prefix"):
        Naming(prefix, "dev")


@pytest.mark.parametrize("stack", ["d", "dev_1", "-dev", "x" * 41, "dev."])
def test_bad_stack_name_is_refused_with_the_rule(stack):
    with pytest.raises(InvalidName, match="stack"):
        Naming("hw", stack)
