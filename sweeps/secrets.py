"""Credentials never leave a URL: everything printed, logged, tagged or stored shows `user:***@`.

Use `redact` on any text that may hold a storage or tracking URL before it reaches a terminal, a
log, an MLflow tag or artifact, or an Optuna attribute. Better still, keep the password out of the
URL: `SWEEP_STORAGE=postgresql+psycopg://user@host/db` with `PGPASSWORD` or libpq's password file
(`~/.pgpass`), which psycopg reads by itself.
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://user:password@host -> scheme://user:***@host; the password may hold anything but @.
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]*):(?P<secret>[^\s@]*)@")
# ...?password=x&... and the libpq keyword form `password=x`.
_KEYWORD = re.compile(r"(?P<head>\b(?:password|passwd|pwd)=)(?P<secret>[^\s&;'\"]+)", re.I)


def redact(text: str) -> str:
    """`text` with every URL password (userinfo or `password=` parameter) replaced by ***."""
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return _KEYWORD.sub(lambda m: f"{m['head']}{MASK}", text)
