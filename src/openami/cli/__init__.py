"""The ``openami`` command."""
