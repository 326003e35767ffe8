"""AWS components (pulumi-aws): network, S3, RDS, ECR, ECS metadata service, Batch, Step
Functions/EventBridge, EKS and its autoscaler, the service's API key, and the users'
policy."""

from .api_key import ServiceApiKey, ServiceApiKeyArgs
from .autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from .batch import Batch, BatchArgs
from .database import Database, DatabaseArgs
from .eks import EksCluster, EksClusterArgs, NodeGroup
from .network import Network, NetworkArgs
from .orchestration import StepFunctions, StepFunctionsArgs
from .registry import Repositories, RepositoriesArgs
from .service import EcsMetadataService, EcsMetadataServiceArgs
from .storage import ArtifactBucket, ArtifactBucketArgs
from .users import UsersPolicy, UsersPolicyArgs

__all__ = [
    "ArtifactBucket", "ArtifactBucketArgs", "Batch", "BatchArgs", "ClusterAutoscaler",
    "ClusterAutoscalerArgs", "ServiceApiKey", "ServiceApiKeyArgs", "Database", "DatabaseArgs",
    "EcsMetadataService", "EcsMetadataServiceArgs", "EksCluster", "EksClusterArgs", "Network",
    "NetworkArgs", "NodeGroup", "Repositories", "RepositoriesArgs", "StepFunctions",
    "StepFunctionsArgs", "UsersPolicy", "UsersPolicyArgs",
]
