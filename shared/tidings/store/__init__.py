"""The single-table repository: key patterns, item mapping, conditional writes."""
