"""Command lines: ``main.py`` is the ``headwater`` console script (flow-independent
commands); ``flow_cli.py`` is the command line of a flow file (``python flow.py run``)."""
