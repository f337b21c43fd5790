"""Pydantic models shared by workflows, activities, the API and the CLI.

This package is the only vocabulary the other packages share. It holds data
shapes and their validation rules, never behaviour.
"""
