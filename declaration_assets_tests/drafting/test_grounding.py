"""Grounding in both directions: good text a strong model writes survives, bad text is dropped or flagged."""

from declaration_assets.cases.models import CaseRecord
from declaration_assets.drafting.citations import build_exhibits, existing_citations
from declaration_assets.drafting.compose import compose_paragraph
from declaration_assets.drafting.grounding import GroundingRecord, swapped_subject, unsupported_terms
from declaration_assets.drafting.models import Citation
from declaration_assets.retrieval.models import Chunk, ScoredChunk
from declaration_assets.text import language_of, numbers_in, split_sentences

from .helpers import DOCS

VALID = existing_citations(build_exhibits(DOCS))
RECORD = CaseRecord.model_validate({
    "case_id": "vawa-0001", "case_type": "vawa", "language": "es",
    "parties": [
        {"role": "declarant", "name": "Lucia Montoya", "citizenship": "Colombia",
         "addresses": [{"street": "2215 Calloway Street", "city": "Houston", "state": "TX", "postal_code": "77023"}]},
        {"role": "abuser", "name": "Ricardo Benitez", "relationship": "husband"},
        {"role": "witness", "name": "Tomas Aguilar", "aliases": ["Pastor Aguilar"]},
    ],
})
NOTES_ES = ("Entrevista con la clienta. Ella dice: conocí a Ricardo en la iglesia. Él me quitó el pasaporte y lo "
            "guardaba en una caja de metal con llave en su camioneta. Me decía que me iba a deportar.")
INTAKE = ("Q: How did you meet? A: I met him at church in 2018. He was kind and funny. About sixty people came to "
          "the wedding in Houston, TX. He kept my passport in a locked metal box in his truck. "
          "Staff to confirm the entry date with a FOIA request.")
LETTER = "I have known Lucia Montoya for five years. I saw bruises on her arm in 2022."


def chunk(cid: str, exhibit: str, page: int, text: str, document: str = "01-intake.pdf") -> ScoredChunk:
    c = Chunk(chunk_id=cid, document=document, exhibit=exhibit, page=page, start=0, end=len(text), heading=None,
              text=text)
    return ScoredChunk(chunk=c, score=1.0, rank=1)


def compose(answer: str, evidence, **kw):
    grounding = GroundingRecord.from_case(RECORD, kw.pop("pages", {}))
    return compose_paragraph(answer, evidence, VALID, record=grounding, paraphrase_flags=True, **kw)


def test_names_and_numbers_are_checked_against_the_whole_record_with_normalisation():
    g = GroundingRecord.from_case(RECORD)
    # "Ricardo" is only "he" in the passage, but case.yaml knows him; Texas/TX, sixty/60, titles, U.S.
    assert unsupported_terms("Ricardo kept it in his truck in Texas.", "He kept it in his truck in TX.", g) == []
    assert unsupported_terms("About 60 people came to the wedding.", "about sixty people came", g) == []
    assert unsupported_terms("Reverend Aguilar married us in the United States.", "Pastor Aguilar", g) == []
    assert unsupported_terms("Mr. Benítez's truck was there.", "Ricardo Benitez", g) == []
    # Invented names and numbers are still refused.
    assert unsupported_terms("Samuel Lindqvist paid 4,750 dollars.", INTAKE, g) == ["4", "750", "Lindqvist"]
    # Holidays and plural weekdays are English words for what Spanish notes call "Nochebuena" or "domingos".
    assert unsupported_terms("After Christmas Eve dinner he came on Sundays.", "Nochebuena, los domingos", g) == []
    # A lower-case "in" of the passage is no "IN" (Indiana) abbreviation: the state stays unknown.
    assert unsupported_terms("We drove to Indiana in 2018.", "we drove in the car in 2018", g) == ["Indiana"]
    assert numbers_in("veinte y forty-five 0142") == {"20", "45", "142", "40", "5"}


def test_a_plural_possessive_is_no_unpaired_quotation_mark():
    from declaration_assets.drafting.answers import balance_quotes

    assert balance_quotes("I stayed under the traffickers' control.") == "I stayed under the traffickers' control."
    assert balance_quotes("he took my passport 'for copies.") == "he took my passport for copies."


def test_abbreviations_never_split_sentences():
    text = ('Mrs. Ramírez called 911 at 10:52 p.m. [Ex. H, p. 1; Ex. F, p. 2]. We met in Washington, D.C. in 2018. '
            'Notices were addressed to "Mr. and Mrs. Ibarra" [Ex. D, p. 3]. Then he left.')
    assert split_sentences(text) == [
        "Mrs. Ramírez called 911 at 10:52 p.m. [Ex. H, p. 1; Ex. F, p. 2].",
        "We met in Washington, D.C. in 2018.",
        'Notices were addressed to "Mr. and Mrs. Ibarra" [Ex. D, p. 3].',
        "Then he left.",
    ]


