"""Worker entry points: which task queue runs which workflows and activities."""
