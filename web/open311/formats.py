"""Open311 answers as JSON or XML, and the spec's error format: a list of {code, description}."""
from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

from fastapi.responses import Response

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}

# list element → the name of each item in XML (the spec's XML examples)
ITEMS = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
         "errors": "error", "endpoints": "endpoint", "formats": "format"}


ERROR_KIND = "X-Citygrid-Error"  # the spec's error has no field for it: the refusal's kind, as the JSON API's error


class Open311Error(Exception):
    """An error in the spec's format: 400 (bad request), 403 (bad api_key), 404 (not found), 429 (too many).

    kind: the domain error's name (Unknown: names nothing that exists; Inconsistent: fields that do not fit)."""

    def __init__(self, code: int, description: str, kind: str = "InvalidInput") -> None:
        super().__init__(description)
        self.code, self.description, self.kind = code, description, kind


# Characters XML 1.0 cannot hold (C0 controls but tab, newline and return; surrogates; U+FFFE, U+FFFF): a text
# that carries one (a description, an echoed bad input) would make the whole answer unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return "" if value is None else _NOT_XML.sub("\ufffd", str(value))


def _xml(parent: ET.Element, name: str, value) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _xml(node, key, item)
    elif isinstance(value, list):
        for item in value:
            _xml(node, ITEMS[name], item)
    else:
        node.text = _text(value)


def to_xml(root: str, value) -> bytes:
    """<root> holding a dict's fields, or a list's items named by ITEMS[root]; UTF-8 with a declaration."""
    tree = ET.Element(root)
    if isinstance(value, list):
        for item in value:
            _xml(tree, ITEMS[root], item)
    else:
        for key, item in value.items():
            _xml(tree, key, item)
    return ET.tostring(tree, encoding="utf-8", xml_declaration=True)


def render(fmt: str, root: str, value, status: int = 200) -> Response:
    """The answer in the asked format: JSON as is, XML under `root`."""
    if fmt == "xml":
        return Response(to_xml(root, value), status_code=status, media_type=FORMATS["xml"])
    return Response(json.dumps(value, ensure_ascii=False), status_code=status, media_type=FORMATS["json"])


def error(fmt: str, exc: Open311Error) -> Response:
    """The refusal in the spec's format, its kind in a header."""
    response = render(fmt if fmt in FORMATS else "json", "errors",
                      [{"code": exc.code, "description": exc.description}], status=exc.code)
    response.headers[ERROR_KIND] = exc.kind
    return response
