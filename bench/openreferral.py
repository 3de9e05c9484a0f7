"""Crawling the Open Referral UK feed over the national benchmark directory, on PostgreSQL.

Uses the directory ``bench/search.py`` builds (200,000 activities; built here first when
missing) and serves the API the same way. Measures, with one anonymous client and
keep-alive, as a crawler or an importer reads:

- a walk of consecutive pages of ``/openreferral/services?per_page=50`` (the list shape)
  and of ``...&full=true`` (fully nested, what ``signpost import-oruk`` reads): pages per
  second and latency;
- the same pages deep in the feed (the last ones), where the page offset is largest;
- ``/openreferral/services/{id}`` for random services.

Each page is checked for the profile's envelope; any failed request makes the run exit
non-zero. Environment as for bench/search.py, plus BENCH_CRAWL_PAGES (pages per walk,
default 200). Appends to bench/RESULTS.md (BENCH_RESULTS).
"""

import os
import platform
import random
import sys
import time
from datetime import UTC, datetime

import httpx
import search as directory  # bench/search.py: the dataset and the server

CRAWL_PAGES = int(os.environ.get("BENCH_CRAWL_PAGES", "200"))
PER_PAGE = 50


def walk(client: httpx.Client, pages: list[int], full: bool) -> tuple[list[float], int, float]:
    """(latencies in ms, failed requests, pages per second) for reading ``pages`` in turn."""
    samples, errors = [], 0
    started = time.perf_counter()
    for number in pages:
        params = {"per_page": PER_PAGE, "page": number, **({"full": "true"} if full else {})}
        begun = time.perf_counter()
        response = client.get("/openreferral/services", params=params)
        samples.append((time.perf_counter() - begun) * 1000)
        body = response.json() if response.status_code == 200 else {}
        errors += response.status_code != 200 or body.get("page_number") != number
    return samples, errors, len(pages) / (time.perf_counter() - started)


def by_id(client: httpx.Client, ids: list[str]) -> tuple[list[float], int]:
    samples, errors = [], 0
    for service_id in ids:
        begun = time.perf_counter()
        response = client.get(f"/openreferral/services/{service_id}")
        samples.append((time.perf_counter() - begun) * 1000)
        errors += response.status_code != 200
    return samples, errors


def main() -> None:
    generated, carded, clustered = directory.prepared_directory()
    rows = []
    errors = 0
    with (
        directory.api_server(),
        httpx.Client(base_url=f"http://127.0.0.1:{directory.PORT}", timeout=60) as client,
    ):
        first = client.get("/openreferral/services", params={"per_page": PER_PAGE}).json()
        total_pages, total = first["total_pages"], first["total_items"]
        walked = list(range(1, min(CRAWL_PAGES, total_pages) + 1))
        deep_count = max(1, len(walked) // 4)
        deep = list(range(max(1, total_pages - deep_count + 1), total_pages + 1))
        walk(client, walked[:10], True)  # warm up
        for label, pages, full in (
            ("list shape, pages from the first", walked, False),
            ("full=true, pages from the first", walked, True),
            ("full=true, the last pages", deep, True),
        ):
            samples, failed, rate = walk(client, pages, full)
            errors += failed
            rows.append((label, len(pages), rate, samples))
        listed = client.get(
            "/openreferral/services",
            params={"per_page": PER_PAGE, "page": random.Random(3).randint(1, total_pages)},
        ).json()["contents"]
        one, failed = by_id(client, [s["id"] for s in listed])
        errors += failed
    lines = [
        f"\n## Open Referral UK feed crawl, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; PostgreSQL; {total:,} public services "
        f"({total_pages:,} pages of {PER_PAGE})"
        + (f", directory generated in {generated:.0f} s" if generated else ", directory reused")
        + f"; read model completed in {carded:.0f} s"
        + ("; search tables clustered" if clustered is not None else "")
        + f"; uvicorn with {directory.WORKERS} "
        "workers; one anonymous client, keep-alive, pages read one after another.",
        "",
        "| /openreferral/services?per_page=50 | pages | pages/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for label, count, rate, samples in rows:
        lines.append(
            f"| {label} | {count} | {rate:.1f} | {directory.percentile(samples, 50):.1f} | "
            f"{directory.percentile(samples, 95):.1f} | {directory.percentile(samples, 99):.1f} |"
        )
    lines += [
        "",
        f"/openreferral/services/{{id}}, {len(one)} services: p50 "
        f"{directory.percentile(one, 50):.1f} ms, p95 {directory.percentile(one, 95):.1f} ms. "
        f"Failed requests: {errors}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    with directory.RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(text)
    if errors:
        raise SystemExit(f"bench: {errors} feed requests failed")


if __name__ == "__main__":
    sys.exit(main())
