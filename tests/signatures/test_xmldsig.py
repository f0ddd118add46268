"""WS-Security XML signatures over a SOAP Body: round trips, an independent verifier (xmlsec),
every refusal (tampering, wrapping, GOST and other algorithms, malformed input), the chain rules
and the full check through the relying party's SignatureValidator."""

from __future__ import annotations

import base64
import random
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from signatures.certificates import (
    Subject,
    create_issuing_ca,
    create_root_ca,
    generate_key,
    issue_certificate,
)
from signatures.identity import Identity
from signatures.verdicts import VerdictCode
from signatures.xmldsig import (
    BASE64_BINARY,
    DS,
    ECDSA_SHA256,
    EXC_C14N,
    MAX_ENVELOPE_BYTES,
    RSA_SHA256,
    SHA256,
    SOAP11,
    WSSE,
    WSU,
    X509V3,
    sign_envelope,
    verify_envelope,
)

NS = {"soap": SOAP11, "wsse": WSSE, "wsu": WSU, "ds": DS}

# A SyncChannel request as JAX-WS clients send it: the business document as escaped text.
ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">
  <S:Body>
    <ns2:SendMessage xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types">
      <request>
        <requestInfo>
          <messageId>2f1c0c7e-6a8a-4d8b-9a3e-1f2b3c4d5e6f</messageId>
          <serviceId>GBDFL_UniversalServiceSync</serviceId>
          <messageDate>2025-03-20T15:00:00.000+05:00</messageDate>
          <sender><senderId>portal</senderId><password>secret</password></sender>
        </requestInfo>
        <requestData>
          <data xmlns:xs="http://www.w3.org/2001/XMLSchema"
                xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                xsi:type="xs:string">&lt;?xml version="1.0"?&gt;&lt;request&gt;&lt;iin&gt;900101300126&lt;/iin&gt;&lt;surname&gt;ТЕСТОВ&lt;/surname&gt;&lt;/request&gt;</data>
        </requestData>
      </request>
    </ns2:SendMessage>
  </S:Body>
