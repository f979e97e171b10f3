"""Fetch the API docs' scripts (ReDoc, Swagger UI) from the npm registry into the package, so the docs
pages render with no network at run time. Versions and integrity hashes are pinned in
src/shop/entrypoints/docs/vendor.json; a tarball whose hash differs is refused. A package's "patches"
(each a string replaced in one of its files, with the reason) are applied after, and every run checks
that they still apply: an upgrade that moved the string fails here, not on a page.

Standard library only: the Dockerfile runs it before the project is installed. Idempotent: files
already fetched for the pinned version are kept.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "src" / "shop" / "entrypoints" / "docs"
LOCK = DOCS / "vendor.json"
VENDOR = DOCS / "static" / "vendor"


def fetch(package: dict[str, object]) -> None:
    files: dict[str, str] = package["files"]  # type: ignore[assignment]
    stamp = VENDOR / f".{package['name']}-{package['version']}"
    if stamp.exists() and all((VENDOR / name).exists() for name in files.values()):
        return
    url = str(package["tarball"])
    if not url.startswith("https://registry.npmjs.org/"):
        sys.exit(f"{package['name']}: tarballs come from https://registry.npmjs.org/ only, not {url}")
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (an https URL, checked above)
        data = response.read()
    algorithm, _, expected = str(package["integrity"]).partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        sys.exit(f"{package['name']}@{package['version']}: integrity {algorithm}-{actual}, expected {expected}")
    VENDOR.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member, name in files.items():
            extracted = archive.extractfile(member)
            if extracted is None:
                sys.exit(f"{package['name']}@{package['version']}: no file {member}")
            (VENDOR / name).write_bytes(extracted.read())
    for old in VENDOR.glob(f".{package['name']}-*"):
        old.unlink()
    stamp.touch()
    print(f"vendored {package['name']}@{package['version']}")


def patch(folder: Path, patches: list[dict[str, str]]) -> None:
    """Replace each patch's string in its file; a file already patched is left as it is."""
    for change in patches:
        path = folder / change["file"]
        text = path.read_text(encoding="utf-8")
        if change["replace"] in text:
            path.write_text(text.replace(change["replace"], change["with"]), encoding="utf-8")
        elif change["with"] not in text:
            sys.exit(f"{change['file']}: neither {change['replace']!r} nor its patch is in it: review the patch")


def main() -> None:
    for package in json.loads(LOCK.read_text())["packages"]:
        fetch(package)
        patch(VENDOR, package.get("patches", []))


if __name__ == "__main__":
    main()
