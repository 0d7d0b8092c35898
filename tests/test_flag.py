"""The flag stage: fact-heavy replies are found offline, explained, and routed out of training."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import HOSTILE_MARKUP, REPO, SAMPLE_DATA, assert_nothing_planted_reaches, chat, read_jsonl, run_cli, write_jsonl
from dataprep.errors import InputError
from dataprep.export import ExportOptions, export_file
from dataprep.facts import assess
from dataprep.recipe import load_recipe
from dataprep.record import derived_id
from dataprep.runner import run_recipe
from dataprep.stages.flag import NOT_FOUND_REPLY, verdict
from dataprep.validate import validate_file

sys.path.insert(0, str(REPO / "benchmarks"))
from bench_flag import evaluate, load_labeled  # noqa: E402

PLACES = ("train", "eval", "rag_candidates", "duplicates", "rejected")


def tool_turn(user: str, name: str, result: dict, reply: str) -> dict:
    return {"messages": [
        {"role": "user", "content": user},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(result)},
        {"role": "assistant", "content": reply}]}


def score(example: dict) -> float:
    return assess(example["messages"]).score


def reasons(example: dict) -> list[str]:
    return assess(example["messages"]).reasons


# -- the labeled set ---------------------------------------------------------------------------
def test_labeled_set_is_broad_and_hard_enough():
    rows = load_labeled()
    assert len(rows) >= 150
    assert sum(r["hard"] for r in rows) >= len(rows) / 3
    assert {r["domain"] for r in rows} >= {"support", "hr_it", "legal", "medical", "devdocs", "sales", "extraction",
                                           "routing"}
    assert {r["label"] for r in rows} == {"fact_heavy", "behaviour"}


# The old set was written alongside the old rules, which its floors guard; the stage (rules + model),
# never trained on it, is held at its level; the blind dev sets below weigh more. Round 28's sentence
# model costs it two faithful restatements of a pasted clause (0.977 to 0.968, hard 0.961 to 0.947),
# against +0.004 on the thirteen blind never-tuned sets pooled (0.898 to 0.902).
@pytest.mark.parametrize("part, rules_only, floor", [("all", True, 0.97), ("hard", True, 0.98), ("holdout", True, 0.95),
                                                     ("all", False, 0.965), ("hard", False, 0.945),
                                                     ("holdout", False, 0.95)])
def test_labeled_set_f1_does_not_regress(part, rules_only, floor):
    rows = load_labeled()
    chosen = {"all": rows, "hard": [r for r in rows if r["hard"]],
              "holdout": [r for r in rows if r["batch"] == "holdout"]}[part]
    assert evaluate(chosen, rules_only=rules_only).f1 >= floor


# -- rules: what counts as supported -----------------------------------------------------------
@pytest.mark.parametrize("user, reply", [
    ("The invoice total is 1,200 USD. Confirm it?", "Confirmed: the invoice total is $1200."),
    ("Rechnungsbetrag 4.980,00 €", "The invoice amount is €4,980.00."),
    ("Our budget is $4.2M for the year.", "A budget of $4,200,000 is approved."),
    ("The meeting is on 2024-03-03.", "Noted, the meeting is on March 3, 2024."),
    ("Admitted 3/14, discharged 3/19.", "You were admitted on March 14 and went home on March 19."),
    ("Call me at (415) 555-0123", "I'll call you at 415-555-0123."),
    ("Tracking 7489 2360 1122 please", "Parcel 748923601122 is on its way."),
    ("The deadline is thirty (30) days.", "You have 30 days."),
    ("My manager is maria lopez.", "I'll let Maria Lopez know."),
    ("Ich kündige den Vertrag 55-812 zum 31.08.2024.", '{"vertrag": "55-812", "datum": "2024-08-31"}'),
    ("山田花子さんは2024年4月1日に入社しました。", '{"氏名": "山田花子", "日付": "2024-04-01"}'),
    ("How many usable hosts in 10.8.16.0/21?", "2,046 usable hosts, from 10.8.16.1 to 10.8.23.254 (broadcast 10.8.23.255)."),
    ("1 150 cartons, 48 par palette. Combien de palettes ?", "1 150 / 48 = 23,96, donc 24 palettes."),
    ("Fasse zusammen: Die Vase kam am 2. Mai zerbrochen an; am 3. Mai schickte der Kunde ein Foto.",
     "Die Vase kam am 2. Mai zerbrochen an. Nach Zusendung eines Fotos am 3. Mai wird ein Ersatz geprüft."),
])
def test_facts_taken_from_the_input_are_supported(user, reply):
    example = chat(user, reply)
    assert score(example) < 0.5, reasons(example)


@pytest.mark.parametrize("reply, fact", [
    ("Returns go through the Larkfield Commons store.", 'unsupported name "Larkfield Commons"'),
    ("Refunds take 5-7 business days.", 'unsupported quantity "5-7 business days"'),
    ("The Pro plan is $49.99 a month.", 'unsupported price "$49.99"'),
    ("Open enrollment ends on November 22.", 'unsupported date "November 22"'),
    ("Call 1-800-555-0199 for help.", 'unsupported phone "1-800-555-0199"'),
    ("Use https://api.quillpay.io/v2 for requests.", 'unsupported URL "https://api.quillpay.io/v2"'),
    ("Install version 5.2.1 of the agent.", 'unsupported version "5.2.1"'),
    ("Set QUILLPAY_API_KEY before you start.", 'unsupported identifier "QUILLPAY_API_KEY"'),
    ("Parents get sixteen weeks of leave.", 'unsupported quantity "sixteen weeks"'),
])
def test_one_unsupported_fact_is_enough(reply, fact):
    example = chat("I have a question.", reply)
    assert score(example) >= 0.5
    assert fact in reasons(example)


def test_pii_placeholders_count_as_present_only_when_the_input_has_them():
    assert score(chat("I'm <NAME_1>, email <EMAIL_1>.", "Thanks <NAME_1>, I emailed <EMAIL_1>.")) == 0
    example = chat("What number do I call for billing?", "Call <PHONE_1> and choose option 2.")
    assert score(example) >= 0.5
    assert 'unsupported placeholder "<PHONE_1>"' in reasons(example)


def test_template_placeholders_are_a_generic_procedure():
    example = chat("How do I cancel my order?", "Go to {{Account Settings}}, open {{Order History}} and click "
                                                "{{Cancel Order}} next to order {{Order Number}}.")
    assert score(example) == 0


def test_a_relayed_tool_result_is_behaviour_and_an_added_fact_is_not():
    result = {"order_id": "A-55821", "status": "shipped", "carrier": "UPS", "shipped_at": "2024-03-03"}
    relayed = tool_turn("Where is my order?", "get_order", result, "Order A-55821 shipped on March 3, 2024 via UPS.")
    assert score(relayed) == 0
    added = tool_turn("Where is my order?", "get_order", result,
                      "Order A-55821 shipped on March 3 via UPS; claims are possible after 10 days.")
    assert score(added) >= 0.5
    assert reasons(added)[0] == 'unsupported quantity "10 days"'


def test_arithmetic_over_given_numbers_is_behaviour_but_a_recalled_price_is_not():
    assert score(chat("35 seats at $42 per seat per month: what's the yearly cost?",
                      "35 x $42 = $1,470 a month, so $17,640 a year.")) == 0
    recalled = chat("What would 35 seats cost per year?", "At $42 per seat per month, 35 seats cost $17,640 a year.")
    assert score(recalled) >= 0.5
    assert 'unsupported price "$42 per seat"' in reasons(recalled)


def test_transformations_of_number_dense_input_are_behaviour():
    extraction = chat("Extract as JSON: 'INVOICE INV-2024-0457 Date: 12.04.2024 Net: 1.250,00 EUR VAT 19%: 237,50 EUR'",
                      '{"invoice": "INV-2024-0457", "date": "2024-04-12", "net": 1250.0, "vat_rate": 0.19, "vat": 237.5}')
    translation = chat("Translate to French: 'Hi Claire, order #88412 arrives Friday, June 7.'",
                       "Bonjour Claire, la commande n° 88412 arrive le vendredi 7 juin.")
    assert score(extraction) == 0 and score(translation) == 0


def test_code_is_a_transformation_but_a_url_in_code_is_a_claim():
    assert score(chat("Make this async: def f(): return requests.get(u, timeout=10)",
                      "```python\nasync def f():\n    async with httpx.AsyncClient(timeout=10) as c:\n"
                      "        return await c.get(u)\n```")) == 0
    example = chat("How do I call the API?", "```python\nclient.get('https://api.quillpay.io/v2/orders')\n```")
    assert "unsupported URL \"https://api.quillpay.io/v2/orders')\"" not in reasons(example)
    assert 'unsupported URL "https://api.quillpay.io/v2/orders"' in reasons(example)


@pytest.mark.parametrize("user, reply", [
    ("Ma carte cadeau expire quand ?", "Les cartes cadeaux sont valables 3 ans à partir de la date d'achat."),
    ("Wie lange dauert die Erstattung?", "Die Erstattung wird innerhalb von 3 bis 5 Werktagen gutgeschrieben."),
    ("¿Cuánto tarda el reembolso?", "El reembolso llega en 5 días hábiles."),
])
def test_a_time_limit_in_another_language_is_policy(user, reply):
    example = chat(user, reply)
    assert score(example) >= 0.5 and any("policy language" in reason for reason in reasons(example)), reasons(example)


def test_an_address_outside_the_given_network_and_a_date_in_another_year_are_still_claims():
    assert 'unsupported version "10.9.0.1"' in reasons(chat("Range of 10.8.16.0/21?", "Use 10.9.0.1 as the gateway."))
    assert any("2023" in reason for reason in reasons(chat("am 31.08.2024", "on August 31, 2023")))


def test_a_date_in_brackets_is_read_as_a_date():
    given = "The blanket was ordered on December 3. Can I still send it back?"
    assert 'unsupported date "Dec 14"' in reasons(chat(given, "Yes. Your order (Dec 14) was placed in the holiday window."))
    assert not any("Dec 3" in reason or '"3"' in reason
                   for reason in reasons(chat(given, "Yes. Your order (Dec 3) was placed in the holiday window.")))


def test_policy_language_without_any_entity_is_fact_heavy():
    example = chat("Can I get my refund on a gift card?",
                   "Refunds can't go onto gift cards. We issue store credit instead, and it never expires.")
    assert score(example) >= 0.5
    assert 'policy language: "we issue"' in reasons(example)


# -- rules from the labeling guide: derived numbers, tool results, labels, facts with no digit ---------
DEV_SETS = REPO / "benchmarks" / "labeled" / "facts"


@pytest.mark.parametrize("name, hard, floor", [("dev", False, 0.88), ("dev", True, 0.86),
                                               ("holdout", False, 0.90), ("holdout", True, 0.89),
                                               # tuned on once its errors were read: held at its level
                                               ("holdout5", False, 0.85), ("holdout5", True, 0.85),
                                               ("holdout6", False, 0.80), ("holdout6", True, 0.75),
                                               ("holdout7", False, 0.85), ("holdout7", True, 0.83),
                                               ("holdout8", False, 0.82), ("holdout8", True, 0.78),
                                               ("holdout9", False, 0.85), ("holdout9", True, 0.80),
                                               ("holdout10", False, 0.90), ("holdout10", True, 0.85)])
def test_dev_sets_written_from_the_guide_do_not_regress(name, hard, floor):
    """The rules alone: the learned model was trained on these sets, so the stage's own score on them
    says little (tests/test_fact_model.py scores each set held out)."""
    rows = [r for r in load_labeled(DEV_SETS / f"{name}.jsonl") if r["hard"] or not hard]
    assert evaluate(rows, rules_only=True).f1 >= floor


@pytest.mark.parametrize("user, reply", [
    ("I worked 46 hours at $22/hour, time-and-a-half over 40. Gross pay?",
     "- Regular: 40 × $22 = $880\n- Overtime rate: $22 × 1.5 = $33\n- Overtime: 6 × $33 = $198\n**Total: $880 + $198 = $1,078**"),
    ("Offered £42,000 a year, 37.5 hours a week. Weekly and hourly?",
     "Weekly: £42,000 ÷ 52 ≈ £807.69. Hourly: £807.69 ÷ 37.5 ≈ **£21.54**, before tax."),
    ("1000 mL over 8 hours, set is 20 drops/mL. Drops per minute?",
     "1000 mL × 20 = 20,000 drops; 8 h × 60 = 480 min; 20,000 ÷ 480 ≈ 41.7, so about 42 drops per minute."),
    ("Invoice: 8 seats at £15, 2 storage blocks at £4.50, onboarding £60, tax rate 0.2. Break it down?",
     "Seats £120.00, storage £9.00, onboarding £60.00.\nSubtotal: £189.00\nVAT at 20%: £37.80\nTotal: £226.80"),
    ("Notice handed in on Monday 12 August, notice period 4 weeks. Last day?", "Your last day is Monday 9 September."),
    ("Take one every 8 hours, first at 7am. My times?", "7:00 am, 3:00 pm and 11:00 pm."),
    ("The call is at 09:00 in New York; London is 5 hours ahead. What time for me in London?",
     "That's 14:00 for you in London."),
])
def test_numbers_derived_from_the_input_are_supported(user, reply):
    example = chat(user, reply)
    assert score(example) < 0.5, reasons(example)


@pytest.mark.parametrize("user, reply", [
    ("Returns within 30 days. Delivered 3 May, today is 24 May. Can I still return it?",
     "Yes: today is day 21 of the 30-day window."),
    ("Shift 07:00–15:30 with a 0.5 h break. Paid hours?", "8.5 h − 0.5 = 8.0 paid hours."),
    ("Incident started 2024-12-03T17:40:00Z. I'm on UTC−8. When was that for me?", "It started at 9:40am your time."),
    ("Price is £150 including VAT at 20%. Net?", "Net = £150 ÷ 1.20 = £125.00."),
    ("Our road trip is 240 km. How far in miles?", "1 mile ≈ 1.609 km, so 240 ÷ 1.609 ≈ 149 miles."),
    ("Split $120 between 4 people?", "That's $30 each."),
    ("Marks: 68, 74, 61 and 71. Average?", "(68 + 74 + 61 + 71) ÷ 4 = 68.5"),
    # round five: powers, steps that equal each other or go on from the last result, a sum or difference
    # of two given numbers as an operand
    ("$10,000 at 5% compounded annually for 10 years?", "FV = 10,000 × (1 + 0.05)^10 = 10,000 × 1.6289 ≈ $16,288.95."),
    ("Terms: volumetric weight is L × W × H in cm ÷ 5000. My box is 60 × 45 × 40 cm. Volumetric weight?",
     "60 × 45 × 40 = 108,000 ÷ 5000 = **21.6 kg**."),
    ("Base €22/h. Overtime at 1.25× for the first 10h, 1.5× after. I did 14h overtime. Overtime pay?",
     "First 10 h: 10 × 22 × 1.25 = €275.00\nNext 4 h: 4 × 22 × 1.5 = €132.00\n**Total overtime pay: €407.00**"),
    # round six: what is left after two holds, a product priced in pence, the hours and minutes between two times
    ("Ledger balance £1,842.57; pending holds £120.00 and £310.40. What can I spend?",
     "Your ledger balance is £1,842.57, but two holds are pending: £120.00 and £310.40. That leaves £1,412.17 "
     "available to spend right now."),
    ("Meter: 18,422 then 18,651 kWh over 30 days. Rate 24.5p per kWh, standing charge 53.4p a day. Bill?",
     "You used 18,651 − 18,422 = 229 kWh. Energy: 229 × 24.5p = £56.11; standing charge: 30 × 53.4p = £16.02. "
     "Estimated total: £72.13."),
    ("Status page: webhook delivery delayed from 13:05 to 14:47 UTC. How long was it down?",
     "Webhook delivery was delayed from 13:05 to 14:47 UTC, so 1 h 42 min."),
    # round eleven: a statement's money in and out, a list's sum, a CSV column, a power in superscript, a
    # half in Portuguese, thousands spaced the French way, a credit shown with its sign
    ("Riassumi questo estratto conto:\n+2.100,00 stipendio\n−750,00 affitto\n−64,30 luce\n+45,00 rimborso",
     "Entrate: 2.145,00 €. Uscite: 814,30 €. Saldo: +1.330,70 €."),
    ("今月の支出を合計してください：食費32,400円、光熱費11,850円、通信費6,200円", "合計は **50,450円** です。"),
    ("Total these, please:\ndate,item,amount\n2024-03-02,Storage,9.99\n2024-03-05,Seats x3,36.00",
     "The total is 45.99."),
    ("$10,000 at 5% compounded annually for 10 years?", "Future value = 10,000 × (1.05)¹⁰ ≈ **$16,288.95**."),
    ("A fatura deu R$ 1.347,60 e somos 3. E se o Lucas pagar só metade da parte dele?",
     "Cada um: R$ 1.347,60 ÷ 3 = R$ 449,20. O Lucas paga R$ 224,60."),
    ("Translate: 'The garage estimate is €1,280.'", "Le devis du garage s'élève à 1 280 €."),
    ("I switched from the $45 plan to the $65 plan with 20 of 30 days left. Adjustment?",
     "- Credit: $45 × 20/30 = **−$30.00**\n- Charge: $65 × 20/30 = **+$43.33**\n- Adjustment: **+$13.33**"),
])
def test_date_gaps_durations_time_stamps_unit_constants_splits_and_averages_are_derived(user, reply):
    example = chat(user, reply)
    assert score(example) < 0.5, reasons(example)


@pytest.mark.parametrize("user, reply, fact", [
    ("We're invoicing a German consumer €500 net. Gross with VAT?", "At 19% VAT, €500 × 1.19 = €595.00 gross.", "19%"),
    ("Child is 18 kg, we have 250 mg/5 mL. How much per dose?", "The dose is 25 mg/kg/day: 18 kg × 25 = 450 mg/day.",
     "25"),
    ("Renewal is $480. What will I pay?", "Renewals get a 20% loyalty discount, so you'll pay $384.00.", "20%"),
    ("$10,000 for 10 years in the index fund?", "10,000 × (1 + 0.07)^10 = $19,671.51, at its usual 7% a year.",
     "19,671.51"),
])
def test_a_rate_the_calculation_applies_is_a_fact_even_when_the_arithmetic_checks_out(user, reply, fact):
    example = chat(user, reply)
    assert score(example) >= 0.5 and any(fact in reason for reason in reasons(example)), reasons(example)


@pytest.mark.parametrize("user, reply", [
    ("Ist eine Umbuchung kostenlos?", "Für die Umbuchung zahlen Sie die Tarifdifferenz, aber keine Umbuchungsgebühr."),
    ("Was soll ich für die Wanderung einpacken?", "Nimm Wandersocken und ein Erste-Hilfe-Set mit."),
    ("Schreib eine kurze Beschwerde: Koffer kam 4 Tage zu spät.",
     "Mein Koffer kam 4 Tage zu spät. Ich freue mich auf Ihre Rückmeldung."),
    ("When can I visit? We're open Tuesday and Thursday.", "You can visit on Tuesdays and Thursdays."),
])
def test_german_compounds_formal_address_and_weekdays_are_not_names(user, reply):
    example = chat(user, reply)
    assert score(example) < 0.5, reasons(example)


@pytest.mark.parametrize("user, reply", [
    ("Write me a support macro for an approved replacement. Use placeholders.",
     "Hi {{first_name}},\n\nWe've approved a replacement for your {{item_name}}. It ships on {{ship_date}} via "
     "{{carrier}}, and you don't need to send the original back.\n\nAll the best,\n{{agent_name}}"),
    ("Give me an offer letter template, placeholders for everything specific.",
     "Dear [CANDIDATE_NAME],\n\nWe are delighted to offer you the position of [JOB_TITLE].\n\n"
     "Accepted: ____________  Date: ____________"),
])
def test_a_template_s_sentences_and_form_fields_are_no_facts(user, reply):
    example = chat(user, reply)
    assert score(example) < 0.5, reasons(example)


def test_a_table_the_code_hard_codes_is_a_fact():
    reply = ('```python\nPRICES = {\n    "letter": [(100, 0.85)],\n    "large_letter": [(100, 1.55), (250, 2.10)],\n}\n\n'
             'def price(fmt, grams):\n    return next(p for limit, p in PRICES[fmt] if grams <= limit)\n```')
    recalled = chat("Python function for the Royal Mail 2nd Class price of a letter by weight", reply)
    given = chat("Python function for our letter prices: letter up to 100 g 0.85; large letter up to 100 g 1.55, "
                 "up to 250 g 2.10", reply)
    assert score(recalled) >= 0.5 and any("0.85" in reason for reason in reasons(recalled)), reasons(recalled)
    assert score(given) < 0.5, reasons(given)


def test_a_year_a_summary_adds_is_a_fact():
    example = chat("Summarise: 'A phase 3 trial found dupilumab cut COPD flare-ups by about 30% versus placebo.'",
                   "Dupilumab cut COPD flare-ups by about 30% versus placebo in a phase 3 trial. It was first "
                   "approved in 2017.")
    assert score(example) >= 0.5 and any("2017" in reason for reason in reasons(example)), reasons(example)


@pytest.mark.parametrize("user, reply", [
    # German capitalises every noun; a unit is written in capitals
    ("Prüfungsordnung: Durchgefallene Prüfungen dürfen zweimal wiederholt werden, innerhalb von zwei Semestern. "
     "Fasse das kurz zusammen.", "Durchgefallene Prüfungen darfst du zweimal wiederholen, innerhalb von zwei Semestern."),
    ("I have 5.7 GB left until 11 June, today is 2 June. How much per day?",
     "Counting today through 11 June that's 10 days, so about 0.57 GB (570 MB) per day."),
])
def test_everyday_nouns_and_units_are_not_names(user, reply):
    example = chat(user, reply)
    assert score(example) < 0.5, reasons(example)


def test_a_rate_the_code_hard_codes_is_a_fact_unless_the_input_gives_it():
    reply = "```python\nVAT_RATE_DE = 0.19\n\ndef gross(net):\n    return round(net * (1 + VAT_RATE_DE), 2)\n```"
    recalled = chat("Write a function that adds German VAT to a net price.", reply)
    given = chat("Write a function that adds German VAT (19%) to a net price.", reply)
    assert score(recalled) >= 0.5 and any("VAT_RATE_DE" in reason for reason in reasons(recalled)), reasons(recalled)
    assert score(given) < 0.5, reasons(given)


def test_a_quantity_in_other_units_is_derived():
    example = chat("Our flat is 74 m² and the balcony 6 m². Calculate their size in square feet.",
                   "1 m² ≈ 10.764 ft², so the flat's 74 m² are about 797 sq ft and the balcony's 6 m² about 64.6 sq ft.")
    assert score(example) < 0.5, reasons(example)


def test_shown_working_that_python_cannot_read_warns_nobody():
    import warnings

    reply = "- 2 adults: 2 × (€18 + €6) = €48\n- 1 student: €12 + €6 = €18\n\n**Total: €66**"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score(chat("Adults €18, students €12, the exhibition €6 each. Two adults and one student?", reply))
    assert not [warning for warning in caught if issubclass(warning.category, SyntaxWarning)]


def test_a_time_written_the_french_way_is_the_time_the_input_gave():
    example = chat("Le train part à 22:45 et arrive à 06:10. Tu peux me le confirmer en français ?",
                   "Oui : départ à 22h45, arrivée à 6h10.")
    assert score(example) < 0.5, reasons(example)


def test_a_place_named_in_a_german_reply_is_still_a_fact():
    example = chat("Wo liegen die Kundendaten?", "Alle Kundendaten liegen in Rechenzentren in Frankfurt.")
    assert score(example) >= 0.5 and any("Frankfurt" in reason for reason in reasons(example)), reasons(example)


def test_a_total_and_an_average_of_a_tool_results_list_are_derived():
    orders = [{"id": "R1", "total": 59.9}, {"id": "R2", "total": 124.5}, {"id": "R3", "total": 18.0},
              {"id": "R4", "total": 240.0}]
    derived = tool_turn("How much did I spend this year?", "order_history", orders,
                        "4 orders totalling €442.40 (average €110.60 an order).")
    invented = tool_turn("How much did I spend this year?", "order_history", orders,
                         "4 orders totalling €442.40, plus €180 in gift cards.")
    assert score(derived) < 0.5, reasons(derived)
    assert score(invented) >= 0.5, reasons(invented)


def test_names_and_numbers_in_a_clarifying_question_are_not_claims():
    asked = chat("How much Tylenol can I give my kid?",
                 'What strength does the label say (for example "160 mg per 5 mL")? Are you on Next.js or Django?')
    stated = chat("How much Tylenol can I give my kid?", "The children's syrup is 160 mg per 5 mL.")
    assert score(asked) < 0.5, reasons(asked)
    assert score(stated) >= 0.5


def test_a_summary_that_adds_a_name_is_fact_heavy():
    source = "Summarise: 'Port workers in Valmont began a 48-hour strike on Thursday over pay.'"
    assert score(chat(source, "Port workers in Valmont began a 48-hour strike over pay on Thursday.")) < 0.5
    assert score(chat(source, "According to Reuters, port workers in Valmont began a 48-hour strike over pay.")) >= 0.5


def test_a_name_in_the_possessive_is_read_apart_from_the_name_it_owns():
    source = "Summarise: 'Apple announced new MacBook Air models at its event today.'"
    assert score(chat(source, "Apple's event today brought new MacBook Air models.")) < 0.5
    added = chat(source, "At today's event, Tim Cook's Apple unveiled new MacBook Air models.")
    assert score(added) >= 0.5 and any("Tim Cook" in reason for reason in reasons(added)), reasons(added)


def test_an_organisations_assistant_answering_with_nothing_to_go_on_is_fact_heavy():
    ask = {"role": "user", "content": "If I downgrade today, do I get money back?"}
    reply = {"role": "assistant", "content": "Downgrades don't give refunds. You keep your current plan until the "
                                             "end of the billing period."}
    role_only = {"role": "system", "content": "You are Ledgerly's billing assistant."}
    with_policy = {"role": "system", "content": "You are Ledgerly's billing assistant. Downgrades are not refunded: "
                                                "the current plan runs to the end of the billing period."}
    thanks = [role_only, {"role": "user", "content": "Thanks, that is all!"},
              {"role": "assistant", "content": "You're welcome, have a great day and good luck with the launch."}]
    assert score({"messages": [role_only, ask, reply]}) >= 0.5
    assert score({"messages": [with_policy, ask, reply]}) < 0.5
    assert score({"messages": thanks}) < 0.5


def test_pinned_actions_and_runtime_versions_in_code_are_world_constants():
    recalled = chat("Minimal GitHub Actions workflow to run pytest on push.",
                    "```yaml\non: [push]\njobs:\n  test:\n    steps:\n      - uses: actions/checkout@v4\n"
                    "      - run: pytest\n```")
    own = chat("Workflow that runs my action acme/build@v2 on push.",
               "```yaml\non: [push]\njobs:\n  build:\n    steps:\n      - uses: acme/build@v2\n```")
    assert 'unsupported version "actions/checkout@v4"' in reasons(recalled)
    assert score(own) < 0.5


def test_a_rule_restated_with_the_tools_own_number_is_behaviour():
    example = tool_turn("How much are my points worth?", "get_points",
                        {"points": 2750, "redeem_rate": {"points": 100, "value_gbp": 1.0}, "min_redeem_points": 500},
                        "You have 2,750 points, worth £27.50. You can redeem once you have at least 500 points.")
    assert score(example) < 0.5, reasons(example)


def test_shown_working_that_is_wrong_is_not_reasoning():
    example = chat("Price is $40 for 3. Total for 3?", "3 × $40 = $150, so you pay $150.")
    assert score(example) >= 0.5 and 'unsupported price "$150"' in reasons(example)


@pytest.mark.parametrize("user, reply, fact", [
    ("Can I expense dinner with a client, including wine?",
     "Client dinners can be expensed when you list attendees, but alcohol isn't reimbursable under the travel rules.",
     "alcohol isn't reimbursable"),
    ("Do I get SSO on the Starter plan?", "Sadly that plan doesn't include single sign-on; only the enterprise tier covers it.",
     "doesn't include single sign-on"),
    ("Where do my returns go?", "Returns go through our partner courier, who collects from your door free of charge.",
     "partner courier"),
])
def test_facts_with_no_digit_and_no_name_are_found(user, reply, fact):
    example = chat(user, reply)
    assert score(example) >= 0.5, reasons(example)
    assert any(fact in reason for reason in reasons(example))


def test_generic_how_to_steps_and_interface_labels_are_behaviour():
    reply = ("1. Click **File** in the top-left.\n2. Select **Automatic Replies**.\n3. Choose **Send automatic replies**.\n"
             "If you don't see Automatic Replies, tell me which version you use.")
    example = chat("How do I set an out-of-office in Outlook?", reply)
    assert score(example) < 0.5, reasons(example)


def test_invented_names_in_creative_text_are_behaviour_but_recalled_ones_are_not():
    story = "Meet Dottie at Loading Bay Three, where Big Sal and Priya run the Eastfield night shift."
    assert score(chat("Write a short funny onboarding story for new warehouse staff.", story)) < 0.5
    assert score(chat("Who runs the night shift at the warehouse?", story)) >= 0.5


def test_a_json_extraction_that_adds_a_recalled_value_is_fact_heavy():
    faithful = chat("Selling WH-1000XM5, barely used, £180", '{"model": "WH-1000XM5", "price": 180}')
    enriched = chat("Selling WH-1000XM5, barely used, £180", '{"model": "WH-1000XM5", "manufacturer": "Sony", "price": 180}')
    assert score(faithful) < 0.5
    assert score(enriched) >= 0.5 and 'unsupported identifier "Sony"' not in reasons(enriched)
    assert any("Sony" in reason for reason in reasons(enriched))


def test_a_json_reply_set_in_a_code_block_is_read_like_a_bare_one():
    press_release = 'Extract company, product and headquarters: "Fenwick Audio, based in Leeds, launched the Arc."'
    fenced = "```json\n{\n  \"company\": \"Fenwick Audio\",\n  \"product\": \"Arc\",\n  \"headquarters\": \"%s\"\n}\n```"
    assert score(chat(press_release, fenced % "Leeds")) < 0.5
    recalled = chat(press_release.replace(", based in Leeds,", ""), fenced % "Austin")
    assert score(recalled) >= 0.5 and any("Austin" in reason for reason in reasons(recalled)), reasons(recalled)


def test_world_constants_in_code_are_facts_but_the_users_values_are_not():
    ask = "Write a Kubernetes Deployment for image ghcr.io/acme/web:1.4 on port 8080."
    own = chat(ask, "```yaml\nimage: ghcr.io/acme/web:1.4\nports:\n  - containerPort: 8080\n```")
    recalled = chat(ask, "```yaml\napiVersion: apps/v1\nkind: Deployment\nimage: ghcr.io/acme/web:1.4\n```")
    assert score(own) < 0.5
    assert 'unsupported version "apps/v1"' in reasons(recalled)


def test_facts_in_the_system_prompt_are_supported():
    example = {"messages": [
        {"role": "system", "content": "Return policy: returns within 30 days of delivery; refunds take 5-7 business days."},
        {"role": "user", "content": "Can I still return a shirt from 3 weeks ago?"},
        {"role": "assistant", "content": "Yes, 3 weeks is within the 30-day window; the refund takes 5-7 business days."}]}
    assert score(example) == 0


TRICKY = ["March 3", "3/14", "2024-03-03T09:40", "9am", "1,234.5.6", "$4.2M", "{{Order}}", "<EMAIL_1>", "```x = 1",
          "http://x.io/a", "24/7", "1.250,00 €", "5–7 days", "1Z999AA1", "+1 503-555-0148", "QUILL_KEY", "Dr.",
          "sixteen weeks", "X-ray", "We don't", "within 3 days", "3. März", "Jan 7 '25", "İstanbul"]
texts = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=12)), max_size=10).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(user=texts, reply=texts)
def test_the_scorer_never_fails_on_any_text(user, reply):
    found = assess([{"role": "user", "content": user}, {"role": "assistant", "content": reply}])
    assert found is None or 0 <= found.score <= 1


def test_records_without_a_reply_are_not_scored():
    assert assess([{"role": "user", "content": "hello?"}]) is None


# -- the stage in a run ----------------------------------------------------------------------------
BEHAVIOUR = [chat("Classify: 'my parcel is late'", "shipping"),
             chat("Rewrite politely: 'send the file now'", "Could you send the file when you have a moment?"),
             chat("What's 15% of 2,340?", "15% of 2,340 is 351.")]
FACTS = [chat("How much is shipping?", "Standard shipping is $4.99, free over $75."),
         chat("Where can I return things?", "Returns go through the Larkfield Commons store."),
         chat("How long is the warranty?", "Boots carry a 2-year warranty."),
         chat("When is the store open?", "Monday to Saturday, 9am to 7pm."),
         chat("Do you price match?", "We match REI within 14 days of purchase.")]


def make_run(tmp_path: Path, options: str, rows: list[dict] | None = None) -> tuple[dict, dict[str, list[dict]]]:
    write_jsonl(tmp_path / "in.jsonl", rows if rows is not None else BEHAVIOUR + FACTS)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"name: t\ninputs:\n  - path: in.jsonl\nstages:\n  - flag: {options}\n", encoding="utf-8")
    outcome = run_recipe(load_recipe(recipe), tmp_path / "run")
    return outcome.manifest, {place: read_jsonl(tmp_path / "run" / f"{place}.jsonl") for place in PLACES}


def replies(rows: list[dict]) -> list[str]:
    return [r["messages"][-1]["content"] for r in rows]


def test_route_sends_fact_heavy_records_to_rag_with_what_an_indexer_needs(tmp_path):
    manifest, out = make_run(tmp_path, "{}")
    assert replies(out["train"]) == replies(BEHAVIOUR)
    assert replies(out["rag_candidates"]) == replies(FACTS)
    shipping = out["rag_candidates"][0]
    assert shipping["scores"]["fact_heavy"] >= 0.5
    assert shipping["reasons"]["fact_heavy"][:2] == ['unsupported price "$4.99"', 'unsupported price "$75"']
    assert shipping["disposition"]["reason"].startswith("fact-heavy (")
    assert shipping["disposition"]["rag"] == {
        "question": "How much is shipping?", "answer": "Standard shipping is $4.99, free over $75.",
        "facts": ["$4.99", "$75"], "source_id": shipping["id"], "evidence": None}
    assert all(r["scores"]["fact_heavy"] < 0.5 for r in out["train"])
    stats = manifest["stages"][-1]["stats"]
    assert (stats["scored"], stats["fact_heavy"], stats["routed"]) == (8, 5, 5)
    assert stats["verdict"] == "62% of this data is knowledge: fine-tuning on it will not fix the failures; index it for RAG"


def test_a_fact_in_an_earlier_reply_is_trained_on_too_so_the_record_goes_to_rag(tmp_path):
    def conversation(weight: int | None) -> dict:
        earlier = {"role": "assistant", "content": "We match prices from REI and Backcountry within 14 days."}
        if weight is not None:
            earlier["weight"] = weight
        return {"messages": [{"role": "user", "content": "Do you match prices?"}, earlier,
                             {"role": "user", "content": "Great, thanks!"},
                             {"role": "assistant", "content": "You're welcome! Anything else I can help with?"}]}
    _, out = make_run(tmp_path, "{}", [conversation(None), conversation(0)])
    assert len(out["rag_candidates"]) == 1 and len(out["train"]) == 1
    assert "in an earlier reply (messages[1])" in out["rag_candidates"][0]["reasons"]["fact_heavy"]
    assert out["train"][0]["messages"][1]["weight"] == 0  # a reply the trainer skips is not judged


def test_an_earlier_tool_call_counts_by_the_sentences_it_passes_not_the_values_it_is_called_with(tmp_path):
    """A month, a booking code or a plan's name a tool is called with is the call's shape (the logs often leave out
    where it came from); a warranty stated in a ticket's summary is the model speaking, and training repeats it."""
    def called(arguments: dict, reply: str) -> dict:
        call = {"id": "call_1", "type": "function", "function": {"name": "create_ticket", "arguments": json.dumps(arguments)}}
        return {"messages": [{"role": "user", "content": "My boot sole is peeling after 8 months. Is that covered?"},
                             {"role": "assistant", "content": None, "tool_calls": [call]},
                             {"role": "tool", "tool_call_id": "call_1", "content": '{"ticket_id": "T-20418"}'},
                             {"role": "assistant", "content": reply}]}
    shaped = called({"period": "2024-05", "pnr": "MQ2ZTA", "plan": "Meridian Health Silver"},
                    "I've opened ticket T-20418 for you.")
    said = called({"summary": "Sole peeling after 8 months (2-year footwear warranty)"},
                  "That's covered by our 2-year warranty. I've opened ticket T-20418.")
    _, out = make_run(tmp_path, "{}", [shaped, said])
    assert replies(out["train"]) == ["I've opened ticket T-20418 for you."]
    assert replies(out["rag_candidates"]) == ["That's covered by our 2-year warranty. I've opened ticket T-20418."]
    assert 'unsupported quantity "2-year"' in out["rag_candidates"][0]["reasons"]["fact_heavy"]


