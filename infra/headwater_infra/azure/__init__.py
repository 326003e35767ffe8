"""Azure components (pulumi-azure-native): network, storage, Key Vault, Postgres, AKS,
registry, workload identities and role assignments."""

from .cluster import AksCluster, AksClusterArgs, NodePool
from .database import Database, DatabaseArgs
from .identity import WorkloadIdentity, WorkloadIdentityArgs
from .keyvault import KeyVault, KeyVaultArgs
from .network import Network, NetworkArgs
from .registry import Registry, RegistryArgs
from .roles import Grant, grant
from .storage import Storage, StorageArgs

__all__ = [
    "AksCluster", "AksClusterArgs", "Database", "DatabaseArgs", "Grant", "KeyVault",
    "KeyVaultArgs", "Network", "NetworkArgs", "NodePool", "Registry", "RegistryArgs",
    "Storage", "StorageArgs", "WorkloadIdentity", "WorkloadIdentityArgs", "grant",
]
