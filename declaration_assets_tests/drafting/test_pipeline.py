import re

from declaration_assets.drafting import prompts
from declaration_assets.drafting.pipeline import DraftSettings, build_draft, drafter_prompt
from declaration_assets.llm.models import CallContext, Completion, LLMFailure
from declaration_assets_tests.support.fake_llm import FakeLLM
from declaration_assets.requirements import load_requirements
from declaration_assets_tests.support.records import call_record

from .helpers import DOCS, extracted, keyword_search, record

CTX = CallContext(case_id="vawa-0001", asset="draft", model_config="default")


def first_person_from_evidence(role, prompt):
    """A drafter that turns each passage it is shown into one first-person sentence (like a decent model)."""
    assert role == "drafter"
    out = []
    for item in prompt.evidence:
        label = item[: item.index("]") + 1]
        if "married on June 15, 2019" in item:
            out.append(f"I married Ricardo on June 15, 2019 in Harris County, Texas {label}.")
        elif "pushed me" in item:
            out.append(f"Ricardo pushed me against the wall on April 23, 2023 and I called the police {label}.")
        elif "moved in" in item:
            out.append("We moved in on July 1, 2019 at 2215 Calloway Street.")  # no label: attributed
        elif "church" in item:
            out.append(f"I met Ricardo in February 2018 at church in Houston [Ex. Z, p. 9] {label}.")
    return "Sure! Here is the text.\n" + "\n".join(out)


def run(client, settings=DraftSettings(evidence_per_element=3, evidence_per_call=2), logs=None):
    from declaration_assets.drafting.assets import page_texts

    return build_draft(
        record=record(), requirements=load_requirements("vawa"), documents=DOCS, search=keyword_search(),
        client=client, ctx=CTX, settings=settings, log=(logs.append if logs is not None else (lambda m: None)),
        page_texts=page_texts(extracted()),
    )


def test_draft_structure_citations_and_progress():
    logs: list[str] = []
    fake = FakeLLM(default=first_person_from_evidence)
    outcome = run(fake, logs=logs)
    d = outcome.draft
    req = load_requirements("vawa")
    assert [s.kind for s in d.sections] == ["introduction"] + ["element"] * 5 + ["closing"]
    assert [s.element_id for s in d.element_sections()] == req.element_ids()
    assert [e.letter for e in d.exhibits] == ["A", "B", "C"]
    valid = {f"[Ex. {e.letter}, p. {p}]" for e in d.exhibits for p in range(1, e.pages + 1)}
    for s in d.element_sections():
        if s.gap:
            assert s.paragraphs[0].startswith(prompts.GAP_MARKER)
            continue
        for para in s.paragraphs:
            for sentence in re.split(r"(?<=\]\.) ", para):
                assert sentence.endswith("]."), sentence
                cites = re.findall(r"\[Ex\. [A-Z], p\. \d+\]", sentence)
                assert cites and set(cites) <= valid, sentence
    assert "[Ex. Z, p. 9]" not in d.markdown()
    residence = d.section_for("joint_residence")
    assert residence.gap is None and "[Ex. C, p. 1]" in residence.text() and residence.citations_attributed >= 1
    assert any(s.citations_removed == ["[Ex. Z, p. 9]"] for s in d.element_sections())
    assert d.sections[-1].paragraphs[0].startswith("I declare under penalty of perjury")
    assert "## Exhibit List" in d.markdown() and "Exhibit B: Marriage Certificate" in d.markdown()
    assert any(m.startswith("section 1 of 5 (qualifying_relationship)") and "elapsed" in m for m in logs)
    assert any(m.startswith("section 5 of 5 (good_moral_character) drafted") for m in logs)
    # Evidence goes to the drafter ranked and labelled, through the evidence slot the router can shrink.
    role, spec, _ = fake.history[0]
    assert role == "drafter" and spec.evidence and all(e.startswith("[Ex. ") for e in spec.evidence)
    assert "{evidence}" in spec.user and spec.prompt_version == prompts.DRAFT_PROMPT_VERSION


