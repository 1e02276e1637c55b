"""Benchmark: question selection plus memory update, against a large SQLite memory.

Builds a store with USERS x CARDS spaced-repetition cards (default 10,000 x 300 = 3 million) and
topic mastery rows, then for random users times
  select: read the user's memory (due reviews, seen, mastery) and choose the next question;
  update: record one graded answer (turn row, FSRS review of the card, topic mastery);
beside the anchor: the same reads and writes as hand-written SQL on a plain sqlite3 connection to
the same database (three indexed SELECTs; then one transaction updating a card and a mastery row),
with no ORM, no FSRS and no selection policy. Samples alternate between the two.

    python benchmarks/bench_memory.py [--users 10000] [--cards 300] [--samples 300]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from machine import describe  # benchmarks/machine.py, beside this script

from agent.domain import Grade, KeyPoint, Question, Turn
from agent.memory import choose_question, review
from agent.store.repository import Store

TOPICS = [f"topic{i}" for i in range(15)]


def synthetic_bank(n: int) -> list[Question]:
    return [
        Question(
            id=f"q{i}", topic=TOPICS[i % len(TOPICS)], difficulty=1 + i % 3, prompt=f"Question number {i}?",
            key_points=(KeyPoint(id="a", text="the first point"),), model_answer="A model answer for it.",
        )
        for i in range(n)
    ]


def populate(db_path: Path, users: int, cards: int) -> None:
    """Bulk-load with sqlite3 directly: the schema comes from the store first (the models at head)."""
    Store.open(f"sqlite:///{db_path}").close()
    now = datetime.now(UTC)
    card = json.dumps(review(None, 3, now))
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    con.executemany("INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)",
                    ((u, f"user{u}", stamp) for u in range(1, users + 1)))
    rng = random.Random(7)
    for u in range(1, users + 1):
        due = [(now + timedelta(hours=rng.randint(-48, 24 * 30))).strftime("%Y-%m-%d %H:%M:%S.%f") for _ in range(cards)]
        con.executemany(
            "INSERT INTO review_cards (user_id, question_id, topic, card, due, reviews, lapses, last_rating, updated_at)"
            " VALUES (?, ?, ?, ?, ?, 1, 0, 3, ?)",
            ((u, f"q{i}", TOPICS[i % len(TOPICS)], card, due[i], stamp) for i in range(cards)),
        )
        con.executemany(
            "INSERT INTO topic_mastery (user_id, topic, mastery, evidence, lapses, updated_at) VALUES (?, ?, ?, ?, 0, ?)",
            ((u, t, rng.random(), rng.randint(1, 30), stamp) for t in TOPICS),
        )
        if u % 1000 == 0:
            con.commit()
            print(f"  loaded {u:,} users", flush=True)
    con.commit()
    con.close()


def raw_sample(con: sqlite3.Connection, uid: int, now: datetime) -> float:
    """The anchor: the memory's reads and an answer's writes in plain SQL; ms."""
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    t = time.perf_counter()
    due = con.execute("SELECT question_id FROM review_cards WHERE user_id = ? AND due <= ? ORDER BY due LIMIT 50",
                      (uid, stamp)).fetchall()
    con.execute("SELECT question_id FROM review_cards WHERE user_id = ?", (uid,)).fetchall()
    con.execute("SELECT topic, mastery, evidence, lapses FROM topic_mastery WHERE user_id = ?", (uid,)).fetchall()
    with con:
        con.execute("UPDATE review_cards SET reviews = reviews + 1, due = ?, updated_at = ? "
                    "WHERE user_id = ? AND question_id = ?", (stamp, stamp, uid, due[0][0] if due else "q0"))
        con.execute("UPDATE topic_mastery SET mastery = 0.5, evidence = evidence + 1, updated_at = ? "
                    "WHERE user_id = ? AND topic = ?", (stamp, uid, TOPICS[0]))
    return (time.perf_counter() - t) * 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--cards", type=int, default=300)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    bank = synthetic_bank(max(args.cards, 300))
    with tempfile.TemporaryDirectory() as home:
        db_path = Path(home) / "coach.db"
        t0 = time.perf_counter()
        populate(db_path, args.users, args.cards)
        print(f"built {args.users:,} users x {args.cards} cards in {time.perf_counter() - t0:.0f} s "
              f"({db_path.stat().st_size / 2**20:.0f} MiB)")
        store = Store.open(f"sqlite:///{db_path}")
        rng = random.Random(11)
        raw = sqlite3.connect(db_path)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")  # as the store's engine sets it
        select_ms, update_ms, anchor_ms = [], [], []
        for n in range(args.samples):
            uid = rng.randint(1, args.users)
            user = f"user{uid}"
            anchor = raw_sample(raw, rng.randint(1, args.users), datetime.now(UTC))
            session = store.create_session(user, "concept", [], 5, "offline")
            t = time.perf_counter()
            choice = choose_question(bank, store.memory_of(user), asked=[], difficulty=2, salt=session)
            t1 = time.perf_counter()
            q = choice.question
            at = datetime.now(UTC)
            turn = Turn(seq=1, question_id=q.id, topic=q.topic, prompt=q.prompt, answer="an answer",
                        asked_at=at, answered_at=at, grade=Grade(score=0.5, rating=2))
            store.record_turns(session, user, [turn], price=lambda _u: 0.0)
            t2 = time.perf_counter()
            if n >= 10:  # warm-up excluded
                select_ms.append((t1 - t) * 1000)
                update_ms.append((t2 - t1) * 1000)
                anchor_ms.append(anchor)
        raw.close()
        both = [a + b for a, b in zip(select_ms, update_ms, strict=True)]
        print(f"{describe()}, SQLite {sqlite3.sqlite_version}")
        for name, values in (("select", select_ms), ("update", update_ms), ("select+update", both),
                             ("anchor: raw SQL", anchor_ms)):
            print(f"  {name:16s} p50 {statistics.median(values):6.2f} ms   p95 {pct(values, 95):6.2f} ms")
        print(f"  ratio select+update / raw SQL p50: {statistics.median(both) / statistics.median(anchor_ms):.1f}x")
        store.close()


if __name__ == "__main__":
    main()