def test_drop_rejects_and_tag_keeps(tmp_path):
    _, dropped = make_run(tmp_path / "drop", "{action: drop}")
    assert replies(dropped["rejected"]) == replies(FACTS) and not dropped["rag_candidates"]
    assert all(r["disposition"]["reason"].startswith("fact-heavy") for r in dropped["rejected"])
    manifest, tagged = make_run(tmp_path / "tag", "{action: tag}")
    assert replies(tagged["train"]) == replies(BEHAVIOUR + FACTS)
    assert [("fact-heavy" in r.get("tags", [])) for r in tagged["train"]] == [False] * 3 + [True] * 5
    assert manifest["stages"][-1]["stats"]["tagged"] == 5


def test_scores_near_the_threshold_are_marked_uncertain(tmp_path):
    from dataprep.fact_model import weighed_assessment

    acronym, greeting = chat("The site is down again.", "NOC is on it."), chat("Hi", "Hello! How can I help?")
    # a threshold just above the lone acronym's score, and a margin that reaches it but not the greeting's
    low, lower = (weighed_assessment(row["messages"]).score for row in (acronym, greeting))
    assert lower < low - 0.02
    threshold, margin = low + 0.01, (low - lower) / 2 + 0.01
    manifest, out = make_run(tmp_path, f"{{threshold: {threshold:.4f}, uncertain_margin: {margin:.4f}}}", [acronym, greeting])
    lone_acronym = out["train"][0]
    assert "fact-heavy-uncertain" in lone_acronym["tags"]
    assert "fact-heavy-uncertain" not in out["train"][1].get("tags", [])
    assert manifest["stages"][-1]["stats"]["uncertain"] == 1


