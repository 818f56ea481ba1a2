"""The course's own machinery, apart from the machine learning it teaches (docs/architecture.md):

    chapters.py    the course map: notebooks, titles, budgets, Colab links, data sizes per profile, the data folder
    profiles.py    offline / full / auto; the one table of models per profile; the banner
    checks.py      same, at_least, at_most, holds: a ✓ only when the claim holds, else AssertionError
    exercises/     graded exercises, one module per chapter, on a shared framework
    quiz.py        the interview cards (quiz_cli.py: the same in a terminal); glossary.py: glossary and summary
    viz.py         the plots the notebooks show; highlight.py: text with marked spans
    progress.py    progress bars and silencing library noise; source.py: sftlab.show(fn)
    runner.py      running notebooks headless, timing them; practice.py: practice copies; cli.py: `sftlab`

Notebooks import what they show from here, e.g. `from sftlab.course.checks import holds, same`.
"""
