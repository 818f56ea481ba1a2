"""Progress bars in saved notebooks show their final state, and library noise is silenced."""

import nbformat

from sftlab import progress, runner


def test_a_static_bar_prints_only_its_final_state(monkeypatch, capsys):
    monkeypatch.setenv(progress.STATIC_ENV_VAR, "1")
    with progress.progress_bar(3, desc="training") as bar:
        for _ in range(3):
            bar.update()
    shown = capsys.readouterr().out
    assert shown.startswith("training: 100%|") and shown.count("\n") == 1 and " 0%" not in shown


def test_a_saved_notebook_has_no_bar_frozen_at_zero(tmp_path):
    path = tmp_path / "bar.ipynb"
    code = ("from sftlab.progress import progress_bar\n"
            "with progress_bar(5, desc='steps') as bar:\n    bar.update(5)")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), path)
    result = runner.run_notebook(path, save=True, timeout_s=120)
    assert result.ok, result.error
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs)
    assert "steps: 100%" in text and " 0%" not in text
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def test_quiet_libraries_silences_transformers_and_datasets():
    import datasets
    import transformers

    progress.quiet_libraries()
    assert transformers.logging.get_verbosity() == transformers.logging.ERROR
    assert not datasets.is_progress_bar_enabled()
