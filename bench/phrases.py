"""How well the referral search understands the way link workers write needs.

For each row of a phrase list (CSV: ``need`` as a need code or name, ``phrase`` as a link
worker might type it), and for one single-typo misspelling of each phrase made here
(a letter dropped, doubled, swapped with its neighbour or replaced by a key next to it,
in the phrase's longest word), it asks ``GET /v1/referral-options`` with ``need=<phrase>``
and with ``q=<phrase>``, and counts a hit when an activity tagged with the intended need is
among the first 10 results.

The directory is built here, through the API, so nothing but the vocabulary can carry the
meaning: for every need, two activities tagged with that need and with no words of it in
their text, plus one activity per activity category tagged with the category alone.

Environment: BENCH_PHRASES (the list; default bench/phrases.csv), BENCH_RESULTS (where to
append; default bench/RESULTS.md), BENCH_MIN_PHRASES / BENCH_MIN_TYPOS (percentages for
``need=`` below which the run fails; .ci/bench-smoke sets the targets: 90 and 80).
"""

import csv
import os
import platform
import random
import subprocess
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHRASES = Path(os.environ.get("BENCH_PHRASES", ROOT / "bench" / "phrases.csv"))
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "RESULTS.md"))
if not os.environ.get("SIGNPOST_DATABASE_URL"):
    os.environ["SIGNPOST_DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/phrases.db"
os.environ.setdefault("SIGNPOST_LOG_LEVEL", "WARNING")
TOP = 10

# Neighbouring keys on a UK QWERTY keyboard, for substitution typos.
NEIGHBOURS = {
    row[i]: row[max(i - 1, 0)] + row[min(i + 1, len(row) - 1)]
    for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for i in range(len(row))
}


def typo(phrase: str, rng: random.Random) -> str:
    """One edit in the phrase's longest word (away from its first letter)."""
    words = phrase.split()
    index = max(range(len(words)), key=lambda i: (len(words[i]), -i))
    word = words[index]
    if len(word) < 4:
        return phrase
    letters = [i for i in range(1, len(word) - 1) if word[i].isalpha() and word[i + 1].isalpha()]
    if not letters:
        return phrase
    at = rng.choice(letters)
    kind = rng.choice(["drop", "double", "swap", "key"])
    if kind == "drop":
        word = word[:at] + word[at + 1 :]
    elif kind == "double":
        word = word[:at] + word[at] + word[at:]
    elif kind == "swap" and word[at] != word[at + 1]:
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    else:
        near = NEIGHBOURS.get(word[at].lower(), word[at])
        word = word[:at] + rng.choice(near) + word[at + 1 :]
    words[index] = word
    return " ".join(words)


def build_directory(client) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Needs by code and by lower-case name -> code; activities tagged with each need."""
    terms = []
    page = 1
    while True:
        body = client.get("/v1/taxonomy-terms", params={"per_page": 100, "page": page}).json()
        terms += body["contents"]
        if body["last_page"]:
            break
        page += 1
    needs = [t for t in terms if t["taxonomy"]["code"] == "need"]
    categories = [t for t in terms if t["taxonomy"]["code"] == "activity-category"]
    names = {t["code"]: t["code"] for t in needs} | {t["name"].lower(): t["code"] for t in needs}
    tagged: dict[str, set[str]] = defaultdict(set)
    organisation = client.post(
        "/v1/organisations",
        json={"name": "Bench Community Trust", "legal_form": "charity", "status": "published"},
    ).json()

    def activity(name: str, term_ids: list[str]) -> str:
        response = client.post(
            "/v1/activities",
            json={
                "organisation_id": organisation["id"],
                "name": name,
                "description": "A weekly session run by volunteers.",
                "term_ids": term_ids,
            },
        )
        response.raise_for_status()
        return response.json()["id"]

    for number, need in enumerate(needs):
        helped_by = [c["id"] for c in need.get("helped_by", [])][:1]
        for copy in range(2):
            tagged[need["code"]].add(activity(f"Session {number}.{copy}", [need["id"], *helped_by]))
    for number, category in enumerate(categories):
        activity(f"Group {number}", [category["id"]])
    return names, tagged


def run(client, rows, names, tagged) -> dict:
    rng = random.Random(13)
    outcome: dict[str, dict[str, list]] = {"phrase": defaultdict(list), "typo": defaultdict(list)}
    for need, phrase in rows:
        code = names.get(need.strip().lower(), need.strip())
        for kind, text in (("phrase", phrase), ("typo", typo(phrase, rng))):
            for parameter in ("need", "q"):
                response = client.get(
                    "/v1/referral-options", params={parameter: text, "per_page": TOP}
                )
                response.raise_for_status()
                found = {o["activity"]["id"] for o in response.json()["contents"]}
                hit = bool(found & tagged.get(code, set()))
                outcome[kind][parameter].append((code, text, hit))
    return outcome


def rate(results: list) -> float:
    return 100 * sum(hit for *_, hit in results) / max(len(results), 1)


def main() -> int:
    env = dict(os.environ)
    signpost = [sys.executable, "-m", "app.cli"]
    subprocess.run([*signpost, "migrate"], env=env, check=True, cwd=ROOT, capture_output=True)
    subprocess.run([*signpost, "seed-vocabulary"], env=env, check=True, cwd=ROOT)

    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from app.accounts.models import GlobalRole, User
    from app.accounts.security import create_access_token, hash_password
    from app.core.db import get_engine
    from app.main import app

    with Session(get_engine()) as session:
        admin = User(
            email="bench@example.org",
            display_name="Bench",
            password_hash=hash_password("bench password long enough"),
            role=GlobalRole.admin,
        )
        session.add(admin)
        session.commit()
        token = create_access_token(admin.id, getattr(admin, "token_version", 0))[0]
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token}"

    with PHRASES.open(newline="", encoding="utf-8") as handle:
        rows = [(row["need"], row["phrase"]) for row in csv.DictReader(handle)]
    names, tagged = build_directory(client)
    outcome = run(client, rows, names, tagged)
    rates = {(k, p): rate(outcome[k][p]) for k in ("phrase", "typo") for p in ("need", "q")}
    misses = [
        f"{kind} `{parameter}={text}` (wanted {code})"
        for kind in ("phrase", "typo")
        for parameter in ("need", "q")
        for code, text, hit in outcome[kind][parameter]
        if not hit
    ]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    lines = [
        f"\n## Need phrasings, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (commit {commit})",
        "",
        f"Phrase list {PHRASES.name}: {len(rows)} phrasings over "
        f"{len({names.get(n.lower(), n) for n, _ in rows})} needs, and one single-typo "
        f"misspelling of each. Hit: an activity tagged with the intended need in the first "
        f"{TOP} results. Database {env['SIGNPOST_DATABASE_URL'].split(':', 1)[0]}, "
        f"{platform.python_version()}.",
        "",
        "| | `need=` | `q=` |",
        "|---|---|---|",
        *(
            f"| {label} | {rates[(kind, 'need')]:.1f}% | {rates[(kind, 'q')]:.1f}% |"
            for kind, label in (
                ("phrase", "plausible phrasings"),
                ("typo", "single-typo misspellings"),
            )
        ),
        "",
        f"Misses ({len(misses)}): " + ("; ".join(misses) if misses else "none") + ".",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(text)
    floors = {
        ("phrase", "need"): float(os.environ.get("BENCH_MIN_PHRASES", "0")),
        ("typo", "need"): float(os.environ.get("BENCH_MIN_TYPOS", "0")),
    }
    failed = [
        f"{k} {p}= {rates[(k, p)]:.1f}% < {floor}%"
        for (k, p), floor in floors.items()
        if rates[(k, p)] < floor
    ]
    if failed:
        print("below target: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