</S:Envelope>""".encode()

GOST_SIGNATURE_METHODS = [
    "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311",
    "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512",
    "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-256",
]
GOST_DIGEST_METHODS = [
    "http://www.w3.org/2001/04/xmldsig-more#gost34311",
    "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-512",
    "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-256",
]


class Signers:
    def __init__(self, pki) -> None:
        self.pki = pki
        self.at = pki.NOW + timedelta(hours=1)
        self.ec = Identity(pki.ec_key, (pki.issue(pki.ec_key, pki.SYSTEM, "sign"), pki.ca))
        self.rsa = Identity(pki.rsa_key, (pki.issue(pki.rsa_key, pki.INDIVIDUAL, "sign"), pki.ca))
        self.ec_auth = Identity(
            pki.ec_auth_key, (pki.issue(pki.ec_auth_key, pki.INDIVIDUAL, "auth"), pki.ca)
        )
        self.signed_ec = sign_envelope(ENVELOPE, self.ec)
        self.signed_rsa = sign_envelope(ENVELOPE, self.rsa)

    def verify(self, envelope: bytes, **kwargs):
        kwargs.setdefault("trusted_roots", [self.pki.root])
        kwargs.setdefault("issuing_cas", [self.pki.ca])
        kwargs.setdefault("at", self.at)
        return verify_envelope(envelope, **kwargs)


@pytest.fixture(scope="module")
def s(pki) -> Signers:
    return Signers(pki)


def tree(envelope: bytes) -> etree._Element:
    return etree.fromstring(envelope)


def dump(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, path
    return found[0]


def edited(envelope: bytes, path: str, attribute: str | None = None, value: str = "") -> bytes:
    """``envelope`` with the text (or ``attribute``) of the one element at ``path`` set to ``value``."""
    root = tree(envelope)
    element = one(root, path)
    if attribute is None:
        element.text = value
    else:
        element.set(attribute, value)
    return dump(root)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("which", ["ec", "rsa"])
def test_signed_envelope_follows_the_profile_and_verifies(s, which):
    identity = getattr(s, which)
    signed = getattr(s, f"signed_{which}")
    root = tree(signed)

    security = one(root, "/soap:Envelope/soap:Header/wsse:Security")
    assert security.get(f"{{{SOAP11}}}mustUnderstand") == "1"
    signature = one(root, "/soap:Envelope/soap:Header/wsse:Security/ds:Signature")
    body = one(root, "/soap:Envelope/soap:Body")
    body_id = body.get(f"{{{WSU}}}Id")
    assert body_id and body.prefix == "S" and "wsu" in body.nsmap
    assert one(signature, "ds:SignedInfo/ds:CanonicalizationMethod").get("Algorithm") == EXC_C14N
    assert one(signature, "ds:SignedInfo/ds:SignatureMethod").get("Algorithm") == (
        ECDSA_SHA256 if which == "ec" else RSA_SHA256
    )
    reference = one(signature, "ds:SignedInfo/ds:Reference")
    assert reference.get("URI") == f"#{body_id}"
    assert [t.get("Algorithm") for t in reference.xpath("ds:Transforms/ds:Transform", namespaces=NS)] == [EXC_C14N]
    assert one(reference, "ds:DigestMethod").get("Algorithm") == SHA256
    identifier = one(signature, "ds:KeyInfo/wsse:SecurityTokenReference/wsse:KeyIdentifier")
    assert identifier.get("ValueType") == X509V3
    assert identifier.get("EncodingType") == BASE64_BINARY
    assert base64.b64decode(identifier.text) == identity.certificate.public_bytes(Encoding.DER)

    result = s.verify(signed)
    assert result.valid, result.verdict.message
    assert result.code == VerdictCode.VALID and not result.algorithm_refused
    assert result.certificate == identity.certificate
    assert result.body.tag == f"{{{SOAP11}}}Body"
    data = result.body.find(".//data")
    assert "ТЕСТОВ" in data.text
    if which == "ec":
        assert result.verdict.signer["bin"] == "040340005711"
    else:
        assert result.verdict.signer["iin"] == "900101300126"
    assert isinstance(result.verdict.signer["roles"], list)


def test_an_existing_header_and_body_id_are_kept(s):
    envelope = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
      <soapenv:Header><trace xmlns="urn:test">42</trace></soapenv:Header>
      <soapenv:Body wsu:Id="id-body-1"><ping xmlns="urn:test"/></soapenv:Body>
    </soapenv:Envelope>"""
    signed = sign_envelope(envelope, s.ec)
    root = tree(signed)
    assert one(root, "//ds:Reference").get("URI") == "#id-body-1"
    assert one(root, "/soap:Envelope/soap:Header/*[local-name()='trace']").text == "42"
    assert s.verify(signed).valid


def test_an_unprefixed_body_id_as_kalkan_clients_write_it(s):
    envelope = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
      <soapenv:Body Id="body-7"><ping xmlns="urn:test"/></soapenv:Body></soapenv:Envelope>"""
    signed = sign_envelope(envelope, s.rsa)
    assert one(tree(signed), "//ds:Reference").get("URI") == "#body-7"
    assert s.verify(signed).valid


def test_a_payload_with_its_own_enveloped_signature_is_content(s):
    envelope = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
      <soapenv:Body><doc xmlns="urn:test"><a>1</a>
        <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>
      </doc></soapenv:Body></soapenv:Envelope>"""
    signed = sign_envelope(envelope, s.ec)
    assert s.verify(signed).valid
    # ... but a second signature in the Header is not.
    root = tree(signed)
    security = one(root, "//wsse:Security")
    security.append(etree.fromstring(etree.tostring(one(root, "//wsse:Security/ds:Signature"))))
    result = s.verify(dump(root))
    assert result.code == VerdictCode.MALFORMED
    assert "one ds:Signature, it holds 2" in result.verdict.message


def test_sign_envelope_refuses_what_it_cannot_sign(s):
    with pytest.raises(ValueError, match="not well-formed"):
        sign_envelope(b"<a>", s.ec)
    with pytest.raises(ValueError, match="SOAP 1.1 Envelope"):
        sign_envelope(b"<a/>", s.ec)
    with pytest.raises(ValueError, match="signed already"):
        sign_envelope(s.signed_ec, s.ec)
    with pytest.raises(ValueError, match="does not belong"):
        sign_envelope(ENVELOPE, Identity(s.pki.rsa_key, s.ec.chain))


# --------------------------------------------------------------------------- independent verifiers


def libxmlsec():
    """python-xmlsec, or a skip: absent, or built against another libxml2 than lxml's (then its
    import fails with xmlsec.InternalError, not ImportError)."""
    try:
        import xmlsec
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"python-xmlsec is not usable here ({exc})")
    return xmlsec


