"""Run a stack program offline under Pulumi's mocks and report what it declared.

No Pulumi CLI or cloud account can run here, so the engine is replaced by
``pulumi.runtime.set_mocks``: every resource the program declares is recorded with its
inputs, and the mocks answer with the outputs the cloud would compute (ids, endpoints,
ARNs), derived deterministically from the inputs so the exported profile can be compared
with a checked-in file. The stack's own ``Pulumi.<stack>.yaml`` is its configuration, as
with ``pulumi up``.

Pulumi's runtime settings are process-global, so each build runs in its own process:

    python -m tests.infra.harness azure dev [--set key=json] [--out FILE]

prints (or writes) JSON: ``{"resources": [...], "outputs": {...}, "passwords": [...]}``; each
resource has its ``inputs``, whether it ends up ``protect``-ed, and the names of the
resources it explicitly ``dependsOn``.
``build`` runs that from Python; ``build_many`` runs several in parallel.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import runpy
import subprocess
import sys
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
TENANT = "99999999-8888-7777-6666-555555555555"
DEPLOYER = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
ACCOUNT = "123456789012"

# An AKS user kubeconfig as the API returns it (kubelogin with device-code login).
AKS_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://hw-dev-abc.hcp.westeurope.azmk8s.io:443
  name: hw-dev-aks
contexts:
- context:
    cluster: hw-dev-aks
    user: clusterUser_hw-dev-rg_hw-dev-aks
  name: hw-dev-aks
current-context: hw-dev-aks
users:
- name: clusterUser_hw-dev-rg_hw-dev-aks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --environment, AzurePublicCloud, --server-id,
             6dae42f8-4368-4678-94ff-3960e28e3630, --client-id,
             80faf920-1908-4b52-b5ef-a8e7bedfc67a, --tenant-id, %s, --login, devicecode]
""" % TENANT