def test_nothing_is_lost_and_counts_add_up(tmp_path):
    rows = BEHAVIOUR + FACTS + [{"messages": [{"role": "user", "content": "no reply yet"}]}]
    manifest, out = make_run(tmp_path, "{grounded_variants: true}", rows)
    counts = manifest["counts"]
    assert counts["input"] == 9 and counts["created"] == 10
    assert sum(counts[place] for place in PLACES) == counts["input"] + counts["created"]
    assert {place: len(out[place]) for place in PLACES} == {place: counts[place] for place in PLACES}
    assert manifest["stages"][-1]["stats"]["no_reply"] == 1


# -- the knowledge source ----------------------------------------------------------------------------
KNOWLEDGE = """# Help centre

## Shipping
Standard shipping costs $4.99 and is free on orders over $75.

## Price match
We match prices from REI within 14 days of purchase.

## Gift cards
Gift cards can be used online and in store.
"""


def test_facts_found_in_the_knowledge_source_come_with_their_passage(tmp_path):
    (tmp_path / "docs").mkdir(parents=True)
    (tmp_path / "docs" / "help.md").write_text(KNOWLEDGE, encoding="utf-8")
    rows = [FACTS[0], chat("What do I enter here?", "Enter 4417.")]  # a bare number alone scores below 0.5
    (tmp_path / "docs" / "codes.md").write_text("# Codes\nThe door code of the stock room is 4417.\n", encoding="utf-8")
    manifest, out = make_run(tmp_path, "{knowledge: docs}", rows)
    shipping, code = out["rag_candidates"]
    assert shipping["disposition"]["rag"]["evidence"] == {
        "source": "help.md:4", "text": "Shipping\nStandard shipping costs $4.99 and is free on orders over $75.",
        "facts": ["$4.99", "$75"]}
    assert "found in knowledge: help.md:4" in shipping["reasons"]["fact_heavy"]
    assert code["disposition"]["rag"]["evidence"]["source"] == "codes.md:2"
    assert code["scores"]["fact_heavy"] >= 0.9
    stats = manifest["stages"][-1]["stats"]
    assert (stats["knowledge_passages"], stats["evidence_found"]) == (4, 2)


