"""The source document's ExperimentFlow: a flow pinned to a shared namespace."""

from headwater import FlowSpec, current, namespace, step


@namespace("ml-experiments")
class ExperimentFlow(FlowSpec):
    """Flow isolated to the ml-experiments namespace."""

    @step
    def start(self):
        print(f"Running in namespace: {current.namespace}")
        self.seen_namespace = current.namespace
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExperimentFlow()
