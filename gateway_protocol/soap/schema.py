"""The interface's WSDL and XSD documents, and validation against them.

The documents live in this package (``wsdl/``) as a tree of files whose imports name each other by
file name, so a client can load ``wsdl/SyncChannelHttp_Service.wsdl`` straight from disk. Served
over HTTP, the same documents are rendered for the address they were fetched from: the service
WSDL at ``<path>?wsdl`` names that address in ``soap:address``, its ``wsdl:import`` becomes
``?wsdl=ISyncChannel.wsdl`` and every ``schemaLocation`` ``?xsd=<file>`` -- the layout CXF serves,
resolved by zeep, CXF, .NET and PHP clients relative to the URL they fetched.

The service and abstract WSDLs stay two documents (as published) so the service, binding and port
type keep their published qualified names (``{.../Interfaces/Binding2}ISyncChannelHttpService``,
``{.../Interfaces}ISyncChannel``): a client generated from the real WSDL finds them in ours.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

from gateway_protocol.soap.names import Channel

WSDL_DIR = Path(__file__).parent / "wsdl"

SERVICE_WSDL: dict[str, str] = {"sync": "SyncChannelHttp_Service.wsdl", "async": "AsyncChannelHttp_Service.wsdl"}
ABSTRACT_WSDL: dict[str, str] = {"sync": "ISyncChannel.wsdl", "async": "IAsyncChannel.wsdl"}
SCHEMAS: dict[str, tuple[str, ...]] = {
    "sync": (
        "SyncChannel-v10-Types.xsd", "SyncChannel-v10-Types-Request.xsd", "SyncChannel-v10-Types-Response.xsd",
        "common-v10-Types.xsd",
    ),
    "async": ("AsyncChannel-v10-Types.xsd", "AsyncChannel-v10-ITypes.xsd", "common-v10-Types.xsd"),
}

_WSDL = "http://schemas.xmlsoap.org/wsdl/"
_WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
_XSD = "http://www.w3.org/2001/XMLSchema"


def documents(channel: Channel) -> tuple[str, ...]:
    """The names of a channel's documents: its service WSDL first, then the abstract WSDL and the XSDs."""
    return (SERVICE_WSDL[channel], ABSTRACT_WSDL[channel], *SCHEMAS[channel])


def _load(name: str) -> etree._ElementTree:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(WSDL_DIR / name), parser)


def render_wsdl(channel: Channel, address: str, document: str | None = None, *, linked: str = "query") -> bytes:
    """A channel's document ready to serve: the service WSDL (``document`` None), the abstract
    WSDL or one of the XSDs, by file name (``LookupError`` for any other name).

    ``address`` is the endpoint the service WSDL names in ``soap:address``: the URL the client
    fetched ``?wsdl`` from, without its query. ``linked="query"`` points the imports at
    ``?wsdl=<name>`` / ``?xsd=<name>`` (served beside the endpoint), ``linked="file"`` at the plain
    file names (documents written side by side, :func:`write_wsdl`)."""
    name = document or SERVICE_WSDL[channel]
    if name not in documents(channel):
        raise LookupError(f"{name!r} is not a document of the {channel} channel; it has {', '.join(documents(channel))}")
    tree = _load(name)
    root = tree.getroot()
    query = linked == "query"
    for imported in root.iter(f"{{{_WSDL}}}import"):
        if query:
            imported.set("location", "?wsdl=" + imported.get("location", ""))
    for imported in root.iter(f"{{{_XSD}}}import", f"{{{_XSD}}}include"):
        location = imported.get("schemaLocation")
        if location and query:
            imported.set("schemaLocation", "?xsd=" + location)
    for soap_address in root.iter(f"{{{_WSDL_SOAP}}}address"):
        soap_address.set("location", address)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def write_wsdl(channel: Channel, address: str, directory: Path) -> Path:
    """Write a channel's documents into ``directory`` (imports by file name) for ``address``;
    the path of the service WSDL, for a client that loads the interface from files."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in documents(channel):
        (directory / name).write_bytes(render_wsdl(channel, address, name, linked="file"))
    return directory / SERVICE_WSDL[channel]


_per_thread = threading.local()


def xml_schema() -> etree.XMLSchema:
    """One schema holding every namespace of both channels, for validating a wrapper element
    (request, response) or a fault's detail element. One per thread: a validator keeps its last
    errors in its own ``error_log``."""
    schema = getattr(_per_thread, "schema", None)
    if schema is None:
        schema = _per_thread.schema = _build_schema()
    return schema


def _build_schema() -> etree.XMLSchema:
    driver = etree.Element(f"{{{_XSD}}}schema", nsmap={"xsd": _XSD})
    seen: set[str] = set()
    for channel in ("sync", "async"):
        for name in SCHEMAS[channel]:
            if name in seen:
                continue
            seen.add(name)
            target = _load(name).getroot().get("targetNamespace")
            etree.SubElement(driver, f"{{{_XSD}}}import", namespace=target, schemaLocation=name)
    document = etree.ElementTree(driver)
    # The driver is read as if it lay beside the files, so their relative imports resolve; only
    # files of this package are ever opened.
    document.docinfo.URL = (WSDL_DIR / "_all.xsd").as_uri()
    return etree.XMLSchema(document)
