"""Configuration files: ``Config`` read at run start, usable in steps and in decorators.

    python examples/config_flow.py run                                  # examples/config.toml
    python examples/config_flow.py --config-file my.toml run            # another file
    python examples/config_flow.py run --config config my.json          # by name, JSON too

``config = Config("config", default="config.toml")`` reads the TOML file beside the flow
(or the one given on the command line) when the run starts. Steps read it with attribute
access (``self.config.model.type``); decorator arguments use it too, as placeholders
resolved at run start: ``@resources(memory=config.resources.memory)`` and
``@schedule(cron=config_expr("config.schedule.cron"))``. The source document's
``ConfigurableMLFlow``, with a small synthetic dataset and no network call.
"""

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from headwater import Config, FlowSpec, config_expr, resources, schedule, step


@schedule(cron=config_expr("config.schedule.cron"))
class ConfigurableMLFlow(FlowSpec):
    """Train the model the config file describes."""

    config = Config("config", default="config.toml", parser=tomllib.loads)

    @resources(memory=config.resources.memory, cpu=config.resources.cpu)
    @step
    def start(self):
        """Show and keep the model settings."""
        print(f"Model type: {self.config.model.type}")
        print(f"Data source: {self.config.data.source}")
        self.model_config = dict(self.config.model)
        self.next(self.load_data)

    @step
    def load_data(self):
        """Make the data the config asks for."""
        import numpy as np

        rng = np.random.default_rng(0)
        n = self.config.data.n_samples
        self.features = rng.normal(size=(n, 3))
        self.labels = (self.features[:, 0] + self.features[:, 1] > 0).astype(int)
        print(f"Loaded {n} rows in batches of {self.config.data.batch_size}")
        self.next(self.train_model)

    @step
    def train_model(self):
        """Train the configured model."""
        model_type = self.config.model.type
        if model_type != "random_forest":
            raise ValueError(f"config model.type {model_type!r} is not supported "
                             f"(use \"random_forest\")")
        from sklearn.ensemble import RandomForestClassifier

        self.model = RandomForestClassifier(n_estimators=self.config.model.n_estimators,
                                            max_depth=self.config.model.max_depth,
                                            random_state=0)
        self.model.fit(self.features, self.labels)
        self.train_accuracy = float(self.model.score(self.features, self.labels))
        print(f"Train accuracy: {self.train_accuracy:.3f}")
        self.next(self.end)

    @step
    def end(self):
        """Notify if the config asks for it."""
        webhook = self.config.alerts.slack_webhook
        if webhook:
            self.send_completion_notification(webhook)
        else:
            print("No alert webhook configured")

    def send_completion_notification(self, webhook: str) -> None:
        """Post a completion message to a Slack webhook."""
        import json
        import urllib.request

        message = {"text": f"Pipeline completed. Model: {self.config.model.type}"}
        request = urllib.request.Request(webhook, data=json.dumps(message).encode(),
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()


if __name__ == "__main__":
    ConfigurableMLFlow()
