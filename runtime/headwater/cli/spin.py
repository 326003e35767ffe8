"""``python flow.py spin PATHSPEC``: run one step of an earlier run again, locally
(``headwater.spin`` does the work)."""

from __future__ import annotations

import click

TRUE_WORDS = ("1", "true", "yes", "on")


def spin_command() -> click.Command:
    """The ``spin`` command of a flow's command line."""

    @click.command(help="Run one step of an earlier run again, locally, with the inputs its "
                        "task had. PATHSPEC: step, run/step, run/step/task, Flow/run/step or "
                        "Flow/run/step/task (default run: your latest).")
    @click.argument("pathspec")
    @click.option("--skip-decorators/--no-skip-decorators", default=False, show_default=True,
                  help="Run the step without any of its decorators.")
    @click.option("--artifacts-module", type=click.Path(dir_okay=False),
                  help="A Python file whose ARTIFACTS dict overrides input artifacts by name.")
    @click.option("--persist/--no-persist", default=None,
                  help="Store the spun task's artifacts (default: METAFLOW_SPIN_PERSIST, "
                       "else no).")
    @click.option("--max-log-size", type=click.IntRange(1), default=10, show_default=True,
                  help="Accepted for Metaflow compatibility (MB); logs are kept whole.")
    @click.option("--tag", "tags", multiple=True, help="Tag the spun run (repeatable).")
    @click.option("--run-id-file", type=click.Path(dir_okay=False),
                  help="Write the spun run's id to this file.")
    @click.option("--runner-attribute-file", type=click.Path(dir_okay=False), hidden=True,
                  help="Write the spun task's pathspec and root as JSON (for Runner.spin).")
    @click.pass_obj
    def spin(obj, pathspec, skip_decorators, artifacts_module, persist, max_log_size, tags,
             run_id_file, runner_attribute_file):
        from ..spin import SpinRequest, spin_step

        graph = obj.prepare()
        if persist is None:
            persist = (obj.settings.get("METAFLOW_SPIN_PERSIST") or "").lower() in TRUE_WORDS
        spin_step(SpinRequest(obj.flow_cls, graph, obj.environment(), obj.settings.user,
                              obj.run_namespace(), list(tags), obj.system_tags(),
                              obj.flow_file, pathspec, skip_decorators=skip_decorators,
                              artifacts_module=artifacts_module, persist=persist,
                              quiet=obj.quiet, run_id_file=run_id_file,
                              attribute_file=runner_attribute_file))

    return spin
