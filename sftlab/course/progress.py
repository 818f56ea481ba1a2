"""Progress bars that read well live in JupyterLab and afterwards in a static copy (GitHub, a printout).

Live, `progress_bar` is tqdm's notebook widget (or a terminal bar). A widget saved into a notebook file shows
only its text fallback — frozen at "0%" — so when the notebooks are executed to commit their outputs
(`sftlab run --save`, which sets SFTLAB_STATIC_PROGRESS=1) the bar draws nothing while it runs and prints its
final state once, as text: "training: 100%|██████████| 96/96 [01:23<00:00, …]".
"""

import os

STATIC_ENV_VAR = "SFTLAB_STATIC_PROGRESS"


def static_progress() -> bool:
    """True when bars should be plain text with only their final state kept (headless execution)."""
    return os.environ.get(STATIC_ENV_VAR, "0") not in ("", "0", "false", "False")


def progress_bar(total: int | None = None, desc: str = "", disable: bool = False, **kwargs):
    """A tqdm bar: a widget in Jupyter, text in a terminal, and one final line in saved notebooks."""
    if static_progress():
        return _FinalLineBar(total=total, desc=desc, disable=disable, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=disable, **kwargs)


def _final_line_bar_class():
    import io

    from tqdm.std import tqdm

    class FinalLineBar(tqdm):
        """Draws nowhere while it runs; prints its final state, once, when it closes."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, file=io.StringIO(), ncols=100, **kwargs)

        def close(self):
            if not self.disable:
                line = str(self)
                super().close()
                print(line, flush=True)
            else:
                super().close()

    return FinalLineBar


def _FinalLineBar(**kwargs):  # noqa: N802 — a factory that reads like the class it builds
    return _final_line_bar_class()(**kwargs)


def quiet_libraries() -> None:
    """Silence what the libraries print that a learner does not need: transformers' load reports (the new
    head's "newly initialised" weights are explained in the text instead), datasets' bars for sub-second
    .map calls, deprecation notices about arguments the course does not pass, and the tokenizers fork
    warning. Errors still show. Called by sftlab.banner(), the first cell of every notebook."""
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|accelerate|trl|torch)\b")
    warnings.filterwarnings("ignore", message=r".*pin_memory.*")
