"""The corpus's app bundles are data for the QA gate, not tests of this project: each has
its own ``main.py`` and ``tests/``, run only in scratch copies."""

collect_ignore = ["apps"]
