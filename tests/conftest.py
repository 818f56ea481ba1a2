"""Shared fixtures: a clean profile state for every test, and stand-ins for the model hub."""

import pytest

from sftlab import models, profiles


def _clear_caches():
    profiles._resolve.cache_clear()
    models.clear_caches()


@pytest.fixture(autouse=True)
def clean_profile(monkeypatch):
    """Each test starts with SFTLAB_PROFILE unset and no cached resolution or model."""
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    _clear_caches()
    yield
    _clear_caches()


@pytest.fixture
def offline(monkeypatch):
    """Force the offline profile."""
    monkeypatch.setenv(profiles.ENV_VAR, "offline")


@pytest.fixture(scope="session")
def offline_causal_lm():
    """(tokenizer, model) of the offline profile's SmolLM2, loaded once for the whole run; treat as read-only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(profiles.ENV_VAR, "offline")
        _clear_caches()
        tokenizer, model = models.load_causal_lm()
    _clear_caches()
    return tokenizer, model


@pytest.fixture
def full_profile_with_hub(monkeypatch):
    """The full profile, with the hub pretended reachable (nothing may download in a test)."""
    monkeypatch.setenv(profiles.ENV_VAR, "full")
    monkeypatch.setattr(profiles, "hub_reachable", lambda timeout=profiles.HUB_TIMEOUT_S: True)
