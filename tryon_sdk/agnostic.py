"""Garment-agnostic try-on masks (placeholder)."""

CATEGORIES: tuple[str, ...] = ("upper_body", "lower_body", "dresses")
