"""Profile resolution: names, auto's quick decision, full's fast failure, the banner."""

import socket
import time

import pytest

from sftlab.course import profiles


def _hang(*args, **kwargs):
    """A DNS look-up or connect that answers long after every deadline."""
    time.sleep(5)
    raise TimeoutError("timed out")


def _refuse(*args, **kwargs):
    """No network: the connection fails at once (no test waits for a real timeout)."""
    raise ConnectionRefusedError("no network in this test")


class _Recorder:
    """A socket.create_connection stand-in that records each attempt and refuses it."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append(args)
        _refuse()


def test_unknown_profile_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("SFTLAB_PROFILE", "gpu")
    with pytest.raises(ValueError, match="offline, full, auto"):
        profiles.active()


def test_offline_profile_uses_the_packaged_models(offline):
    p = profiles.active()
    assert (p.name, p.requested) == ("offline", "offline")
    assert "MiniLM" in p.encoder and "SmolLM2" in p.causal_lm and "GloVe 6B 50d" in p.word_vectors


def test_profile_name_is_case_and_space_tolerant(monkeypatch):
    monkeypatch.setenv("SFTLAB_PROFILE", " Offline ")
    assert profiles.active().name == "offline"


def test_auto_without_gpu_is_offline_without_touching_the_network(monkeypatch):
    monkeypatch.setattr(profiles, "cuda_available", lambda: False)
    connect = _Recorder()
    monkeypatch.setattr(socket, "create_connection", connect)
    started = time.perf_counter()
    p = profiles.active()
    assert p.name == "offline" and p.requested == "auto" and "no CUDA GPU" in p.reason
    assert connect.calls == [] and time.perf_counter() - started < 1.0


def test_auto_with_gpu_but_no_network_decides_offline_within_3_s(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(profiles, "cuda_available", lambda: True)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    started = time.perf_counter()
    p = profiles.active()
    elapsed = time.perf_counter() - started
    assert p.name == "offline" and "hub did not answer" in p.reason
    assert elapsed < 3.0, f"auto took {elapsed:.1f} s to decide"


def test_a_hanging_look_up_is_abandoned_at_the_deadline(monkeypatch):
    """DNS ignores socket timeouts: hub_reachable stops waiting after `timeout` (auto's budget is 3 s)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", _hang)
    started = time.perf_counter()
    assert profiles.hub_reachable(timeout=0.2) is False
    assert time.perf_counter() - started < 1.0
    assert profiles.HUB_TIMEOUT_S < 3.0


def test_full_without_network_fails_fast_and_says_how_to_switch(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("SFTLAB_PROFILE", "full")
    monkeypatch.setattr(socket, "create_connection", _refuse)
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match="SFTLAB_PROFILE=offline") as info:
        profiles.active()
    assert "did not answer" in str(info.value) and "no network" in str(info.value)
    assert time.perf_counter() - started < 1.0


def test_hf_hub_offline_means_no_hub(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    connect = _Recorder()
    monkeypatch.setattr(socket, "create_connection", connect)
    assert profiles.hub_reachable() is False and connect.calls == []


def test_hub_reachable_true_when_a_connection_opens(monkeypatch):
    class Connection:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: Connection())
    assert profiles.hub_reachable() is True


def test_banner_is_one_line_naming_profile_models_and_switch(offline, capsys):
    line = profiles.banner()
    assert capsys.readouterr().out.strip() == line and "\n" not in line
    for needle in ("profile: offline", "MiniLM", "SmolLM2", "GloVe", "SFTLAB_PROFILE=full"):
        assert needle in line


@pytest.mark.parametrize("cuda, mps, best", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_the_full_profile_uses_the_fastest_device_and_the_offline_one_the_cpu(monkeypatch, cuda, mps, best):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert profiles.Profile("full", "full", "test").device == best
    assert profiles.Profile("offline", "auto", "test").device == "cpu"


def test_data_sizes_follow_the_profile_and_the_standin(monkeypatch, tmp_path):
    from sftlab.course.chapters import SIZES, sizes

    monkeypatch.setenv(profiles.ENV_VAR, "offline")
    assert sizes("03").profile == "offline" and sizes(3).sweep_rows == SIZES["03"]["offline"]["sweep_rows"]
    monkeypatch.setenv(profiles.ENV_VAR, "full")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))                     # a filled cache of the real hub
    profiles._resolve.cache_clear()
    assert sizes("03").profile == "full" and sizes("03").train_rows == SIZES["03"]["full"]["train_rows"]
    (tmp_path / profiles.STANDIN_MARKER).write_text("{}")            # the test stand-in of the hub
    profiles._resolve.cache_clear()
    assert sizes("03").profile == "standin"
    monkeypatch.setenv(profiles.ENV_VAR, "offline")                   # real models beside the stand-in's cache
    assert sizes("03").profile == "offline"
    with pytest.raises(ValueError, match="notebook 05 has no data sizes: its data is the same in every profile"):
        sizes("05")


def test_short_model_names_follow_the_profile(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "offline")
    assert profiles.active().short("encoder") == "MiniLM" and profiles.active().short("causal_lm") == "SmolLM2"
    with pytest.raises(ValueError, match="no model role 'decoder'; expected one of"):
        profiles.active().short("decoder")
    full = profiles.Profile("full", "full", "test")
    assert [full.short(role) for role in ("encoder", "causal_lm", "word_vectors")] == ["bert-base", "gpt2",
                                                                                       "GloVe 100d"]