def test_voice_is_judged_per_paragraph_and_a_third_party_is_still_refused():
    ev = [chunk("A-p1-0", "A", 1, INTAKE)]
    answer = ("I met him at church in 2018 [Ex. A, p. 1]. He kept my passport in a locked metal box in his truck "
              "[Ex. A, p. 1].\n\nHe kept the passport in a locked metal box in his truck [Ex. A, p. 1].")
    para = compose(answer, ev)
    # The first paragraph is hers; the second has no "I" anywhere, so it is narration, not her account.
    assert para.paragraphs == ["I met him at church in 2018 [Ex. A, p. 1]. He kept my passport in a locked metal "
                               "box in his truck [Ex. A, p. 1]."]
    assert para.dropped["not_first_person"] == 1
    # "as the victim" inside her own sentence is no third-person narration.
    ok = compose("My only contact with the police was at church in 2018, as the victim [Ex. A, p. 1].", ev)
    assert ok.sentences == 1
    letter = [chunk("C-p1-0", "C", 1, LETTER, document="03-lease.pdf")]
    bad = compose("I have known Lucia Montoya for five years [Ex. C, p. 1]. I saw bruises on her arm in 2022 "
                  "[Ex. C, p. 1].", letter, third_party_docs=frozenset({"03-lease.pdf"}),
                  declarant_names=frozenset({"lucia", "lucia montoya"}))
    assert bad.text == "" and bad.dropped["third_party_voice"] == 2


def test_staff_notes_and_swapped_subjects_never_ship_as_her_words():
    ev = [chunk("A-p1-0", "A", 1, INTAKE)]
    para = compose("Staff to confirm the entry date with a FOIA request [Ex. A, p. 1]. I was kind and funny "
                   "[Ex. A, p. 1]. I met him at church in 2018 [Ex. A, p. 1].", ev)
    assert para.text == "I met him at church in 2018 [Ex. A, p. 1]."
    assert para.dropped == {"staff_note": 1, "swapped_subject": 1}
    assert any(n.startswith("dropped (swapped_subject): I was kind and funny") for n in para.notes)
    assert swapped_subject("I pushed him out of the door.", ["He pushed me out of the door."])
    assert not swapped_subject("He pushed me out of the door.", ["He pushed me out of the door."])
    assert not swapped_subject("I told him to stop.", ["I told him to stop and he laughed."])


def test_a_spanish_source_keeps_the_sentence_flagged_unverified_and_unrelated_english_is_dropped():
    notes = [chunk("A-p2-0", "A", 2, NOTES_ES)]
    assert language_of(NOTES_ES) == "es"
    para = compose("Ricardo took my passport and kept it in a locked metal box in his truck [Ex. A, p. 2].", notes)
    assert para.sentences == 1 and para.unverified == 1
    assert any(n.startswith("unverified (passages in another language") for n in para.notes)
    # The same sentence with an invented name is no translation of anything: dropped, not flagged.
    bad = compose("Roberto Salinas took my passport in Monterrey [Ex. A, p. 2].", notes)
    assert bad.text == "" and bad.dropped == {"unsupported_name_or_number": 1}
    # No citation at all: nothing to flag it against.
    assert compose("Ricardo took my passport from me.", notes).text == ""


def test_a_citation_to_a_real_page_not_shown_is_kept_when_that_page_supports_it():
    shown = [chunk("A-p1-0", "A", 1, INTAKE)]
    pages = {Citation(exhibit="B", page=1): "Marriage Certificate. Ricardo Benitez and Lucia Montoya were married on "
             "June 15, 2019 in Harris County, Texas."}
    para = compose("We were married on June 15, 2019 in Harris County [Ex. B, p. 1] [Ex. A, p. 1].", shown,
                   pages=pages)
    # Ex. B was never shown but bears the sentence out; Ex. A (shown) shares nothing with it and is removed.
    assert para.text == "We were married on June 15, 2019 in Harris County [Ex. B, p. 1]."
    assert para.citations_removed == ["[Ex. A, p. 1]"]
    assert any("citation removed ([Ex. A, p. 1]" in n for n in para.notes)


def test_a_truncated_last_sentence_is_dropped_and_a_sentence_is_not_repeated_under_another_element():
    ev = [chunk("A-p1-0", "A", 1, INTAKE)]
    kept: set = set()
    first = compose("I met him at church in 2018 [Ex. A, p. 1]. He kept my passport in a locked metal box in",
                    ev, truncated=True, kept_elsewhere=kept)
    assert first.text == "I met him at church in 2018 [Ex. A, p. 1]." and first.dropped == {"truncated": 1}
    again = compose("I met him at church in 2018 [Ex. A, p. 1].", ev, kept_elsewhere=kept)
    assert again.text == "" and again.dropped == {"repeated_in_other_element": 1}
