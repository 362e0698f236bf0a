"""Held-out scores of a question generator (Foster 1st ed. ch. 6; ``genzoo eval`` metric ``questions``).

Protocol: every held-out item (document, reference answer span, reference question) of the run's test split.

* **Generated questions**: one question per item at its reference answer span (greedy unless ``beam`` > 1, at most
  ``model.max_tokens`` words), against the reference question as written (the words outside the vocabulary
  included: a model that writes ``<unk>`` loses them). Corpus BLEU-4 and BLEU-1 (Papineni et al. 2002: clipped
  n-gram precisions, one brevity penalty over the corpus, no smoothing) and the mean ROUGE-L F-measure per question
  (Lin 2004: longest common subsequence), both from torchmetrics (``bleu_score``, ``rouge_score``): already a
  dependency, tested against the reference formulas, and working on token lists without a detokeniser (sacrebleu
  would re-tokenise our cleaned text). Beside them the same scores of a baseline that asks every item the most
  frequent question of the training split.
* **Teacher forcing**: the question words' cross-entropy given the reference prefix (nats per word and perplexity).
* **The answer tagger**: per-token precision, recall, F1 and accuracy of "part of an answer" at ``model.threshold``
  against the union of the document's reference answers.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import torch


def _text_scores(generated: list[str], references: list[str]) -> dict[str, float]:
    from torchmetrics.functional.text import bleu_score, rouge_score

    refs = [[r] for r in references]
    rouge = rouge_score(generated, references, rouge_keys="rougeL", accumulate="avg")
    return {"bleu4": 100 * float(bleu_score(generated, refs, n_gram=4)),
            "bleu1": 100 * float(bleu_score(generated, refs, n_gram=1)),
            "rougeL_f": float(rouge["rougeL_fmeasure"])}


@torch.no_grad()
def held_out_questions(model: Any, test, train=None, beam: int = 1, batch_size: int = 64,
                       examples: int = 10) -> dict[str, Any]:
    """The scores of the module docstring for the :class:`~genzoo.data.qa.QASet` ``test`` (``train`` gives the
    most-frequent-question baseline)."""
    model.eval()
    sums: Counter = Counter()
    for s in range(0, len(test), batch_size):
        batch = test.gather(torch.arange(s, min(s + batch_size, len(test))), device=model.device)
        sums.update(model.score_questions(batch))
    docs = [test.words_of(i) for i in range(len(test))]
    spans = [tuple(test.spans[i].tolist()) for i in range(len(test))]
    generated: list[str] = []
    for s in range(0, len(test), batch_size):
        asked = model.generate(docs[s:s + batch_size], spans[s:s + batch_size], beam=beam,
                               max_tokens=model.config.max_tokens)
        generated += [" ".join(words) for words, _ in asked]
    references = [" ".join(r) for r in test.references]
    unk = model.need_tokenizer().unknown_token
    words = [w for g in generated for w in g.split()]
    vocab = model.need_tokenizer().word_index
    tp, fp, fn = sums["tp"], sums["fp"], sums["fn"]
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    out: dict[str, Any] = {
        **_text_scores(generated, references),
        "items": len(test), "beam": beam, "max_tokens": model.config.max_tokens,
        "mean_generated_words": len(words) / max(len(generated), 1),
        "unknown_rate": sum(w == unk for w in words) / max(len(words), 1),
        "copied_out_of_vocabulary_words": sum(w not in vocab for w in words),
        "question_nats": sums["question_nats"] / max(sums["question_tokens"], 1),
        "tagger": {"precision": precision, "recall": recall, "f1": 2 * tp / max(2 * tp + fp + fn, 1),
                   "accuracy": sums["correct"] / max(sums["document_tokens"], 1),
                   "nats": sums["tagger_nats"] / max(sums["document_tokens"], 1),
                   "threshold": model.config.threshold},
        "examples": [{"answer": " ".join(docs[i][spans[i][0]:spans[i][1]]), "reference": references[i],
                      "generated": generated[i]} for i in range(min(examples, len(test)))],
    }
    out["question_perplexity"] = float(torch.tensor(out["question_nats"]).exp())
    if train is not None and len(train):
        common = Counter(" ".join(r) for r in train.references).most_common(1)[0][0]
        out["baseline_most_frequent_question"] = {"question": common,
                                                  **_text_scores([common] * len(references), references)}
    return out
