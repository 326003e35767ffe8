"""Code package benchmark: pack and upload a flow's directory, then the re-run that uploads
nothing, against a plain ``tar czf`` + upload of the same directory.

    python bench/code_package_bench.py                     # examples/, Azurite if installed
    python bench/code_package_bench.py --dir path/to/flows --repeat 5 --store local

What a user would otherwise do is tar the folder and copy it up on every run; Headwater packs
deterministically (sorted entries, fixed metadata, git check-ignore), hashes the archive and
skips the upload when the store already has it. Times are medians of ``--repeat`` runs in
this process (the SDK clients are warm after the first); the store is a fresh Azurite
(``node_modules/.bin/azurite-blob``) or a local folder. Not a test: numbers depend on the
machine; the ratios in the last column are measured in the same run.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def plain_tar(folder: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(str(folder), arcname=".")
    return out.getvalue()


def timed(func, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / "examples"), help="Folder to pack.")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", choices=["azurite", "local"], default="azurite")
    args = parser.parse_args()

    from headwater.package import create_package, package_files
    from headwater.settings import Settings

    folder = Path(args.dir).resolve()
    flow = next(iter(sorted(folder.glob("*.py"))))
    work = Path(tempfile.mkdtemp(prefix="hw-pkg-bench-"))
    proc = None
    try:
        azurite = ROOT / "node_modules" / ".bin" / "azurite-blob"
        if args.store == "azurite" and azurite.exists():
            from tests.fixtures.azurite import ACCOUNT, ACCOUNT_KEY, free_port, wait_for_port

            port = free_port()
            log = work / "azurite.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen([str(azurite), "--blobHost", "127.0.0.1", "--blobPort",
                                         str(port), "--location", str(work / "az"),
                                         "--skipApiVersionCheck", "--loose",
                                         "--disableTelemetry", "--silent"],
                                        stdout=out, stderr=subprocess.STDOUT)
            wait_for_port(port, proc, log)
            from headwater.datastore.azure import AzureBlobBackend

            conn = (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey="
                    f"{ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};")
            from azure.storage.blob import BlobServiceClient

            container = f"bench-{uuid.uuid4().hex[:8]}"
            BlobServiceClient.from_connection_string(conn).create_container(container)
            backend = AzureBlobBackend(container, "flows", connection_string=conn)
            where = "Azurite"
        else:
            from headwater.datastore.local import LocalBackend

            backend = LocalBackend(str(work / "store"))
            where = "local folder"
        settings = Settings(env={})
        files = package_files(str(folder))
        size = sum((folder / f).stat().st_size for f in files)

        counter = iter(range(10**6))

        def tar_and_upload() -> int:
            data = plain_tar(folder)
            backend.put_bytes(f"plain/{next(counter)}.tar.gz", data)
            return len(data)

        def first_upload():
            # A fresh flow name each time: nothing stored yet.
            return create_package(backend, f"Bench{next(counter)}", str(flow), settings)

        create_package(backend, "BenchRerun", str(flow), settings)

        def rerun():
            return create_package(backend, "BenchRerun", str(flow), settings)

        t_tar, tar_size = timed(tar_and_upload, args.repeat)
        t_first, first = timed(first_upload, args.repeat)
        t_rerun, again = timed(rerun, args.repeat)
        assert first.uploaded and not again.uploaded
        print(f"Folder {folder} ({len(files)} files packed, {size / 1024:.1f} KiB), "
              f"store: {where}, median of {args.repeat}\n")
        print(f"| what | time (ms) | archive (KiB) | uploaded | vs tar czf + upload |")
        print(f"|---|---|---|---|---|")
        print(f"| tar czf + upload (whole folder) | {t_tar * 1e3:.1f} | {tar_size / 1024:.1f} "
              f"| yes | 1.00 |")
        print(f"| headwater package, first run | {t_first * 1e3:.1f} | {first.size / 1024:.1f} "
              f"| yes | {t_first / t_tar:.2f} |")
        print(f"| headwater package, same code again | {t_rerun * 1e3:.1f} | "
              f"{again.size / 1024:.1f} | no | {t_rerun / t_tar:.2f} |")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
