"""The Headwater metadata service: the metadata HTTP API of Netflix's metaflow-service on
Postgres.

- ``app.py`` builds the ASGI application (Starlette) from the route table in ``routes.py``;
- ``store.py`` runs every SQL statement (``queries.py``) on a psycopg 3 connection pool;
- ``migrations/`` holds the versioned schema, applied only by ``headwater-service db upgrade``;
- ``cli.py`` is the ``headwater-service`` command (``serve``, ``db status``, ``db upgrade``).

Nothing heavy is imported here.
"""

__version__ = "0.1.0"

#: The metaflow-service API level this service implements. Clients read it from the
#: ``METADATA_SERVICE_VERSION`` header of ``GET /ping`` and gate features on it
#: (heartbeats >= 2.0.4, attempt gets >= 2.0.6, tag mutation >= 2.3.0, filtered tasks >= 2.5.0).
API_VERSION = "2.5.1"

__all__ = ["API_VERSION", "__version__"]
