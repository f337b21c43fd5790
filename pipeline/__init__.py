"""Client-side pipeline operations shared by the HTTP API and the ``mb`` command:
request a deployment (signal-with-start), roll back, retire, refresh, review,
privacy requests, status reads. They talk to Temporal and the store and hold no
HTTP or CLI code."""
