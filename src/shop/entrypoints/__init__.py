"""HTTP API, CLI and process configuration: parse, call one use case, serialize."""
