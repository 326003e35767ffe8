"""``headwater status``: which mode this machine is in and where things go."""

from __future__ import annotations

import click


@click.command()
def status() -> None:
    """Show the active profile, datastore and metadata provider."""
    from ..settings import Settings

    settings = Settings()
    profile = settings.profile_path
    click.echo(f"profile:   {profile}{'' if profile.exists() else ' (none: built-in defaults)'}")
    click.echo(f"user:      {settings.user}")
    click.echo(f"namespace: {settings.namespace or 'user:' + settings.user}")
    ds = settings.datastore_type
    root_key = {"local": "METAFLOW_DATASTORE_SYSROOT_LOCAL", "azure": "METAFLOW_DATASTORE_SYSROOT_AZURE",
                "s3": "METAFLOW_DATASTORE_SYSROOT_S3"}.get(ds)
    root = settings.get(root_key) if root_key else None
    if ds == "local" and not root:
        from ..datastore.local import local_root

        root = f"{local_root(settings)} (nearest .headwater from here upwards)"
    click.echo(f"datastore: {ds} ({settings.source('METAFLOW_DEFAULT_DATASTORE')})  root: {root or 'unset'}")
    md = settings.metadata_type
    where = settings.get("METAFLOW_SERVICE_URL") if md == "service" else "files beside the datastore"
    click.echo(f"metadata:  {md} ({settings.source('METAFLOW_DEFAULT_METADATA')})  {where or 'unset'}")
