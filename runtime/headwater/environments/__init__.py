"""Per-step environments (``@pypi``, ``@conda``): resolved once, snapshotted in the
datastore, built once per lock on each machine, and the step's tasks run in them.

One module per concept: ``spec`` (what a step asks for, what it resolved to), ``resolver``
(uv + pip download), ``snapshot`` (locks and wheels in the datastore), ``cache`` (built
environments on this machine), ``declared`` (reading a step's spec from its decorators),
``task_environment`` (running tasks inside), ``conda``, ``errors``, ``tools``.
"""