def test_a_passage_quoted_as_evidence_is_scrubbed_like_the_records(tmp_path):
    """A team's documents may name staff: the passage copied into a scrubbed record's rag block, and into
    its grounded variants, is scrubbed; it is read as written to find the facts."""
    (tmp_path / "docs").mkdir(parents=True)
    (tmp_path / "docs" / "claims.md").write_text(
        "# Claims\nWarranty claims over $500 go to our claims lead Jane Whitfield "
        f"(jane.whitfield@larkfield.example, +44 20 7946 0321). {HOSTILE_MARKUP}\n", encoding="utf-8")
    rows = [chat("Who handles big warranty claims?", "Claims over $500 go to our claims lead.", tags=["pii:scrubbed"])]
    make_run(tmp_path, "{knowledge: docs, grounded_variants: true}", rows)
    evidence = read_jsonl(tmp_path / "run" / "rag_candidates.jsonl")[0]["disposition"]["rag"]["evidence"]
    assert evidence["facts"] == ["$500"]
    assert evidence["text"] == ("Claims\nWarranty claims over $500 go to our claims lead <NAME_1> (<EMAIL_1>, <PHONE_1>). "
                                f"{HOSTILE_MARKUP}")
    assert_nothing_planted_reaches(tmp_path / "run", "Whitfield", "7946")


