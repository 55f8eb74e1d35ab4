"""cryptography: Fernet round trip, RSA sign/verify, AES-GCM, X.509 self-signed certificate, hashes."""
import datetime

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.x509.oid import NameOID

key = Fernet.generate_key()
f = Fernet(key)
print("fernet:", f.decrypt(f.encrypt(b"secret message")).decode())
kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=b"0" * 16, iterations=1000)
print("pbkdf2:", kdf.derive(b"password").hex()[:16])
digest = hashes.Hash(hashes.SHA3_256())
digest.update(b"abc")
print("sha3:", digest.finalize().hex()[:16])
priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
sig = priv.sign(b"data", padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH), hashes.SHA256())
priv.public_key().verify(sig, b"data", padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH), hashes.SHA256())
print("rsa verify: ok")
aes = AESGCM(AESGCM.generate_key(bit_length=128))
print("aesgcm:", aes.decrypt(b"n" * 12, aes.encrypt(b"n" * 12, b"payload", b"aad"), b"aad"))
ec_key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corpus.test")])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ec_key.public_key())
        .serial_number(1000).not_valid_before(datetime.datetime(2024, 1, 1))
        .not_valid_after(datetime.datetime(2034, 1, 1)).sign(ec_key, hashes.SHA256()))
pem = cert.public_bytes(serialization.Encoding.PEM)
print("cert:", x509.load_pem_x509_certificate(pem).subject.rfc4514_string(), pem.splitlines()[0].decode())

import sys  # noqa: E402

# cryptography's Rust bindings import _cffi_backend from C; no Python import names it.
print("cffi backend loaded:", "_cffi_backend" in sys.modules)
