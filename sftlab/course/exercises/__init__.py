"""Graded exercises: you fill in a function, `check_<name>(your_function)` says what is wrong.

A check runs your function and the reference solution on every test case and stops at
the first case where they differ, saying how: not a tensor, wrong shape, wrong dtype,
nan/inf, or the largest error and where it is. If your output equals one of the known
typical mistakes' outputs on that case, it also names the mistake. A check prints a ✓
line and returns True, or prints the diagnosis and returns False (raise_on_failure=True
raises AssertionError instead, for tests). A function that still raises
NotImplementedError gets the hint and returns None, so a notebook keeps running.

    check_softmax(softmax)           # your softmax
    show_solution("softmax")         # the reference source
    list_exercises()                 # {name: task}

The package, in course order:

    framework.py             Exercise, Mistake, register, check, show_solution, list_exercises, the diagnosis
    ch00_start_here.py       softmax
    ch01_embeddings.py       cosine_similarity, embedding_lookup, sgns_loss, analogy_3cosadd, keep_probability
    ch02_attention.py        causal_mask, scaled_attention, bert_layer_parameters
    ch03_classification.py   macro_f1, class_weights, mean_pooling
    ch04_ner.py              align_labels, entity_f1, constrained_decode
    ch05_generation.py       top_k_filter, repetition_penalty, causal_lm_loss
    ch06_instruction.py      mask_prompt_labels, chatml, lcs_length
    ch07_qa.py               char_to_token_span, squad_f1, best_span
    ch08_preference.py       sequence_logprobs, dpo_loss, implicit_rewards

Every name below is importable from sftlab.course.exercises itself
(`from sftlab.course.exercises import check_softmax`).

Adding an exercise (in its chapter's module, importing from sftlab.course.exercises.framework) takes a reference
solution, the cases, the typical mistakes and a check function:

    def scaled_attention_solution(q, k, v):
        '''softmax(Q Kᵀ / √Dh) V.'''
        return (q @ k.transpose(-2, -1) / q.size(-1) ** 0.5).softmax(-1) @ v

    register(Exercise(
        name="scaled_attention", task="...", hint="...",
        reference=scaled_attention_solution,
        cases=lambda: [(torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 4))],
        mistakes=[Mistake(lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v,
                          "looks like you forgot to scale the scores by 1/√Dh")],
    ))

    def check_scaled_attention(fn, raise_on_failure=False):
        '''Check your scaled_attention(q, k, v) against the reference.'''
        return check("scaled_attention", fn, raise_on_failure)

then import the check here (a new chapter module: import it here too, so that its exercises register).
Mistake functions get the same inputs as the learner's; one that raises the same error as the learner's
function (type and message) is matched too. A reference that calls the package's own implementation (one copy
of each algorithm) names it in see_also, so that show_solution prints that code too; answers_as_tensors=True
compares answers that are lists of ids or plain numbers as tensors,
text_answers=True compares strings character by character, and parts=("chosen_rewards", ...) names the parts of
an answer that is a tuple of tensors, compared part by part.
"""

from sftlab.course.exercises.ch00_start_here import check_softmax, softmax_solution
from sftlab.course.exercises.ch01_embeddings import (
    analogy_3cosadd_solution,
    check_analogy_3cosadd,
    check_cosine_similarity,
    check_embedding_lookup,
    check_keep_probability,
    check_sgns_loss,
    cosine_similarity_solution,
    embedding_lookup_solution,
    keep_probability_solution,
    sgns_loss_solution,
)
from sftlab.course.exercises.ch02_attention import (
    bert_layer_parameters_solution,
    causal_mask_solution,
    check_bert_layer_parameters,
    check_causal_mask,
    check_scaled_attention,
    scaled_attention_solution,
)
from sftlab.course.exercises.ch03_classification import (
    check_class_weights,
    check_macro_f1,
    check_mean_pooling,
    class_weights_solution,
    macro_f1_solution,
    mean_pooling_solution,
    torch_bincount,
)
from sftlab.course.exercises.ch04_ner import (
    SMALL_BIO,
    align_labels_solution,
    check_align_labels,
    check_constrained_decode,
    check_entity_f1,
    constrained_decode_solution,
    entity_f1_solution,
)
from sftlab.course.exercises.ch05_generation import (
    causal_lm_loss_solution,
    check_causal_lm_loss,
    check_repetition_penalty,
    check_top_k_filter,
    repetition_penalty_solution,
    top_k_filter_solution,
)
from sftlab.course.exercises.ch06_instruction import (
    chatml_solution,
    check_chatml,
    check_lcs_length,
    check_lora_forward,
    check_lora_merge,
    check_mask_prompt_labels,
    lcs_length_solution,
    lora_forward_solution,
    lora_merge_solution,
    mask_prompt_labels_solution,
)
from sftlab.course.exercises.ch07_qa import (
    best_span_solution,
    char_to_token_span_solution,
    check_best_span,
    check_char_to_token_span,
    check_squad_f1,
    squad_f1_solution,
)
from sftlab.course.exercises.ch08_preference import (
    check_dpo_loss,
    check_implicit_rewards,
    check_sequence_logprobs,
    dpo_loss_solution,
    implicit_rewards_solution,
    sequence_logprobs_solution,
)
from sftlab.course.exercises.framework import (
    EXERCISES,
    Exercise,
    Mistake,
    check,
    get_exercise,
    list_exercises,
    register,
    show_solution,
)

__all__ = [
    "EXERCISES", "SMALL_BIO", "Exercise", "Mistake", "align_labels_solution", "analogy_3cosadd_solution",
    "bert_layer_parameters_solution", "causal_lm_loss_solution", "causal_mask_solution", "check",
    "check_align_labels", "check_analogy_3cosadd", "check_bert_layer_parameters", "check_causal_lm_loss",
    "check_causal_mask", "check_class_weights", "check_constrained_decode", "check_cosine_similarity",
    "check_embedding_lookup", "check_entity_f1", "check_keep_probability", "check_macro_f1", "check_mean_pooling",
    "check_repetition_penalty", "check_scaled_attention", "check_sgns_loss", "check_softmax", "check_top_k_filter",
    "class_weights_solution", "constrained_decode_solution", "cosine_similarity_solution",
    "embedding_lookup_solution", "entity_f1_solution", "get_exercise", "keep_probability_solution",
    "list_exercises", "macro_f1_solution", "mean_pooling_solution", "register", "repetition_penalty_solution",
    "scaled_attention_solution", "sgns_loss_solution", "show_solution", "softmax_solution", "top_k_filter_solution",
    "torch_bincount",
    "best_span_solution", "char_to_token_span_solution", "check_best_span", "check_char_to_token_span",
    "check_squad_f1", "squad_f1_solution",
    "chatml_solution", "check_chatml", "check_lcs_length", "check_lora_forward", "check_lora_merge",
    "check_mask_prompt_labels", "lcs_length_solution", "lora_forward_solution", "lora_merge_solution",
    "mask_prompt_labels_solution",
    "check_dpo_loss", "check_implicit_rewards", "check_sequence_logprobs", "dpo_loss_solution",
    "implicit_rewards_solution", "sequence_logprobs_solution",
]