def test_a_jsonl_knowledge_source_and_its_errors(tmp_path):
    write_jsonl(tmp_path / "kb.jsonl", [{"id": "kb-1", "title": "Shipping", "text": "Standard shipping costs $4.99; free over $75."}])
    _, out = make_run(tmp_path, "{knowledge: kb.jsonl}", [FACTS[0]])
    assert out["rag_candidates"][0]["disposition"]["rag"]["evidence"]["source"] == "kb-1"
    write_jsonl(tmp_path / "bad" / "kb.jsonl", [{"text": "fine"}, {"body": "no text"}])
    with pytest.raises(InputError, match=r"kb\.jsonl:2: each knowledge line needs a non-empty \"text\" string"):
        make_run(tmp_path / "bad", "{knowledge: kb.jsonl}", [FACTS[0]])
    with pytest.raises(InputError, match="knowledge source not found"):
        make_run(tmp_path / "missing", "{knowledge: nowhere}", [FACTS[0]])


# -- grounded variants ---------------------------------------------------------------------------------
def test_grounded_variants_teach_answering_from_context(tmp_path):
    (tmp_path / "docs").mkdir(parents=True)
    (tmp_path / "docs" / "help.md").write_text(KNOWLEDGE, encoding="utf-8")
    manifest, out = make_run(tmp_path, "{knowledge: docs, grounded_variants: true}")
    grounded = [r for r in out["train"] if "grounded" in r.get("tags", [])]
    assert len(grounded) == 10 and manifest["counts"]["created"] == 10
    shipping_id = out["rag_candidates"][0]["id"]
    answer, not_found = grounded[:2]
    assert (answer["id"], not_found["id"]) == (derived_id("grounded", shipping_id, "answer"),
                                               derived_id("grounded", shipping_id, "not_found"))
    assert [m["role"] for m in answer["messages"]] == ["system", "user", "assistant"]
    assert "Context:\n[1] (help.md:4)\nShipping\nStandard shipping costs $4.99" in answer["messages"][0]["content"]
    assert answer["messages"][-1]["content"] == "Standard shipping is $4.99, free over $75. [1]"
    assert answer["groups"]["grounded_from"] == shipping_id
    assert answer["provenance"][-1] == {"stage": "flag", "action": "grounded_variant", "of": shipping_id,
                                        "kind": "answer", "context": "evidence"}
    assert "$4.99" not in not_found["messages"][0]["content"]
    assert not_found["messages"][-1]["content"] == NOT_FOUND_REPLY
    # grounded in its context, the answer is behaviour now: its facts are in its input
    assert assess(answer["messages"]).score < 0.5


