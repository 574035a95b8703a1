"""CSV files people open in spreadsheets: UTF-8 with a BOM (so Excel reads it as UTF-8), and
every cell that a spreadsheet would run as a formula neutralised (OWASP's CSV injection: a
cell starting with =, +, -, @, tab or carriage return gets a leading apostrophe)."""

import csv
import io

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: list[str], rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
