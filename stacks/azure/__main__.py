"""Headwater shared mode on Azure. Deploy: `pulumi up --stack dev`; then on a laptop:
`headwater configure from-stack stacks/azure --stack dev`. See docs/deploy-azure.md."""

from typing import Literal, Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pulumi_azure_native import authorization, resources

from headwater_infra.azure import (
    AksCluster, AksClusterArgs, Database, DatabaseArgs, Grant, KeyVault, KeyVaultArgs, Network,
    NetworkArgs, Registry, RegistryArgs, Storage, StorageArgs, WorkloadIdentity,
    WorkloadIdentityArgs, grant)
from headwater_infra.kubernetes import (
    ArgoWorkflows, ArgoWorkflowsArgs, ClusterLayout, HeadwaterNamespace, HeadwaterNamespaceArgs,
    MetadataService, MetadataServiceArgs, NvidiaDevicePlugin, NvidiaDevicePluginArgs)
from headwater_infra.kubernetes.manifests import GPU_TOLERATION
from headwater_infra.azure.keyvault import API_KEY_SECRET_NAME, UI_SESSION_SECRET_NAME
from headwater_infra.naming import Naming
from headwater_infra.options import read_config
from headwater_infra.profile import (KubernetesProfile, azure_datastore, azure_profile,
                                    profile_output, service_datastore_env)
from headwater_infra.settings import StackSettings

SECTIONS = {"network": NetworkArgs, "storage": StorageArgs, "keyVault": KeyVaultArgs,
            "database": DatabaseArgs, "cluster": AksClusterArgs, "registry": RegistryArgs,
            "kubernetes": ClusterLayout, "service": MetadataServiceArgs,
            "argo": ArgoWorkflowsArgs, "devicePlugin": NvidiaDevicePluginArgs}
# deployerType: who runs `pulumi up`, a person (User) or a CI service principal;
# usersGroup: object id of the Entra ID group of Headwater users (optional).
EXTRA = {"deployerType": (Literal["User", "ServicePrincipal"], "User"),
         "usersGroup": (Optional[str], None)}
config = pulumi.Config()
settings = StackSettings.load(
    config.name, read_config(config, StackSettings.keys(SECTIONS, EXTRA)), SECTIONS, EXTRA)
location = pulumi.Config("azure-native").require("location")
naming = Naming(settings.prefix, pulumi.get_stack())
tags = {**settings.tags, "stack": naming.stack}
client = authorization.get_client_config_output()
sub = client.subscription_id
ip_ranges = settings.allowed_client_ip_ranges
prod = settings.environment == "prod"  # data resources are protected from deletion
# Globally unique names (storage, vault, Postgres, registry) end with this; kept in state.
suffix = random.RandomString("name-suffix", length=6, special=False, upper=False).result

group = resources.ResourceGroup("group", resource_group_name=naming.resource("rg"),
                                location=location, tags=tags)
common = dict(resource_group_name=group.name, location=location, naming=naming, tags=tags)
network = Network("network", NetworkArgs(**common, **settings.knobs("network")))
nodes = [network.node_subnet.id]
storage = Storage("storage", StorageArgs(**common, suffix=suffix, allowed_subnet_ids=nodes,
                                         allowed_ip_ranges=ip_ranges, protect=prod,
                                         **settings.knobs("storage")))
# Two vaults: flows' secrets (users and tasks read them) and the service's (nobody does).
vault_args = dict(common, suffix=suffix, tenant_id=client.tenant_id, allowed_subnet_ids=nodes,
                  allowed_ip_ranges=ip_ranges, protect=prod, **settings.knobs("keyVault"))
vault = KeyVault("vault", KeyVaultArgs(**vault_args))
service_vault = KeyVault("service-vault", KeyVaultArgs(**vault_args, kind="svc"))
database = Database("database", DatabaseArgs(
    **common, suffix=suffix, subnet_id=network.postgres_subnet.id,
    private_dns_zone_id=network.postgres_zone.id, vault=service_vault,
    dns_zone_link=network.postgres_zone_link, protect=prod, **settings.knobs("database")))
# The metadata service's API key: clients (users, tasks) and the service itself read it
# from the flows' vault.
api_key = random.RandomPassword("service-api-key", length=48, special=False)
api_key_secret = vault.secret("service-api-key-secret", API_KEY_SECRET_NAME, api_key.result)
# What signs the UI's session cookies: kept in the service's vault, handed to the pods.
ui_session = random.RandomPassword("ui-session-secret", length=48, special=False)
service_vault.secret("ui-session-secret-record", UI_SESSION_SECRET_NAME, ui_session.result)
cluster = AksCluster("cluster", AksClusterArgs(
    **common, tenant_id=client.tenant_id, node_subnet_id=network.node_subnet.id,
    allowed_ip_ranges=ip_ranges, **settings.knobs("cluster")))
registry = Registry("registry", RegistryArgs(
    **common, suffix=suffix, subscription_id=sub, pull_principal_id=cluster.kubelet_object_id,
    **settings.knobs("registry")))

