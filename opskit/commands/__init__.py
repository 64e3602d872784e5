"""Thin Click commands: parse -> call a service -> render."""
