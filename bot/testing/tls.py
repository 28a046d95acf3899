"""A throwaway CA and the certificates of a Docker Engine over TLS on 127.0.0.1, laid out as
DOCKER_CERT_PATH expects (`ca.pem`, `cert.pem`, `key.pem`), with the engine's own beside."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_CERT, SERVER_KEY = "server-cert.pem", "server-key.pem"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    extensions: list[x509.ExtensionType],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    for extension in extensions:
        builder = builder.add_extension(
            extension, critical=isinstance(extension, x509.BasicConstraints)
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(folder: Path, name: str, pem: bytes) -> None:
    path = folder / name
    path.write_bytes(pem)
    path.chmod(0o600)


def docker_certificates(folder: Path) -> Path:
    """Write a new CA (`ca.pem`), a client certificate it signed (`cert.pem`, `key.pem`) and
    a server certificate for 127.0.0.1 (`SERVER_CERT`, `SERVER_KEY`) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("patchbot test CA", ca_key, None, [x509.BasicConstraints(ca=True, path_length=0)])
    issuer = (ca.subject, ca_key)
    leaf = x509.BasicConstraints(ca=False, path_length=None)
    for cert_file, key_file, subject, usage, more in (
        ("cert.pem", "key.pem", "patchbot", ExtendedKeyUsageOID.CLIENT_AUTH, []),
        (
            SERVER_CERT,
            SERVER_KEY,
            "127.0.0.1",
            ExtendedKeyUsageOID.SERVER_AUTH,
            [x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])],
        ),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(subject, key, issuer, [leaf, x509.ExtendedKeyUsage([usage]), *more])
        _write(folder, cert_file, cert.public_bytes(serialization.Encoding.PEM))
        _write(
            folder,
            key_file,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    _write(folder, "ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    return folder


def server_context(folder: Path) -> ssl.SSLContext:
    """The engine's side, as `dockerd --tlsverify` runs it: its certificate, and a client
    certificate signed by the CA required of every connection."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=folder / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(folder / SERVER_CERT, folder / SERVER_KEY)
    return context
