"""The offline grader on the answers that fool keyword counters."""

from __future__ import annotations

import pytest

from agent.catalog import Catalog
from agent.grading.offline import OfflineGrader

grader = OfflineGrader()


def verdicts(bank: Catalog, qid: str, answer: str) -> dict[str, str]:
    return {v.key_point: v.verdict for v in grader.grade(bank.question(qid), answer).verdicts}


def test_paraphrase_and_abbreviations_count(mini_bank: Catalog) -> None:
    answer = ("The key-value cache keeps the keys and values of earlier tokens so they are reused; "
              "the cache size grows with context, and decoding gets faster.")
    assert verdicts(mini_bank, "caching.kv_cache", answer) == {"reuse": "covered", "memory": "covered", "speed": "covered"}


def test_negated_point_is_not_credited(mini_bank: Catalog) -> None:
    v = verdicts(mini_bank, "sql.index", "An index does not make lookups faster; it never avoids a full table scan.")
    assert v["faster_reads"] == "missing"


def test_bare_term_list_scores_low(mini_bank: Catalog) -> None:
    stuffed = "evicts least recently used entry full hash map doubly linked list get put constant time o(1)"
    grade = grader.grade(mini_bank.question("caching.lru"), stuffed)
    assert grade.score <= 0.35 and grade.rating <= 2
    assert any("list of terms" in n for n in grade.notes)


@pytest.mark.parametrize("answer", ["", "I don't know", "no idea, sorry", "??"])
def test_no_attempt_scores_zero_with_the_model_answer(mini_bank: Catalog, answer: str) -> None:
    grade = grader.grade(mini_bank.question("sql.index"), answer)
    assert grade.score == 0 and grade.rating == 1 and grade.model_answer.startswith("An index")


def test_off_topic_answer_scores_zero(mini_bank: Catalog) -> None:
    assert grader.grade(mini_bank.question("sql.index"), "My favourite film is about pirates at sea.").score == 0


def test_evidence_quotes_the_answer(mini_bank: Catalog) -> None:
    answer = "Small talk first. Inserts and updates get slower because the index must be updated too."
    grade = grader.grade(mini_bank.question("sql.index"), answer)
    [slow] = [v for v in grade.verdicts if v.key_point == "slower_writes"]
    assert slow.verdict == "covered" and slow.evidence in answer and "Inserts" in slow.evidence