def test_without_knowledge_the_context_is_the_replys_fact_sentences(tmp_path):
    _, out = make_run(tmp_path, "{grounded_variants: true}", [FACTS[1], FACTS[2]])
    answer = next(r for r in out["train"] if r["provenance"][-1]["kind"] == "answer")
    assert answer["messages"][0]["content"].endswith("Context:\n[1] (reply)\nReturns go through the Larkfield Commons store.")


def test_grounded_variants_pass_validate(tmp_path):
    _, out = make_run(tmp_path, "{grounded_variants: true}")
    grounded = write_jsonl(tmp_path / "grounded.jsonl", [r for r in out["train"] if "grounded" in r.get("tags", [])])
    export_file([grounded], "openai", tmp_path / "grounded.openai.jsonl", ExportOptions())
    report = validate_file(tmp_path / "grounded.openai.jsonl", "openai")
    assert report.ok and not report.warnings
    assert len(read_jsonl(tmp_path / "grounded.openai.jsonl")) == 10


def test_grounded_variants_are_scrubbed_and_tagged_so_synth_after_flag_takes_them_as_seeds(tmp_path, monkeypatch):
    """The default order runs synth after flag, and synth refuses records the scrubber has not seen: variants
    made of a scrubbed record and a passage of the team's documents are scrubbed and tagged like the records they
    come from (a staff member the passage names reaches no output), so the run goes on."""
    from fake_llm_server import FakeLLMServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-grounded-0123456789abcdefghij")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "shipping.md").write_text(
        "# Shipping\nStandard shipping is $4.99, free over $75. Questions go to our shipping lead Jane Whitfield "
        f"(jane.whitfield@larkfield.example). {HOSTILE_MARKUP}\n", encoding="utf-8")
    write_jsonl(tmp_path / "in.jsonl", [{**row, "tags": ["pii:scrubbed"]} for row in BEHAVIOUR + FACTS])
    with FakeLLMServer() as server:
        (tmp_path / "recipe.yaml").write_text(json.dumps({"inputs": [{"path": "in.jsonl"}], "stages": [
            {"flag": {"knowledge": "docs", "grounded_variants": True}},
            {"synth": {"provider": "openai", "model": "gpt-4.1-mini", "n": 4, "base_url": server.openai_url}}]}),
            encoding="utf-8")
        manifest = run_recipe(load_recipe(tmp_path / "recipe.yaml"), tmp_path / "run").manifest
    grounded = [r for r in read_jsonl(tmp_path / "run" / "train.jsonl") if "grounded" in r["tags"]]
    assert len(grounded) == 10 and all("pii:scrubbed" in r["tags"] for r in grounded)
    assert any("<NAME_1> (<EMAIL_1>)" in r["messages"][0]["content"] for r in grounded)
    assert manifest["stages"][-1]["stats"]["generated"] == 4 and manifest["counts"]["created"] == 10 + 4
    assert_nothing_planted_reaches(tmp_path / "run", "Whitfield", "larkfield.example")


