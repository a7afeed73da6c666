"""One translation function for every label the operator reads.

`_("Segmentation Proposals")` returns the text in the chosen language. English is the
source language: its texts are the keys. Dutch (nl) has a catalog of its own; a text
missing there falls back to English, so nothing ever shows blank. The language comes
from `set_language`, else `SEGMENT_TUI_LANG`, else English.
"""

import functools
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
        "Mark all": "Alles",
        "Clear marks": "Ontmarkeren",
        "Create": "Aanmaken",
        "Apply": "Toepassen",
        "Delete": "Verwijderen",
        "Filter": "Filteren",
        "Sort": "Sorteren",
        "Open": "Openen",
        "none": "geen",
        # The operator's screens
        "The page cannot be shown": "De pagina kan niet worden getoond",
        "There are no proposals to apply.": (
            "Er zijn geen voorstellen om toe te passen."
        ),
        "The open proposals, to review, delete and apply": (
            "De openstaande voorstellen: beoordelen, verwijderen en toepassen"
        ),
        "Evaluate every customer as of a reference date": (
            "Elke klant beoordelen op een peildatum"
        ),
        "Apply the marked proposals, or the one under the cursor": (
            "De gemarkeerde voorstellen toepassen, of dat onder de cursor"
        ),
        "The applied changes, newest first": (
            "De toegepaste wijzigingen, nieuwste eerst"
        ),
        "The segments and dunning conditions in use": (
            "De segmenten en aanmaningscondities die gelden"
        ),
        "Customer of cursor row": "Klant van de cursorregel",
        "Metrics, conditions, invoices and history of that customer": (
            "Kengetallen, voorwaarden, facturen en historie van die klant"
        ),
        "None of these proposals is open any more.": (
            "Geen van deze voorstellen staat nog open."
        ),
        "Applying…": "Bezig met toepassen…",
        (
            "segment-tui: the changes are still being written, whole or not at all; "
            "segment-tui ends once they are."
        ): (
            "segment-tui: de wijzigingen worden nog opgeslagen, helemaal of helemaal "
            "niet; segment-tui stopt zodra dat klaar is."
        ),
        (
            "segment-tui quits once the changes are written. Press ctrl+q again to "
            "close the screen now."
        ): (
            "segment-tui sluit af zodra de wijzigingen zijn opgeslagen. Druk nog eens "
            "op ctrl+q om het scherm nu te sluiten."
        ),
        "Proposals were not applied": "De voorstellen zijn niet toegepast",
        "Proposals applied": "Voorstellen toegepast",
        "other changes": "overige wijzigingen",
        "Counting the proposals…": "Voorstellen tellen…",
        (
            "Each customer's dunning condition becomes the proposed one, with a line "
            "in the history; the applied proposals leave the list."
        ): (
            "Elke klant krijgt de voorgestelde aanmaningsconditie, met een regel in de "
            "historie; de toegepaste voorstellen verdwijnen uit de lijst."
        ),
        "1 proposal will be applied:": "1 voorstel wordt toegepast:",
        "{count} proposals will be applied:": "{count} voorstellen worden toegepast:",
        "({count} selected are no longer open.)": (
            "({count} gekozen staan niet meer open.)"
        ),
        ("{value} is out of range; a reference date lies from {first} to {last}."): (
            "{value} valt buiten het bereik; een peildatum ligt tussen {first} en "
            "{last}."
        ),
        "{count} of them are hidden by the filter {text}.": (
            "{count} daarvan verbergt het filter {text}."
        ),
        "Close": "Sluiten",
        "{applied} applied, {skipped} skipped. The skipped proposals stay open:": (
            "{applied} toegepast, {skipped} overgeslagen. De overgeslagen voorstellen "
            "blijven open:"
        ),
        "Why": "Waarom",
        "Delete 1 proposal?": "1 voorstel verwijderen?",
        "Delete {count} proposals?": "{count} voorstellen verwijderen?",
        (
            "The customers keep their dunning condition; a new run can propose the "
            "change again."
        ): (
            "De klanten houden hun aanmaningsconditie; een nieuwe run kan de wijziging "
            "opnieuw voorstellen."
        ),
        "There are no open proposals to replace.": (
            "Er zijn geen openstaande voorstellen om te vervangen."
        ),
        "Evaluating customers…": "Klanten beoordelen…",
        "Stopping…": "Bezig met stoppen…",
        "{done} of {total} customers": "{done} van {total} klanten",
        "Creating proposals was cancelled; the open proposals are unchanged.": (
            "Het aanmaken van voorstellen is afgebroken; de openstaande voorstellen "
            "zijn ongewijzigd."
        ),
        "Proposals were not created": "De voorstellen zijn niet aangemaakt",
        (
            "Evaluates every customer as of the reference date and proposes a new "
            "dunning condition where the customer's segment calls for one."
        ): (
            "Beoordeelt elke klant op de peildatum en stelt een nieuwe "
            "aanmaningsconditie voor waar het segment van de klant daarom vraagt."
        ),
        (
            "The store has no setup yet: load one with 'segment-tui setup load FILE' "
            "or 'segment-tui init' first."
        ): (
            "De database heeft nog geen instellingen: laad die eerst met 'segment-tui "
            "setup load BESTAND' of 'segment-tui init'."
        ),
        "It replaces the 1 open proposal.": (
            "Dit vervangt het ene openstaande voorstel."
        ),
        "It replaces the {count} open proposals.": (
            "Dit vervangt de {count} openstaande voorstellen."
        ),
        "{customers} customers, setup version {version}.": (
            "{customers} klanten, instellingen versie {version}."
        ),
        "{value} is not a date; write YYYY-MM-DD, e.g. {example}.": (
            "{value} is geen datum; schrijf JJJJ-MM-DD, bijvoorbeeld {example}."
        ),
        "Enter the reference date as YYYY-MM-DD.": (
            "Vul de peildatum in als JJJJ-MM-DD."
        ),
        "YYYY-MM-DD": "JJJJ-MM-DD",
        (
            "As of {reference}: behaviour window {start} to {end}, late after {days} "
            "days past due."
        ): (
            "Per {reference}: gedragsperiode {start} tot en met {end}, te laat na "
            "{days} dagen over de vervaldatum."
        ),
        "Back": "Terug",
        "Left out of segmentation by: {flags}.": (
            "Buiten de segmentatie gelaten door: {flags}."
        ),
        "Metrics": "Kengetallen",
        "Segment conditions": "Voorwaarden per segment",
        "Dunning condition": "Aanmaningsconditie",
        "No setup is stored, so no segment is chosen.": (
            "Er zijn geen instellingen opgeslagen, dus er is geen segment gekozen."
        ),
        "No segment matches.": "Geen enkel segment past.",
        "The setup puts the customer in {segment} ({condition}).": (
            "De instellingen plaatsen de klant in {segment} ({condition})."
        ),
        "Metric": "Kengetal",
        "Value": "Waarde",
        "Match": "Vereist",
        "Condition": "Voorwaarde",
        "Threshold": "Grens",
        "Holds": "Geldt",
        "all": "alle",
        "any": "één",
        "Document": "Document",
        "Posted": "Geboekt",
        "Due": "Vervalt",
        "Amount": "Bedrag",
        "Open amount": "Openstaand",
        "Days overdue": "Dagen over",
        "Disputed": "Betwist",
        "Paid on": "Betaald op",
        "Days late": "Dagen te laat",
        "Late": "Laat",
        "Issued on": "Verstuurd op",
        "Level": "Niveau",
        "In window": "In periode",
        "Applied at": "Toegepast op",
        "From": "Van",
        "To": "Naar",
        "By": "Door",
        "Run": "Run",
        "There is no customer {number}.": "Er is geen klant {number}.",
        "Reading customer {number}…": "Klant {number} wordt gelezen…",
        "Open at {date} ({count})": "Open per {date} ({count})",
        "Paid in window ({count})": "Betaald in periode ({count})",
        "Reminders ({count})": "Aanmaningen ({count})",
        "History ({count})": "Historie ({count})",
        "Flags": "Kenmerken",
        "yes": "ja",
        "no": "nee",
        "Proposal": "Voorstel",
        "no conditions: everyone": "geen voorwaarden: iedereen",
        "An unexpected {kind} occurred.": "Er is een onverwachte {kind} opgetreden.",
        "{problem} The details are in the log.": (
            "{problem} De details staan in het logbestand."
        ),
        "catch-all segment": "vangnetsegment",
        "1 applied change": "1 toegepaste wijziging",
        "{count} applied changes": "{count} toegepaste wijzigingen",
        "No proposals have been applied yet.": (
            "Er zijn nog geen voorstellen toegepast."
        ),
        "The customer cannot be shown": "De klant kan niet worden getoond",
        "There are no proposals. Press c to create proposals.": (
            "Er zijn geen voorstellen. Druk op c om voorstellen aan te maken."
        ),
        "Current": "Huidig",
        "Proposed": "Voorstel",
        "Overdue": "Achterstand",
        (
            "No proposals match {text}. Press / to change the filter, Escape in it to "
            "clear it."
        ): (
            "Geen voorstellen passen bij {text}. Druk op / om het filter te wijzigen, "
            "daarin Escape om het te wissen."
        ),
        "{count} marked": "{count} gemarkeerd",
        "1 proposal created": "1 voorstel aangemaakt",
        "{count} proposals created": "{count} voorstellen aangemaakt",
        "{made} as of {date}, from {customers} customers.": (
            "{made} per {date}, uit {customers} klanten."
        ),
        "1 proposal applied.": "1 voorstel toegepast.",
        "{count} proposals applied.": "{count} voorstellen toegepast.",
        "customer number, name or segment; Enter filters, Escape clears": (
            "klantnummer, naam of segment; Enter filtert, Escape wist"
        ),
        "{shown} of {total} proposals match {text}": (
            "{shown} van {total} voorstellen passen bij {text}"
        ),
        "no proposal run yet": "nog geen voorstelrun",
        "run {run} as of {date}": "run {run} per {date}",
        "The list cannot be sorted by {column}.": (
            "De lijst kan niet op {column} worden gesorteerd."
        ),
        "There is no proposal under the cursor.": (
            "Er staat geen voorstel onder de cursor."
        ),
        "1 proposal deleted.": "1 voorstel verwijderd.",
        "{count} proposals deleted.": "{count} voorstellen verwijderd.",
        "{count} skipped.": "{count} overgeslagen.",
        "1 proposal": "1 voorstel",
        "{count} proposals": "{count} voorstellen",
        "This proposal is no longer open.": "Dit voorstel staat niet meer open.",
        "Proposals were not deleted": "De voorstellen zijn niet verwijderd",
        (
            "Version {version}. Behaviour window: {months} months. Late after {days} "
            "days past due. Left out: {excluded}."
        ): (
            "Versie {version}. Gedragsperiode: {months} maanden. Te laat na {days} "
            "dagen over de vervaldatum. Buiten de segmentatie: {excluded}."
        ),
        "version {version}": "versie {version}",
        "nobody": "niemand",
        "Description": "Omschrijving",
        "Given to": "Gegeven aan",
        (
            "No setup is stored yet. Load one with 'segment-tui setup load FILE', or "
            "the default with 'segment-tui init'."
        ): (
            "Er zijn nog geen instellingen opgeslagen. Laad ze met 'segment-tui setup "
            "load BESTAND', of de standaard met 'segment-tui init'."
        ),
        "Segments, in the order they are tried": (
            "Segmenten, in de volgorde waarin ze worden geprobeerd"
        ),
        "Dunning conditions": "Aanmaningscondities",
        "The setup is read-only here; change it with 'segment-tui setup load FILE'.": (
            "De instellingen zijn hier alleen te lezen; wijzig ze met 'segment-tui "
            "setup load BESTAND'."
        ),
        "everyone": "iedereen",
        "no segment": "geen segment",
        "Close filter": "Filter sluiten",
        "Filter:": "Filter:",
    },
}

_language: str | None = None


def set_language(language: str | None) -> None:
    """Choose the language of every label from now on (None: from the environment)."""
    global _language
    _language = _language_code(language) if language else None
    _from_environment.cache_clear()


def language() -> str:
    return _language or _from_environment()


@functools.cache
def _from_environment() -> str:
    # Read once: every label asks, a page of proposals some hundred times, and a
    # look-up in os.environ costs more than the rest of the translation.
    return _language_code(os.environ.get("SEGMENT_TUI_LANG", "en"))


def _language_code(chosen: str) -> str:
    return chosen.split("_")[0].lower() or "en"


def available_languages() -> tuple[str, ...]:
    return ("en", *sorted(_CATALOGS))


def _(text: str, /, **values: object) -> str:
    """`text` in the current language, with `{name}` fields filled from `values`."""
    translated = _CATALOGS.get(language(), {}).get(text, text)
    return translated.format(**values) if values else translated
