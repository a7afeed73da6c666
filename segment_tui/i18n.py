"""One translation function for every label the operator reads.

`_("Segmentation Proposals")` returns the text in the chosen language. English is the
source language: its texts are the keys. Dutch (nl) has a catalog of its own; a text
missing there falls back to English, so nothing ever shows blank. The language comes
from `set_language`, else `SEGMENT_TUI_LANG`, else English.
"""

import os

_CATALOGS: dict[str, dict[str, str]] = {
    "nl": {
        "Segmentation Proposals": "Segmentatievoorstellen",
        "Create proposals": "Segmentatievoorstellen aanmaken",
        "Apply proposals": "Segmentatievoorstellen toepassen",
        "Delete proposals": "Voorstellen verwijderen",
        "Customer": "Klant",
        "Customer No.": "Klantnr.",
        "Name": "Naam",
        "Current condition": "Huidige conditie",
        "Segment": "Segment",
        "Proposed condition": "Voorgestelde conditie",
        "Reason": "Reden",
        "Overdue amount": "Achterstallig bedrag",
        "Late ratio": "Aandeel te laat",
        "History": "Historie",
        "Setup": "Instellingen",
        "Reference date": "Peildatum",
        "OK": "OK",
        "Cancel": "Annuleren",
        "Quit": "Afsluiten",
        "Mark": "Markeren",
        "Mark all": "Alles markeren",
        "Clear marks": "Markeringen wissen",
        "Create": "Aanmaken",
        "Apply": "Toepassen",
        "Delete": "Verwijderen",
        "Filter": "Filteren",
        "Sort": "Sorteren",
        "Open": "Openen",
        "none": "geen",
    },
}

_language: str | None = None


def set_language(language: str | None) -> None:
    """Choose the language of every label from now on (None: from the environment)."""
    global _language
    _language = language


def language() -> str:
    chosen = _language or os.environ.get("SEGMENT_TUI_LANG", "en")
    return chosen.split("_")[0].lower() or "en"


def available_languages() -> tuple[str, ...]:
    return ("en", *sorted(_CATALOGS))


def _(text: str, /, **values: object) -> str:
    """`text` in the current language, with `{name}` fields filled from `values`."""
    translated = _CATALOGS.get(language(), {}).get(text, text)
    return translated.format(**values) if values else translated