def test_garbage_answers_leave_marked_gaps_never_text():
    outcome = run(FakeLLM(default="```json {}``` lorem ipsum dolor sit amet"))
    d = outcome.draft
    assert len(d.gaps()) == 5
    for s in d.element_sections():
        assert s.paragraphs == [s.paragraphs[0]] and s.paragraphs[0].startswith(prompts.GAP_MARKER)
        assert s.gap == "no evidence retrieved" or (s.gap.startswith("all sentences removed") and "[Ex." in s.paragraphs[0])
    assert not outcome.all_calls_failed


def test_element_without_evidence_is_a_gap_without_a_call():
    fake = FakeLLM(default=first_person_from_evidence)
    outcome = build_draft(record=record(), requirements=load_requirements("vawa"), documents=DOCS,
                          search=lambda q: [], client=fake, ctx=CTX)
    assert fake.history == []
    assert all(s.gap == "no evidence retrieved" for s in outcome.draft.element_sections())
    assert "no evidence" in outcome.draft.section_for("abuse").paragraphs[0]


def test_failed_calls_are_recorded_and_reported():
    failure = LLMFailure("embedded: deadline_total", records=(call_record(outcome="deadline_total"),))
    fake = FakeLLM(default=failure)
    outcome = run(fake)
    assert outcome.all_calls_failed
    assert {r.outcome for r in outcome.records} == {"deadline_total"}
    for s in outcome.draft.element_sections():
        assert s.gap == "no evidence retrieved" or s.gap.startswith("every drafter call failed (LLMFailure")
    assert any(s.gap != "no evidence retrieved" for s in outcome.draft.element_sections())


class DroppingClient:
    """Acts like the router when the window is tight: only the best-ranked evidence item is sent."""

    def __init__(self):
        self.prompts = []

    def complete(self, role, prompt, ctx):
        self.prompts.append(prompt)
        kept = prompt.evidence[:1]
        text = first_person_from_evidence(role, type(prompt)(**{**prompt.__dict__, "evidence": prompt.evidence}))
        return Completion(text=text, role=role, model_config=ctx.model_config, deployment="small",
                          evidence_used=len(kept), evidence_dropped=len(prompt.evidence) - len(kept),
                          records=(call_record(role=role, evidence_dropped=1),))

    def judge_roles(self, model_config):
        return []

    def role_description(self, model_config, role):
        return {}


def test_citations_of_evidence_the_router_dropped_are_not_kept():
    client = DroppingClient()
    outcome = run(client, settings=DraftSettings(evidence_per_element=4, evidence_per_call=4))
    sent = {p.evidence[0][: p.evidence[0].index("]") + 1] for p in client.prompts}
    drafted = [s for s in outcome.draft.element_sections() if not s.gap]
    assert drafted
    for s in drafted:
        assert {c.label() for c in s.citations()} <= sent
        assert len(s.evidence_chunk_ids) == 1
    assert sum(s.evidence_dropped for s in outcome.draft.sections) == sum(len(p.evidence) - 1 for p in client.prompts)
    assert sum(s.evidence_dropped for s in outcome.draft.sections) >= 1


def test_drafter_prompt_carries_element_and_ranked_evidence():
    from declaration_assets.drafting.evidence import gather_evidence

    element = load_requirements("vawa").element("abuse")
    evidence = gather_evidence(element.queries, keyword_search(), 3)
    spec = drafter_prompt(element, evidence, DraftSettings(max_tokens=111))
    assert "battery or extreme cruelty" in spec.user and "must show" not in spec.user.lower()
    assert spec.max_tokens == 111 and not spec.json_mode
    assert [e.split("]")[0] + "]" for e in spec.evidence] == [sc.chunk.citation() for sc in evidence]
    assert "use I, me, my" in spec.system


FULL = ("I met Ricardo in February 2018 at church in Houston [Ex. A, p. 1]. Ricardo pushed me against the wall on "
        "April 23, 2023 and I called the police [Ex. A, p. 2].")


