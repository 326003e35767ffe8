"""Headwater shared mode on AWS. Deploy: `pulumi up --stack dev`; then on a laptop:
`headwater configure from-stack stacks/aws --stack dev`. See docs/deploy-aws.md."""

from typing import Literal, Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from headwater_infra.aws import (
    ArtifactBucket, ArtifactBucketArgs, Batch, BatchArgs, ClusterAutoscaler,
    ClusterAutoscalerArgs, Database, DatabaseArgs, EcsMetadataService, EcsMetadataServiceArgs,
    EksCluster, EksClusterArgs, Network, NetworkArgs, Repositories, RepositoriesArgs,
    ServiceApiKey, ServiceApiKeyArgs, StepFunctions, StepFunctionsArgs, UsersPolicy,
    UsersPolicyArgs)
from headwater_infra.aws.eks import USERS_GROUP
from headwater_infra.aws.iam import STACK_TAG, statement
from headwater_infra.kubernetes import (
    ArgoWorkflows, ArgoWorkflowsArgs, ClusterLayout, HeadwaterNamespace, HeadwaterNamespaceArgs,
    MetadataService, MetadataServiceArgs, NvidiaDevicePlugin, NvidiaDevicePluginArgs)
from headwater_infra.kubernetes.manifests import GPU_TOLERATION
from headwater_infra.naming import Naming
from headwater_infra.options import read_config
from headwater_infra.profile import (KubernetesProfile, aws_profile, profile_output,
                                    s3_datastore, service_datastore_env)
from headwater_infra.settings import StackSettings

config = pulumi.Config()
eks = (config.get("platform") or "ecs") == "eks"
SECTIONS = {"network": NetworkArgs, "storage": ArtifactBucketArgs, "database": DatabaseArgs,
            "registry": RepositoriesArgs, "batch": BatchArgs, "stepFunctions": StepFunctionsArgs,
            **({"service": MetadataServiceArgs, "cluster": EksClusterArgs,
                "kubernetes": ClusterLayout, "argo": ArgoWorkflowsArgs,
                "devicePlugin": NvidiaDevicePluginArgs} if eks
               else {"service": EcsMetadataServiceArgs})}
# platform: where the metadata service runs; usersRoleArn: the IAM role Headwater users
# sign in with (gets the users' policy, unless it is an IAM Identity Center role: then
# ssoInstanceArn + usersPermissionSetArn reference the policy from the permission set);
# migrationVersion: ECS only, see docs/deploy-aws.md.
EXTRA = {"platform": (Literal["ecs", "eks"], "ecs"), "usersRoleArn": (Optional[str], None),
         "ssoInstanceArn": (Optional[str], None), "usersPermissionSetArn": (Optional[str], None),
         "migrationVersion": (Optional[str], None)}
settings = StackSettings.load(
    config.name, read_config(config, StackSettings.keys(SECTIONS, EXTRA)), SECTIONS, EXTRA)
region = pulumi.Config("aws").require("region")
account = aws.get_caller_identity_output().account_id
naming = Naming(settings.prefix, pulumi.get_stack())
tags = {**settings.tags, "stack": naming.stack}
users_role = settings.extra["usersRoleArn"]
prod = settings.environment == "prod"  # data resources are protected from deletion
# Sandboxes come and go under the same names: their secrets are deleted at once.
recovery_days = 0 if settings.environment == "sandbox" else 7
suffix = random.RandomString("name-suffix", length=6, special=False, upper=False).result

network = Network("network", NetworkArgs(naming, region, tags, **settings.knobs("network")))
private = network.private_subnet_ids
bucket = ArtifactBucket("artifacts", ArtifactBucketArgs(naming, suffix, tags, protect=prod,
                                                        **settings.knobs("storage")))
repositories = Repositories("registry", RepositoriesArgs(naming, tags,
                                                          **settings.knobs("registry")))
database = Database("database", DatabaseArgs(naming, network.vpc_id, private, tags,
                                             protect=prod, secret_recovery_days=recovery_days,
                                             **settings.knobs("database")))
