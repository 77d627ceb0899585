"""The C route: the external connection server for retailers and third parties."""
