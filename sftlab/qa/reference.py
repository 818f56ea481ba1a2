"""Question answering, the reference: transformers' own span decoder, to check sftlab.qa.spans against.

    transformers_answers(model, tokenizer, data["test"])    # one answer text per question
"""

import torch

from sftlab.devices import model_device, to_device
from sftlab.qa.windows import CONTEXT, tokenize_windows


@torch.no_grad()
def transformers_answers(model, tokenizer, split, max_length: int = 192, doc_stride: int = 64,
                         max_answer_length: int = 30) -> list[str]:
    """The answers pipeline("question-answering") gave, rebuilt on transformers' own span decoder.

    transformers 5 removed that pipeline; its decoder, select_starts_ends, lives on in the document-QA pipeline.
    As the pipeline did: mask everything but the context (and [CLS]), softmax start and end over each window,
    take the span with the highest start × end probability (end ≥ start, at most max_answer_length tokens), keep
    the best window by that probability, and widen the span to whole words (align_to_words)."""
    import numpy as np
    from transformers.pipelines.document_question_answering import select_starts_ends

    model.eval()
    device = model_device(model)
    encoding = tokenize_windows(tokenizer, split["question"], split["context"], max_length, doc_stride)
    best = [(-1.0, "") for _ in range(len(split))]
    for w, i in enumerate(encoding["overflow_to_sample_mapping"]):
        ids = torch.tensor([encoding["input_ids"][w]])                                # (1, T)
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if "token_type_ids" in encoding:
            inputs["token_type_ids"] = torch.tensor([encoding["token_type_ids"][w]])
        outputs = model(**to_device(inputs, device))
        p_mask = np.array([s != CONTEXT and t != tokenizer.cls_token_id             # 1 = cannot be in the answer
                           for s, t in zip(encoding.sequence_ids(w), encoding["input_ids"][w], strict=True)])
        starts, ends, scores, _ = select_starts_ends(outputs.start_logits.float().cpu().numpy(),
                                                     outputs.end_logits.float().cpu().numpy(), p_mask,
                                                     np.ones(ids.shape, dtype=int), max_answer_len=max_answer_length)
        if len(scores) and scores[0] > best[i][0]:
            first = encoding.word_to_chars(w, encoding.token_to_word(w, int(starts[0])), sequence_index=CONTEXT)
            last = encoding.word_to_chars(w, encoding.token_to_word(w, int(ends[0])), sequence_index=CONTEXT)
            best[i] = (float(scores[0]), split[i]["context"][first.start:last.end])
    return [text for _, text in best]
