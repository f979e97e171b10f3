"""Entities and rules of the shop. Imports nothing outside the standard library."""
