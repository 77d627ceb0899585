"""Demand response on the aggregator's side: the OpenADR 2.0b VTN (``openami dr serve``),
the certificates its VENs present, and DR events (docs/demand-response.md)."""
