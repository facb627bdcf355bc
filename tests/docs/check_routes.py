#!/usr/bin/env python3
"""Checks that the route table of the HTTP reference agrees with the OpenAPI document.

Usage: python3 tests/docs/check_routes.py DOCS_MD API_JSON_FILE

DOCS_MD holds one Markdown table between `<!-- routes:begin -->` and `<!-- routes:end -->`:

    | method | path | summary |
    | --- | --- | --- |
    | GET | /orders | ... |

API_JSON_FILE is the server's OpenAPI document (what GET /api-json answers). The script compares
the set of (METHOD, path) pairs of the table with those of the document's `paths` object and
exits 0 when they are equal. Otherwise it prints each route missing from the docs and each
documented route the document does not have, and exits 1. Exit 2: an input could not be read or
parsed. Standard library only.
"""
import json
import re
import sys

BEGIN = "<!-- routes:begin -->"
END = "<!-- routes:end -->"
# The operation keys of an OpenAPI 3 path item; the others (summary, parameters, servers, ...)
# are not routes.
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class InputError(Exception):
    pass


def cells(line):
    """The cells of one Markdown table row, stripped (outer pipes optional)."""
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", text)]


def unquote(cell):
    """`GET` or **GET** -> GET."""
    return cell.strip().strip("`*").strip()


def documented_routes(markdown):
    start = markdown.find(BEGIN)
    if start < 0:
        raise InputError("no " + BEGIN + " marker")
    end = markdown.find(END, start)
    if end < 0:
        raise InputError("no " + END + " marker after " + BEGIN)
    rows = [l for l in markdown[start + len(BEGIN):end].splitlines() if l.strip()]
    if len(rows) < 2:
        raise InputError("the route table has no header and separator rows")
    header = [unquote(c).lower() for c in cells(rows[0])]
    if header[:2] != ["method", "path"]:
        raise InputError("the route table's header must start with | method | path |, not " + rows[0].strip())
    if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells(rows[1])):
        raise InputError("the route table's second row is not a separator: " + rows[1].strip())
    routes = set()
    for row in rows[2:]:
        if not row.lstrip().startswith("|"):
            raise InputError("not a table row: " + row.strip())
        c = cells(row)
        if len(c) < 2:
            raise InputError("a row without method and path: " + row.strip())
        method, path = unquote(c[0]).upper(), unquote(c[1])
        if method.lower() not in METHODS or not path.startswith("/"):
            raise InputError("not a (method, path) row: " + row.strip())
        if (method, path) in routes:
            raise InputError("route listed twice: " + method + " " + path)
        routes.add((method, path))
    return routes


def openapi_routes(document):
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict):
        raise InputError("the OpenAPI document has no `paths` object")
    routes = set()
    for path, item in paths.items():
        if not isinstance(item, dict):
            raise InputError("path item of " + path + " is not an object")
        for key in item:
            if key.lower() in METHODS:
                routes.add((key.upper(), path))
    return routes


def main(argv):
    if len(argv) != 3:
        print("usage: check_routes.py DOCS_MD API_JSON_FILE", file=sys.stderr)
        return 2
    docs_path, api_path = argv[1], argv[2]
    try:
        with open(docs_path, encoding="utf-8") as f:
            documented = documented_routes(f.read())
        with open(api_path, encoding="utf-8") as f:
            served = openapi_routes(json.load(f))
    except (OSError, ValueError, InputError) as e:
        print("check_routes: " + str(e), file=sys.stderr)
        return 2
    missing = sorted(served - documented, key=lambda r: (r[1], r[0]))
    extra = sorted(documented - served, key=lambda r: (r[1], r[0]))
    for method, path in missing:
        print("missing from %s: %s %s" % (docs_path, method, path))
    for method, path in extra:
        print("documented but not in the OpenAPI document: %s %s" % (method, path))
    if missing or extra:
        return 1
    print("%d routes: the docs and the OpenAPI document agree" % len(served))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
