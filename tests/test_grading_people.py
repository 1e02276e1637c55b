"""The offline grader on the answers people actually give: the issue's examples, follow-ups,
structure, swapped terms, offline safety, and the evals that hold it to human grades."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anthropic
import httpx2
import pytest

from agent.catalog import Catalog
from agent.grading.offline import OfflineGrader, stated_key_points
from agent.grading.reference import grade_free_text
from evals.runner import kind_order_failures

ROOT = Path(__file__).resolve().parent.parent
grader = OfflineGrader()


@pytest.fixture(scope="module")
def bank() -> Catalog:
    return Catalog.load()


def verdict(bank: Catalog, qid: str, answer: str, kp: str, prior: tuple[str, ...] = ()):
    grade = grader.grade(bank.question(qid), answer, prior_answers=prior)
    return next(v for v in grade.verdicts if v.key_point == kp), grade


def test_labelled_star_result_is_credited_with_its_own_sentence(bank: Catalog) -> None:
    answer = ("Situation: two services fought over one database. Task: I owned the API. Action: I added a read "
              "replica and moved reports to it. Result: p95 latency fell by about 40 percent in a week. "
              "Learning: measure before arguing.")
    v, grade = verdict(bank, "behavioural.conflict", answer, "result")
    assert v.verdict == "covered" and "40 percent" in v.evidence and "Action" not in v.evidence
    assert grade.rating >= 3


def test_paraphrase_with_other_words_gets_credit(bank: Catalog) -> None:
    v, _ = verdict(bank, "system_design.embedding_pipeline",
                   "I'd sort batches by length to cut padding and deal with spikes by throttling with backpressure.",
                   "throughput")
    assert v.verdict == "covered"
    v, _ = verdict(bank, "agents.parallel_tool_calls", "If they're independent I'd execute them concurrently.",
                   "run_concurrently")
    assert v.verdict == "covered"


def test_design_estimate_with_numbers_is_credited(bank: Catalog) -> None:
    v, _ = verdict(bank, "system_design.embedding_pipeline",
                   "It comes to roughly 600 GB raw, and the backfill takes half a day with 4 pools of GPU workers.",
                   "estimation")
    assert v.verdict == "covered" and "600 GB" in v.evidence


def test_swapped_definitions_score_low_and_the_right_ones_high(bank: Catalog) -> None:
    q = bank.question("llm_evaluation.offline_vs_online")
    swapped = ("Online evaluation scores a fixed dataset before release. "
               "Offline evaluation measures real traffic after release.")
    right = swapped.replace("Online", "X").replace("Offline", "Online").replace("X", "Offline")
    low, high = grader.grade(q, swapped), grader.grade(q, right)
    assert low.score < 0.4 and high.score > 0.6
    assert any("opposite term" in n for n in low.notes)
    pr = bank.question("ml_fundamentals.precision_recall")
    wrong = "Recall is the fraction of flagged items that really are positive, precision is the share of real positives flagged."
    fine = "Precision is the fraction of flagged items that really are positive, recall is the share of real positives flagged."
    assert grader.grade(pr, wrong).score + 0.3 < grader.grade(pr, fine).score


def test_follow_up_is_graded_with_what_was_said_before(bank: Catalog) -> None:
    q = bank.question("sql.index_tradeoffs")
    first = "Lookups and joins no longer scan the whole table."
    follow_up = "Inserts and updates get slower because the index has to be maintained."
    alone = grader.grade(q, follow_up)
    together = grader.grade(q, follow_up, prior_answers=[first])
    assert together.score > alone.score
    reads = next(v for v in together.verdicts if v.key_point == "faster_reads")
    assert reads.verdict == "covered" and reads.evidence == first
    assert "faster_reads" in stated_key_points(q, follow_up, prior_answers=[first])
    assert "faster_reads" not in stated_key_points(q, follow_up)


def test_score_is_continuous_not_three_steps(bank: Catalog) -> None:
    q = bank.question("python.gil")
    answers = [
        "Only one thread runs Python bytecode at a time.",
        "Only one thread runs Python bytecode at a time, so threads help with I/O because the lock is released.",
        ("Only one thread runs Python bytecode at a time; threads still help for I/O since the lock is "
         "released while waiting, CPU-bound work needs multiprocessing, and asyncio runs many waiting tasks "
         "on one thread."),
    ]
    scores = [grader.grade(q, a).score for a in answers]
    assert scores == sorted(scores) and len({round(s, 2) for s in scores}) == 3
    assert not {round(s, 4) for s in scores} <= {0.0, 0.5, 1.0}


def test_free_text_accepts_one_word_reference() -> None:
    assert grade_free_text("push", reference="push", question="Which way?").score > \
        grade_free_text("pull", reference="push", question="Which way?").score
    with pytest.raises(ValueError):
        grade_free_text("", reference="push")


def test_kind_order_check_can_fail() -> None:
    assert kind_order_failures({"terse": 0.7, "swapped": 0.4, "off_topic": 0.05}, 0.15) == []
    assert len(kind_order_failures({"terse": 0.7, "swapped": 0.65, "off_topic": 0.05}, 0.15)) == 1


NO_NETWORK = """
import socket, sys
def refuse(*a, **k):
    raise AssertionError("network touched")
