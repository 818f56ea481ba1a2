"""Progress bars in saved notebooks show their final state, and library noise is silenced."""

import os

import nbformat

from sftlab.course import progress, runner


def test_a_static_bar_prints_only_its_final_state(monkeypatch, capsys):
    monkeypatch.setenv(progress.STATIC_ENV_VAR, "1")
    with progress.progress_bar(3, desc="training") as bar:
        for _ in range(3):
            bar.update()
    shown = capsys.readouterr().out
    assert shown.startswith("training: 100%|") and shown.count("\n") == 1 and " 0%" not in shown


def test_a_saved_notebook_has_no_bar_frozen_at_zero(tmp_path):
    path = tmp_path / "bar.ipynb"
    code = ("from sftlab.course.progress import progress_bar\n"
            "with progress_bar(5, desc='steps') as bar:\n    bar.update(5)")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), path)
    result = runner.run_notebook(path, save=True, timeout_s=120)
    assert result.ok, result.error
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs)
    assert "steps: 100%" in text and " 0%" not in text
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def test_quiet_libraries_silences_transformers_and_datasets(monkeypatch):
    """Starting from noisy libraries (as a fresh kernel has them), one call leaves only errors."""
    import warnings

    import datasets
    import transformers

    before = transformers.logging.get_verbosity(), datasets.logging.get_verbosity(), datasets.is_progress_bar_enabled()
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    transformers.logging.set_verbosity_info()
    datasets.logging.set_verbosity_info()
    datasets.enable_progress_bars()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            progress.quiet_libraries()
            warnings.warn_explicit("an argument is deprecated", FutureWarning, "x.py", 1, module="transformers.trainer")
            warnings.warn_explicit("a real problem", UserWarning, "x.py", 2, module="transformers.trainer")
        assert transformers.logging.get_verbosity() == transformers.logging.ERROR
        assert datasets.logging.get_verbosity() == datasets.logging.ERROR
        assert not datasets.is_progress_bar_enabled()
        assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
        assert [str(w.message) for w in caught] == ["a real problem"]           # only the deprecation is hidden
    finally:
        transformers.logging.set_verbosity(before[0])
        datasets.logging.set_verbosity(before[1])
        (datasets.enable_progress_bars if before[2] else datasets.disable_progress_bars)()
