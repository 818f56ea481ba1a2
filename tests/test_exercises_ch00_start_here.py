"""sftlab.course.exercises.ch00_start_here: the softmax exercise."""

import torch
from exercise_checks import failure

from sftlab.course import exercises


def test_library_softmax_passes():
    assert exercises.check_softmax(lambda x: torch.softmax(x, dim=-1))


def test_softmax_without_max_subtraction_is_diagnosed_as_overflow():
    message = failure(exercises.check_softmax, lambda x: x.exp() / x.exp().sum(dim=-1, keepdim=True))
    assert "case 4 of 4, x = tensor([[ 1000., 1., -1000.], [ 50., 100., 150.]])" in message
    assert "your output has nan at index (0, 0) where the reference has 1" in message
    assert "diagnosis: your output equals softmax without subtracting the max" in message


def test_softmax_over_the_wrong_dim():
    message = failure(exercises.check_softmax, lambda x: torch.softmax(x, dim=0))
    assert "numerical mismatch: max abs error" in message and "at index (" in message
    assert "diagnosis: you normalised over the wrong dimension (dim=0)" in message


def test_softmax_sum_without_keepdim():
    message = failure(exercises.check_softmax, lambda x: x.exp() / x.exp().sum(dim=-1))
    assert "case 2 of 4" in message and "without keepdim=True" in message


def test_softmax_that_modifies_its_input_in_place():
    def softmax(x):
        x -= x.max(dim=-1, keepdim=True).values
        return x.exp() / x.exp().sum(dim=-1, keepdim=True)

    assert "changed its input x in place" in failure(exercises.check_softmax, softmax)