socket.socket.connect = refuse
socket.create_connection = refuse
from agent.grading import embeddings
from agent.grading.offline import OfflineGrader
from agent.catalog import Catalog
assert not embeddings.model_loaded(), "the model must load lazily"
bank = Catalog.load()
grade = OfflineGrader().grade(bank.question("python.gil"), "Only one thread runs bytecode at a time.")
assert embeddings.model_loaded() and grade.score > 0
import os
assert os.environ["HF_HUB_OFFLINE"] == "1"
print("ok")
"""


def test_loading_and_grading_never_touch_the_network() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", NO_NETWORK], check=False, capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_devset_is_skipped_with_a_clear_report_when_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evals.agreement import evaluate_devset
    from evals.devset import dev_dir

    monkeypatch.setenv("COACH_GRADING_DEV", str(tmp_path))
    assert dev_dir() is None and evaluate_devset().available is False


def test_devset_agreement_is_computed_per_data_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evals.agreement import evaluate_devset

    rows = [("Bulbs A and C are in closed paths", a, h) for a, h in [
        ("bulbs a and c are in closed paths with the battery", 1.0), ("a and c are in a closed path", 1.0),
        ("there is a gap", 0.0), ("I don't know", 0.0), ("bulb b is in a closed path", 0.0)]]
    lines = [json.dumps({"dataset": "semeval2013_beetle", "split": "test-unseen-answers", "question": "Why?",
                         "reference_answer": r, "answer": a, "human_score": h}) for r, a, h in rows]
    (tmp_path / "semeval2013_beetle.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("COACH_GRADING_DEV", str(tmp_path))
    report = evaluate_devset()
    [beetle] = report.datasets
    assert beetle.dataset == "Beetle" and beetle.n == 5 and beetle.pearson > 0.5


@pytest.mark.slow
def test_open_devset_test_splits_meet_the_issue_targets() -> None:
    from evals.agreement import evaluate_devset
    from evals.devset import dev_dir

    if dev_dir() is None:
        pytest.skip("grading_dev not found (set COACH_GRADING_DEV)")
    by_name = {d.dataset: d for d in evaluate_devset().datasets}
    assert by_name["SciEntsBank"].pearson >= 0.50
    assert by_name["Beetle"].pearson >= 0.43  # naive word recall: 0.36


# --- the Claude grader eval, over the real SDK with a mock HTTP transport -----------------------

def _message(text: str) -> dict:
    return {"id": "msg_test", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 800, "output_tokens": 120, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0}}


@pytest.mark.anyio
async def test_claude_eval_reports_agreement_tokens_and_cost(bank: Catalog, monkeypatch, tmp_path) -> None:
    from agent.config import Settings
    from agent.llm.anthropic_llm import AnthropicLLM
    from evals import claude_eval

    seen: list[dict] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        system = body["system"][0]["text"]
        ids = [line.split("id=")[1].split(" ")[0] for line in system.splitlines() if line.startswith("- id=")]
        answer = body["messages"][0]["content"]
        good = "closed" in answer or "gap" not in answer
        verdicts = [{"key_point": i, "verdict": "covered" if good else "missing", "evidence": ""} for i in ids]
        return httpx2.Response(200, json=_message(json.dumps({"verdicts": verdicts})))

    client = anthropic.AsyncAnthropic(api_key="test", max_retries=0,
                                      http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    llm = AnthropicLLM(client, interviewer_model="claude-haiku-4-5", grader_model="claude-sonnet-4-6")
    records = [{"dataset": "semeval2013_beetle", "split": "test-unseen-answers", "question": "Why?",
                "reference_answer": "push", "answer": a, "human_score": h}
               for a, h in [("closed path", 1.0), ("there is a gap", 0.0), ("closed loop", 1.0)]]
    (tmp_path / "semeval2013_beetle.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    monkeypatch.setenv("COACH_GRADING_DEV", str(tmp_path))
    report = await claude_eval.run_claude_eval(llm, Settings().prices, limit=3, bank=bank)
    assert report.devset["Beetle"]["n"] == 3 and report.devset["Beetle"]["pearson"] == pytest.approx(1.0)
    assert report.calls == len(seen) == 6 and report.input_tokens == 800 * 6 and report.cost_usd > 0
    assert report.golden_in_band is not None
    assert claude_eval.estimate_cost(100, Settings().prices["claude-sonnet-4-6"]) > 0


def test_claude_eval_without_a_key_fails_before_spending(tmp_path: Path) -> None:
    from tests.test_cli import coach

    out = coach("eval", "--grader", "claude", "--limit", "2", "--yes")
    assert out.returncode != 0 and "key" in (out.stderr + out.stdout).lower()
