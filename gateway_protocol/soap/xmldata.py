"""Reading XML safely, and the service's ``data`` between XML and JSON-like Python.

**Hardened parsing** (:func:`parse_xml`): at most :data:`MAX_BYTES`; no DTD at all (a document
declaring one is refused, so no entity is ever defined or expanded), no network, libxml2's default
limits on depth and text size.

**data, XML to Python** (:func:`data_to_python`), the rules of ``xmltodict`` (which does the
conversion): element local names are the keys (namespaces and prefixes dropped); an element
repeated under one parent gives a list, one occurrence a single value; an element with text only
gives that text as ``str``; an empty element gives ``None``; attributes (``xsi:type`` included)
are not kept; an element with both text and children keeps its text under ``"#text"``. The
``data`` element's content is converted, so nested elements give a dict of its children, text
gives a str, and an XML document carried as text (``xsi:type="xs:string"`` holding escaped XML,
as real clients send it) gives a dict with that document's root element as its one key.

**data, Python to XML** (:func:`fill_data`), the inverse: a dict's keys become child elements in
its order, a list repeats its key's element, ``None`` is an empty element, ``True``/``False`` are
``true``/``false``, numbers and dates their text; a str stays text. XML has no types: what comes
back is ``str`` (or ``None``), and a list of one comes back as its one value.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import xmltodict
from lxml import etree

MAX_BYTES = 16 * 1024 * 1024
"""The largest SOAP message (and the largest XML document inside one) taken: 16 MiB."""


_DECLARATION = re.compile(r"^\s*<\?xml\s[^>]*\?>")


class XmlRefused(ValueError):
    """XML that is not taken: not well-formed, too large, or declaring a DTD."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_blank_text=False, collect_ids=False,
    )


def parse_xml(text: bytes | str, what: str = "the message") -> etree._Element:
    """The root element of a document, read safely, or :class:`XmlRefused` saying why. A document
    given as text (from inside another one) is characters already: an encoding its declaration
    names is no longer true of them and is not followed."""
    raw = _DECLARATION.sub("", text, count=1).encode("utf-8") if isinstance(text, str) else text
    if len(raw) > MAX_BYTES:
        raise XmlRefused(f"{what} is {len(raw)} bytes, more than the {MAX_BYTES} taken")
    if not raw.strip():
        raise XmlRefused(f"{what} is empty, not XML")
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"{what} is not well-formed XML: {exc.msg}") from None
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise XmlRefused(f"{what} is not readable XML: {exc}") from None
    if root is None:
        raise XmlRefused(f"{what} holds no element")
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise XmlRefused(f"{what} declares a DTD (<!DOCTYPE ...>), which is not taken: no entities, no external references")
    return root


class _LocalNames(defaultdict):
    """Every namespace maps to nothing: xmltodict keeps only local names."""

    def __missing__(self, key: str) -> None:
        return None


def element_to_python(element: etree._Element) -> Any:
    """An element's content by the rules above (the element's own name is not kept)."""
    # Only the content matters: a copy is renamed so its own name (perhaps in a namespace) never
    # meets xmltodict's separator; the copy carries the namespace declarations it uses.
    duplicate = copy.deepcopy(element)
    duplicate.tag = "_"
    duplicate.attrib.clear()
    duplicate.tail = None
    parsed = xmltodict.parse(
        etree.tostring(duplicate), process_namespaces=True, namespaces=_LocalNames(), xml_attribs=False,
        disable_entities=True, process_comments=False,
    )
    return parsed["_"]


def is_xml_text(text: str) -> bool:
    """Text that is meant as an XML document: its first non-blank character is ``<``."""
    return text.lstrip().startswith("<")


def data_to_python(element: etree._Element) -> tuple[Any, str | None]:
    """The content of a ``data`` element as Python, and the XML document it carried as text if it
    did: text only, whose first non-blank character is ``<`` (with ``xsi:type="xs:string"`` as
    real clients send it, or without). That document is parsed as hardened as the message
    (:class:`XmlRefused` if it fails); any other text is plain text."""
    text = element.text or ""
    if len(element) == 0 and is_xml_text(text):
        root = parse_xml(text, "the XML document in data")
        holder = etree.Element("_")
        holder.append(copy.deepcopy(root))
        return element_to_python(holder), text
    return element_to_python(element), None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal, str)):
        return str(value)
    raise ValueError(f"a {type(value).__name__} has no XML form (dicts, lists, str, numbers, booleans, dates, None)")


def fill_data(parent: etree._Element, value: Any, where: str = "data") -> None:
    """Put ``value`` into ``parent`` as its content, the inverse of :func:`element_to_python`;
    ``ValueError`` naming the key whose name is not an XML name or whose value has no XML form."""
    if value is None:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            items = item if isinstance(item, list) else [item]
            for entry in items:
                if isinstance(entry, list):
                    raise ValueError(f"{where}/{key}: a list inside a list has no XML form")
                try:
                    child = etree.SubElement(parent, str(key))
                except ValueError:
                    raise ValueError(f"{where}: the key {key!r} is not an XML element name") from None
                fill_data(child, entry, f"{where}/{key}")
        return
    if isinstance(value, list):
        raise ValueError(f"{where}: a list needs a key to name its elements (put it in a dict)")
    try:
        parent.text = _text(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def python_to_document(value: Any, where: str = "data") -> str:
    """``value`` as an XML document in a str, for ``data`` sent as ``xs:string``: a str is taken as
    it is (already a document, or plain text); a dict needs exactly one key, the root element."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(f"{where}: an XML document has one root element, so data sent as a string must be "
                         "a dict of one key (or a str)")
    holder = etree.Element("_")
    fill_data(holder, value, where)
    return etree.tostring(holder[0], xml_declaration=True, encoding="UTF-8").decode("utf-8")