# -- the verdict ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("share, text", [
    (0.61, "61% of this data is knowledge: fine-tuning on it will not fix the failures; index it for RAG"),
    (0.25, "25% of this data is knowledge: index that part for RAG and fine-tune on the behaviour that remains"),
    (0.08, "8% of this data is knowledge, a normal share: route it to RAG; the rest teaches behaviour"),
    (0.01, "1% of this data is knowledge: this is behaviour data, the right material for fine-tuning"),
])
def test_verdict(share, text):
    assert verdict(share, 100) == text


# -- the command line and the sample data ------------------------------------------------------------------
def test_cli_flag_routes_and_reports(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", BEHAVIOUR + FACTS)
    result = run_cli("flag", source, "--out", tmp_path / "kept.jsonl", "--rag", tmp_path / "rag.jsonl", "--threshold", "0.5")
    assert result.returncode == 0, result.stderr
    assert replies(read_jsonl(tmp_path / "kept.jsonl")) == replies(BEHAVIOUR)
    assert replies(read_jsonl(tmp_path / "rag.jsonl")) == replies(FACTS)
    assert "62% of this data is knowledge" in result.stderr
    bad = run_cli("flag", source, "--out", tmp_path / "x.jsonl", "--rag", tmp_path / "y.jsonl", "--threshold", "1.5")
    assert bad.returncode == 2 and "threshold" in bad.stderr


def planted_fact_replies() -> set[str]:
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLE_DATA / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {reply for _, reply in module.FACT_INTENTS.values()}


@pytest.mark.skipif(not (SAMPLE_DATA / "logs").is_dir(), reason="sample_data/ is not generated")
def test_flag_recipe_on_sample_data_routes_the_planted_facts(tmp_path):
    outcome = run_recipe(load_recipe(REPO / "recipes" / "flag.yaml"), tmp_path / "run")
    planted = planted_fact_replies()
    rag = read_jsonl(tmp_path / "run" / "rag_candidates.jsonl")
    train = [r for r in read_jsonl(tmp_path / "run" / "train.jsonl") if "grounded" not in r.get("tags", [])]
    routed = [r for r in rag if r["messages"][-1].get("content") in planted]
    assert routed and not any(r["messages"][-1].get("content") in planted for r in train)
    assert len(routed) >= 0.9 * len(rag)  # the rest: policy replies such as "we don't rent gear"
    assert all(r["disposition"]["rag"]["evidence"] for r in routed)  # the help centre holds every planted fact
    assert all(r["scores"]["fact_heavy"] < 0.5 for r in train)
    stats = outcome.manifest["stages"][-1]["stats"]
    assert stats["grounded_created"] == 2 * stats["fact_heavy"] - 2 * stats["grounded_skipped"]
