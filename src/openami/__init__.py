"""openami: an open-source smart metering system (AMI) built on Japan's three-route model."""

__version__ = "0.1.0"