# Which input holds an Azure resource's own name.
_AZURE_NAME_INPUTS = (
    "accountName", "vaultName", "serverName", "registryName", "virtualNetworkName",
    "subnetName", "containerName", "privateZoneName", "virtualNetworkLinkName",
    "federatedIdentityCredentialResourceName", "agentPoolName", "databaseName",
    "configurationName", "managementPolicyName", "blobServicesName", "secretName",
    "resourceGroupName", "resourceName")


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def _mocks_class():
    import pulumi

    class InventoryMocks(pulumi.runtime.Mocks):
        """Record every resource; answer with plausible, deterministic cloud outputs."""

        def __init__(self, region: str, stack: str):
            self.region = region
            self.stack = stack
            self.resources: list[dict[str, Any]] = []
            self.passwords: list[str] = []
            self.password_of: dict[str, str] = {}   # RandomPassword name -> its value

        def new_resource(self, args):
            inputs = dict(args.inputs)
            self.resources.append({"type": args.typ, "name": args.name, "inputs": inputs,
                                   "custom": bool(args.custom)})
            state = dict(inputs)
            rid = f"{args.name}-id"
            package = args.typ.split(":")[0]
            if package == "azure-native":
                rid, state = self._azure(args.typ, args.name, inputs, state)
            elif package == "aws":
                rid, state = self._aws(args.typ, args.name, inputs, state)
            elif args.typ == "kubernetes:core/v1:Service":
                # What the cloud's load balancer controller reports once it is provisioned.
                host = f"k8s-{_digest('lb', self.stack, args.name)[:24]}.elb.{self.region}" \
                       f".amazonaws.com"
                state["status"] = {"loadBalancer": {"ingress": [{"hostname": host}]}}
            elif package == "tls":
                # PEM-shaped stand-ins (no real keys): what the tls provider computes.
                body = base64.b64encode(_digest("tls", self.stack, args.name).encode()).decode()
                if args.typ.endswith("PrivateKey"):
                    state["privateKeyPem"] = f"-----BEGIN PRIVATE KEY-----\n{body}\n" \
                                             f"-----END PRIVATE KEY-----\n"
                elif args.typ.endswith("CertRequest"):
                    state["certRequestPem"] = f"-----BEGIN CERTIFICATE REQUEST-----\n{body}\n" \
                                              f"-----END CERTIFICATE REQUEST-----\n"
                else:
                    state["certPem"] = f"-----BEGIN CERTIFICATE-----\n{body}\n" \
                                       f"-----END CERTIFICATE-----\n"
            elif package == "random":
                length = int(inputs.get("length", 16))
                if args.typ.endswith("RandomPassword"):
                    value = "Pw-" + _digest("password", self.stack, args.name)[: max(length - 3, 8)]
                    self.passwords.append(value)
                    self.password_of[args.name] = value
                else:
                    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
                    raw = int(_digest("string", self.stack, args.name), 16)
                    value = "".join(alphabet[(raw >> (6 * i)) % 36] for i in range(length))
                state["result"] = value
            self.resources[-1]["id"] = rid
            return rid, state

        # --- Azure ---------------------------------------------------------------------

        def _azure(self, typ: str, name: str, inputs: dict, state: dict):
            _, module, kind = typ.split(":")
            own = next((inputs[k] for k in _AZURE_NAME_INPUTS
                        if k in inputs and not (k == "resourceGroupName"
                                                and kind != "ResourceGroup")
                        and not (k == "resourceName" and kind == "AgentPool")),
                       None) or name
            if kind == "AgentPool":
                own = inputs.get("agentPoolName", name)
            group = inputs.get("resourceGroupName", "rg")
            rid = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
                   f"Microsoft.{module.capitalize()}/{kind[0].lower() + kind[1:]}s/{own}")
            if kind == "ResourceGroup":
                rid = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{own}"
            # Child resources: their ids extend their parent's, as ARM's do (so a role
            # assigned on one is inside its parent's scope).
            prefix = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
            if kind == "BlobContainer":
                own = inputs["containerName"]
                rid = (f"{prefix}Microsoft.Storage/storageAccounts/{inputs['accountName']}"
                       f"/blobServices/default/containers/{own}")
            elif kind == "Secret" and module == "keyvault":
                own = inputs["secretName"]
                rid = f"{prefix}Microsoft.Keyvault/vaults/{inputs['vaultName']}/secrets/{own}"
            if kind == "RoleAssignment":
                own = _uuid("role", name)
                rid = f"{inputs.get('scope')}/providers/Microsoft.Authorization/" \
                      f"roleAssignments/{own}"
            state["name"] = own
            if kind == "StorageAccount":
                state["primaryEndpoints"] = {"blob": f"https://{own}.blob.core.windows.net/"}
            elif kind == "Vault":
                state["properties"] = {**inputs.get("properties", {}),
                                       "vaultUri": f"https://{own}.vault.azure.net/"}
            elif kind == "Server" and module == "dbforpostgresql":
                state["fullyQualifiedDomainName"] = f"{own}.postgres.database.azure.com"
            elif kind == "ManagedCluster":
                state["oidcIssuerProfile"] = {
                    "enabled": True,
                    "issuerURL": f"https://westeurope.oic.prod-aks.azure.com/{TENANT}/"
                                 f"{_uuid('issuer', own)}/"}
                state["identity"] = {"type": "SystemAssigned",
                                     "principalId": _uuid("cluster-principal", own)}
                state["identityProfile"] = {"kubeletidentity": {
                    "objectId": _uuid("kubelet", own), "clientId": _uuid("kubelet-c", own)}}
            elif kind == "UserAssignedIdentity":
                state["clientId"] = _uuid("client", own)
                state["principalId"] = _uuid("principal", own)
            elif kind == "Registry":
                state["loginServer"] = f"{own}.azurecr.io"
            return rid, state

        # --- AWS -----------------------------------------------------------------------

        def _aws(self, typ: str, name: str, inputs: dict, state: dict):
            _, module, kind = typ.split(":")
            service = module.split("/")[0]
            kind = kind.split(":")[-1]
            own = (inputs.get("name") or inputs.get("bucket") or inputs.get("identifier")
                   or inputs.get("family") or inputs.get("clusterName") and
                   inputs.get("nodeGroupName") or name)
            arn_service = {"lb": "elasticloadbalancing", "cloudwatch": "logs"}.get(
                service, service)
            resource = {"Role": f"role/{own}", "Bucket": own, "Repository": f"repository/{own}",
                        "LogGroup": f"log-group:{own}", "Table": f"table/{own}",
                        "JobQueue": f"job-queue/{own}",
                        "ComputeEnvironment": f"compute-environment/{own}",
                        "Cluster": f"cluster/{own}", "TaskDefinition": f"task-definition/{own}:1",
                        "LoadBalancer": f"loadbalancer/app/{own}/{_digest(own)[:16]}",
                        "TargetGroup": f"targetgroup/{own}/{_digest(own)[:16]}",
                        "Instance": f"db:{own}", "Secret": f"secret:{own}",
                        "OpenIdConnectProvider": f"oidc-provider/{own}"}.get(kind, f"{kind.lower()}/{own}")
            region = "" if service in ("iam", "s3") else self.region
            account = "" if service == "s3" else ACCOUNT
            state["arn"] = f"arn:aws:{arn_service}:{region}:{account}:{resource}"
            state.setdefault("name", own)
            state["id"] = own if service in ("s3", "rds", "ecr", "batch", "sfn") else \
                f"{kind.lower()}-{_digest(name)[:12]}"
            if kind == "Bucket":
                state["bucket"] = own
            elif kind == "Repository":
                state["repositoryUrl"] = f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/{own}"
            elif kind == "LoadBalancer":
                state["dnsName"] = (f"internal-{own}-{int(_digest(own)[:8], 16)}."
                                    f"{self.region}.elb.amazonaws.com")
            elif kind == "Instance" and service == "rds":
                state["address"] = f"{own}.{_digest(own)[:12]}.{self.region}.rds.amazonaws.com"
                state["endpoint"] = state["address"] + ":5432"
                state["port"] = 5432
                if inputs.get("manageMasterUserPassword"):
                    state["masterUserSecrets"] = [{
                        "secretArn": f"arn:aws:secretsmanager:{self.region}:{ACCOUNT}:secret:"
                                     f"rds!db-{_uuid('rds', own)}-AbCdEf",
                        "secretStatus": "active"}]
            elif kind == "Cluster" and service == "eks":
                state["endpoint"] = f"https://{_digest(own)[:32].upper()}.gr7.{self.region}" \
                                    f".eks.amazonaws.com"
                state["certificateAuthority"] = {"data": "Q0E="}
                state["vpcConfig"] = {**inputs.get("vpcConfig", {}),
                                      "clusterSecurityGroupId": f"sg-eks{_digest(own)[:12]}"}
                state["identities"] = [{"oidcs": [{
                    "issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/"
                              f"{_digest('oidc', own)[:32].upper()}"}]}]
            return state["id"], state

        def call(self, args):
            token = args.token
            if token == "azure-native:authorization:getClientConfig":
                return {"clientId": DEPLOYER, "objectId": DEPLOYER,
                        "subscriptionId": SUBSCRIPTION, "tenantId": TENANT}
            if token == "azure-native:containerservice:listManagedClusterUserCredentials":
                value = base64.b64encode(AKS_KUBECONFIG.encode()).decode()
                return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}
            if token == "aws:index/getCallerIdentity:getCallerIdentity":
                return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer",
                        "userId": "AIDADEPLOYER", "id": ACCOUNT}
            if token == "aws:index/getRegion:getRegion":
                return {"name": self.region, "region": self.region, "id": self.region}
            if token == "aws:index/getPartition:getPartition":
                return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
            if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
                return {"names": [f"{self.region}{z}" for z in "abc"],
                        "zoneIds": [f"euw1-az{i}" for i in (1, 2, 3)], "id": self.region}
            raise NotImplementedError(f"the harness does not mock the call {token}")

    return InventoryMocks


