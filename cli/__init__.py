"""The ``mb`` command: run the stack, deploy, watch, roll back, review, replay, QA."""
