"""Tests of prompt moderation (activities/moderation)."""
