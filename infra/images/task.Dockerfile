# The image flows' tasks run in on the cluster (@kubernetes, Argo Workflows) and on AWS Batch
# (@batch, Step Functions): Python plus Headwater with the Azure, AWS and Kubernetes SDKs,
# and the examples for the deployment guides' smoke test. Build from the repository root:
#
#   az acr build --registry <registryName> --image headwater-task:<version> \
#       --file infra/images/task.Dockerfile .
#   docker build --file infra/images/task.Dockerfile --tag <registry>/headwater-task:<version> .
#
# Tasks run as the unprivileged user 10001 (the Kubernetes manifests and ECS task
# definitions do the same for the service image).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/headwater
COPY pyproject.toml README.md ./
COPY runtime ./runtime
COPY service ./service
COPY infra ./infra
RUN pip install ".[azure,aws,k8s]"
COPY examples ./examples

RUN useradd --uid 10001 --user-group --create-home headwater
USER 10001:10001
WORKDIR /home/headwater
