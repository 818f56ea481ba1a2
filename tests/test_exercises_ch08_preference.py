"""sftlab.course.exercises.ch08_preference: an answer's log-probability from the logits, DPO's loss, the implicit
rewards and their accuracy — each reference equal to sftlab.preference."""

import math

import pytest
import torch
import torch.nn.functional as F
from exercise_checks import failure

from sftlab import preference
from sftlab.course import exercises
from sftlab.course.exercises import ch08_preference


def test_references_pass_their_own_checks():
    assert exercises.check_sequence_logprobs(exercises.sequence_logprobs_solution)
    assert exercises.check_dpo_loss(exercises.dpo_loss_solution)
    assert exercises.check_implicit_rewards(exercises.implicit_rewards_solution)


@pytest.mark.parametrize("name", ["sequence_logprobs", "dpo_loss", "implicit_rewards"])
def test_every_typical_mistake_is_named(name):
    exercise = exercises.get_exercise(name)
    check = getattr(exercises, f"check_{name}")
    for mistake in exercise.mistakes:
        assert f"diagnosis: {mistake.explanation}" in failure(check, mistake.reproduce), mistake.explanation[:40]


# ---------------------------------------------------------------- sequence_logprobs


def tiny_llama(vocab_size=32):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64, pad_token_id=2)
    return LlamaForCausalLM(config).eval()


def test_sequence_logprobs_reference_equals_sftlab_preference_on_a_tiny_model():
    model = tiny_llama()
    attention_mask = (torch.arange(9) < torch.tensor([9, 6, 4])[:, None]).long()        # right padding, pad id 2
    input_ids = torch.randint(3, 32, (3, 9), generator=torch.Generator().manual_seed(1)).masked_fill(
        attention_mask == 0, 2)
    prompt = torch.arange(9) < torch.tensor([4, 2, 2])[:, None]
    batch = {"input_ids": input_ids, "attention_mask": attention_mask,
             "labels": input_ids.masked_fill(prompt | (attention_mask == 0), -100)}
    with torch.no_grad():
        expected = preference.sequence_logprobs(model, batch)
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits        # (B, T, V)
    ours = exercises.sequence_logprobs_solution(logits, batch["labels"])
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)


def test_sequence_logprobs_reference_sums_the_answer_tokens_one_by_one():
    for logits, labels in exercises.get_exercise("sequence_logprobs").cases():
        logps = logits.log_softmax(-1)
        for row in range(labels.size(0)):
            expected = sum(logps[row, t - 1, labels[row, t]].item() for t in range(1, labels.size(1))
                           if labels[row, t] != -100)
            assert exercises.sequence_logprobs_solution(logits, labels)[row].item() == pytest.approx(expected,
                                                                                                     abs=1e-5)


def test_sequence_logprobs_by_cross_entropy_passes():
    def sequence_logprobs(logits, labels):        # cross_entropy ignores -100 and gives 0 there
        nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels[:, 1:], reduction="none")   # (B, T-1)
        return -nll.sum(dim=1)

    assert exercises.check_sequence_logprobs(sequence_logprobs)


def _logps(logits, labels):
    """log_softmax over V and gather, with the shift; -100 mapped to id 0."""
    return logits[:, :-1].log_softmax(-1).gather(-1, labels[:, 1:].clamp(min=0)[..., None]).squeeze(-1)


def test_typical_sequence_logprobs_mistakes_are_named():
    def no_shift(logits, labels):
        logps = logits.log_softmax(-1).gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)
        return (logps * (labels != -100)).sum(1)

    def prompt_too(logits, labels):
        return _logps(logits, labels).sum(1)

    def averaged(logits, labels):
        mask = labels[:, 1:] != -100
        return (_logps(logits, labels) * mask).sum(1) / mask.sum(1)

    def probabilities(logits, labels):
        probs = logits[:, :-1].softmax(-1).gather(-1, labels[:, 1:].clamp(min=0)[..., None]).squeeze(-1)
        return (probs * (labels[:, 1:] != -100)).sum(1)

    def raw_labels(logits, labels):
        return logits[:, :-1].log_softmax(-1).gather(-1, labels[:, 1:][..., None]).squeeze(-1).sum(1)

    check = exercises.check_sequence_logprobs
    assert "no shift" in failure(check, no_shift)
    assert "prompt and padding included" in failure(check, prompt_too)
    assert "you averaged over the answer's tokens" in failure(check, averaged)
    assert "you summed probabilities (softmax)" in failure(check, probabilities)
    assert "-100 is no token id" in failure(check, raw_labels)


# ---------------------------------------------------------------- dpo_loss


def test_dpo_loss_reference_equals_sftlab_preference_and_the_formula():
    for *logps, beta in exercises.get_exercise("dpo_loss").cases():
        torch.testing.assert_close(exercises.dpo_loss_solution(*logps, beta),
                                   preference.dpo_loss(*logps, beta=beta).loss, rtol=0, atol=1e-6)
    chosen, rejected = torch.tensor([-5.0, -9.0]), torch.tensor([-7.0, -4.0])
    ref_chosen, ref_rejected = torch.tensor([-6.0, -8.0]), torch.tensor([-6.0, -6.0])
    margins = [0.5 * ((-5 + 6) - (-7 + 6)), 0.5 * ((-9 + 8) - (-4 + 6))]          # β·(chosen − rejected log-ratios)
    expected = sum(-math.log(1 / (1 + math.exp(-m))) for m in margins) / 2
    loss = exercises.dpo_loss_solution(chosen, rejected, ref_chosen, ref_rejected, 0.5)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_dpo_loss_with_a_naive_log_sigmoid_passes():
    def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
        margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
        return -torch.log(torch.sigmoid(beta * margin)).mean()

    assert exercises.check_dpo_loss(dpo_loss)


