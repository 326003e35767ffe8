"""Per-step environments (``@pypi``, ``@conda``): resolved once, snapshotted in the
datastore, built once per lock on each machine, and the step's tasks run in them.

One module per concept: ``spec`` (what a step asks for, what it resolved to), ``resolver``
(uv + pip download, for PyPI), ``conda/`` (the conda backends: rattler, micromamba, conda),
``snapshot`` (locks and package files in the datastore), ``cache`` (built environments on
this machine), ``declared`` (reading a step's spec from its decorators),
``task_environment`` (running tasks inside), ``errors``, ``tools``.
"""
