"""Test certificates: a CA, a server certificate for 127.0.0.1 and client
certificates, made with the openssl command line."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(d: Path, name: str = "ca") -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", f"/CN=test-{name}", "-keyout", str(d / f"{name}.key"),
             "-out", str(d / f"{name}.pem"))


def sign(d: Path, name: str, ca: str = "ca", ext: str = "") -> None:
    """{name}.key and {name}.pem, signed by {ca}.pem/{ca}.key."""
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
             "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
    extfile = d / f"{name}.ext"
    extfile.write_text(ext + "\n")
    _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / f"{ca}.pem"),
             "-CAkey", str(d / f"{ca}.key"), "-CAcreateserial", "-days", "1",
             "-extfile", str(extfile), "-out", str(d / f"{name}.pem"))


def make_certs(d: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    make_ca(d)
    sign(d, "server", ext="subjectAltName=IP:127.0.0.1")
    sign(d, "client")
    return {k: d / k for k in ("ca.pem", "server.pem", "server.key", "client.pem",
                                "client.key")}
