from declaration_assets.drafting import prompts
from declaration_assets.drafting.citations import (
    build_exhibits,
    existing_citations,
    lettering_problems,
    normalize_citations,
    parse_citations,
)
from declaration_assets.drafting.compose import compose_paragraph, unsupported_tokens
from declaration_assets.drafting.evidence import gather_evidence
from declaration_assets.drafting.models import Citation, Section
from declaration_assets.drafting.sections import closing, introduction, order_sections
from declaration_assets.extraction.models import DocumentInfo
from declaration_assets.requirements import load_requirements
from declaration_assets.retrieval.models import ScoredChunk
from declaration_assets.text import exhibit_letter, split_sentences

from .helpers import DOCS, chunks, keyword_search, record


def scored(ids: list[str]) -> list[ScoredChunk]:
    by_id = {c.chunk_id: c for c in chunks()}
    return [ScoredChunk(chunk=by_id[i], score=1.0 - r / 10, rank=r) for r, i in enumerate(ids, start=1)]


VALID = existing_citations(build_exhibits(DOCS))


def test_exhibit_letters_follow_spreadsheet_order():
    assert [exhibit_letter(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"
    ]


def test_exhibits_sorted_by_letter_and_lettering_checked():
    docs = [DocumentInfo(name=f"{i:02d}.pdf", title=f"Doc {i}", pages=1, exhibit=exhibit_letter(i)) for i in range(28)]
    exhibits = build_exhibits(list(reversed(docs)))
    assert [e.letter for e in exhibits][:3] == ["A", "B", "C"] and exhibits[-1].letter == "AB"
    assert lettering_problems(docs) == []
    # Letters come from the case's ledger: out of file order is fine, a shared or malformed letter is not.
    swapped = [docs[1].model_copy(update={"exhibit": "A"}), docs[0].model_copy(update={"exhibit": "B"})]
    assert lettering_problems(swapped) == []
    shared = [docs[0], docs[1].model_copy(update={"exhibit": "A"}), docs[2].model_copy(update={"exhibit": "a1"})]
    assert lettering_problems(shared) == ["02.pdf: exhibit letter 'a1' is not a letter", "exhibit A is held by 00.pdf, 01.pdf"]


def test_existing_citations_cover_every_page_of_every_exhibit():
    assert Citation(exhibit="A", page=2) in VALID
    assert Citation(exhibit="A", page=3) not in VALID
    assert len(VALID) == 4


def test_citation_variants_are_normalised():
    text = "I met him (Exhibit B, page 1). I left [Ex A p.2] and Ex. A, pp. 1-2 show it; see [Exh. C, pg 1]"
    out = normalize_citations(text)
    assert out == ("I met him [Ex. B, p. 1]. I left [Ex. A, p. 2] and [Ex. A, p. 1] [Ex. A, p. 2] show it; "
                   "see [Ex. C, p. 1]")
    assert [c.label() for c in parse_citations(out)] == [
        "[Ex. B, p. 1]", "[Ex. A, p. 2]", "[Ex. A, p. 1]", "[Ex. A, p. 2]", "[Ex. C, p. 1]"
    ]
    assert normalize_citations(out) == out  # idempotent


def test_sentence_split_keeps_abbreviations_and_moves_trailing_citations():
    text = "I met Mr. Smith in 2018. [Ex. A, p. 1] Then we married in St. Paul. I was happy [Ex. B, p. 1]."
    assert split_sentences(text) == [
        "I met Mr. Smith in 2018. [Ex. A, p. 1]",
        "Then we married in St. Paul.",
        "I was happy [Ex. B, p. 1].",
    ]


def test_gather_evidence_unions_dedupes_and_ranks_round_robin():
    by_id = {c.chunk_id: c for c in chunks()}
    results = {
        "q1": [("B-p1-0", 0.9), ("C-p1-0", 0.8), ("A-p2-0", 0.7)],
        "q2": [("B-p1-0", 0.85), ("C-p1-0", 0.84)],
        "q3": [("A-p1-0", 0.4)],
    }

    def search(q):
        return [ScoredChunk(chunk=by_id[cid], score=s, rank=r) for r, (cid, s) in enumerate(results[q], start=1)]

    found = gather_evidence(["q1", "q2", "q3"], search, 3)
    # Round 1: B (0.9, best of q1 and q2) then A-p1 (q3's best, despite its low score); round 2: C.
    assert [sc.chunk.chunk_id for sc in found] == ["B-p1-0", "A-p1-0", "C-p1-0"]
    assert [sc.rank for sc in found] == [1, 2, 3]
    assert found[0].score == 0.9 and found[2].score == 0.84
    assert len(gather_evidence(["q1", "q2", "q3"], search, 10)) == 4


def test_compose_keeps_first_person_sentences_and_their_valid_citations():
    evidence = scored(["A-p1-0", "B-p1-0"])
    answer = "I met Ricardo in February 2018 at church in Houston [Ex. A, p. 1]. We were married on June 15, 2019 (Ex. B, page 1)."
    para = compose_paragraph(answer, evidence, VALID)
    assert para.text == ("I met Ricardo in February 2018 at church in Houston [Ex. A, p. 1]. "
                         "We were married on June 15, 2019 [Ex. B, p. 1].")
    assert para.sentences == 2 and para.attributed == 0 and not para.dropped


def test_compose_removes_citations_outside_the_evidence_and_attributes_the_source():
    evidence = scored(["B-p1-0"])
    answer = "I was married to Ricardo on June 15, 2019 in Harris County [Ex. Q, p. 9] [Ex. C, p. 1]."
    para = compose_paragraph(answer, evidence, VALID)
    assert para.citations_removed == ["[Ex. Q, p. 9]", "[Ex. C, p. 1]"]
    assert para.text.endswith("[Ex. B, p. 1].") and para.attributed == 1


def test_compose_drops_chatter_third_person_invented_and_unsupported():
    evidence = scored(["A-p1-0", "A-p2-0"])
    answer = "\n".join([
        "Sure, here is the statement you asked for.",
        "## Abuse",
        "The declarant met Ricardo at church in Houston.",
        "Ricardo played guitar with the band.",
        "I met Ricardo at church in 1999.",
        "I met Ricardo in February 2018 at church in Houston.",
        "I met Ricardo in February 2018 at church in Houston.",
        "I love to bake bread on sunny mornings.",
        "I met Roberto at a church in Houston.",
    ])
    para = compose_paragraph(answer, evidence, VALID, voice_per_paragraph=False)
    assert para.text == "I met Ricardo in February 2018 at church in Houston [Ex. A, p. 1]."
    assert para.dropped == {
        "chatter": 1, "not_first_person": 2, "unsupported_name_or_number": 2,
        "duplicate": 1, "unsupported": 1,
    }
    # Judged per paragraph, a first-person narrative keeps its sentences without "I"; narration about the
    # declarant is still refused, and every drop is a review note with its reason.
    para = compose_paragraph(answer, evidence, VALID)
    assert para.text == ("Ricardo played guitar with the band [Ex. A, p. 1]. "
                         "I met Ricardo in February 2018 at church in Houston [Ex. A, p. 1].")
    assert para.dropped["not_first_person"] == 1
    assert "dropped (not_first_person): The declarant met Ricardo at church in Houston." in para.notes


def test_compose_of_garbage_is_empty():
    para = compose_paragraph("}}}{{ ``` json null ``` 12345", scored(["A-p1-0"]), VALID)
    assert para.text == "" and para.sentences == 0


def test_unsupported_tokens_reports_invented_numbers_and_names():
    ev = "Ricardo pushed me against the wall on April 23, 2023."
    assert unsupported_tokens("Ricardo pushed me on April 23, 2023.", ev) == []
    assert unsupported_tokens("Ricardo pushed me on April 24, 2021 in Dallas.", ev) == ["24", "2021", "Dallas"]


def test_introduction_and_closing_are_deterministic_templates():
    req = load_requirements("vawa")
    intro = introduction(record("es"), req)
    assert intro.paragraphs[0] == "I, Lucia Montoya, declare as follows:"
    assert "self-petitioner" in intro.paragraphs[1] and "Form I-360" in intro.paragraphs[1]
    assert "I am a citizen of Colombia." in intro.paragraphs
    assert any("Spanish" in p for p in intro.paragraphs)
    assert not any("Spanish" in p for p in introduction(record("en"), req).paragraphs)
    close = closing("Lucia Montoya")
    assert close.paragraphs[0] == prompts.CLOSING_ATTESTATION and "penalty of perjury" in close.paragraphs[0]
    assert close.paragraphs[1].endswith("Lucia Montoya")


def test_sections_are_ordered_intro_elements_in_file_order_closing():
    req = load_requirements("vawa")
    shuffled = [
        Section(kind="closing", title="Attestation", paragraphs=["x"]),
        Section(kind="element", element_id="good_moral_character", title="x", paragraphs=["x"]),
        Section(kind="element", element_id="qualifying_relationship", title="x", paragraphs=["x"]),
        Section(kind="introduction", title="Introduction", paragraphs=["x"]),
        Section(kind="element", element_id="abuse", title="x", paragraphs=["x"]),
    ]
    ordered = order_sections(shuffled, req)
    assert [s.element_id or s.kind for s in ordered] == [
        "introduction", "qualifying_relationship", "abuse", "good_moral_character", "closing"
    ]


def test_markdown_lines_become_sentences_and_headings_vanish():
    evidence = scored(["C-p1-0"])
    answer = "# Residence\n- We moved in on July 1, 2019\n- He is a US citizen\n**I lived at 2215 Calloway Street**"
    para = compose_paragraph(answer, evidence, VALID)
    assert para.text == ("We moved in on July 1, 2019 [Ex. C, p. 1]. "
                         "I lived at 2215 Calloway Street [Ex. C, p. 1].")
    # "He is a US citizen" is no voice problem inside a first-person paragraph, but no passage says it.
    assert para.dropped == {"unsupported": 1} and para.attributed == 2


def test_a_copied_worked_example_or_an_ungrounded_cited_sentence_is_dropped():
    evidence = scored(["A-p1-0"])
    example = prompts.DRAFTER_USER.split("Sentences: ", 1)[1].split("\n")[0]
    para = compose_paragraph(example, evidence, VALID)
    assert para.text == "" and para.dropped == {"unsupported_name_or_number": 2}
    ungrounded = "I always wanted to become a teacher and help children learn [Ex. A, p. 1]."
    para = compose_paragraph(ungrounded, evidence, VALID)
    assert para.text == "" and para.dropped == {"unsupported": 1}


def test_answer_labels_are_stripped():
    para = compose_paragraph("Sentences: I met Ricardo in February 2018 at church in Houston [Ex. A, p. 1].",
                             scored(["A-p1-0"]), VALID)
    assert para.text == "I met Ricardo in February 2018 at church in Houston [Ex. A, p. 1]."


def test_letter_style_chatter_in_the_first_person_is_dropped():
    evidence = scored(["C-p1-0"])
    answer = ("I'm writing to inform you of the lease for 2215 Calloway Street, Apt 14B. "
              "I'd like to share that Ricardo Benitez and Lucia Montoya were tenants. "
              "I lived at 2215 Calloway Street, Apt 14B in Houston with Ricardo Benitez.")
    para = compose_paragraph(answer, evidence, VALID)
    assert para.text == "I lived at 2215 Calloway Street, Apt 14B in Houston with Ricardo Benitez [Ex. C, p. 1]."
    assert para.dropped == {"chatter": 2}


def test_quotes_split_by_sentences_are_balanced():
    from declaration_assets.drafting.answers import balance_quotes, finish_sentence

    assert balance_quotes("he asked for my passport 'to make copies for the papers.") == \
        "he asked for my passport to make copies for the papers."
    assert balance_quotes("I didn't know, he said 'go' to me") == "I didn't know, he said 'go' to me"
    assert balance_quotes('"I was afraid," I said "and') == "I was afraid, I said and"
    assert finish_sentence('"I was afraid."', [Citation(exhibit="A", page=2)]) == "I was afraid [Ex. A, p. 2]."


def test_form_numbers_prompt_echoes_and_client_notes_are_not_the_declarants_voice():
    from declaration_assets.drafting.sections import country_phrase
    from declaration_assets.text import has_first_person

    assert not has_first_person("CBP I-94 records are generated electronically at admission.")
    assert not has_first_person("The I-914 and I-130 were filed.")
    assert has_first_person("I filed it myself.") and has_first_person("My I-94 shows it.")
    evidence = scored(["A-p1-0"])
    answer = ("Rewrite the facts in my own voice (I, me, my), each ending with the label of its note: "
              "I met Ricardo in February 2018 at church in Houston. "
              "My client met Ricardo in February 2018 at church in Houston.")
    para = compose_paragraph(answer, evidence, VALID)
    assert para.text == "" and para.dropped == {"chatter": 1, "not_first_person": 1}
    assert country_phrase("Philippines") == "the Philippines" and country_phrase("Colombia") == "Colombia"


def test_a_third_partys_i_is_not_the_declarants_voice():
    from declaration_assets.drafting.voice import borrowed_voice, declarant_name_words, names_declarant
    from declaration_assets.retrieval.models import Chunk

    letter = ('I was present at her intake interview at the shelter on May 2, 2023. Ms. Montoya told me, '
              '"I was afraid he would kill me that night." She has attended every session since.')
    evidence = [ScoredChunk(chunk=Chunk(chunk_id="A-p2-0", document="01-intake.pdf", exhibit="A", page=2, start=0,
                                        end=len(letter), text=letter), score=1.0, rank=1)]
    names = declarant_name_words(record())
    assert {"lucia montoya", "lucia", "ms montoya"} <= names and "montoya" not in names
    answer = ("I was present at her intake interview at the shelter on May 2, 2023. "
              "I was afraid he would kill me that night. "
              "Ms. Montoya told me she was afraid that night at the shelter.")
    para = compose_paragraph(answer, evidence, VALID, declarant_names=names)
    assert para.text == "I was afraid he would kill me that night [Ex. A, p. 2]."
    assert para.dropped == {"third_party_voice": 2}
    # Without the names the counselor's "I" would pass as the declarant's.
    assert compose_paragraph(answer, evidence, VALID).sentences == 3
    # The declarant's own notes (no one named in the third person) lend her their "I".
    own = "I was present at the hearing on May 2, 2023 and I was afraid."
    assert not borrowed_voice("I was present at the hearing on May 2, 2023.", own, names)
    # A name another party shares (the abuser's surname in an alias) is not taken for the declarant's.
    shared = record().model_copy(update={"parties": (
        record().parties[0].model_copy(update={"aliases": ("Lucia Benitez",)}), record().parties[1])})
    assert "ms montoya" in declarant_name_words(shared) and "ms benitez" not in declarant_name_words(shared)
    # Nor is a middle name alone: "Nueva Esperanza" is a church.
    church = record().model_copy(update={"parties": (
        record().parties[0].model_copy(update={"name": "Lucia Esperanza Montoya"}), record().parties[1])})
    assert not names_declarant("I met Ricardo at Iglesia Nueva Esperanza.", declarant_name_words(church))
    assert names_declarant("I saw Lucía and Ms. Montoya.", declarant_name_words(church))
    # Her own earlier statement names her too, as its author.
    sworn = "I, Lucia Montoya, was present at the hearing on May 2, 2023."
    assert not borrowed_voice("I was present at the hearing on May 2, 2023.", sworn, names)
    # A lease's "we" (the tenants) includes her.
    lease = "Tenants: Ricardo Benitez and Lucia Montoya. We moved in on July 1, 2019."
    assert not borrowed_voice("We moved in on July 1, 2019.", lease, names)


def test_a_letter_about_her_lends_no_voice_even_where_its_paragraph_does_not_name_her():
    """tvisa-0001: the shelter's case manager writes "I was present at her first interview ..." in a paragraph
    that names no one; the letter as a whole is about the declarant, so its "I" stays the case manager's."""
    from declaration_assets.drafting.voice import declarant_name_words, third_party_documents
    from declaration_assets.retrieval.chunking import chunk_case
    from declaration_assets_tests.checks.fixtures import case_record, extracted_from_sources

    case, rec = extracted_from_sources("tvisa-0001"), case_record("tvisa-0001")
    names = declarant_name_words(rec)
    others = third_party_documents([(p.document, p.text) for p in case.pages], names)
    assert "06-ngo-shelter-letter.pdf" in others and "07-psychological-evaluation.pdf" in others
    assert "01-intake-questionnaire.pdf" not in others  # her own answers, quoted

    letter = next(c for c in chunk_case(case) if "I was present at her first interview" in c.text)
    evidence = [ScoredChunk(chunk=letter, score=1.0, rank=1)]
    valid = existing_citations(build_exhibits(case.documents))
    answer = "I was present at her first interview with HSI Special Agent Rebecca J. Thornbury on June 1, 2023."
    assert compose_paragraph(answer, evidence, valid, declarant_names=names).sentences == 1  # the paragraph alone
    para = compose_paragraph(answer, evidence, valid, declarant_names=names, third_party_docs=others)
    assert para.sentences == 0 and para.dropped == {"third_party_voice": 1}
