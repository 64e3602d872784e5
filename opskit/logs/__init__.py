"""The one events layer: log sources and the lines in them (see `platform` for Lambda's own)."""