class CuttingClient:
    """A capable drafter whose answer on the abuse element stops at its token limit (finish_reason "length");
    with `finishes`, a continuation request gets the rest."""

    def __init__(self, finishes: bool):
        self.finishes = finishes
        self.prompts = []

    def complete(self, role, prompt, ctx):
        self.prompts.append(prompt)
        text, finish = "I have nothing to add from these notes.", "stop"
        if "Battery or Extreme Cruelty" in prompt.user:
            if prompts.CONTINUE_MARKER in prompt.user and self.finishes:
                so_far = prompt.user.split(prompts.CONTINUE_MARKER + "\n", 1)[1]
                text = FULL[len(so_far):]
            elif prompts.CONTINUE_MARKER in prompt.user:
                text, finish = " and I", "length"
            else:
                text, finish = FULL[:100], "length"
        return Completion(text=text, role=role, model_config=ctx.model_config, deployment="fake",
                          evidence_used=len(prompt.evidence), evidence_dropped=0, finish_reason=finish)

    def judge_roles(self, model_config):
        return []

    def role_description(self, model_config, role):
        return {}


def capable(**overrides):
    from declaration_assets.drafting.profiles import get_profile

    return DraftSettings.from_profile(get_profile("capable"), **overrides)


def test_capable_profile_drafts_each_element_in_one_call_with_case_facts_and_continues_a_cut_answer():
    client = CuttingClient(finishes=True)
    outcome = run(client, settings=capable())
    abuse = outcome.draft.section_for("abuse")
    assert abuse.text() == FULL and outcome.elements["abuse"].continuations == 1
    first = [p for p in client.prompts if "Battery or Extreme Cruelty" in p.user][0]
    assert "Ricardo Benitez" in first.user and "Case facts" in first.user  # case.yaml's parties
    assert len(first.evidence) == len({sc for sc in first.evidence})  # all ranked evidence in one call
    # One call per element, plus the continuation.
    assert len(client.prompts) == len(load_requirements("vawa").elements) + 1
    assert outcome.profile == "capable"


def test_a_sentence_still_cut_after_the_continuations_never_ships():
    outcome = run(CuttingClient(finishes=False), settings=capable(max_tokens=200))
    abuse = outcome.draft.section_for("abuse")
    assert abuse.text() == "I met Ricardo in February 2018 at church in Houston [Ex. A, p. 1]."
    assert abuse.sentences_dropped == {"truncated": 1}
    assert any(n.startswith("dropped (truncated): Ricardo pushed me") for n in abuse.review_notes)


def test_the_routing_file_names_a_known_drafting_profile(tmp_path):
    import dagster as dg
    import pytest

    from declaration_assets.drafting.assets import DraftConfig, configured_profile, draft_settings
    from declaration_assets.llm.resources import LLMRouter
    from declaration_assets.llm.routing import load_routes

    text = (Path_routes := tmp_path / "routes.yaml")
    base = ("default: big\ndeployments:\n  d: {model: openai/x, api_base: 'http://127.0.0.1:9/v1', "
            "context_window: 100000, privacy: local}\nmodel_configs:\n  big:\n    drafting_profile: {p}\n"
            "    drafter: [d]\n    judges: [[d], [d], [d]]\n    guard: [d]\n")
    text.write_text(base.replace("{p}", "huge"))
    # The routing file's schema keeps only the name; the drafting stage refuses an unknown one, naming the file
    # and the key, and the step fails without retries.
    load_routes(Path_routes)
    with pytest.raises(dg.Failure, match=r"routes.yaml: invalid routing file\n  model_configs.big.drafting_profile: "
                                         r"unknown drafting profile 'huge' \(profiles: small, capable\)") as err:
        configured_profile(LLMRouter(routes_file=str(Path_routes), use_cache=False), "big")
    assert err.value.allow_retries is False
    text.write_text(base.replace("{p}", "capable"))
    router = LLMRouter(routes_file=str(Path_routes), use_cache=False)
    assert configured_profile(router, "big") == "capable"
    assert configured_profile(LLMRouter(use_cache=False), "default") == "small"  # the packaged embedded route
    # The run config still overrides: a profile, or one setting of it.
    assert draft_settings(DraftConfig(), "capable").evidence_per_call == capable().evidence_per_call
    assert draft_settings(DraftConfig(profile="small"), "capable").max_tokens == 160
    assert draft_settings(DraftConfig(max_tokens=999), "capable").max_tokens == 999
