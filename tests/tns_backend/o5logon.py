"""O5LOGON with a 12c verifier, server side (test backend, not Oracle).

Phase one hands the client AUTH_VFR_DATA (the verifier salt, flagged with
verifier type 18453 = 0x4815), AUTH_SESSKEY (the server half of the session
key, AES-256-CBC encrypted under the password hash), AUTH_PBKDF2_CSK_SALT,
AUTH_PBKDF2_VGEN_COUNT and AUTH_PBKDF2_SDER_COUNT.  Phase two decrypts the
client's half (AUTH_SESSKEY), derives the combined key with PBKDF2-SHA512
and decrypts AUTH_PASSWORD; the login is good when it equals the account's
password.  AUTH_SVR_RESPONSE proves the server knew the verifier too.

The password hash is what Oracle stores as the 12c verifier:
SHA-512(PBKDF2-SHA512(password, salt || "AUTH_PBKDF2_SPEEDY_KEY", 64,
VGEN_COUNT) || salt)[:32].  A wrong password gives the client a different
hash, so both halves disagree and the decrypted password cannot match.
"""

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

VERIFIER_TYPE_12C = 0x4815
VGEN_COUNT = 4096
SDER_COUNT = 3


def _aes_cbc(key, data, encrypt):
    c = Cipher(algorithms.AES(key), modes.CBC(bytes(16)))
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


def _pbkdf2(secret, salt, length, iterations):
    return hashlib.pbkdf2_hmac("sha512", secret, salt, iterations, length)


class O5Logon:
    """One login attempt. password may be None (unknown user): the exchange
    still runs (so user names cannot be probed) and always fails."""

    def __init__(self, password):
        self.password = password
        self.salt = os.urandom(16)
        self.csk_salt = os.urandom(16)
        secret = (password if password is not None else os.urandom(12).hex()).encode()
        self.password_key = _pbkdf2(secret, self.salt + b"AUTH_PBKDF2_SPEEDY_KEY",
                                    64, VGEN_COUNT)
        self.password_hash = hashlib.sha512(self.password_key + self.salt).digest()[:32]
        self.server_part = os.urandom(32)
        self.combo_key = None

    def phase_one_params(self):
        """(key, value, flags) triples for the phase-one reply."""
        sesskey = _aes_cbc(self.password_hash, self.server_part, True)
        return [
            ("AUTH_SESSKEY", sesskey.hex().upper(), 0),
            ("AUTH_VFR_DATA", self.salt.hex().upper(), VERIFIER_TYPE_12C),
            ("AUTH_PBKDF2_CSK_SALT", self.csk_salt.hex().upper(), 0),
            ("AUTH_PBKDF2_VGEN_COUNT", str(VGEN_COUNT), 0),
            ("AUTH_PBKDF2_SDER_COUNT", str(SDER_COUNT), 0),
        ]

    def verify(self, client_sesskey_hex, enc_password_hex):
        """True when the client proved the account's password."""
        try:
            client_enc = bytes.fromhex(client_sesskey_hex)[:32]
            enc_pw = bytes.fromhex(enc_password_hex)
        except (ValueError, TypeError):
            return False
        if len(client_enc) != 32 or not enc_pw or len(enc_pw) % 16:
            return False
        client_part = _aes_cbc(self.password_hash, client_enc, False)
        combo = (client_part[:32] + self.server_part[:32]).hex().upper().encode()
        self.combo_key = _pbkdf2(combo, self.csk_salt, 32, SDER_COUNT)
        plain = _aes_cbc(self.combo_key, enc_pw, False)
        pad = plain[-1]
        if 1 <= pad <= 16 and plain.endswith(bytes([pad]) * pad):
            plain = plain[:-pad]
        got = plain[16:]
        if self.password is None:
            return False
        return hmac.compare_digest(got, self.password.encode())

    def server_response(self):
        """AUTH_SVR_RESPONSE: 16 random bytes + SERVER_TO_CLIENT, encrypted."""
        body = os.urandom(16) + b"SERVER_TO_CLIENT"
        return _aes_cbc(self.combo_key, body, True).hex().upper()
