"""``Refusal``: how a domain action says no without words, so that the web layer can put the
answer into the asker's language.

A refusal carries the HTTP status it answers with, a stable code for programs, and the
catalogue key (hall/web/i18n.py) of its message with the key's parameters. The domains
(reviews, uploads, auction sessions) subclass it to name their own refusals; the pages and the
JSON API catch those and say them through the catalogue.
"""

from __future__ import annotations


class Refusal(Exception):
    def __init__(self, status: int, code: str, key: str, **params: object) -> None:
        super().__init__(key)
        self.status = status
        self.code = code
        self.key = key
        self.params = params
