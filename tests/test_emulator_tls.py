"""TLS any client can verify locally: a local CA (written where asked) signing a server certificate for 127.0.0.1
and localhost, checked with OpenSSL's strict verification; and the opt-in plain stream port on 127.0.0.1."""

from __future__ import annotations

import socket
import ssl

import pytest

from emulator.server import Emulator
from tests.conftest import ROOT
from tests.test_emulator_subscriptions import Client

RACE = ROOT / "recordings" / "race-1.gz"


def strict(ca) -> ssl.SSLContext:
    """A client context trusting only the CA, verifying host names and the X.509 rules strictly."""
    context = ssl.create_default_context(cafile=str(ca))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_client_trusting_the_exported_ca_verifies_the_stream(tmp_path, host):
    ca = tmp_path / "ca.pem"
    with Emulator([RACE], ca_out=ca) as emulator:
        with socket.create_connection(("127.0.0.1", emulator.stream.port), timeout=5) as raw:
            with strict(ca).wrap_socket(raw, server_hostname=host) as tls:
                assert tls.getpeercert()["subjectAltName"] == (("DNS", "localhost"), ("IP Address", "127.0.0.1"))
                assert tls.makefile("rb").readline().startswith(b'{"op": "connection"')


def test_a_client_not_trusting_it_refuses_the_stream(tmp_path):
    other = tmp_path / "other"
    with Emulator([RACE], ca_out=tmp_path / "ca.pem"), Emulator([RACE], ca_out=other) as second:
        with socket.create_connection(("127.0.0.1", second.stream.port), timeout=5) as raw:
            with pytest.raises(ssl.SSLCertVerificationError):
                strict(tmp_path / "ca.pem").wrap_socket(raw, server_hostname="localhost")


def test_the_plain_stream_port_speaks_the_same_protocol_without_tls():
    with Emulator([RACE], stream_plain_port=0, speed=20) as emulator:
        assert emulator.plain is not None and emulator.plain.sock.getsockname()[0] == "127.0.0.1"
        client = Client(emulator, context=False, port=emulator.plain.port)
        client.authenticate()
        status = client.send({"op": "marketSubscription", "id": 3, "marketFilter": {}})
        assert status["statusCode"] == "SUCCESS"
        (image,) = client.until(1)
        assert image["ct"] == "SUB_IMAGE" and image["id"] == 3
        client.close()
