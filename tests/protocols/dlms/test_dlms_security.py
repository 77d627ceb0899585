"""Suite 0 (AES-GCM-128, HLS-GMAC) against ciphertexts produced by gurux-dlms.

The vectors were captured from gurux-dlms's client with EK = 00..0f, AK = 10..1f: an HLS
AARQ (system title "OPENAMI1"), and, with system title "GRXCLI01", a ciphered GET of the
clock (IC 4) and the HLS answer to the server challenge ``STOC`` (IC 3).
"""

from __future__ import annotations

import pytest

from openami.protocols.dlms import acse, apdu, axdr, security
from openami.protocols.dlms.security import Keys, SecurityError

KEYS = Keys(bytes(range(16)), bytes(range(16, 32)))
GURUX_HLS_AARQ = bytes.fromhex(
    "605da109060760857405080103a60a04084f50454e414d49318a0207808b0760857405080205"
    "ac12801038ff8388f6ed3f754ecc5c7bc5f70fcabe230421211f300000000149ff25928b7200"
    "59e42f96d5da27a998e30833de46cb8b8f7211"
)
GURUX_GLO_GET = bytes.fromhex("c81e30000000041b4acb4efdc0a096241b1fb76f2af9bfd0797a2207c1df5935")
PLAIN_GET_CLOCK = bytes.fromhex("c001c100080000010000ff0200")
GURUX_HLS_ANSWER = bytes.fromhex(
    "cb313000000003eccef7a1be193b2fc83d5d08cba6fb0c0b9d712d19113d0f501c6700cc24faa7a64a"
    "a226c1d9c283604c3663"
)
STOC = bytes.fromhex("12bc4b2cb6e76542af659aeafd32fe5a")


def test_we_decrypt_gurux_glo_initiate_request() -> None:
    aarq = acse.decode_aarq(GURUX_HLS_AARQ)
    assert aarq.mechanism == acse.Mechanism.HIGH_GMAC and aarq.calling_ap_title == b"OPENAMI1"
    glo = security.parse_glo(aarq.user_information)
    assert (glo.tag, glo.security_control, glo.invocation_counter) == (0x21, 0x30, 1)
    init = acse.decode_initiate_request(security.unwrap(glo, KEYS, b"OPENAMI1"))
    assert init.max_receive_pdu_size == 0xFFFF


def test_our_ciphertext_equals_gurux() -> None:
    glo = security.parse_glo(GURUX_GLO_GET)
    assert security.unwrap(glo, KEYS, b"GRXCLI01") == PLAIN_GET_CLOCK
    assert security.wrap(PLAIN_GET_CLOCK, KEYS, b"GRXCLI01", 4) == GURUX_GLO_GET


def test_we_verify_gurux_hls_gmac_answer() -> None:
    plain = security.unwrap(security.parse_glo(GURUX_HLS_ANSWER), KEYS, b"GRXCLI01")
    request = apdu.decode_apdu(plain)
    assert isinstance(request, apdu.ActionRequestNormal)
    assert request.method.method_id == 1 and request.method.class_id == 15
    answer = axdr.decode_all(request.parameters or b"")
    assert security.check_gmac_response(KEYS, b"GRXCLI01", STOC, answer) == 2
    with pytest.raises(SecurityError):
        security.check_gmac_response(KEYS, b"GRXCLI01", bytes(16), answer)
    other = Keys(KEYS.encryption_key, bytes(16))
    with pytest.raises(SecurityError):
        security.check_gmac_response(other, b"GRXCLI01", STOC, answer)


@pytest.mark.parametrize("sc", [0x30, 0x10, 0x20])
def test_wrap_unwrap_modes(sc: int) -> None:
    sealed = security.wrap(PLAIN_GET_CLOCK, KEYS, b"OPENAMI1", 77, sc)
    glo = security.parse_glo(sealed)
    assert glo.security_control == sc and glo.invocation_counter == 77
    assert security.unwrap(glo, KEYS, b"OPENAMI1") == PLAIN_GET_CLOCK
    if sc == 0x10:
        assert PLAIN_GET_CLOCK in sealed  # authenticated only: readable
    else:
        assert PLAIN_GET_CLOCK not in sealed


def test_tampering_wrong_keys_and_titles_are_detected() -> None:
    sealed = bytearray(security.wrap(PLAIN_GET_CLOCK, KEYS, b"OPENAMI1", 5))
    glo = security.parse_glo(bytes(sealed))
    with pytest.raises(SecurityError):
        security.unwrap(glo, KEYS, b"OPENAMI2")
    with pytest.raises(SecurityError):
        security.unwrap(glo, Keys(bytes(16), KEYS.authentication_key), b"OPENAMI1")
    sealed[10] ^= 1
    with pytest.raises(SecurityError):
        security.unwrap(security.parse_glo(bytes(sealed)), KEYS, b"OPENAMI1")
    for bad in (b"", b"\xc8\x02\x30\x00", b"\xc8\x05\x31\x00\x00\x00\x01"):
        with pytest.raises(SecurityError):
            security.parse_glo(bad)


def test_keys_are_never_printed() -> None:
    assert "000102" not in repr(KEYS) and "hidden" in repr(KEYS)
    with pytest.raises(ValueError):
        Keys(bytes(15), bytes(16))