api_key = ServiceApiKey("service-api-key", ServiceApiKeyArgs(naming, tags, recovery_days))
# What signs the UI's session cookies: for the service only (no user or task reads it).
ui_session = ServiceApiKey("ui-session-secret", ServiceApiKeyArgs(
    naming, tags, recovery_days, purpose="ui-session",
    description="Signs the Headwater metadata service's UI sessions (the service only)"))
# The UI reads the datastore with the service's read-only identity.
service_datastore = service_datastore_env(s3_datastore, {"AWS_DEFAULT_REGION": region},
                                          bucket=bucket.bucket_name)
layout = ClusterLayout(**settings.knobs("kubernetes"))
cluster = EksCluster("cluster", EksClusterArgs(
    naming, region, private, settings.allowed_client_ip_ranges, users_role, tags,
    **settings.knobs("cluster"))) if eks else None
batch = Batch("batch", BatchArgs(
    naming, region, account, network.vpc_id, private, bucket.bucket_arn, repositories.arns,
    [cluster.web_identity(layout.subject(layout.task_service_account))] if cluster else [],
    tags, client_secret_arns=[api_key.secret_arn], **settings.knobs("batch")))
sfn = StepFunctions("step-functions", StepFunctionsArgs(
    naming, region, account, batch.job_queue_arn, batch.task_role_name, bucket.bucket_name,
    tags, **settings.knobs("stepFunctions")))
users = UsersPolicy("users", UsersPolicyArgs(
    naming, region, account, bucket.bucket_arn, batch.secrets_prefix, batch.job_queue_arn,
    batch.job_definition_prefix, [batch.task_role_arn, batch.execution_role_arn],
    sfn.sfn_role_arn, sfn.events_role_arn, sfn.state_machine_prefix, sfn.table_arn,
    batch.log_group_arn, [api_key.secret_arn],
    users_role, settings.extra["ssoInstanceArn"], settings.extra["usersPermissionSetArn"], tags))

pulumi.export("bucket", bucket.bucket_name)
pulumi.export("registry", repositories.registry)
pulumi.export("databaseEndpoint", database.address)
pulumi.export("databaseSecretArn", database.secret_arn)
pulumi.export("flowSecretsPrefix", batch.secrets_prefix)
pulumi.export("usersPolicyArn", users.policy_arn)
pulumi.export("usersPolicyName", users.policy_name)
pulumi.export("serviceApiKeySecretArn", api_key.secret_arn)
if cluster:
    pulumi.export("clusterName", cluster.cluster_name)

version = settings.service_version
migration = settings.extra["migrationVersion"]
if migration and cluster:
    raise ValueError("headwater-aws:migrationVersion is for platform ecs; on eks the migration "
                     "Job of serviceVersion runs inside `pulumi up`")
if version is None and migration is None:  # first run: push images, then migrate
    pulumi.export("nextStep", "build and push the images, then `pulumi config set "
                  + ("serviceVersion" if cluster else "migrationVersion") + " <tag>` and "
                  "`pulumi up` (docs/deploy-aws.md)")
elif cluster is None:  # ECS: migration task first (run by hand), then the service
    service = EcsMetadataService("metadata", EcsMetadataServiceArgs(
        naming, region, network.vpc_id, network.cidr, private,
        settings.service_image or repositories.image("headwater-service", version)
        if version else None,
        settings.service_image or repositories.image("headwater-service", migration or version),
        database.url_without_password, database.secret_arn, repositories.arns,
        bucket.bucket_arn, api_key.secret_arn, tags, session_secret_arn=ui_session.secret_arn,
        datastore_env=service_datastore, **settings.knobs("service")))
    database.allow_from("database-from-metadata", service.security_group.id)
    pulumi.export("migrationCommand", service.migration_command)
    if version is None:
        pulumi.export("nextStep", "run the migration (eval \"$(pulumi stack output "
                                  "migrationCommand)\"), wait for it, then `pulumi config set "
                                  "serviceVersion <tag>`, `pulumi config rm migrationVersion` "
                                  "and `pulumi up`")
    internal_url = external_url = service.url
    kubernetes = None
    service_ca_cert = service.ca_pem  # None with an ACM-issued (publicly trusted) certificate