def _stack_config(cloud: str, stack: str, overrides: dict[str, Any]) -> tuple[str, dict]:
    import yaml

    directory = STACKS / cloud
    project = yaml.safe_load((directory / "Pulumi.yaml").read_text())["name"]
    config = yaml.safe_load((directory / f"Pulumi.{stack}.yaml").read_text())["config"]
    for key, value in overrides.items():
        full = key if ":" in key else f"{project}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    # The engine hands every value to the program as text; structured ones as JSON.
    text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    return project, text


def run_in_process(cloud: str, stack: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Build the stack in this process (call once per process: Pulumi state is global)."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import pulumi

    project, config = _stack_config(cloud, stack, overrides)
    region = config.get("azure-native:location") or config.get("aws:region") or "eu-west-1"
    mocks = _mocks_class()(region, stack)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    pulumi.runtime.set_all_config(config)
    outputs: dict[str, Any] = {}
    program = STACKS / cloud / "__main__.py"
    sys.path.insert(0, str(program.parent))

    # The mocks see inputs only; resource options (explicit depends_on, the protect flag a
    # resource ends up with after inheriting its parent's) are read from the resources.
    declared: list[tuple[str, str, Any, list]] = []

    def record(args):
        depends = args.opts.depends_on if args.opts else None
        if depends is not None and not isinstance(depends, (list, tuple)):
            depends = [depends]
        declared.append((args.type_, args.name, args.resource, list(depends or [])))
        return None

    @pulumi.runtime.test
    def run():
        pulumi.runtime.register_stack_transformation(record)
        runpy.run_path(str(program), run_name="__main__")
        stack_resource = pulumi.runtime.settings.get_root_resource()
        exported = {k: pulumi.Output.from_input(v) for k, v in stack_resource.outputs.items()}

        async def collect():
            for key, out in exported.items():
                outputs[key] = {"value": await out.future(), "secret": await out.is_secret()}
        return pulumi.Output.from_input(asyncio.ensure_future(collect()))

    run()
    options = {(typ, name): {"protect": bool(resource._protect),
                             "dependsOn": sorted(d._name for d in depends
                                                 if isinstance(d, pulumi.Resource))}
               for typ, name, resource, depends in declared}
    for entry in mocks.resources:
        entry.update(options.get((entry["type"], entry["name"]),
                                 {"protect": False, "dependsOn": []}))
    return {"resources": mocks.resources, "outputs": outputs, "passwords": mocks.passwords,
            "passwordOf": mocks.password_of}


def build(cloud: str, stack: str, overrides: dict[str, Any] | None = None,
          timeout: float = 300) -> dict[str, Any]:
    """Build one stack in a fresh interpreter and return its report."""
    command = [sys.executable, "-m", "tests.infra.harness", cloud, stack]
    for key, value in (overrides or {}).items():
        command += ["--set", f"{key}={json.dumps(value)}"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)
    if done.returncode != 0:
        raise RuntimeError(f"building {cloud}/{stack} failed:\n{done.stderr[-6000:]}")
    return json.loads(done.stdout)


def build_many(jobs: dict[str, tuple], workers: int | None = None) -> dict[str, Any]:
    """``{label: (cloud, stack, overrides)}`` -> ``{label: report or exception}``."""
    workers = workers or max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(workers) as pool:
        futures = {label: pool.submit(build, *job) for label, job in jobs.items()}
        results = {}
        for label, future in futures.items():
            try:
                results[label] = future.result()
            except Exception as exc:  # reported by the test that needs this build
                results[label] = exc
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cloud", choices=["azure", "aws"])
    parser.add_argument("stack")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override a config value (JSON null removes it)")
    parser.add_argument("--profile", action="store_true",
                        help="print only the exported profile (to refresh expected_profiles)")
    options = parser.parse_args()
    overrides = {}
    for item in options.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    report = run_in_process(options.cloud, options.stack, overrides)
    if options.profile:
        print(json.dumps(report["outputs"]["profile"]["value"], indent=2, sort_keys=True))
    else:
        print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
