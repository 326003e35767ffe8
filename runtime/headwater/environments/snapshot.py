"""The snapshot of environments in the datastore, shared by every flow that uses it.

    environments/specs/<spec key>.json     which lock a spec resolved to
    environments/locks/<lock hash>.json    the lock (pins, file names, sha256s)
    environments/wheels/<sha256>/<file>    each package file (a wheel, or a conda package:
                                           the name predates @conda), once, whatever lock
                                           uses it

A later run, ``resume`` or a remote task finds the lock of its spec here and rebuilds the
identical environment from these files without contacting the package index or channel. Writes are
content-addressed (``overwrite=False``), so concurrent runs and failures never damage what
is stored; the spec record is written last, after the lock and every wheel.
"""

from __future__ import annotations

import json
import os
import shutil

from ..datastore.base import StorageBackend
from .errors import SnapshotMissing
from .resolver import file_sha256
from .spec import EnvironmentSpec, Lock

PREFIX = "environments"


class SnapshotStore:
    """Locks and wheels of environments in one datastore."""

    def __init__(self, backend: StorageBackend):
        self.backend = backend

    @staticmethod
    def spec_key(spec: EnvironmentSpec) -> str:
        return f"{PREFIX}/specs/{spec.key}.json"

    @staticmethod
    def lock_key(lock_hash: str) -> str:
        return f"{PREFIX}/locks/{lock_hash}.json"

    @staticmethod
    def wheel_key(sha256: str, filename: str) -> str:
        return f"{PREFIX}/wheels/{sha256}/{filename}"

    def lock_for(self, spec: EnvironmentSpec) -> Lock | None:
        """The lock ``spec`` was resolved to earlier, or None."""
        key = self.spec_key(spec)
        if not self.backend.exists(key):
            return None
        return self.load_lock(json.loads(self.backend.get_bytes(key))["lock_hash"])

    def load_lock(self, lock_hash: str) -> Lock:
        key = self.lock_key(lock_hash)
        if not self.backend.exists(key):
            raise SnapshotMissing(f"the datastore ({self.backend.root}) has no environment "
                                  f"lock {lock_hash}",
                                  "run the flow once where the package index is reachable")
        return Lock.from_json(json.loads(self.backend.get_bytes(key)))

    def save(self, lock: Lock, wheel_dir: str) -> int:
        """Store the lock, its wheels (those not stored yet) and the spec's record; returns
        how many wheels were new."""
        keys = {p: self.wheel_key(p.sha256, p.filename) for p in lock.packages}
        present = self.backend.exists_many(list(keys.values()))
        new = 0
        for package, key in keys.items():
            if not present[key]:
                self.backend.put_file(key, os.path.join(wheel_dir, package.filename),
                                      overwrite=False)
                new += 1
        self.backend.put_bytes(self.lock_key(lock.lock_hash),
                               json.dumps(lock.to_json(), indent=1).encode(), overwrite=False)
        self.backend.put_bytes(self.spec_key(lock.spec),
                               json.dumps({"lock_hash": lock.lock_hash}).encode())
        return new

    def fetch_wheels(self, lock: Lock, wheel_dir: str) -> None:
        """Copy the lock's wheels into ``wheel_dir``, checking each one's sha256."""
        os.makedirs(wheel_dir, exist_ok=True)
        for package in lock.packages:
            key = self.wheel_key(package.sha256, package.filename)
            if not self.backend.exists(key):
                raise SnapshotMissing(f"the snapshot of environment {lock.lock_hash} lacks "
                                      f"{package.filename}",
                                      "run the flow once where the package index is "
                                      "reachable to store it again")
            target = os.path.join(wheel_dir, package.filename)
            shutil.copyfile(self.backend.local_path(key), target)
            if file_sha256(target) != package.sha256:
                os.unlink(target)
                raise SnapshotMissing(f"{package.filename} in the datastore does not match "
                                      f"its sha256 in lock {lock.lock_hash}",
                                      f"delete {key} and run the flow where the index is "
                                      f"reachable")
