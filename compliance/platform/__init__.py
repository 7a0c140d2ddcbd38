"""Cross-cutting plumbing: request ids, logging, metrics, throttles, body limits,
number parsing and the one fast row-read path. Imports no domain package."""