def xmlsec_verify(envelope: bytes, certificate) -> None:
    xmlsec = libxmlsec()
    root = etree.fromstring(envelope)
    xmlsec.tree.add_ids(root, ["Id"])
    signature = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(
        certificate.public_bytes(Encoding.PEM), xmlsec.constants.KeyDataFormatCertPem
    )
    context.verify(signature)


@pytest.mark.parametrize("which", ["ec", "rsa"])
def test_libxmlsec_verifies_the_signature(s, which):
    """libxmlsec1 (C, no signxml) checks the same bytes: the profile is standard XML-DSig."""
    xmlsec = libxmlsec()
    signed = getattr(s, f"signed_{which}")
    certificate = getattr(s, which).certificate
    xmlsec_verify(signed, certificate)
    tampered = signed.replace("ТЕСТОВ".encode(), "ТЕСТОВА".encode())
    with pytest.raises(xmlsec.Error):
        xmlsec_verify(tampered, certificate)


def xmlsec_signed(identity: Identity, *, signed_info_prefixes=None, reference_prefixes=None) -> bytes:
    """An envelope signed by libxmlsec1 the way WSS4J writes it (ec:InclusiveNamespaces, line breaks)."""
    xmlsec = libxmlsec()
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    root = etree.fromstring(
        f"""<S:Envelope xmlns:S="{SOAP11}" xmlns:xs="http://www.w3.org/2001/XMLSchema"><S:Header>
<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" S:mustUnderstand="1"/></S:Header>
<S:Body xmlns:wsu="{WSU}" wsu:Id="id-9"><d xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xsi:type="xs:string">&lt;a&gt;Сәлем&lt;/a&gt;</d></S:Body></S:Envelope>""".encode()
    )
    constants = xmlsec.constants
    ecdsa = isinstance(identity.key, ec.EllipticCurvePrivateKey)
    method = constants.TransformEcdsaSha256 if ecdsa else constants.TransformRsaSha256
    signature = xmlsec.template.create(root, constants.TransformExclC14N, method, ns="ds")
    one(root, "//wsse:Security").append(signature)
    if signed_info_prefixes:
        xmlsec.template.transform_add_c14n_inclusive_namespaces(
            one(signature, "ds:SignedInfo/ds:CanonicalizationMethod"), signed_info_prefixes
        )
    reference = xmlsec.template.add_reference(signature, constants.TransformSha256, uri="#id-9")
    transform = xmlsec.template.add_transform(reference, constants.TransformExclC14N)
    if reference_prefixes:
        xmlsec.template.transform_add_c14n_inclusive_namespaces(transform, reference_prefixes)
    token = etree.SubElement(xmlsec.template.ensure_key_info(signature), f"{{{WSSE}}}SecurityTokenReference")
    identifier = etree.SubElement(
        token, f"{{{WSSE}}}KeyIdentifier", ValueType=X509V3, EncodingType=BASE64_BINARY
    )
    identifier.text = base64.b64encode(identity.certificate.public_bytes(Encoding.DER)).decode()
    xmlsec.tree.add_ids(root, ["Id"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(
        identity.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        constants.KeyDataFormatPem,
    )
    context.sign(signature)
    return etree.tostring(root)


@pytest.mark.parametrize("which", ["ec", "rsa"])
@pytest.mark.parametrize(
    ("signed_info_prefixes", "reference_prefixes"), [(None, None), (["S"], ["xs"]), (["S", "xs"], ["xs", "S"])]
)
def test_a_signature_made_by_libxmlsec_verifies(s, which, signed_info_prefixes, reference_prefixes):
    identity = getattr(s, which)
    signed = xmlsec_signed(
        identity, signed_info_prefixes=signed_info_prefixes, reference_prefixes=reference_prefixes
    )
    result = s.verify(signed)
    assert result.valid, result.verdict.message
    assert result.certificate == identity.certificate
    assert result.body.find("d").text == "<a>Сәлем</a>"
    assert s.verify(signed.replace(b"&lt;a&gt;", b"&lt;b&gt;")).code == VerdictCode.SIGNATURE_MISMATCH


def test_an_envelope_built_by_zeep_signs_and_verifies(s, tmp_path):
    zeep = pytest.importorskip("zeep", exc_type=ImportError)
    wsdl = tmp_path / "echo.wsdl"
    wsdl.write_text(
        """<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:echo" targetNamespace="urn:echo">
  <types><xsd:schema targetNamespace="urn:echo">
    <xsd:element name="Echo"><xsd:complexType><xsd:sequence>
      <xsd:element name="text" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
  </xsd:schema></types>
  <message name="EchoIn"><part name="p" element="tns:Echo"/></message>
  <portType name="EchoPort"><operation name="Echo"><input message="tns:EchoIn"/><output message="tns:EchoIn"/></operation></portType>
  <binding name="EchoBinding" type="tns:EchoPort"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Echo"><soap:operation soapAction=""/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="EchoService"><port name="EchoPort" binding="tns:EchoBinding"><soap:address location="http://localhost/echo"/></port></service>
</definitions>""",
        encoding="utf-8",
    )
    client = zeep.Client(str(wsdl))
    message = client.create_message(client.service, "Echo", text="Сәлем <&>")
    signed = sign_envelope(etree.tostring(message), s.rsa)
    result = s.verify(signed)
    assert result.valid, result.verdict.message
    assert result.body.find("{urn:echo}Echo/text").text == "Сәлем <&>"


# --------------------------------------------------------------------------- tampering and wrapping


def test_a_changed_body_is_a_mismatch(s):
    result = s.verify(s.signed_ec.replace(b"GBDFL_UniversalServiceSync", b"GBDFL_UniversalServiceSynd"))
    assert result.code == VerdictCode.SIGNATURE_MISMATCH
    assert "digest of the soap:Body" in result.verdict.message
    assert result.body is None and not result.algorithm_refused


@pytest.mark.parametrize("which", ["ec", "rsa"])
def test_a_changed_signature_value_or_signed_info_is_a_mismatch(s, which):
    signed = getattr(s, f"signed_{which}")
    value = one(tree(signed), "//ds:SignatureValue").text
    raw = bytearray(base64.b64decode(value))
    raw[5] ^= 1
    result = s.verify(edited(signed, "//ds:SignatureValue", value=base64.b64encode(bytes(raw)).decode()))
    assert result.code == VerdictCode.SIGNATURE_MISMATCH
    # A digest that matches a changed body, with the old signature value: SignedInfo no longer verifies.
    result = s.verify(edited(signed, "//ds:DigestValue", value=base64.b64encode(b"\0" * 32).decode()))
    assert result.code == VerdictCode.SIGNATURE_MISMATCH


def test_a_signed_body_moved_aside_for_another_is_refused(s):
    """The classic wrapping: the signed Body kept in a Header element, a new Body in its place."""
    root = tree(s.signed_ec)
    body = one(root, "/soap:Envelope/soap:Body")
    body_id = body.get(f"{{{WSU}}}Id")
    header = one(root, "/soap:Envelope/soap:Header")
    wrapper = etree.SubElement(header, "{urn:evil}Wrapper")
    forged = etree.fromstring(etree.tostring(body))
    forged.find(".//serviceId").text = "SOME_OTHER_SERVICE"
    root.replace(body, forged)
    wrapper.append(body)
    result = s.verify(dump(root))
    assert result.code == VerdictCode.MALFORMED
    assert "carried by 2 elements" in result.verdict.message

    # The forged Body with an id of its own: the Reference does not name it.
    forged.set(f"{{{WSU}}}Id", "id-forged")
    result = s.verify(dump(root))
    assert result.code == VerdictCode.MALFORMED
    assert f"does not name the soap:Body (wsu:Id 'id-forged')" in result.verdict.message
    assert f"#{body_id}" in result.verdict.message


def test_the_id_on_another_attribute_name_counts_too(s):
    root = tree(s.signed_ec)
    body_id = one(root, "/soap:Envelope/soap:Body").get(f"{{{WSU}}}Id")
    etree.SubElement(one(root, "/soap:Envelope/soap:Header"), "{urn:evil}x", ID=body_id)
    result = s.verify(dump(root))
    assert result.code == VerdictCode.MALFORMED and "carried by 2 elements" in result.verdict.message


def test_two_bodies_are_refused(s):
    root = tree(s.signed_ec)
    etree.SubElement(root, f"{{{SOAP11}}}Body")
    result = s.verify(dump(root))
    assert result.code == VerdictCode.MALFORMED
    assert "one soap:Body, it holds 2" in result.verdict.message


def test_a_comment_slipped_into_the_text_does_not_reach_the_caller(s):
    """Exclusive C14N leaves comments out of the digest, so a comment added after signing
    still verifies; the Body handed back is the canonical one, with the whole text."""
    signed = s.signed_ec.replace(b"<serviceId>GBDFL_", b"<serviceId>GBDFL_<!--x-->")
    assert tree(signed).find(f".//{{{SOAP11}}}Body//serviceId").text == "GBDFL_"
    result = s.verify(signed)
    assert result.valid
    assert result.body.find(".//serviceId").text == "GBDFL_UniversalServiceSync"


# --------------------------------------------------------------------------- algorithms


@pytest.mark.parametrize("uri", GOST_SIGNATURE_METHODS)
def test_gost_signature_methods_get_the_clear_refusal(s, uri):
    result = s.verify(edited(s.signed_ec, "//ds:SignatureMethod", "Algorithm", uri))
    assert result.code == VerdictCode.MALFORMED and result.algorithm_refused
    message = result.verdict.message
    assert uri in message and ECDSA_SHA256 in message and RSA_SHA256 in message
    assert "GOST" in message and "no GOST keys" in message
    assert result.verdict.message_kk == "Қолтаңбаның пішімі дұрыс емес"


@pytest.mark.parametrize("uri", GOST_DIGEST_METHODS)
def test_gost_digest_methods_get_the_clear_refusal(s, uri):
    result = s.verify(edited(s.signed_rsa, "//ds:DigestMethod", "Algorithm", uri))
    assert result.code == VerdictCode.MALFORMED and result.algorithm_refused
    assert uri in result.verdict.message and SHA256 in result.verdict.message
    assert "GOST" in result.verdict.message


def test_a_gost_envelope_as_real_clients_send_it_is_refused(s):
    certificate = base64.b64encode(s.ec.certificate.public_bytes(Encoding.DER)).decode()
    envelope = f"""<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">
  <S:Header><wsse:Security xmlns:wsse="{WSSE}" S:mustUnderstand="1">
    <ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>
      <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311"/>
      <ds:Reference URI="#id-1"><ds:Transforms><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#gost34311"/>
        <ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>
      <ds:SignatureValue>AAAA</ds:SignatureValue>
      <ds:KeyInfo><wsse:SecurityTokenReference><wsse:KeyIdentifier ValueType="{X509V3}"
        EncodingType="{BASE64_BINARY}">{certificate}</wsse:KeyIdentifier></wsse:SecurityTokenReference></ds:KeyInfo>
    </ds:Signature></wsse:Security></S:Header>
  <S:Body xmlns:wsu="{WSU}" wsu:Id="id-1"><x xmlns="urn:x"/></S:Body></S:Envelope>""".encode()
    result = s.verify(envelope)
    assert result.algorithm_refused and "gost34310-gost34311" in result.verdict.message


@pytest.mark.parametrize(
    ("path", "uri", "kind"),
    [
        ("//ds:SignatureMethod", "http://www.w3.org/2000/09/xmldsig#rsa-sha1", "signature method"),
        ("//ds:SignatureMethod", "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256", "signature method"),
        ("//ds:DigestMethod", "http://www.w3.org/2000/09/xmldsig#sha1", "digest method"),
        ("//ds:CanonicalizationMethod", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315", "canonicalization"),
        ("//ds:Transform", "http://www.w3.org/2000/09/xmldsig#enveloped-signature", "transform"),
    ],
)
def test_other_algorithms_are_refused_by_name(s, path, uri, kind):
    result = s.verify(edited(s.signed_rsa, path, "Algorithm", uri))
    assert result.code == VerdictCode.MALFORMED and result.algorithm_refused
    assert kind in result.verdict.message and uri in result.verdict.message


def test_a_method_that_does_not_fit_the_key(s):
    result = s.verify(edited(s.signed_ec, "//ds:SignatureMethod", "Algorithm", RSA_SHA256))
    assert result.code == VerdictCode.MALFORMED and not result.algorithm_refused
    assert "does not fit the certificate's key" in result.verdict.message


# --------------------------------------------------------------------------- malformed input


def drop(envelope: bytes, path: str) -> bytes:
    root = tree(envelope)
    element = one(root, path)
    element.getparent().remove(element)
    return dump(root)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda s: b"not xml at all", "not well-formed XML"),
        (lambda s: b"", "not well-formed XML"),
        (lambda s: None, "not bytes"),
        (lambda s: b"<a/>", "not a SOAP 1.1 Envelope"),
        (
            lambda s: b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
            "not a SOAP 1.1 Envelope",
        ),
        (lambda s: ENVELOPE, "has no soap:Header"),
        (lambda s: drop(s.signed_ec, "//wsse:Security"), "one wsse:Security header, it holds 0"),
        (lambda s: drop(s.signed_ec, "//ds:Signature"), "one ds:Signature, it holds 0"),
        (lambda s: drop(s.signed_ec, "//ds:KeyInfo"), "one KeyInfo element, it holds 0"),
        (lambda s: drop(s.signed_ec, "//ds:Reference"), "one Reference element, it holds 0"),
        (lambda s: edited(s.signed_ec, "//wsse:KeyIdentifier", value="bm90IGEgY2VydA=="), "not a DER X.509"),
        (lambda s: edited(s.signed_ec, "//wsse:KeyIdentifier", value="%%%"), "not base64"),
        (
            lambda s: edited(s.signed_ec, "//wsse:KeyIdentifier", "ValueType", "urn:other"),
            "ValueType must be",
        ),
        (
            lambda s: edited(s.signed_ec, "/soap:Envelope/soap:Body", f"{{{WSU}}}Id", "id-x"),
            "does not name the soap:Body",
        ),
    ],
)
def test_malformed_input_says_what_is_wrong(s, make, expected):
    result = s.verify(make(s))
    assert result.code == VerdictCode.MALFORMED, result.verdict.message
    assert expected in result.verdict.message
    assert result.body is None and not result.algorithm_refused


