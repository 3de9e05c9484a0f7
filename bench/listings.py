"""Baseline latency of the listings API on the demo directory, over real sockets.

Starts uvicorn on a throwaway database (SQLite by default; PostgreSQL when
SIGNPOST_DATABASE_URL is set), loads the demo data, sends a fixed mix of requests from one
client, and appends p50/p95/p99 per request kind to bench/RESULTS.md.
"""

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PORT = int(os.environ.get("BENCH_PORT", "8765"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))
BASE = f"http://127.0.0.1:{PORT}"
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "RESULTS.md"))


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    env = dict(os.environ, SIGNPOST_LOG_LEVEL="WARNING")
    if not env.get("SIGNPOST_DATABASE_URL"):
        env["SIGNPOST_DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    signpost = [sys.executable, "-m", "app.cli"]
    subprocess.run([*signpost, "migrate"], env=env, check=True, cwd=ROOT)
    subprocess.run([*signpost, "seed-demo"], env=env, check=True, cwd=ROOT)
    server = subprocess.Popen([*signpost, "serve", "--port", str(PORT)], env=env, cwd=ROOT)
    try:
        with httpx.Client(base_url=BASE, timeout=10) as client:
            for _ in range(100):
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            first = client.get("/v1/activities", params={"per_page": 1}).json()["contents"][0]
            mix = {
                "list activities (50)": ("/v1/activities", {"per_page": 50}),
                "list activities by term": (
                    "/v1/activities",
                    {"term": first["terms"][0]["id"], "per_page": 20},
                ),
                "one activity": (f"/v1/activities/{first['id']}", {}),
                "list organisations (100)": ("/v1/organisations", {"per_page": 100}),
                "terms matching 'lonely'": ("/v1/taxonomy-terms", {"q": "lonely"}),
            }
            results = {}
            for label, (path, params) in mix.items():
                samples = []
                for _ in range(ROUNDS):
                    started = time.perf_counter()
                    response = client.get(path, params=params)
                    samples.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                results[label] = samples
    finally:
        server.terminate()
        server.wait(timeout=10)
    write_results(results, env["SIGNPOST_DATABASE_URL"].split(":", 1)[0])


def _demo_size() -> str:
    sys.path.insert(0, str(ROOT))
    from app.demo.data import KINDS, ORGANISATIONS

    activities = sum(len(KINDS[kind]) for _, _, kind, *_ in ORGANISATIONS)
    return f"{len(ORGANISATIONS)} organisations, {activities} activities"


def write_results(results: dict[str, list[float]], database: str) -> None:
    lines = [
        f"\n## Listings baseline, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()} ({os.cpu_count()} cores, {platform.machine()}), "
        f"Python {platform.python_version()}, database {database}, demo data "
        f"({_demo_size()}), one client, {ROUNDS} requests per row.",
        "",
        "| request | p50 ms | p95 ms | p99 ms | mean ms |",
        "|---|---|---|---|---|",
    ]
    for label, samples in results.items():
        lines.append(
            f"| {label} | {percentile(samples, 50):.1f} | {percentile(samples, 95):.1f} | "
            f"{percentile(samples, 99):.1f} | {statistics.fmean(samples):.1f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
