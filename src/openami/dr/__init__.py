"""Demand response on the aggregator's side: the OpenADR 2.0b VTN (``openami dr serve``),
the certificates its VENs present, and DR events (docs/demand-response.md)."""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

# signxml (under openleadr) names the DSA key type at import, which the cryptography library
# flags as deprecated; openami never uses DSA (its DR keys are ECDSA P-256)
warnings.filterwarnings(
    "ignore", category=CryptographyDeprecationWarning, module=r"(signxml|openleadr)\."
)
