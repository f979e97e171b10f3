"""The HTTP API: flask-smorest blueprints over the use cases."""