layout = ClusterLayout(**settings.knobs("kubernetes"))
identity = dict(common, subscription_id=sub, issuer_url=cluster.oidc_issuer_url)
tasks = WorkloadIdentity("tasks", WorkloadIdentityArgs(
    **identity, kind="tasks", subjects=[layout.subject(layout.task_service_account)],
    grants=[Grant("Storage Blob Data Contributor", storage.account_id),
            Grant("Key Vault Secrets User", vault.vault_id)]))
# The service reads (never writes) what its UI shows, and its own API key.
service = WorkloadIdentity("service", WorkloadIdentityArgs(
    **identity, kind="service", subjects=[layout.service_subject()],
    grants=[*(Grant("Storage Blob Data Reader", container.id)
              for container in storage.containers.values()),
            Grant("Key Vault Secrets User", api_key_secret.id)]))
# The cluster places internal load balancers in the VNet; the deployer administers it.
grant("cluster-network", cluster.principal_id, Grant("Network Contributor", network.vnet.id), sub)
admin = grant("deployer-cluster-admin", client.object_id,
              Grant("Azure Kubernetes Service RBAC Cluster Admin", cluster.cluster_id), sub,
              principal_type=settings.extra["deployerType"])
users_group = settings.extra["usersGroup"]
if users_group:
    for role, scope in (("Storage Blob Data Contributor", storage.account_id),
                        ("Key Vault Secrets User", vault.vault_id),
                        ("Azure Kubernetes Service Cluster User Role", cluster.cluster_id)):
        grant(f"users-{role.lower().replace(' ', '-')}", users_group,
              Grant(role, scope), sub, principal_type="Group")

provider = k8s.Provider("aks", kubeconfig=cluster.kubeconfig,
                        opts=pulumi.ResourceOptions(depends_on=[admin]))
on_cluster = pulumi.ResourceOptions(provider=provider)
pod_labels = {"azure.workload.identity/use": "true"}
namespace = HeadwaterNamespace("headwater", HeadwaterNamespaceArgs(
    layout, settings.environment, users_group=users_group,
    task_annotations={"azure.workload.identity/client-id": tasks.client_id},
    service_annotations={"azure.workload.identity/client-id": service.client_id}),
    opts=on_cluster)
after_namespace = pulumi.ResourceOptions(provider=provider, depends_on=[namespace])
argo = ArgoWorkflows("argo", ArgoWorkflowsArgs(layout, **settings.knobs("argo")),
                     opts=after_namespace)
gpu = bool(settings.knobs("cluster").get("gpu_pool"))
if gpu:
    NvidiaDevicePlugin("nvidia", NvidiaDevicePluginArgs(**settings.knobs("devicePlugin")),
                       opts=pulumi.ResourceOptions(provider=provider,
                                                   depends_on=list(cluster.pools.values())))

pulumi.export("resourceGroup", group.name)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("registry", registry.login_server)
pulumi.export("registryName", registry.registry.name)
pulumi.export("storageAccount", storage.account_name)
pulumi.export("keyVault", vault.vault_name)
pulumi.export("serviceKeyVault", service_vault.vault_name)
pulumi.export("databaseHost", database.host)
pulumi.export("databasePasswordSecret", database.password_secret_name)

version = settings.service_version
if version is None:  # first run: the registry exists now; push the images, set the version
    pulumi.export("nextStep", "build and push the images to the registry, then "
                              "`pulumi config set serviceVersion <tag>` and `pulumi up`")
else:
    images = registry.login_server.apply(lambda server: {
        "service": settings.service_image or f"{server}/headwater-service:{version}",
        "task": settings.task_image or f"{server}/headwater-task:{version}"})
    metadata = MetadataService("metadata", MetadataServiceArgs(
        layout, image=images["service"], version=version, database_url=database.url,
        api_keys_secret_id=vault.secret_uri(API_KEY_SECRET_NAME),
        session_secret=ui_session.result, organization=naming.root,
        datastore_env=service_datastore_env(
            azure_datastore, blob_endpoint=storage.blob_endpoint,
            artifact_root=storage.artifact_root, card_root=storage.card_root),
        tls_ip_addresses=[network.service_ip],
        client_cidrs=[network.address_space], pod_labels=pod_labels,
        service_annotations={
            "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
            "service.beta.kubernetes.io/azure-load-balancer-internal-subnet":
                network.lb_subnet_name,
            "service.beta.kubernetes.io/azure-load-balancer-ipv4": network.service_ip},
        **settings.knobs("service")), opts=after_namespace)
    pulumi.export("images", images)
    pulumi.export("profile", profile_output(
        azure_profile, blob_endpoint=storage.blob_endpoint, artifact_root=storage.artifact_root,
        card_root=storage.card_root, vault_uri=vault.vault_uri,
        service_url=settings.service_url or f"https://{network.service_ip}",
        service_ca_cert=metadata.ca_pem,
        service_internal_url=metadata.internal_url, registry=registry.login_server,
        task_image=images["task"], auth_secret_id=vault.secret_uri(API_KEY_SECRET_NAME),
        kubernetes=KubernetesProfile(
            namespace=layout.namespace, service_account=layout.task_service_account,
            secrets=[layout.task_secret], labels=pod_labels, argo_ui_url=argo.ui_url,
            gpu_vendor="nvidia" if gpu else None, tolerations=[GPU_TOLERATION] if gpu else [])))
