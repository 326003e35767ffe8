"""A production-style ML flow: load, preprocess, train, evaluate, prepare deployment.

    python examples/ml_flow.py run
    python examples/ml_flow.py run --test-size 0.3 --random-seed 7

The source document's ``ProductionMLFlow`` (its indentation and syntax slips fixed), on a
synthetic dataset so it runs anywhere in a few seconds. Shows parameters, pandas data frames
and a fitted scikit-learn model as artifacts, ``@resources`` (recorded locally; enforced by
remote compute), and logging from steps. Needs numpy, pandas and scikit-learn
(``pip install -e '.[dev]'``). The document also puts ``@card`` on ``evaluate_model``;
cards are not part of local mode yet, so it is left off here.

Afterwards, as in the document's debugging notebook::

    from headwater import Flow
    run = Flow("ProductionMLFlow").latest_run
    model = run["train_model"].task.data.model
    model.predict(run["preprocess_data"].task.data.X_test[:10])

Its steps are ordinary methods too: ``flow = ProductionMLFlow(); flow.load_data()`` works in
a unit test, as the document's testing section shows.
"""

import logging
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import (accuracy_score, classification_report, f1_score,
                             precision_score, recall_score)
from sklearn.model_selection import train_test_split

from headwater import FlowSpec, Parameter, resources, step

# Configured at import, not in `start`: every task runs in its own process, and a setting
# made inside one step would not reach the others.
logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(message)s")
log = logging.getLogger("ProductionMLFlow")

FEATURES = ["feature_1", "feature_2", "feature_3", "feature_4"]