def test_entities_and_dtds_are_refused_unexpanded(s):
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE S:Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>&b;</S:Body></S:Envelope>"""
    result = s.verify(laughs)
    assert result.code == VerdictCode.MALFORMED and "DTD" in result.verdict.message
    external = b"""<?xml version="1.0"?>
<!DOCTYPE S:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>&x;</S:Body></S:Envelope>"""
    result = s.verify(external)
    assert result.code == VerdictCode.MALFORMED and "root:" not in result.verdict.message


def test_an_envelope_over_16_mib_is_refused_before_parsing(s):
    chunk = b"a" * 8_000_000  # libxml2 without huge_tree takes text nodes up to 10 MB
    envelope = ENVELOPE.replace(b"<serviceId>", b"<x>" + chunk + b"</x><y>" + chunk + b"</y><serviceId>")
    signed = sign_envelope(envelope, s.ec)
    padding = b" " * (MAX_ENVELOPE_BYTES - len(signed))
    assert s.verify(signed + padding).valid
    result = s.verify(signed + padding + b" ")
    assert result.code == VerdictCode.MALFORMED and "larger than 16 MiB" in result.verdict.message


def test_a_text_node_over_libxml2s_limit_is_refused_by_the_parser(s):
    envelope = ENVELOPE.replace(b"secret", b"s" * 10_000_001)
    signed = s.signed_ec.replace(b"secret", b"s" * 10_000_001)
    with pytest.raises(ValueError, match="Text node too long"):
        sign_envelope(envelope, s.ec)
    result = s.verify(signed)
    assert result.code == VerdictCode.MALFORMED and "Text node too long" in result.verdict.message


def test_damaged_envelopes_always_get_a_verdict(s):
    rng = random.Random(17)
    codes = set()
    for _ in range(60):
        data = bytearray(s.signed_rsa)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        result = s.verify(bytes(data))
        codes.add(result.code)
    assert codes <= set(VerdictCode) and VerdictCode.MALFORMED in codes


# --------------------------------------------------------------------------- chain rules


def test_the_chain_rules_at_the_virtual_time(s):
    assert s.verify(s.signed_ec, issuing_cas=[]).code == VerdictCode.CHAIN_NOT_TRUSTED
    other_key = generate_key("ec")
    other_root = create_root_ca(other_key, now=s.pki.NOW)
    untrusted = s.verify(s.signed_ec, trusted_roots=[other_root])
    assert untrusted.code == VerdictCode.CHAIN_NOT_TRUSTED and untrusted.body is not None
    expired = s.verify(s.signed_ec, at=s.pki.NOW + timedelta(days=400))
    assert expired.code == VerdictCode.CERT_EXPIRED and "expired at" in expired.verdict.message
    assert s.verify(s.signed_ec, at=s.pki.NOW - timedelta(days=1)).code == VerdictCode.CERT_NOT_YET_VALID
    auth_signed = sign_envelope(ENVELOPE, s.ec_auth)
    assert s.verify(auth_signed).code == VerdictCode.WRONG_KEY_USAGE
    assert s.verify(auth_signed, usage="auth").valid
    assert s.verify(auth_signed, usage=None).valid


def test_an_intermediate_ca_from_another_root_is_not_enough(s):
    other_root_key, other_ca_key = generate_key("ec"), generate_key("ec")
    other_root = create_root_ca(other_root_key, now=s.pki.NOW)
    other_ca = create_issuing_ca(other_ca_key, other_root, other_root_key, now=s.pki.NOW)
    result = s.verify(s.signed_ec, issuing_cas=[other_ca])
    assert result.code == VerdictCode.CHAIN_NOT_TRUSTED


def test_programming_errors_raise(s):
    with pytest.raises(TypeError):
        s.verify(s.signed_ec, at="now")
    with pytest.raises(ValueError):
        s.verify(s.signed_ec, usage="encrypt")
    with pytest.raises(TypeError):
        s.verify(s.signed_ec, issuing_cas=["not a certificate"])


# --------------------------------------------------------------------------- the relying party


ALIYA = {"iin": "900515401230", "surname": "НҰРЛАНОВА", "name": "ӘЛИЯ"}


async def issue(simulation, **fields) -> tuple[Identity, str]:
    async with simulation.client("signatures") as ca:
        reply = await ca.post("/v1/certificates/person", json={**ALIYA, **fields})
        assert reply.status_code == 200, reply.text
        body = reply.json()
    identity = Identity.from_pkcs12(base64.b64decode(body["pkcs12"]), body["password"].encode())
    return identity, body["serial"]


async def check(simulation, identity: Identity, **kwargs):
    portal = simulation.runtime("portal")
    return await portal.validator.xmldsig(sign_envelope(ENVELOPE, identity), at=await portal.now(), **kwargs)


async def test_validator_valid_and_the_signers_iin(simulation):
    identity, _ = await issue(simulation)
    result = await check(simulation, identity, iin=ALIYA["iin"])
    assert result.valid, result.verdict.message
    assert result.verdict.revocation["status"] == "good"
    assert result.body is not None and result.certificate == identity.certificate
    assert (await check(simulation, identity, iin="851102304571")).code == VerdictCode.IIN_MISMATCH


async def test_validator_revoked(simulation):
    identity, serial = await issue(simulation)
    async with simulation.client("signatures") as ca:
        revoked = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
        assert revoked.status_code == 200
    result = await check(simulation, identity)
    assert result.code == VerdictCode.REVOKED and "keyCompromise" in result.verdict.message


@pytest.mark.parametrize(("validity", "code"), [("expired", "CERT_EXPIRED"), ("not-yet-valid", "CERT_NOT_YET_VALID")])
async def test_validator_validity_period(simulation, validity, code):
    identity, _ = await issue(simulation, validity=validity)
    assert (await check(simulation, identity)).code == code


async def test_validator_untrusted_and_gost(simulation):
    now = await simulation.runtime("portal").now()
    root_key, ca_key = generate_key("ec"), generate_key("ec")
    root = create_root_ca(root_key, now=now - timedelta(days=1))
    issuing = create_issuing_ca(ca_key, root, root_key, now=now - timedelta(days=1))
    key = generate_key("ec")
    cert = issue_certificate(
        key.public_key(), Subject.individual(iin=ALIYA["iin"], surname="X", name="Y"),
        issuer_cert=issuing, issuer_key=ca_key, now=now, usage="sign",
    )
    stranger = Identity(key, (cert, issuing))
    assert (await check(simulation, stranger)).code == VerdictCode.CHAIN_NOT_TRUSTED

    identity, _ = await issue(simulation)
    gost = edited(
        sign_envelope(ENVELOPE, identity), "//ds:SignatureMethod", "Algorithm", GOST_SIGNATURE_METHODS[0]
    )
    portal = simulation.runtime("portal")
    result = await portal.validator.xmldsig(gost, at=await portal.now())
    assert result.algorithm_refused and result.code == VerdictCode.MALFORMED
