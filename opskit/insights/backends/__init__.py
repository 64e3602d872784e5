"""The two backends of the one query pipeline (pipeline.py): DuckDB SQL and the Python evaluator."""
