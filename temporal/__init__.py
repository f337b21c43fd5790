"""Temporal plumbing: names, data converter, client, dev server, replay."""
