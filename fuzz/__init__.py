"""Fuzz harnesses for every openami parser (``make fuzz``; see fuzz/README.md)."""