else:  # EKS: the migration Job runs before the Deployment inside `pulumi up`
    service_image = settings.service_image or repositories.image("headwater-service", version)
    database.allow_from("database-from-cluster", cluster.security_group_id)
    service_role = cluster.service_account_role(
        "metadata-role", naming, "metadata-service",
        layout.service_subject(), {"read-artifacts": [
            statement(["s3:ListBucket"], [bucket.bucket_arn]),
            statement(["s3:GetObject"], [pulumi.Output.concat(bucket.bucket_arn, "/*")])],
            # Read at start (HEADWATER_SERVICE_API_KEYS_SECRET_ID): no Kubernetes copy.
            "api-key": [statement(["secretsmanager:GetSecretValue"], [api_key.secret_arn])]},
        tags)
    provider = k8s.Provider("eks", kubeconfig=cluster.kubeconfig,
                            opts=pulumi.ResourceOptions(depends_on=list(
                                cluster.node_groups.values())))
    namespace = HeadwaterNamespace("headwater", HeadwaterNamespaceArgs(
        layout, settings.environment, users_group=USERS_GROUP if users_role else None,
        task_annotations={"eks.amazonaws.com/role-arn": batch.task_role_arn},
        service_annotations={"eks.amazonaws.com/role-arn": service_role.arn}),
        opts=pulumi.ResourceOptions(provider=provider))
    after_namespace = pulumi.ResourceOptions(provider=provider, depends_on=[namespace])
    argo = ArgoWorkflows("argo", ArgoWorkflowsArgs(layout, **settings.knobs("argo")),
                         opts=after_namespace)
    on_cluster = pulumi.ResourceOptions(provider=provider)
    ClusterAutoscaler("autoscaler", ClusterAutoscalerArgs(cluster, naming, region, account, tags),
                      opts=on_cluster)
    gpu = "gpu" in cluster.node_groups
    if gpu:
        NvidiaDevicePlugin("nvidia", NvidiaDevicePluginArgs(**settings.knobs("devicePlugin")),
                           opts=on_cluster)
    metadata = MetadataService("metadata", MetadataServiceArgs(
        layout, image=service_image, version=version, database_url=database.url,
        api_keys_secret_id=api_key.secret_arn, session_secret=ui_session.value,
        datastore_env=service_datastore, organization=naming.root,
        client_cidrs=[network.cidr], service_annotations={
            "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb"},
        **settings.knobs("service")), opts=after_namespace)
    internal_url = metadata.internal_url
    external_url = metadata.service.status.apply(
        lambda s: f"https://{s.load_balancer.ingress[0].hostname}")
    service_ca_cert = metadata.ca_pem
    kubernetes = KubernetesProfile(
        namespace=layout.namespace, service_account=layout.task_service_account,
        secrets=[layout.task_secret], argo_ui_url=argo.ui_url,
        gpu_vendor="nvidia" if gpu else None, tolerations=[GPU_TOLERATION] if gpu else [])

if version is not None:
    task_image = settings.task_image or repositories.image("headwater-task", version)
    pulumi.export("images", {"service": settings.service_image or repositories.image(
        "headwater-service", version), "task": task_image})
    pulumi.export("profile", profile_output(
        aws_profile, bucket=bucket.bucket_name, region=region,
        service_url=settings.service_url or external_url, service_internal_url=internal_url,
        registry=repositories.registry, task_image=task_image,
        batch_job_queue=batch.job_queue_arn, task_role_arn=batch.task_role_arn,
        execution_role_arn=batch.execution_role_arn, sfn_role_arn=sfn.sfn_role_arn,
        events_role_arn=sfn.events_role_arn, dynamo_table=sfn.table_name,
        state_machine_prefix=sfn.state_machine_prefix, sfn_log_group_arn=sfn.log_group_arn,
        batch_log_group=batch.log_group_name, stack_tag={STACK_TAG: naming.root},
        auth_secret_id=api_key.secret_arn, service_ca_cert=service_ca_cert,
        kubernetes=kubernetes))
