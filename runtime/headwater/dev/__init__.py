"""The dev stack: shared mode on one machine (``headwater dev up|status|down|logs``).

One module per component (``postgres``, ``service``, ``azurite``, ``moto``), the profile
it writes (``profile``), process supervision (``process``), the state file and folder
layout (``state``), and the orchestration (``stack``). See docs/dev-stack.md.
"""