class ProductionMLFlow(FlowSpec):
    """Train and evaluate a classifier on synthetic data, then decide if it can ship."""

    model_type = Parameter("model-type", help="Type of model to train",
                           default="random_forest")
    test_size = Parameter("test-size", help="Proportion of data for testing", default=0.2)
    random_seed = Parameter("random-seed", help="Random seed for reproducibility", default=42)
    n_samples = Parameter("n-samples", help="Rows of synthetic data", default=10000)

    @step
    def start(self):
        """Validate parameters and store the configuration."""
        log.info("Starting ML workflow with model_type: %s", self.model_type)
        if not 0 < self.test_size < 1:
            raise ValueError(f"--test-size must be between 0 and 1, got {self.test_size}")
        self.config = {
            "model_type": self.model_type,
            "test_size": self.test_size,
            "random_seed": self.random_seed,
            "timestamp": pd.Timestamp.now().isoformat(),
        }
        self.next(self.load_data)

    @resources(memory=4000, cpu=2)
    @step
    def load_data(self):
        """Load the data (synthetic here; in production, a warehouse query) and check it."""
        rng = np.random.default_rng(self.random_seed)
        n = self.n_samples
        self.raw_data = pd.DataFrame({
            "feature_1": rng.normal(0, 1, n),
            "feature_2": rng.normal(2, 1.5, n),
            "feature_3": rng.exponential(2, n),
            "feature_4": rng.uniform(0, 10, n),
        })
        signal = (self.raw_data["feature_1"] > 0.5) & (self.raw_data["feature_2"] > 2.5)
        noise = rng.uniform(0, 1, n) < 0.05  # 5% flipped labels, so the task is not trivial
        self.raw_data["target"] = (signal ^ noise).astype(int)
        self.data_quality = {
            "n_rows": len(self.raw_data),
            "n_features": len(self.raw_data.columns) - 1,
            "missing_values": int(self.raw_data.isnull().sum().sum()),
            "target_balance": float(self.raw_data["target"].mean()),
        }
        log.info("Loaded %d rows with %d features", self.data_quality["n_rows"],
                 self.data_quality["n_features"])
        self.next(self.preprocess_data)

    @step
    def preprocess_data(self):
        """Engineer features, cap outliers, split into train and test sets."""
        data = self.raw_data.copy()
        data["feature_interaction"] = data["feature_1"] * data["feature_2"]
        data["feature_ratio"] = data["feature_3"] / (data["feature_4"] + 1e-6)
        for col in ["feature_1", "feature_2", "feature_3"]:
            data[col] = data[col].clip(data[col].quantile(0.01), data[col].quantile(0.99))
        self.processed_data = data

        feature_cols = [col for col in data.columns if col != "target"]
        self.X_train, self.X_test, self.y_train, self.y_test = train_test_split(
            data[feature_cols], data["target"], test_size=self.test_size,
            random_state=self.random_seed, stratify=data["target"])
        self.preprocessing_stats = {
            "train_size": len(self.X_train),
            "test_size": len(self.X_test),
            "n_features": len(feature_cols),
            "train_target_mean": float(self.y_train.mean()),
            "test_target_mean": float(self.y_test.mean()),
        }
        log.info("Train set: %d samples, test set: %d samples",
                 self.preprocessing_stats["train_size"], self.preprocessing_stats["test_size"])
        self.next(self.train_model)

    @resources(memory=8000, cpu=4)
    @step
    def train_model(self):
        """Fit the model and keep its feature importances."""
        if self.model_type != "random_forest":
            raise ValueError(f"Unsupported model type: {self.model_type!r} "
                             f"(use --model-type random_forest)")
        self.model = RandomForestClassifier(n_estimators=50, max_depth=10, min_samples_split=5,
                                            min_samples_leaf=2, random_state=self.random_seed,
                                            n_jobs=-1)
        started = time.time()
        self.model.fit(self.X_train, self.y_train)
        self.training_time = time.time() - started
        self.feature_importance = {name: float(value) for name, value in
                                   zip(self.X_train.columns, self.model.feature_importances_)}
        log.info("Model training completed in %.2f seconds", self.training_time)
        self.next(self.evaluate_model)

    @step
    def evaluate_model(self):
        """Score the model on both sets and check for overfitting."""
        self.train_predictions = self.model.predict(self.X_train)
        self.test_predictions = self.model.predict(self.X_test)
        self.metrics = {
            "train_accuracy": accuracy_score(self.y_train, self.train_predictions),
            "test_accuracy": accuracy_score(self.y_test, self.test_predictions),
            "test_precision": precision_score(self.y_test, self.test_predictions),
            "test_recall": recall_score(self.y_test, self.test_predictions),
            "test_f1": f1_score(self.y_test, self.test_predictions),
        }
        gap = self.metrics["train_accuracy"] - self.metrics["test_accuracy"]
        self.overfitting_check = {"accuracy_diff": gap, "is_overfitting": gap > 0.1}
        self.classification_report = classification_report(
            self.y_test, self.test_predictions, output_dict=True)
        log.info("Test accuracy: %.3f, F1: %.3f", self.metrics["test_accuracy"],
                 self.metrics["test_f1"])
        if self.overfitting_check["is_overfitting"]:
            log.warning("Potential overfitting detected!")
        self.next(self.prepare_deployment)

    @step
    def prepare_deployment(self):
        """Collect what a deployment needs and decide whether the model may ship."""
        self.deployment_metadata = {
            "model_type": self.model_type,
            "training_timestamp": self.config["timestamp"],
            "performance_metrics": self.metrics,
            "feature_names": list(self.X_train.columns),
            "training_data_shape": self.X_train.shape,
            "preprocessing_stats": self.preprocessing_stats,
            "data_quality": self.data_quality,
        }
        self.deployment_checks = {
            "min_accuracy_met": self.metrics["test_accuracy"] >= 0.7,
            "not_overfitting": not self.overfitting_check["is_overfitting"],
            # the positive class is rare here, so predictions are not expected to balance
            "predicts_both_classes": len(np.unique(self.test_predictions)) == 2,
        }
        self.deployment_ready = all(self.deployment_checks.values())
        if self.deployment_ready:
            log.info("Model passed all deployment checks")
        else:
            failed = [name for name, ok in self.deployment_checks.items() if not ok]
            log.warning("Model failed deployment validation: %s", failed)
        self.next(self.end)

    @step
    def end(self):
        """Summarize the run."""
        self.workflow_summary = {
            "status": "completed",
            "model_ready_for_deployment": self.deployment_ready,
            "final_test_accuracy": self.metrics["test_accuracy"],
            "total_training_time": self.training_time,
            "data_processed": self.data_quality["n_rows"],
            "top_features": sorted(self.feature_importance.items(), key=lambda item: item[1],
                                   reverse=True)[:3],
        }
        print("=" * 50)
        print("WORKFLOW SUMMARY")
        print("=" * 50)
        print(f"Model Type: {self.model_type}")
        print(f"Test Accuracy: {self.metrics['test_accuracy']:.3f}")
        print(f"Deployment Ready: {self.deployment_ready}")
        print(f"Training Time: {self.training_time:.2f}s")
        print("Top Features:")
        for feature, importance in self.workflow_summary["top_features"]:
            print(f" - {feature}: {importance:.3f}")
        print("=" * 50)


if __name__ == "__main__":
    ProductionMLFlow()
