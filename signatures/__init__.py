"""The simulated PKI of the national certification authority (НУЦ РК).

- :mod:`signatures.certificates` -- CA and certificate profiles (individual, employee, system);
- :mod:`signatures.jws` -- signatures of messages and documents (detached JWS, RFC 7515);
- :mod:`signatures.verdicts` -- the structured result of a verification;
- :mod:`signatures.identity` -- a key and its chain, kept as PKCS#12;
- :mod:`signatures.client` -- what other systems ask of the CA over HTTP;
- :mod:`signatures.app` -- the CA service itself.
"""
