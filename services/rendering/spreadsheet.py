"""Cells for a spreadsheet: none it would run as a formula."""

# OWASP's CSV injection: a cell starting with one of these runs as a formula. Such a cell
# gets a leading apostrophe, which spreadsheets show as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value
