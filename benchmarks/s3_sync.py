"""How `invoke publish --s3` scales with the number of files, against moto's S3 server on 127.0.0.1.

Writes a synthetic build of N files (a page per review folder plus its
content-hashed poster files), then times four syncs into an empty bucket
and counts their requests: the first publish (everything uploaded), a
publish with nothing changed (only the listing: the memo knows every ETag),
the same on a machine without the memo (one HEAD per object), and a
publish after one page changed.

    python -m benchmarks.s3_sync [--files 2000]

Needs the test requirements (moto[server]). Exit status 1 if a sync does not
leave the bucket equal to the build.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from blogtools.publish_s3 import Bucket, s3_client, sync_build

FILES_PER_REVIEW = 5  # index.html and four hashed poster files


def write_build(folder: Path, files: int) -> None:
    for number in range(files // FILES_PER_REVIEW):
        page = folder / "reviews" / f"film-{number:05d}" / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f"<!DOCTYPE html><title>Film {number}</title><p>{'words ' * 400}</p>\n")
        for width in (185, 342, 500, 780):
            poster = folder / "images" / "posters" / "derived" / f"film-{number:05d}-{width}-{number:010x}.avif"
            poster.parent.mkdir(parents=True, exist_ok=True)
            poster.write_bytes(os.urandom(2000 + width))


def start_moto(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (folder / "moto.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("moto did not start")


def timed_sync(build: Path, bucket: Bucket, client, label: str, memo: Path | None) -> None:
    requests = Counter()

    def count(request, **kwargs):
        requests[request.method] += 1

    client.meta.events.register("before-send.s3", count)
    start = time.perf_counter()
    result = sync_build(build, bucket, client=client, memo=memo, echo=lambda line: None)
    seconds = time.perf_counter() - start
    client.meta.events.unregister("before-send.s3", count)
    shown = ", ".join(f"{method} {number}" for method, number in sorted(requests.items()))
    print(f"{label:<22} {seconds:6.2f} s  {result.made:5d} changes  requests: {shown}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    options = parser.parse_args(argv)
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        os.environ[name] = value
    with tempfile.TemporaryDirectory(prefix="s3-sync-bench-") as folder:
        folder = Path(folder)
        build = folder / "site"
        write_build(build, options.files)
        process, url = start_moto(folder)
        try:
            bucket = Bucket(name="bench", prefix="site/", region="us-east-1", endpoint_url=url)
            client = s3_client(bucket)
            client.create_bucket(Bucket="bench")
            total = sum(1 for path in build.rglob("*") if path.is_file())
            print(f"{total} files")
            memo = folder / "memo.json"
            timed_sync(build, bucket, client, "first publish", memo)
            timed_sync(build, bucket, client, "nothing changed", memo)
            timed_sync(build, bucket, client, "same, without memo", None)
            page = build / "reviews" / "film-00000" / "index.html"
            page.write_text(page.read_text() + "<p>An edit.</p>\n")
            timed_sync(build, bucket, client, "one page changed", memo)
            listed = sum(page.get("KeyCount", 0) for page in
                         client.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="site/"))
            if listed != total:
                print(f"FAIL: the bucket holds {listed} objects, the build {total} files")
                return 1
        finally:
            process.terminate()
            process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
