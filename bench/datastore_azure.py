"""Azure datastore benchmark: Headwater against plain azure-storage-blob, on Azurite.

    python bench/datastore_azure.py                   # 400 MB artifact + 1000 x 10 KB
    python bench/datastore_azure.py --big-mb 100 --small-count 300 --repeat 3
    python bench/datastore_azure.py --latency-ms 5    # through a proxy adding 5 ms RTT

It starts its own Azurite (``node_modules/.bin/azurite-blob``, from ``npm install``) on a
free loopback port and measures, in the same run and on the same bytes:

- *big*: one artifact of ``--big-mb`` MB (a float64 numpy array of random values,
  incompressible). Headwater stores it the way a task does (``ContentAddressedStore.save``:
  serialize to a temporary file while hashing, then a parallel chunked ``put_file``) and
  loads it the way a task does (``load``: parallel chunked download into the cache, then a
  memory map). The plain SDK uploads the same serialized bytes with one
  ``upload_blob(data)`` and reads them with one ``download_blob().readall()``, default
  settings. Target: Headwater within 2x of the plain SDK's time.
- *small*: ``--small-count`` artifacts of about 10 KB each (distinct random bytes).
  Headwater: ``save`` of all of them at once (``put_many``: concurrent requests) and
  ``load_many``. The plain SDK: one ``upload_blob`` / ``download_blob`` after the other, as a
  loop over the same serialized blobs would. Target: Headwater at least 5x faster.

Times are medians of ``--repeat`` rounds; every round writes to a fresh container, so
content-addressed deduplication never skips an upload. ``--latency-ms`` routes every
connection (both sides) through a local TCP proxy that delays each direction by half the
given round-trip time, closer to a real storage account than loopback.

Not a test: the numbers depend on the machine. On a 2-core machine Azurite (single-threaded
Node) and the Python SDK each need a few ms of CPU per request, so on loopback the gain from
concurrency on small artifacts is bounded by CPU, not by waiting; with real network latency
the waiting is what concurrency removes.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
       "K1SZFPTOtr/KBHBeksoGMGw==")  # Azurite's published development key
MB = 2 ** 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {timeout}s")


# --- latency proxy ------------------------------------------------------------------------

def _proxy_main(listen: int, target: int, one_way: float) -> None:
    """Forward TCP to ``target``, delaying every chunk by ``one_way`` seconds each way."""

    async def pipe(reader, writer):
        queue: asyncio.Queue = asyncio.Queue()

        async def delayed():
            while True:
                due, data = await queue.get()
                if data is None:
                    writer.close()
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(delayed())
        try:
            while data := await reader.read(256 * 1024):
                queue.put_nowait((time.monotonic() + one_way, data))
        finally:
            queue.put_nowait((0, None))
            await sender

    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(client_reader, server_writer),
                             pipe(server_reader, client_writer), return_exceptions=True)

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", listen)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- the two sides --------------------------------------------------------------------------

def connection_string(port: int) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def serialized(obj) -> bytes:
    from headwater.datastore.artifacts import _Serialized

    return b"".join(_Serialized("x", obj).chunks())


def bench_big(conn: str, big_mb: int, workers: int) -> dict[str, float]:
    import numpy as np
    from azure.storage.blob import BlobServiceClient

    from headwater.datastore.artifacts import ContentAddressedStore
    from headwater.datastore.azure import AzureBlobBackend

    array = np.random.default_rng().random(big_mb * MB // 8)
    service = BlobServiceClient.from_connection_string(conn)
    out = {}

    container = f"big-{uuid.uuid4().hex[:12]}"
    service.create_container(container)
    store = ContentAddressedStore(AzureBlobBackend(container, connection_string=conn,
                                                   max_workers=workers), "Bench")
    store.backend.exists("warm-up")
    info = {}
    out["hw_up"] = timed(lambda: info.update(store.save({"big": array})))
    loaded = {}
    out["hw_down"] = timed(lambda: loaded.update(big=store.load(info["big"].sha,
                                                                info["big"].size)))
    assert float(loaded["big"][-1]) == float(array[-1]) and len(loaded["big"]) == len(array)
    loaded.clear()

    data = serialized(array)
    array = None  # free the array before the SDK's round; only its bytes are needed now
    raw = service.get_container_client(container).get_blob_client("raw/big")
    raw.exists()
    out["sdk_up"] = timed(lambda: raw.upload_blob(data, overwrite=True))
    got = {}
    out["sdk_down"] = timed(lambda: got.update(data=raw.download_blob().readall()))
    assert len(got["data"]) == len(data)
    service.delete_container(container)
    out["bytes"] = len(data)
    return out


def bench_small(conn: str, count: int, size: int, workers: int) -> dict[str, float]:
    from azure.storage.blob import BlobServiceClient

    from headwater.datastore.artifacts import ContentAddressedStore
    from headwater.datastore.azure import AzureBlobBackend

    values = {f"a{i}": os.urandom(size) for i in range(count)}
    service = BlobServiceClient.from_connection_string(conn)
    out = {}

    container = f"small-{uuid.uuid4().hex[:12]}"
    service.create_container(container)
    store = ContentAddressedStore(AzureBlobBackend(container, connection_string=conn,
                                                   max_workers=workers), "Bench")
    store.backend.exists("warm-up")
    infos = {}
    out["hw_up"] = timed(lambda: infos.update(store.save(values)))
    loaded = {}
    out["hw_down"] = timed(lambda: loaded.update(
        store.load_many((i.sha, i.size) for i in infos.values())))
    assert loaded[infos["a7"].sha] == values["a7"] and len(loaded) == count

    blobs = [(f"raw/{i}", serialized(v)) for i, v in enumerate(values.values())]
    client = service.get_container_client(container)
    client.get_blob_client("warm-up").exists()

    def sequential_up():
        for name, data in blobs:
            client.get_blob_client(name).upload_blob(data, overwrite=True)

    def sequential_down():
        for name, _ in blobs:
            client.get_blob_client(name).download_blob().readall()

    out["sdk_up"] = timed(sequential_up)
    out["sdk_down"] = timed(sequential_down)
    service.delete_container(container)
    out["bytes"] = sum(len(d) for _, d in blobs)
    return out


# --- report ---------------------------------------------------------------------------------

def report(name: str, rounds: list[dict], target: str, goal: float) -> list[str]:
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    size = med["bytes"] / MB
    lines = []
    for op in ("up", "down"):
        hw, sdk = med[f"hw_{op}"], med[f"sdk_{op}"]
        if target == "within":
            ratio, ok = hw / sdk, hw / sdk <= goal
            verdict = f"{ratio:5.2f}x the SDK's time (target <= {goal:g}x): "
        else:
            ratio, ok = sdk / hw, sdk / hw >= goal
            verdict = f"{ratio:5.2f}x faster than sequential (target >= {goal:g}x): "
        lines.append(f"| {name} {'upload' if op == 'up' else 'download':8} | {size:7.1f} MB "
                     f"| {hw:7.2f} s {size / hw:7.1f} MB/s | {sdk:7.2f} s {size / sdk:7.1f} MB/s "
                     f"| {verdict}{'PASS' if ok else 'MISS'} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mb", type=int, default=400)
    parser.add_argument("--small-count", type=int, default=1000)
    parser.add_argument("--small-kb", type=int, default=10)
    parser.add_argument("--workers", type=int, default=16,
                        help="Headwater's concurrent requests (the backend's default)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="round-trip time a local proxy adds to every connection")
    parser.add_argument("--in-memory", action="store_true",
                        help="Azurite keeps blobs in memory instead of on disk")
    parser.add_argument("--only", choices=["big", "small"])
    args = parser.parse_args()
    if not AZURITE.exists():
        raise SystemExit("Azurite is missing: run `npm install` in the repository root")

    workdir = Path(tempfile.mkdtemp(prefix="hw-bench-azure-"))
    port = free_port()
    storage = ["--inMemoryPersistence"] if args.in_memory else ["--location", str(workdir)]
    azurite = subprocess.Popen(
        [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), *storage,
         "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = None
    try:
        wait_for(port)
        if args.latency_ms:
            proxy_port = free_port()
            proxy = multiprocessing.get_context("spawn").Process(
                target=_proxy_main, args=(proxy_port, port, args.latency_ms / 2000), daemon=True)
            proxy.start()
            wait_for(proxy_port)
            port = proxy_port
        conn = connection_string(port)
        where = (f"Azurite 3.35 ({'memory' if args.in_memory else 'disk'}), loopback"
                 + (f" + {args.latency_ms:g} ms RTT proxy" if args.latency_ms else ""))
        print(f"{where}; {os.cpu_count()} CPUs; Headwater workers={args.workers}; "
              f"median of {args.repeat}", flush=True)
        lines = ["| case | size | Headwater | plain azure-storage-blob | ratio |",
                 "|---|---:|---:|---:|---|"]
        if args.only in (None, "big"):
            rounds = [bench_big(conn, args.big_mb, args.workers) for _ in range(args.repeat)]
            lines += report(f"{args.big_mb} MB artifact", rounds, "within", 2.0)
        if args.only in (None, "small"):
            rounds = [bench_small(conn, args.small_count, args.small_kb * 1024, args.workers)
                      for _ in range(args.repeat)]
            lines += report(f"{args.small_count} x {args.small_kb} KB", rounds, "faster", 5.0)
        print("\n".join(lines))
    finally:
        if proxy is not None:
            proxy.terminate()
        azurite.terminate()
        azurite.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
