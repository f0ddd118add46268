"""Identity.load: a key storage file is opened once for each version of it."""

from __future__ import annotations

from signatures.identity import Identity


def test_the_same_file_is_opened_once_and_a_replaced_one_anew(pki, tmp_path):
    path = tmp_path / "keys" / "RSA256_staff.p12"
    first = Identity(pki.rsa_key, (pki.issue(pki.rsa_key), pki.ca))
    first.save(path, "staff")
    loaded = Identity.load(path)
    assert loaded.certificate == first.certificate
    assert Identity.load(path) is loaded  # opened once

    renewed = Identity(pki.ec_key, (pki.issue(pki.ec_key), pki.ca))
    renewed.save(path, "staff")  # a renewal writes the new storage over the old file
    again = Identity.load(path)
    assert again.certificate == renewed.certificate and again is not loaded
