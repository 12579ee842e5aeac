"""Builders for the studio's own USD assets (procedural twin, sets)."""