def test_typical_dpo_loss_mistakes_are_named():
    def swapped(pc, pr, rc, rr, beta):
        return -F.logsigmoid(beta * ((pr - rr) - (pc - rc))).mean()

    def beta_outside(pc, pr, rc, rr, beta):
        return -beta * F.logsigmoid((pc - rc) - (pr - rr)).mean()

    def no_beta(pc, pr, rc, rr, beta):
        return -F.logsigmoid((pc - rc) - (pr - rr)).mean()

    def no_reference(pc, pr, rc, rr, beta):
        return -F.logsigmoid(beta * (pc - pr)).mean()

    def no_log(pc, pr, rc, rr, beta):
        return -torch.sigmoid(beta * ((pc - rc) - (pr - rr))).mean()

    check = exercises.check_dpo_loss
    assert "chosen and rejected are swapped" in failure(check, swapped)
    assert "β is outside the log-sigmoid" in failure(check, beta_outside)
    assert "β is missing" in failure(check, no_beta)
    assert "no reference" in failure(check, no_reference)
    assert "no log: −σ(β·margin) is not the loss" in failure(check, no_log)


# ---------------------------------------------------------------- implicit_rewards


def test_implicit_rewards_reference_equals_sftlab_preference():
    for *logps, beta in exercises.get_exercise("implicit_rewards").cases():
        chosen, rejected, accuracy = exercises.implicit_rewards_solution(*logps, beta)
        out = preference.dpo_loss(*logps, beta=beta)
        torch.testing.assert_close(chosen, out.chosen_rewards, rtol=0, atol=1e-6)
        torch.testing.assert_close(rejected, out.rejected_rewards, rtol=0, atol=1e-6)
        assert accuracy.item() == pytest.approx(out.reward_accuracy)


def test_implicit_rewards_cases_hold_ties_and_a_policy_that_disagrees_with_its_rewards():
    cases = exercises.get_exercise("implicit_rewards").cases()
    accuracies = [exercises.implicit_rewards_solution(*case)[2].item() for case in cases]
    assert accuracies[2:] == [0.0, 0.75], "step 0: every pair ties; the last case: one tie, three wins"
    policy_chosen, policy_rejected, *_ = cases[3]
    assert (policy_chosen > policy_rejected).float().mean().item() == 0.5


def test_implicit_rewards_with_a_float_accuracy_passes():
    def implicit_rewards(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
        chosen, rejected = beta * (policy_chosen - reference_chosen), beta * (policy_rejected - reference_rejected)
        return chosen, rejected, (chosen > rejected).float().mean().item()

    assert exercises.check_implicit_rewards(implicit_rewards)


def test_typical_implicit_rewards_mistakes_are_named():
    def no_reference(pc, pr, rc, rr, beta):
        chosen, rejected = beta * pc, beta * pr
        return chosen, rejected, (chosen > rejected).float().mean()

    def ties_count(pc, pr, rc, rr, beta):
        chosen, rejected = beta * (pc - rc), beta * (pr - rr)
        return chosen, rejected, (chosen >= rejected).float().mean()

    def policy_accuracy(pc, pr, rc, rr, beta):
        return beta * (pc - rc), beta * (pr - rr), (pc > pr).float().mean()

    check = exercises.check_implicit_rewards
    assert "your rewards leave out the reference" in failure(check, no_reference)
    message = failure(check, ties_count)
    assert "case 3 of 4" in message and "accuracy: numerical mismatch" in message
    assert "you counted ties as correct (>=)" in message
    assert "compares the policy's log-probabilities alone" in failure(check, policy_accuracy)


def test_an_answer_that_is_not_a_triple_is_named():
    def loss_object(pc, pr, rc, rr, beta):
        return preference.dpo_loss(pc, pr, rc, rr, beta)

    def two_parts(pc, pr, rc, rr, beta):
        return beta * (pc - rc), beta * (pr - rr)

    expected = "expected a tuple of 3 (chosen_rewards, rejected_rewards, accuracy), got"
    assert f"{expected} DPOOutput" in failure(exercises.check_implicit_rewards, loss_object)
    assert f"{expected} tuple of 2" in failure(exercises.check_implicit_rewards, two_parts)


# ---------------------------------------------------------------- bad input and unattempted exercises


def test_checks_want_the_function_itself():
    for name in ("sequence_logprobs", "dpo_loss", "implicit_rewards"):
        message = failure(getattr(exercises, f"check_{name}"), torch.zeros(3))
        assert f"pass your function itself, like check_{name}({name}), not a Tensor" in message


def test_unattempted_exercises_give_the_hint(capsys):
    def not_yet(*args):
        raise NotImplementedError

    for check in (exercises.check_sequence_logprobs, exercises.check_dpo_loss, exercises.check_implicit_rewards):
        assert check(not_yet) is None
    assert capsys.readouterr().out.count("not attempted yet") == 3


def test_ch08_module_lists_its_exercises_in_order():
    names = [name for name, exercise in exercises.EXERCISES.items()
             if exercise.reference.__module__ == ch08_preference.__name__]
    assert names == ["sequence_logprobs", "dpo_loss", "implicit_rewards"]
