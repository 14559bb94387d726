"""Bulk creation from a CSV file: one result per row, a bad row never stops the others."""

from __future__ import annotations

import csv
import io

from core.errors import ApplicationError, FieldError
from core.ratelimit import RateLimit, enforce
from shortener.services.links import link_create, link_input_from

COLUMNS = ("long_url", "custom_alias", "expires_in_days", "tags")
MAX_ROWS = 1000
MAX_BYTES = 1024 * 1024
# A file may carry MAX_ROWS links, so files are limited as a whole (per user), not row by row.
IMPORT_LIMIT = RateLimit("shortener-import", limit=10, period=3600)


def _csv_rows(text: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text))
    try:
        return list(reader)
    except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL byte, a stray quote ...
        raise FieldError({"file": f"Line {reader.line_num}: {exc}."})


def _row_data(values: dict[str, str]) -> dict:
    data: dict = {"long_url": (values.get("long_url") or "").strip()}
    if alias := (values.get("custom_alias") or "").strip():
        data["custom_alias"] = alias
    if days := (values.get("expires_in_days") or "").strip():
        try:
            data["expires_in_days"] = int(days)
        except ValueError:
            raise FieldError({"expires_in_days": "Must be a whole number of days from 1 to 3650."})
    if tags := (values.get("tags") or "").strip():
        data["tags"] = tags
    return data


def links_import_csv(*, owner, raw: bytes, request_host: str | None = None) -> dict:
    """Create a link per CSV row (columns long_url, custom_alias, expires_in_days, tags; header optional).

    Returns ``{"results": [{"row", "status", "short_code"|"error", "fields"?}], "created", "failed"}``
    where ``row`` counts data rows from 1. Raises a 400 only when the file itself is unusable,
    a 429 when the owner imported too many files lately.
    """
    if len(raw) > MAX_BYTES:
        raise FieldError({"file": f"The file is larger than {MAX_BYTES // 1024} KiB."})
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FieldError({"file": "The file must be UTF-8 encoded CSV."})
    rows = _csv_rows(text)
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise FieldError({"file": "The file has no rows."})
    header = [cell.strip().lower() for cell in rows[0]]
    if "long_url" in header:
        columns, rows = header, rows[1:]
    else:
        columns = list(COLUMNS)
    if len(rows) > MAX_ROWS:
        raise FieldError({"file": f"At most {MAX_ROWS} rows per import."})
    enforce(IMPORT_LIMIT, str(owner.pk))
    results = []
    created = failed = 0
    for number, row in enumerate(rows, start=1):
        values = dict(zip(columns, row, strict=False))
        try:
            data = link_input_from(_row_data(values), request_host=request_host)
            link = link_create(owner=owner, data=data, throttle=False)  # the file was charged as a whole
        except ApplicationError as exc:
            failed += 1
            results.append({"row": number, "status": "error", **exc.as_dict()})
        else:
            created += 1
            results.append({"row": number, "status": "created", "short_code": link.short_code})
    return {"results": results, "created": created, "failed": failed}
