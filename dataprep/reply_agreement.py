"""Whether two replies to the same input give the same answer or disagree.

Production logs hold many sampled wordings of one answer, so wording is no evidence of a
labeling conflict; what a reply asserts is. Two replies disagree when:

- they call different tools, or the same tools with different arguments (compared as
  canonical JSON, placeholders and case normalized);
- one refuses while the other helps;
- their decisions have opposite polarity: an opening "Yes" / "No" (to a yes-or-no question
  without one, its sentences on the question's words, negated or not: "PayPal isn't one of
  our options" / "PayPal works at checkout"; restricted, to "can I ...?": "tips can only be
  added at checkout"), approved / denied, eligible / not eligible, or
  a word of the user's question affirmed in one and negated in the other ("you can return
  it" / "it can't be returned"; in a long user turn, an email or pasted passages, its questions
  are what it asks);
- one states a specific fact that neither the other reply nor its own input holds, while the
  other states a fact the first does not: an amount, date, time, number or identifier, read
  with the fact-heavy scorer's patterns in any common format (``$30`` = ``30.00 USD``,
  ``May 4`` = ``4 May``, ``thirty days`` = ``30 days``) and compared exactly (the scorer's
  own lookup is lenient: "may" and a "4" anywhere hold May 4). A fact only one of them states
  is detail, not dispute; two replies each relaying its own input ("8 days late", "4 days
  late") are no dispute either;
- each states another length of one kind of duration ("2 days" / "2 weeks" notice; "instantly" /
  "within 1 business day", "the same day" / "the next business day"; "1 día hábil" in five languages);
- each counts one thing in numbers the other does not ("2 nights" / "3 nights"), or writes another
  short code ("seat 14A" / "seat 14C");
- each names, not denied in its clause, another option for one slot of the answer
  (``ALTERNATIVES``: the way to do it, who handles it, free or paid, a billing period, where a
  refund goes, a colour, a tier, where an order, a claim or a payment stands), one of them not
  from its input or both from a question that offers them ("monthly or yearly?");
- each names another plan, tier, team or office, by names that share no word;
- over the same tool result, worded alike around it, one names what the tool returned where
  the other names something it did not ("the Eastside Clinic" / "the Westside Clinic");
- over the same tool result, one says where things stand otherwise than the result does ("hasn't
  shipped yet" over ``"status": "shipped"``, "still on hold" over ``"released"``), a
  yes-or-no field of it the other way ("can't be appealed" over ``"appeal_allowed": true``; a
  state to come, "we'll assign a courier", says neither), or one field's amount as another's
  ("$18.40 in total" over ``"fare": 18.4, "total": 21.4``), and the other does not.

Leads, negations, costs and states are read in German, French, Spanish and Portuguese too.

Replies that agree on all of these are one answer however they are worded, unless the dedup stage's
answer model (``answer_model.py``) reads them apart; and two replies read as deciding a question both
ways are two answers unless it reads them as one.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property, lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any, Iterable, Iterator, Mapping, NamedTuple

import orjson

from .facts import (COUNT_WORDS, MONTH_NUMBER, MONTHS, NUMBER, NUMBER_WORD_UNIT, NUMBER_WORDS, compact, date_keys,
                    date_year, document_values, minutes_of, number_key, number_values, numeric_matches, singular,
                    word_alternation)
from .minhash import normalize
from .pii import PLACEHOLDER
from .record import message_text, readable_text

WORD = re.compile(r"\w+")
LETTERS = re.compile(r"[^\W\d_]+")  # "general_waste": "general", "waste"
REFUSAL = re.compile(
    r"\b(?:can(?:no|['’])t|can\s+not|won['’]t|will\s+not|unable\s+to|not\s+able\s+to|must\s+decline\s+to|"
    r"not\s+(?:allowed|permitted)\s+to)\s+(?:help|assist|provide|share|comply|answer|discuss|give|do\s+that)\b"
    r"|\b(?:not\s+something|nothing)\s+(?:i|we)\s+(?:can|could|am\s+able\s+to)\s+(?:help|assist)"
    r"|\bas\s+an\s+ai\b|\bagainst\s+(?:my|our)\s+(?:policy|policies|guidelines)\b", re.I)
#: a decision stated up front: "Yes, ...", "No, ..." ("no fee" is no answer), in the languages logs
#: most often hold besides English ("Ja, ...", "Não, ..."); sympathy says no only
#: when its sentence denies something ("Unfortunately yes", "Sorry, it's late" say yes); good news
#: says yes, but to a question about a charge when its sentence says there is none
LEAD = re.compile(r"^\W*(?:(?:(?:the\s+)?short\s+answer(?:\s+is)?|in\s+short)\W*)?"  # "Short answer: no."
                  r"(?:(?P<yes>yes|yeah|yep|sure|absolutely|certainly|of course|ja|sí|oui|sim|claro)\b"
                  r"|(?P<news>good news)\b"
                  r"|(?P<no>(?:no|nope|nein|non|não)\s*[,.!;:—–-]|(?<=answer:\s)no\b)"
                  # "Sorry your food was cold" is sorry for the trouble, not the answer
                  r"|(?P<sympathy>unfortunately|(?:i['’]m |i am |we['’]re )?(?:sorry(?!\s+(?:your|that|the)\s)|afraid)"
                  r"|leider|lamentablemente|desafortunadamente|malheureusement|infelizmente|purtroppo|helaas)\b"
                  r"(?![\s-]+(?:problem|worries|to hear|for the|about|for any)))", re.I)
_NEGATED = (r"(?:(?:is|are|was|were|be|been|do|does|did)\s+not"
            r"|(?:is|are|was|were|do|does|did|could|would|ca|wo)n['’]t|cannot|not|never|no\s+longer)"
            r"(?:\s+be(?:en)?)?\s+")
#: a state reached, said outright ("has been issued", "was delivered") or bare ("a refund issued on
#: May 4"), not one to come ("will be issued", "once it is delivered")
_DONE = (r"(?:(?:has|have|had|was|were|is|are)\s+(?:already\s+|now\s+)?(?:been\s+)?"
         r"|(?<!\bbe\s)(?<!\bis\s)(?<!\bare\s)(?<!\bonce\s)(?<!\bwhen\s)(?<!\buntil\s)(?<!\bget\s)(?<!['’]s\s))")
_STILL = r"(?:is|are|remains?|stays?)\s+(?:still\s+)?|still\s+"
_NOT_YET = r"(?:not\s+(?:yet\s+)?(?:been\s+)?|(?:has|have)n['’]t\s+(?:yet\s+)?(?:been\s+)?)"
#: decisions by subject: (words saying yes, words saying no); "not" before a yes word says no.
#: Where a case, a payment or a parcel stands is a decision too: "resolved" / "still open",
#: "already paid out" / "still pending", "delivered" / "in transit" (a reply saying both settles nothing)
DECISIONS = {
    "approval": (r"approved?|accepted|granted", r"denied|deny|declined|rejected"),
    "eligibility": (r"eligible|qualif(?:y|ies)|covered|refundable|returnable",
                    r"ineligible|non-?refundable|non-?returnable"),
    # where a case or a hold stands: "resolved", "released" / "still open", "still on hold"
    "case": (rf"{_DONE}(?:resolved|closed|completed|released)",
             rf"(?:{_STILL})(?:open|in\s+progress|on\s+hold|held|unresolved)|being\s+(?:handled|reviewed|worked\s+on)"
             rf"|{_NOT_YET}(?:resolved|closed|released)|(?:{_STILL})under\s+review"),
    "payment": (rf"{_DONE}(?:issued|refunded|paid(?:\s+out)?|processed|credited|cleared|settled)"
                r"|(?:payment|money|funds|refund|transfer)\s+(?:has|have|was|were)\s+(?:already\s+)?(?:been\s+)?sent"
                # posted to an account, not in the mail: "your payment posted", a result's "status": "posted"
                r"|(?:payment|charge|transaction|deposit|status\s+is)\s+(?:has\s+)?posted",
                rf"(?:{_STILL})(?:pending|queued|scheduled)"
                rf"|{_NOT_YET}(?:issued|sent|paid|processed|refunded|credited|cleared|gone\s+out)"),
    "delivery": (rf"{_DONE}delivered", rf"in\s+transit|out\s+for\s+delivery|{_NOT_YET}(?:delivered|arrived)"),
    # whether an order has left: "has shipped", "picked up" / "hasn't shipped yet", "still being prepared"
    "shipment": (rf"{_DONE}(?:shipped|dispatched|picked\s+up)",
                 rf"{_NOT_YET}(?:shipped|dispatched|picked\s+up)"
                 rf"|(?:{_STILL})being\s+(?:processed|prepared|packed)|(?:{_STILL})processing"
                 # a result's status: "printing", "backordered", "in production"
                 rf"|(?:{_STILL})(?:printing|in\s+production|backordered|packing|preparing)"),
    # whether a room, an order or a document is ready: "is ready" / "still being cleaned"
    "ready": (r"(?:is|are)\s+(?:now\s+|all\s+)?ready", rf"(?:{_STILL})being\s+cleaned|not\s+(?:yet\s+)?ready"),
    # whether an account, a plan, a service or a setting is live
    # ("still needs to be activated" is not active)
    "active": (r"(?<!to\sbe\s)(?:active|enabled|activated|turned\s+on|switched\s+on|operational)"
               r"|(?:running|working)\s+normally"
               r"|(?:is|are|remains?|still)\s+valid|in\s+good\s+standing",
               r"inactive|expired|lapsed|suspended|disabled|deactivated|turned\s+off|switched\s+off|locked|blocked"
               r"|(?:been\s+|is\s+|was\s+)cancell?ed|terminated"
               r"|degraded|past\s+due"
               r"|outage"),
    # whether there is room or stock ("available" alone says too little: "express isn't available")
    "availability": (r"in\s+stock|(?:seats?|rooms?|spots?|places?|tables?|slots?|units?)\s+(?:left|remain)",
                     r"sold\s+out|fully\s+booked|out\s+of\s+stock|no\s+(?:seats|rooms|availability)"),
    # whether something lost was found ("your lost bag" decides nothing)
    "found": (r"located|found|recovered", r"still\s+(?:searching|looking)|not\s+(?:yet\s+)?(?:been\s+)?found"),
}
DECISION_WORDS = {subject: tuple(re.compile(rf"\b(?:{words})\b", re.I) for words in pair)
                  for subject, pair in DECISIONS.items()}
OPPOSITE = {"yes": "no", "no": "yes"}
DECISION = re.compile("|".join(
    [rf"\b(?P<{subject}_no>{no}|{_NEGATED}(?:{yes}))\b" for subject, (yes, no) in DECISIONS.items()]
    + [rf"\b(?P<{subject}_yes>{yes})\b" for subject, (yes, _) in DECISIONS.items()]), re.I)
#: costing nothing: "free", "no fee", "no return fee", "at no cost" ("feel free to ask" and "toll-free"
#: cost nothing to say); an amount of zero, and the "free" option of the cost slot
_NO_COST = (r"free\s+of\s+charge|at\s+no\s+(?:extra\s+|additional\s+)?(?:cost|charge)|complimentary"
            r"|no\s+(?:[\w-]+\s+){0,2}(?:fees?|charges?|costs?)|(?<!feel\s)(?<![\w-])free(?![\s-]+(?:to|of|from|up|time)\b|-)"
            r"|gratuit[aeos]*|gratis|grátis|kostenlos|kostenfrei|gebührenfrei|sans\s+frais"
            r"|sin\s+(?:ningún\s+)?(?:coste|costo|cargo)"
            r"|sem\s+(?:custos?|taxas?)|senza\s+costi")
#: one slot of an answer, filled one way or another: two replies that each name, not negated, an
#: option of a slot the other does not name give different answers ("a grey Prius" / "a white
#: Prius", "Gold" / "Silver", "cancel it in the app" / "call us", "billed monthly" / "annually").
#: Options are kinds, not words: "in the app" and "on our website" are one way to do it.
ALTERNATIVES = {
    "colour": {"black": "black", "white": "white", "grey": "gr[ae]y", "silver": "silver", "red": "red",
               "blue": "blue", "green": "green", "yellow": "yellow", "brown": "brown", "beige": "beige"},
    "tier": {"bronze": "bronze", "silver": "silver", "gold": "gold", "platinum": "platinum", "diamond": "diamond"},
    "frequency": {"per second": r"(?:per|a|each|every)\s+second|/\s*s(?:ec)?",
                  "per minute": r"(?:per|a|each|every)\s+minute|/\s*min",
                  "hourly": r"hourly|(?:per|an|each|every)\s+hour|/\s*(?:hour|hr|h)",
                  "daily": "daily", "weekly": "weekly", "fortnightly": "bi-?weekly|fortnightly",
                  "monthly": r"monthly|(?:per|a|each|every)\s+month|/\s*(?:month|mo)", "quarterly": "quarterly",
                  "yearly": r"annual(?:ly)?|yearly|(?:per|a|each|every)\s+year|/\s*(?:year|yr)"},
    "channel": {
        "online": r"app|online|website|web\s+site|[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|io|internal|co|app)(?:/\S*)?"
                  r"|portal|self-service|account\s+settings|log\s*(?:in|into|on)\s+(?:to\s+)?(?:your|the)\s+account"
                  r"|espace\s+client|(?:dans|sur)\s+l['’]appli(?:cation)?|en\s+la\s+app|no\s+app|in\s+der\s+app",
        "email": r"e-?mail(?:ing)?\s+(?:us|our|the|support|them)|by\s+e-?mail|via\s+e-?mail|send\s+an\s+e-?mail",
        "phone": r"(?:call|calling|ring|phone)\s+(?:us|our|the|customer|support|them"
                 r"|(?:\w+\s+){0,2}(?:line|team|desk|department|services?|centre|center|office|number))"
                 r"|(?:by|on|over)\s+(?:the\s+)?phone|ext(?:ension)?\.?\s*\d+"
                 r"|(?<=<)phone(?:_\d+)?(?=>)|hotline|helpline|telephone"
                 r"|llám(?:anos|enos)|por\s+teléfono|par\s+téléphone|telefonisch",
        "in person": r"in\s+person|in[-\s]store|walk[-\s]ins?"
                     r"|(?:visit|go\s+to|come\s+(?:in\s+)?to|stop\s+by|bring\s+it\s+to)\s+(?:a|an|one\s+of\s+our|our|the"
                     r"|your\s+nearest|any)\s+(?:\w+\s+)?(?:store|shop|branch|office|counter|desk)s?"
                     r"|en\s+(?:boutique|agence|tienda|sucursal)|na\s+loja|in\s+der\s+filiale",
        "chat": r"live\s+chat|chat\s+with\s+(?:us|an?\s+agent|support)|whatsapp|(?:send\s+(?:us\s+)?an?|by|via)\s+sms"
                r"|text\s+(?:us|it\s+to)",
        "post": r"by\s+(?:post|mail)|postal|par\s+courrier|por\s+correo\s+postal",
        "video": r"video\s+(?:calls?|visits?|appointments?|consultations?)",
    },
    # where an order, a claim, a payment or a balance stands, beyond yes and no (see DECISIONS)
    "progress": {"preparing": r"(?:being\s+)?prepar(?:ing|ed)|being\s+packed|(?:se\s+está\s+)?preparando"
                              r"|en\s+(?:el\s+)?almacén|en\s+préparation|em\s+(?:preparação|separação)",
                 "on its way": r"shipped|dispatched|on\s+(?:its|the|their)\s+way|in\s+transit|out\s+for\s+delivery"
                               r"|picked\s+up|en\s+(?:camino|reparto|route)|a\s+caminho|unterwegs|versendet|verschickt",
                 "delivered": r"delivered|entregad[oa]|entregue|livrée?|zugestellt"},
    "status": {"pending": r"under\s+review|being\s+(?:reviewed|processed)|in\s+review|in\s+progress|pending"
                          r"|awaiting\s+(?:a\s+|your\s+)?(?:decision|review|payment|approval)"
                          r"|waiting\s+(?:for|on)\s+(?:\S+\s+){0,2}(?:approval|review|confirmation|decision)"
                          r"|pendiente|pendente|en\s+attente|ausstehend|em\s+análise|en\s+revisión|in\s+bearbeitung"
                          r"|en\s+(?:cours\s+de\s+)?traitement|en\s+proceso|em\s+processamento",
               "approved": r"approved|aprobad[oa]|aprovad[oa]|approuvée?|genehmigt|bewilligt|approvat[oa]",
               "rejected": r"rejected|denied|declined|failed|unsuccessful|rechazad[oa]|rejeitad[oa]|refusée?|abgelehnt"
                           r"|respint[oa]",
               "completed": r"completed|is\s+complete|succeeded|resolved|ausgeführt|abgeschlossen|erledigt|effectuée?"
                            r"|realizad[oa]|completad[oa]|concluíd[oa]",
               "paid": r"(?:been\s+|is\s+|was\s+)paid(?!\s+out)|payment\s+(?:was\s+|has\s+been\s+)?received"
                       r"|pagad[ao]|(?:está|foi)\s+paga|payée?|versée?|(?<=is\s)verse|bezahlt",
               "unpaid": r"unpaid|overdue|past\s+due|em\s+aberto|impagad[ao]|impayée?|unbezahlt",
               "cancelled": r"cancell?ed", "suspended": r"suspended",
               "banned": r"permanent(?:ly)?\s+ban(?:ned)?|banned\s+(?:permanently|for\s+good)",
               "delayed": r"delayed|running\s+late|verspätet|retardée?|en\s+retard|retrasad[oa]|atrasad[oa]"
                          r"|in\s+ritardo",
               "on time": r"on\s+time|on\s+schedule|pünktlich|à\s+l['’]heure|puntual|no\s+horário|in\s+orario",
               "ready": r"ready\s+(?:to\s+(?:collect|pick\s*up)|for\s+(?:collection|pick-?up))|listo\s+para\s+recoger"
                        r"|abholbereit|prêt\s+à\s+(?:être\s+)?retir(?:er|é)"},
    # whether an account, a card or a membership can be used
    "standing": {"frozen": r"on\s+(?:a\s+)?freeze|(?:is|are|was|been|remains?|stays?)\s+(?:still\s+|now\s+)?frozen",
                 "active": r"(?:is|are|remains?|stays?)\s+(?:still\s+|now\s+|currently\s+)?active"},
    # what kind of outage it is
    "outage": {"planned": r"(?:planned|scheduled)\s+(?:maintenance|(?:engineering\s+|network\s+)?works?|outage|power\s+cut"
                          r"|shutdown|interruption)",
               "unplanned": r"unplanned\s+\w+|unexpected\s+(?:fault|outage|power\s+cut|interruption)"
                            r"|emergency\s+(?:repair|work)s?"},
    # how a card or a letter is sent
    "sent by": {"post": r"standard\s+(?:post|mail)|first[\s-]class\s+(?:post|mail)", "courier": r"courier"},
    "balance": {"credit": r"in\s+credit|credit\s+balance|credit\s+of", "owed": r"you\s+owe|amount\s+due|balance\s+due"},
    "place": {"enrolled": r"(?:are|is|were|was|been|['’]re)\s+(?:now\s+|already\s+)?(?:enrolled|registered)",
              "waitlisted": r"(?:on|in)\s+(?:the|a)\s+wait(?:ing)?[\s-]?list|wait[\s-]?listed"},
    "cost": {"free": _NO_COST,
             "paid": r"(?:a|an|the)\s+(?:[\w$€£.,-]+\s+){0,2}(?:fee|surcharge)|costs?\s+(?:extra|more|(?:you\s+)?[$€£]?\d)"
                     r"|extra\s+(?:cost|charge|fee)|(?:is|are)\s+(?:paid|chargeable|billed|charged)"
                     r"|you(?:['’]ll|\s+will)?\s+(?:pay|be\s+(?:charged|billed))|(?:rates?|fees?|charges?)\s+appl(?:y|ies)"
                     r"|(?:des\s+)?frais\s+de|une\s+pénalité|(?:una\s+)?(?:penalización|comisión|tarifa)\s+de"
                     r"|eine\s+gebühr"
                     r"|(?:uma\s+)?(?:taxa|multa)\s+de|(?:custa|cuesta|coûte|kostet)\s+(?:[$€£]\s?)?\d+"},
    # who handles it or decides it
    "party": {"manager": r"(?:your|the)\s+(?:direct\s+|line\s+)?(?:manager|supervisor)",
              "IT": r"(?-i:IT)\s+(?:department|team|desk|helpdesk|service\s+desk|support|security)|help\s?desk"
                    r"|service\s+desk",
              "HR": r"(?-i:HR)(?!\s+portal)|human\s+resources|people\s+team",
              "finance": r"finance(?:\s+team|\s+department)?|accounts\s+payable",
              "payroll": r"payroll(?:\s+team|\s+department)?(?!\s+correction)",
              "front desk": r"front\s+desk|reception(?:ist)?",
              "insurer": r"(?:your|the)\s+insurance\s+(?:company|provider)|(?:your|the)\s+insurer",
              "pharmacy": r"(?:your|the)\s+pharmacy",
              "instructor": r"(?:your|the)\s+(?:instructor|teacher|professor|tutor|lecturer)",
              "doctor": r"(?:your|the)\s+(?:doctor|physician|GP|care\s+provider)"},
    "refund to": {
        "card": r"original\s+(?:payment\s+)?(?:method|card)|(?:back\s+)?(?:to|on)\s+(?:your|the)\s+"
                r"(?:credit\s+|debit\s+|bank\s+)?card|bank\s+account|bank\s+transfer",
        "credit": r"vouchers?|store\s+credit|account\s+credit|(?:travel|wallet|app)\s+credit",
        "cash": r"cash",
        "cheque": r"cheques?",
    },
    # where a parcel was left
    "left at": {"neighbour": r"neighbou?rs?", "safe place": r"safe\s+place|porch|front\s+door|doorstep",
                "pickup point": r"locker|parcel\s+(?:shop|point)|pick-?up\s+point|collection\s+point"},
}
CHOICE = re.compile("|".join(rf"\b(?P<{slot.replace(' ', '_')}__{option.replace(' ', '_')}>{pattern})\b"
                             for slot, options in ALTERNATIVES.items() for option, pattern in options.items()), re.I)
#: units of time in the languages logs most often hold besides English, by the English unit
UNITS_ABROAD = {"day": r"d[ií]as?|jours?|(?:werk|arbeits)?tag(?:e|en)?|giorn[oi]",
                "week": r"semanas?|semaines?|wochen?|settiman[ae]", "month": r"mes(?:es)?|mois|monate?n?|mes[ei]",
                "hour": r"horas?|heures?|stunden?|or[ae]"}
ABROAD_UNIT = [(unit, re.compile(pattern, re.I)) for unit, pattern in UNITS_ABROAD.items()]
#: numbers from one to twelve in the languages of UNITS_ABROAD, as a duration counts them ("drei Monate", "un mois")
COUNTS_ABROAD = {word: value for value, words in enumerate((
    "ein eine einem einen einer un une uno una um uma", "zwei deux dos due dois duas", "drei trois tres tre três",
    "vier quatre cuatro quattro quatro", "fünf cinq cinco cinque", "sechs seis sei", "sieben sept siete sette sete",
    "acht huit ocho otto oito", "neun neuf nueve nove", "zehn dix diez dieci dez", "elf onze undici",
    "zwölf douze doce dodici doze"), start=1) for word in words.split()}
#: a duration: its number (digits, a word, "a"), a range's other end, and its unit; "half an hour"
#: is no hour, "$5 a month" and "twice a year" are rates
DURATION_COUNTS = word_alternation(COUNT_WORDS | {"one"} | set(COUNTS_ABROAD))
DURATION = re.compile(rf"(?<![\w.,])(?P<num>\d+(?:[.,]\d+)?|{DURATION_COUNTS}"
                      r"|(?<!half\s)(?<!of\s)(?<!\d\s)(?<!times\s)(?<!twice\s)(?<!once\s)an?)"
                      r"(?:\s*(?:-|–|to)\s*(?P<to>\d+(?:[.,]\d+)?))?[\s-]*(?:business\s+|working\s+|calendar\s+)?"
                      r"(?:(?P<unit>second|sec|minute|min|hour|hr|day|week|month|year|yr)s?"
                      # Spanish, Portuguese, French, German, Italian ("1 día hábil", "2 Werktage", "48 Stunden")
                      rf"|(?P<unit_abroad>{'|'.join(UNITS_ABROAD.values())}))\b", re.I)
DURATION_UNITS = {"second": ("minutes", 1 / 60), "sec": ("minutes", 1 / 60), "minute": ("minutes", 1),
                  "min": ("minutes", 1), "hour": ("minutes", 60), "hr": ("minutes", 60), "day": ("days", 1),
                  "week": ("days", 7), "month": ("months", 1), "year": ("months", 12), "yr": ("months", 12)}
#: durations said in words: at once (no time at all), the same day, the next (business) day
SAID_DURATION = re.compile(
    r"(?i)\b(?:(?P<now>instant(?:ly)?|immediately|right\s+away|straight\s+away|in\s+(?:a\s+few\s+)?seconds"
    r"|al\s+instante|inmediatamente|de\s+inmediato|sofort|umgehend|imm[ée]diatement|imediatamente|na\s+hora)"
    r"|(?P<same_day>(?:the\s+)?same[\s-]day|el\s+mismo\s+d[ií]a|le\s+jour\s+m[êe]me|no\s+mesmo\s+dia|am\s+selben\s+tag)"
    r"|(?P<next_day>(?:the\s+)?(?:next|following)\s+(?:business\s+|working\s+)?day|(?:siguiente|pr[oó]ximo)\s+d[ií]a(?:\s+(?:h[aá]bil|[uú]til))?"
    r"|jour\s+ouvr[ée]\s+suivant|n[äa]chsten\s+werktag))\b")
SAID_DURATIONS = {"now": {("minutes", 0.0, 0.0), ("days", 0.0, 0.0), ("months", 0.0, 0.0)}, "same day": {("days", 0.0, 0.0)},
                  "next day": {("days", 1.0, 1.0)}}
#: words that deny their whole clause in the languages logs most often hold besides English, where
#: they need not come before what they deny ("ne comprend pas le petit-déjeuner", "kann nicht
#: umgebucht werden"; Spanish and Italian write "no", "non" as English does)
CLAUSE_NEGATORS = frozenset("nicht kein keine keinen nie niemals pas jamais não nunca nessun niet geen nooit "
                             # Nordic, Polish, Czech and Slovak, Croatian, Hungarian, Finnish, Greek, Turkish (not
                             # Finnish "ei": it is an airline's code, an "EI claim", German's egg)
                             "ikke ikkje inte ej aldrig aldri nigdy nikdy není nejsou nebyl nebyla nebylo nelze "
                             "nebol nebola nije nisu nismo neće nem nincs sincs eivät δεν μην değil".split())
#: words that deny the thing they come before, not the clause ("no fee", "without a fee", "sans frais")
WITHOUT = frozenset("no without sans sin sem ohne".split())
#: "no" before a verb or its pronoun denies the verb in Spanish and Portuguese ("no se puede
#: cancelar", "no aceptamos", "no lo hacemos"), where in English it denies a thing ("no fee")
VERB_DENIED = re.compile(r"\bno\s+(?:se|lo|la|los|las|le|les|me|te|nos|es|está|están|hay|puede|pueden|podemos"
                         r"|tiene|tenemos|ofrece|ofrecemos|acepta|aceptamos|incluye|permite|permitimos|hacemos"
                         r"|realizamos)\b"
                         # and what denies without a negation: "it's too late to reschedule", "the payment failed"
                         r"|\btoo\s+late\s+to\b|\b(?:payment|debit|charge|transfer|transaction)\s+(?:has\s+|was\s+)?"
                         r"(?:failed|bounced)\b", re.I)
#: words that negate the next content word of their clause ("can't be returned", "never expire"),
#: with the n't forms typed without an apostrophe
#: words a negation runs through to what it denies: "no longer covered", "not yet shipped"
NEGATION_TAIL = frozenset("longer yet even".split())
#: verbs a negation runs through when "any" follows: "I don't see any overdraft fees" denies the fees
FOUND_VERBS = frozenset("see find show have".split())
NEGATORS = CLAUSE_NEGATORS | frozenset("not never no non zero cannot unable without dont doesnt didnt cant wont isnt "
                                       "arent wasnt werent couldnt wouldnt shouldnt havent hasnt".split())
#: a question asked for a yes or a no: "can I pay with PayPal?", "is SSO on the Team plan?", a
#: message's last question without its "?" ("do you price match thanks"), but for a request
#: ("can you check my refund")
_ASKING = r"(?:can|could|may|is|are|do|does|did|will|would|should|has|have)\s+\w+\b[^.!?]*"
YES_NO_QUESTION = re.compile(rf"(?:^|[.!?]\s|\n)\W*(?:(?:hi|hello|hey|ok|so)\W+)?"
                             rf"(?:{_ASKING}\?|(?!(?:can|could|would|will)\s+you\b){_ASKING}$)", re.I)
PLURAL = re.compile(r"(?:(?<=[sxz])|(?<=[cs]h))es$|(?<=[^s])s$")  # boxes, matches, prices: box, match, price
SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
#: a user turn this long or shorter is the request itself; a longer one holds text the user did not
#: write for it (an email, a document, the passages a retrieval app puts before the question)
SHORT_INPUT = 300
#: a clause that says what would happen, not what is: "once approved, ...", "if you call us, ..."
HYPOTHETICAL = re.compile(r"\b(?:if|unless|once|in\s+case)\b", re.I)
#: a restriction: "tips can only be added at checkout" (not a condition, "only if you ...", nor a
#: price, "you only pay the difference")
RESTRICTED = re.compile(r"(?i)\b(?:only|solo|sólo|somente|apenas|nur|seulement|uniquement)\b"
                        r"(?!\s+(?:if|when|si|cuando|wenn|quando|pay|pays|be\s+charged|cost|costs|charge)\b)")
#: a question about what is needed, where a restriction says yes ("do I need a referral?")
REQUIREMENT = re.compile(r"(?i)\b(?:needs?|needed|require[sd]?|required|must|ha(?:ve|s)\s+to|necesito|brauche)\b")
#: a condition inside a sentence, up to its comma: "as long as you haven't finished 30%" says
#: when, not whether ("if it isn't used, you can return it")
CONDITION = re.compile(r"\b(?:if|unless|as\s+long\s+as|provided|once|until|before|when|whenever|because|since)\b"
                       r"[^,;:—–]*", re.I)
_CLAUSE_END = r"[,.:](?!\S)|[;!?\n—–•·]|\s-\s|\b(?:but|however|although|though|while|whereas|unless|except)\b"
CLAUSE_END = re.compile(rf"{_CLAUSE_END}|[()]", re.I)
#: an amount's clause keeps what it brackets: "hit your daily limit ($150)"
AMOUNT_CLAUSE_END = re.compile(_CLAUSE_END, re.I)
TOKEN = re.compile(r"\w+(?:['’]\w+)?")
STARTS = re.compile(r"[.!?:\n•*]\s*|\s[-–—]\s")  # where a sentence, a line or a label's value starts
FUNCTION_WORDS = frozenset(
    "a an the to be been being able get got it its them they this that these those you your our we us i me my of for "
    "with in on at by from as is are was were will would can could do does did have has had yet currently always "
    "ever really actually any some all so too also just".split()
    # the same words in the other languages the logs hold: "für" says nothing a reply can affirm or deny
    + "der die das den dem des ein eine einen einem einer und oder für mit von bei auf aus zum zur ist sind "
      "war wir sie ihr ihre ihren ich mein meine meinen sich kann können wird werden "
      "les une pour par avec dans sur sont nous vous votre vos qui que "
      "los las una unos para por con del que sus usted ustedes puede está están son "
      "uma umas dos das seu sua você pode pelo pela são "
      "per della delle una che sono può".split())
STEM = 5  # words compared by their first five letters: return, returned, returns; expire, expiry
#: the slots of ``ALTERNATIVES`` that say where things stand, which a tool result can contradict
STANDING_SLOTS = frozenset({"status", "progress", "tier", "balance", "refund to", "left at", "outage", "sent by",
                            "standing"})
OTHER_WAY = {"yes": "no", "no": "yes"}
FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")  # "appeal_allowed", "isActive"; not "maria@example.com"
KEY_WORD = re.compile(r"[a-z]+\d*|\d+[a-z]+")  # the words of a field's name: "appeal_allowed", "isActive"
FLAG_PREFIXES = frozenset("is has can was did does should needs allow".split())
#: words of a field's name that make it an identifier, not an amount ("order_id", "account_number")
ID_STEMS = frozenset("id ids numbe no code zip phone year ref refer".split())
AMOUNT_TEXT = re.compile(r"[$€£]?\s?-?\d{1,3}(?:[,.\u00a0]\d{3})*(?:[.,]\d{1,2})?")
#: words that deny a yes-or-no field on their own: "autopay is off", "an actual reading rather than an estimate"
FLAG_DENIAL = re.compile(r"(?<![\w-])(?:off|disabled|deactivated|inactive|unchanged|none|nothing|rather\s+than"
                         r"|instead\s+of|prohibited|forbidden|excluded)(?![\w-])")
#: a charge denied: "no cost", "non ha costi", "sans frais", "ohne Gebühr", "costs nothing"
COST_DENIED = re.compile(r"(?i)\b(?:no|not|non|sans|sin|sem|ohne|keine?[nm]?|nessun[oa]?|zero)\s+(?:\w+\s+)?"
                         r"(?:costs?|costi|costo|custos?|charges?|fees?|frais|kosten|geb[üu]hr(?:en)?|cargos?|"
                         r"tasas?|comisi[oó]n(?:es)?)\b|\b(?:costs?\s+nothing|nothing\s+to\s+pay|free\s+of\s+charge)\b")
REQUIRED = "requi"  # "required" as _stem writes it
COST_STEMS = frozenset("fee charg cost price surch".split())  # as _stem writes them
#: a state still to come says nothing of where things stand now ("we'll assign a courier shortly")
TO_COME = re.compile(r"(?i)\b(?:will|going\s+to|shortly|soon|once)\b|\w['’]ll\b")
#: how far an order has come, said of the future: "it'll be on its way", "soll zugestellt werden"
TO_COME_ANY_LANGUAGE = re.compile(rf"{TO_COME.pattern}|\b(?:wird|werden|soll|sollte|voraussichtlich|será|serão|sera"
                                  r"|seront|sarà|verrà|va\s+a|vai|zal|wordt)\b", re.I)
#: a tool result's list of what is still needed: "documents_missing", "outstanding_items"
MISSING_FIELD = re.compile(r"(?i)missing|outstanding|still_needed")
#: nothing left to send, said several ways: "we have everything we need", "all documents received"
NOTHING_MISSING = re.compile(
    r"\b(?:(?:have|has|got|received)\s+(?:all\s+(?:the\s+)?(?:\w+\s+)?(?:documents|paperwork|forms|docs)"
    r"|everything\s+(?:we|i|it|they)\s+needs?)\b"
    r"|all\s+(?:the\s+)?(?:\w+\s+){0,2}(?:documents|paperwork|forms|docs)\s+(?:\w+\s+){0,3}(?:received|in|complete)\b"
    r"|nothing\s+(?:more|else|further)\s+(?:\w+\s+){0,3}(?:send|provide|submit|upload)"
    r"|no\s+(?:more\s+|further\s+|other\s+)?(?:documents|paperwork|forms)\s+(?:\w+\s+){0,2}(?:needed|required|missing))")
#: what a list of missing items holds when nothing is missing
NOTHING_LISTED = frozenset({"", "none", "n a", "na", "nothing", "null"})
#: a requirement, and a thing said to be needed or not: "no signature is needed"
NEEDS = re.compile(r"\b(?:needs?|needed|must|ha(?:ve|s)\s+to|requires?|required)\b")
NEEDED_WITHIN = 6
NEEDED_THING = re.compile(r"\b(?P<amount>no|any)\s+(?P<thing>[a-z]+)(?:\s+[a-z]+)?\s+(?:is|are|will\s+be)\s+"
                          r"(?:needed|required|necessary)\b")
#: a thing offered is not a thing held: "you can add a winter sports extension"
OFFERED = re.compile(r"(?i)\b(?:add|adding|buy|purchase|upgrade|extension|add-on|opt\s+in|sign\s+up)\b")
LABEL_COLON = re.compile(r"(?<=\w):(?=\s)")  # "autopay: not enabled" is one clause
#: states a tool result holds that a reply says in too many ways to read ("you're all set", "we
#: have a table"): read in results only, so that a reply saying "pending" or "fully booked" over
#: them contradicts them
RESULT_OPTIONS = {("status", "confirmed"): re.compile(r"\bstatus is confirmed\b"),
                  ("outage", "planned"): re.compile(r"\btype is planned\b"),
                  ("outage", "unplanned"): re.compile(r"\btype is unplanned\b")}
RESULT_DECISIONS = {("availability", "yes"): re.compile(r"\bit is available\b")}
#: a named thing of a kind an answer picks one of: a plan, a tier, the team or office that handles it
NAMED = re.compile(r"\b(?P<name>(?:[A-Z][\w&'’-]*\s+){1,3})(?P<kind>(?i:plan|tier|team|department|office|desk"
                   r"|membership|package|subscription|fare|edition|programme|program|store|branch|clinic))s?\b")
#: words that open a sentence with a capital and name nothing: "Sadly plans can't be paused"
OPENING_ADVERBS = frozenset("sadly unfortunately fortunately luckily happily currently usually normally also please "
                            "yes no sorry today now meanwhile however otherwise alternatively".split())
RENAMED_WORDS = 4  # the longest name swapped in place: "Network Ops" / "the Desktop Support team"
#: what says nothing about the decision: offers to help and restatements of the customer's problem
ASIDE = re.compile(
    r"\b(?:i|we)\s+(?:can|will|['’]ll|am\s+able\s+to|are\s+able\s+to)\s+(?:help|assist|guide|walk|look|check)\b"
    # "I can help you add it if you'd like": an offer (a bounded reach: a sentence may be megabytes long)
    r"(?:[^.!?]{0,200}?\bif\s+you(?:['’]d\s+like|\s+(?:want|wish|would\s+like)))?"
    r"|(?:^|(?<=[.!?]\s))(?:i\s+(?:understand|see|know|realize)|(?:i['’]m\s+)?sorry\s+to\s+hear)[^.!?]*", re.I)


@dataclass(frozen=True)
class Reply:
    """What a reply asserts, read once."""

    key: str  # the normalized text: equal keys are the same reply
    facts: tuple[tuple[str, frozenset], ...]  # (as written, its possible readings) per fact stated
    stated: frozenset  # every reading of every fact stated
    given: frozenset  # readings of the facts in the input the reply was given (relayed, not asserted)
    numerals: tuple[tuple[str, frozenset[int]], ...]  # per kind of fact, the numbers its facts write in digits
    words: frozenset[str]
    calls: tuple[tuple[str, str], ...]  # (name, canonical arguments) of every call since the user spoke
    results: str  # what those calls returned, normalized
    refusal: bool
    opens_denying: bool  # its first sentence denies something: "For privacy reasons I can't share that."
    decisions: frozenset[tuple[str, str]]  # (subject, "yes" or "no"), for subjects it decides one way only
    choices: frozenset[tuple[str, str]]  # (slot, option) it names: "channel", "phone"
    offered: frozenset[tuple[str, str]]  # the options its input names
    words_as_written: tuple[str, ...]  # the reply's words, in order, capitals kept
    durations: frozenset[tuple[str, float, float]]  # (minutes, days or months; how many; the number written)
    durations_given: frozenset[tuple[str, float, float]]  # those its input holds
    counts: frozenset[tuple[str, int]]  # (thing, how many) it counts: "3 nights" is ("night", 3)
    counts_given: frozenset[tuple[str, int]]  # those its input holds, as words or as a field ("nights": 3)
    named: frozenset[tuple[str, frozenset[str]]]  # (kind, its name's words): "the Team plan" is ("plan", {"team"})
    named_given: frozenset[str]  # the words of its input, to tell names it was given
    steps: tuple[tuple[str, str], ...] = ()  # ("call", name and arguments) or ("result", what it returned), in order
    earlier_results: tuple[str, ...] = ()  # what tools returned before the user's last turn, in a set order
    text: str = ""  # the reply as written, and what it was given: read only for an LLM judge
    context: str = ""

    @cached_property
    def fact_sets(self) -> "FactSets":
        """Its facts as sets another reply's facts are checked against: worked out once however many
        replies it is compared with (a reply may state thousands of facts)."""
        return FactSets.of(self)

    @cached_property
    def given_years(self) -> frozenset:
        """The years of its input's dates, read as numbers (``_years_read_as_numbers``), worked out once."""
        return _years_read_as_numbers(self.given)

    @cached_property
    def read_from_results(self) -> dict[str, "ReadOff"]:
        """The amounts, dates and times it reads off its tool results (``_read_from_results``), read once."""
        return _read_from_results(self)

    @cached_property
    def requirements(self) -> dict[str, bool]:
        """What it says is needed or not (``_requirements``), read once."""
        return _requirements(self.key)

    @cached_property
    def values(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """What its tool results hold in words (``field_values``), read once however many replies
        it is compared with."""
        return field_values(self.results)

    @cached_property
    def negations(self) -> int:
        """How many of its words negate ("not", "can't", "never"): worked out once per reply."""
        return sum(_negates(word.lower()) for word in self.words_as_written)


#: an opaque identifier: a token of letters and a run of five or more digits ("LF-674643", "INC0012345",
#: "1Z999AA10123456784"). Which order or ticket a request names does not make it another example,
#: as it would not once scrubbed to <ORDER_1>; what a tool returned for it does.
OPAQUE_ID = re.compile(r"(?<![\w-])(?=[\w-]*[0-9]{5})(?=[\w-]*[^\W\d_])[^\W_]+(?:[-_][^\W_]+)*")  # digits first: fails soonest
WITHOUT_DIGITS = str.maketrans("", "", "0123456789")


def _may_hold_ids(text: str) -> bool:
    """Whether ``text`` has five digits at all (dropping them is faster than a regex search for them)."""
    return len(text) - len(text.translate(WITHOUT_DIGITS)) >= 5


FIVE_DIGITS = re.compile(r"[0-9]{5}")
ID_CHARACTER = re.compile(r"[\w-]")


def _opaque_matches(text: str) -> Iterator[re.Match[str]]:
    """``OPAQUE_ID``'s matches, as ``finditer`` finds them, tried only at the start of each run of
    word characters and hyphens that holds five digits: the only place one can start, since none
    follows a word character or a hyphen. Trying the pattern at every word of a long text costs
    more than all the rest of what dedup reads from it."""
    if not _may_hold_ids(text):
        return
    chunk_end = 0
    for digits in FIVE_DIGITS.finditer(text):
        if digits.start() < chunk_end:
            continue
        start, chunk_end = digits.start(), digits.end()
        while start and ID_CHARACTER.match(text, start - 1):
            start -= 1
        while chunk_end < len(text) and ID_CHARACTER.match(text, chunk_end):
            chunk_end += 1
        if match := OPAQUE_ID.match(text, start):
            yield match


def without_opaque_ids(text: str, only: frozenset[str] | None = None) -> str:
    """``text`` with its opaque identifiers made one, ``<ID>``: all of them, or those in ``only``."""
    pieces, position = [], 0
    for match in _opaque_matches(text):
        if only is None or match.group().casefold() in only:
            pieces += [text[position:match.start()], "<ID>"]
            position = match.end()
    return "".join(pieces) + text[position:] if pieces else text


def opaque_ids(text: str) -> frozenset[str]:
    """The opaque identifiers in ``text``, casefolded ("lf-220996" is the order LF-220996)."""
    return frozenset(match.group().casefold() for match in _opaque_matches(text))


def last_user_turn(messages: list[dict[str, Any]]) -> int:
    """Where the last user turn stands (-1 without one): the answer is everything after it."""
    return max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)


def read_reply(messages: list[dict[str, Any]], with_text: bool = False) -> Reply:
    """Read the answer a conversation ends with: everything after its last user turn (tool calls,
    their results, the final reply), with what it was given (every earlier message); with the
    texts themselves when ``with_text``."""
    asked_at = last_user_turn(messages)
    turn = messages[asked_at + 1:]
    text = message_text(turn[-1]) if turn and turn[-1].get("role") == "assistant" else ""
    key = normalize(text)
    facts = _asserted(text)
    given_texts = list(map(readable_text, messages[:-1]))
    context = "\n".join(given_texts)
    given = _asserted(context)
    question = _asked(message_text(messages[asked_at])) if asked_at >= 0 else ""
    # a call may pass on an identifier the user or a tool gave it; one it made up stays itself
    calling = [m for m in turn if m.get("role") == "assistant" and m.get("tool_calls")]
    relayed = opaque_ids("\n".join(readable_text(m) for m in messages[:-1] if m.get("role") != "assistant")) \
        if calling else frozenset()
    steps = _steps(turn, relayed)
    calls = tuple(call for m in calling for call in sorted(_calls(m, relayed)))
    results = "\n".join(said for kind, said in steps if kind == "result")
    earlier = tuple(sorted(returned(message_text(m)) for m in messages[:max(asked_at, 0)]
                           if m.get("role") in ("tool", "function")))
    return Reply(key, facts, _all_readings(facts), _all_readings(given), _numerals_by_kind(facts),
                 frozenset(WORD.findall(key)), calls, results,
                 bool(REFUSAL.search(text)), _opens_denying(text),
                 _decisions(text, _content_stems(question), question if YES_NO_QUESTION.search(question) else ""),
                 _choices(text), _choices_in(given_texts), _words_as_written(text), *_durations(text, context, given),
                 _counts(text), _counts(context) | _counted_fields(context),
                 _named(text), frozenset(WORD.findall(context.lower())), steps, earlier,
                 *((text, context) if with_text else ()))


def _steps(turn: list[dict[str, Any]], relayed: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """The calls the answer makes and the results they return, in order, but that the calls one
    message makes at once, and the results that come back together, are in a set order: which of
    two lookups made at once came back first says nothing."""
    said = [step for message in turn for step in _said(message, relayed)]
    return tuple(step for _, together in groupby(said, key=itemgetter(0)) for step in sorted(together))


def _said(message: dict[str, Any], relayed: frozenset[str]) -> Iterator[tuple[str, str]]:
    """The tool calls a message of the answer makes, or the result it returns."""
    if message.get("role") in ("tool", "function"):
        yield "result", returned(message_text(message))
    elif message.get("role") == "assistant":
        yield from (("call", f"{name} {arguments}") for name, arguments in _calls(message, relayed))


def _asked(turn: str) -> str:
    """What a user turn asks: all of it when short, or when nothing in it ends in "?"; in a long
    one (an email, a pasted document, retrieved passages), its questions alone: a word of the
    pasted text that one reply negates and another affirms decides nothing."""
    if len(turn) <= SHORT_INPUT:
        return turn
    return " ".join(sentence.strip() for sentence in SENTENCE.findall(turn) if sentence.endswith("?")) or turn


#: how the reason a pair decides one question both ways begins: the rules' least precise finding,
#: which the answer model may overrule
DECIDED_OTHERWISE = "opposite decisions"


#: what each field of a request's tool results held, in words, over its lookups (``values_seen``):
#: {"bin": {("recycling",), ("general", "waste")}}
FieldValues = Mapping[str, frozenset[tuple[str, ...]]]
NO_VALUES: FieldValues = {}


def disagreement(a: Reply, b: Reply, seen: FieldValues = NO_VALUES) -> str | None:
    """Why ``a`` and ``b`` disagree, in a few words; None when they give the same answer. ``seen``:
    what the request's other lookups returned (``findings``)."""
    return next(findings(a, b, seen), None)


def findings(a: Reply, b: Reply, seen: FieldValues = NO_VALUES) -> Iterator[str]:
    """Each way ``a`` and ``b`` disagree, in a few words, in the order the rules look; worked out only
    as far as they are asked for. ``seen`` holds the values the fields of the request's tool results
    took in all its lookups: a reply naming another of them contradicts the result it was given."""
    if a.calls != b.calls:
        yield f"different tool calls ({_calls_text(a)} vs {_calls_text(b)})"
    if a.refusal != b.refusal and not (a if b.refusal else b).opens_denying:
        yield "one refuses, the other helps"
    answered = _answered(a.key), _answered(b.key)
    if None not in answered and answered[0] != answered[1]:
        yield f"opposite answers ({answered[0]} vs {answered[1]})"
    opposite = _opposite(a.decisions, b.decisions)
    if opposite:
        yield f"{DECIDED_OTHERWISE} ({opposite})"
    if a.key == b.key:
        return
    for check, found in ((_other_durations, "different durations"), (_recounted, "different counts"),
                         (_switched, "different options"), (_named_otherwise, "different names"),
                         (_renamed, "a name the tool did not return"), (_required_otherwise, "different requirements"),
                         (_against_results, "says what the tool did not return"),
                         (_read_otherwise, "another part of the tool result")):
        said = check(a, b)
        if said:
            yield f"{found} ({said})"
    said = _another_value(a, b, seen)
    if said:
        yield f"says what another lookup returned ({said})"
    # One side must state a fact its input does not give it, the other something else: two
    # replies each relaying its own input are no dispute, one contradicting the shared input is.
    new_a, new_b = _facts_missing_from(a, b, with_input=True), _facts_missing_from(b, a, with_input=True)
    only_a, only_b = _facts_missing_from(a, b), _facts_missing_from(b, a)
    if (new_a and only_b) or (new_b and only_a):
        yield f"different facts ({(new_a or only_a)[0]} vs {(only_b if new_a else new_b)[0]})"


#: a reply that opens with a yes or a no, said as an answer ("No, ..."; not "No fee applies")
EXPLICIT_ANSWER = re.compile(r"^\W*(?:(?P<yes>yes|yeah|yep|sí|oui|ja|sim)|(?P<no>no|nope|non|nein|não))"
                             r"(?:\s*[,.!:;]|\s+[—–-]\s|\s*[—–]|$)")


def _answered(key: str) -> str | None:
    """"yes" or "no" where a (normalized) reply opens with one as an answer; a literal yes against a
    literal no is two answers whatever else the replies share."""
    match = EXPLICIT_ANSWER.match(key)
    return match.lastgroup if match else None


def same_grounds(a: Reply, b: Reply) -> bool:
    """Whether both replies rest on the same tool results, in this turn and earlier ones (two lookups
    of different orders are different examples, whatever their replies say)."""
    return a.results == b.results and a.earlier_results == b.earlier_results


def other_grounds(a: Reply, b: Reply) -> bool:
    """Whether two answers are other examples, not a dispute: their tools returned something else,
    in an earlier turn, to the same calls, or before the calls part (a lookup that found other free
    slots books another one); calls that part first are two answers on the same grounds."""
    if same_grounds(a, b):
        return False
    if a.calls == b.calls or a.earlier_results != b.earlier_results:
        return True
    parted = next(((mine, theirs) for mine, theirs in zip(a.steps, b.steps) if mine != theirs), None)
    return parted is not None and parted[0][0] == parted[1][0] == "result"


def word_similarity(a: Reply, b: Reply) -> float:
    """Jaccard similarity of the replies' word sets (1.0 for two empty replies)."""
    union = len(a.words | b.words)
    return len(a.words & b.words) / union if union else 1.0


def _facts_missing_from(reply: Reply, other: Reply, with_input: bool = False) -> list[str]:
    """The facts ``reply`` states that ``other`` does not state (nor, ``with_input``, the input
    ``reply`` was given). A time, date, count or code whose numbers the other reply writes too is
    held however it is written ("7h00" and "7:00", "May 3–5" and "May 5", "v5.2" and "5.2"); an
    amount of money must be read the same, by an amount of money ("$10" is not the "10" of "7–10
    days"), and so must anything held by the input alone (a JSON date's "09" is no "December 9");
    a date's year must not differ from the other's ("November 30, 2025" / "November 30, 2026")."""
    given, given_years = (reply.given, reply.given_years) if with_input else (frozenset(), frozenset())
    theirs = other.fact_sets
    held, money_held = other.stated | theirs.years | given | given_years, theirs.money | given
    return [written for written, readings in reply.facts
            if (not readings & (money_held if CURRENCY.search(written) else held)
                or _other_year(readings, held, theirs)) and not _numerals_held(written, readings, other, theirs)]


class FactSets(NamedTuple):
    """What a reply's facts hold, for another reply's facts to be checked against one by one
    (never a pass over its facts per fact)."""

    money: frozenset  # the readings of its amounts of money: "$10" is not held by "7–10 business days"
    days: frozenset[int]  # the days of the month of its dates
    dated: frozenset[tuple[int, int]]  # (month, day) of its dates with a year
    times: frozenset[int]  # the minutes past midnight its times may mean
    years: frozenset  # the years of its dates, read as numbers: "2024" is held by "December 31, 2024"

    @classmethod
    def of(cls, reply: Reply) -> "FactSets":
        return cls(_all_readings(tuple(fact for fact in reply.facts if CURRENCY.search(fact[0]))),
                   frozenset(value[1] for kind, value in reply.stated if kind == "date"),
                   frozenset(value[1:] for kind, value in reply.stated if kind == "dated"),
                   frozenset().union(*(_clock_times(written, readings) for written, readings in reply.facts)),
                   _years_read_as_numbers(reply.stated))


def _years_read_as_numbers(readings: frozenset) -> frozenset:
    """("number", the year) of each dated reading."""
    return frozenset(("number", number_key(value[0])) for kind, value in readings if kind == "dated")


def _numerals_held(written: str, readings: frozenset, other: Reply, theirs: FactSets) -> bool:
    """Whether the other reply writes this fact's numbers in facts of a kind it could be read
    as: a date's day among its dates and counts, not in a time ("October 11" is not "11:59"); not
    a date's day it dates in another month ("October 5" / "November 5"), nor a time when it states
    others, none of them this one ("6:00 PM" / "6 AM"; "10:45 PM" / "9:45 PM, closes at 10 PM")."""
    numerals = _fact_numerals(written, readings)
    if not numerals or MONEY.search(written) \
            or any(kind == "date" and value[1] in theirs.days for kind, value in readings):
        return False
    times = _clock_times(written, readings)
    if times and theirs.times and not times & theirs.times:
        return False
    kinds = set().union(*(COMPATIBLE[kind] for kind, _ in readings))
    return numerals <= frozenset().union(*(found for kind, found in other.numerals if kind in kinds))


#: what tells a time's half of the day: "PM", "a.m.", a leading zero ("08:15"), an hour past 12
HALF_OF_DAY = re.compile(r"(?i)[ap]\.?m\b|\b0\d|\b(?:1[3-9]|2[0-4])[:.h]")


def _clock_times(written: str, readings: frozenset) -> frozenset[int]:
    """The minutes past midnight a time may mean: "2:30" without a half of the day is 2:30 or 14:30."""
    times = frozenset(value for kind, value in readings if kind == "time")
    if times and not HALF_OF_DAY.search(written):
        times |= {(value + 12 * 60) % (24 * 60) for value in times}
    return times


def _other_year(readings: frozenset, held: frozenset, theirs: FactSets) -> bool:
    """Whether the other reply dates this date's day in another year, and nothing holds this one
    ("ends on November 30, 2025" / "ends on November 30, 2026")."""
    dated = [value for kind, value in readings if kind == "dated"]
    return bool(dated) and not any(("dated", value) in held for value in dated) \
        and any(value[1:] in theirs.dated for value in dated)


#: the kinds of fact whose numbers may be another writing of a fact of this kind
COMPATIBLE = {"date": {"date", "number"}, "dated": {"date", "number"}, "time": {"time", "number"},
              "number": {"number", "date", "time", "id"}, "id": {"number", "id"}, "code": set()}


def _numerals_by_kind(facts: tuple[tuple[str, frozenset], ...]) -> tuple[tuple[str, frozenset[int]], ...]:
    found: dict[str, frozenset[int]] = {}
    for written, readings in facts:
        for kind in {kind for kind, _ in readings}:
            found[kind] = found.get(kind, frozenset()) | _fact_numerals(written, readings)
    return tuple(found.items())


def _fact_numerals(written: str, readings: frozenset) -> frozenset[int]:
    """The numbers a fact writes in digits; a time said in words, its hour ("noon" is the 12 of "8-12")."""
    return _numerals(written) or frozenset(value // 60 for kind, value in readings
                                          if kind == "time" and value % 60 == 0 and value)


_CURRENCY_WORDS = r"usd|eur|gbp|chf|jpy|cad|aud|inr|dollars?|euros?"
#: what makes a number an amount of money or a share
MONEY = re.compile(rf"[$€£¥₹%]|\b(?:{_CURRENCY_WORDS}|pounds?)\b", re.I)
#: what makes a number an amount of money or a share for certain ("50 pounds" may be a weight)
CURRENCY = re.compile(rf"[$€£¥₹%]|\b(?:{_CURRENCY_WORDS})\b", re.I)
#: an amount of money: a reply that names one says what costs something, whatever else is free
PRICE = re.compile(rf"[$€£¥₹]\s?\d|\d\s?(?:[$€£¥₹]|(?:{_CURRENCY_WORDS})\b)", re.I)


def _numerals(text: str) -> frozenset[int]:
    """The numbers written in digits in ``text``, zeros, list numbers and placeholders aside
    ("07:00" is 7; "1,000" is 1000; "1. Go to My Orders", "1) quit the app" and "<ORDER_1>" count nothing)."""
    plain = THOUSANDS.sub("", LIST_NUMBER.sub(" ", PLACEHOLDER.sub(" ", text)))
    return frozenset(value for value in map(int, re.findall(r"\d{1,12}", plain)) if value)


THOUSANDS = re.compile(r"(?<=\d)[,.\u00a0\u202f](?=\d{3}(?!\d))")  # "1,000" is one numeral, not 1 and 0
# "30. September" is a date, written as dates are in German
LIST_NUMBER = re.compile(rf"(?m)^\s*\d{{1,2}}[.)](?=\s)(?!\s(?i:{word_alternation(MONTH_NUMBER)})\b)"
                         r"|(?<![\w.])\d{1,2}\)(?=\s)")


#: a text without a digit states no amount, date or number (one regex scan: 40x a Python loop)
ANY_DIGIT = re.compile(r"\d").search


@lru_cache(maxsize=65536)
def _facts(text: str) -> tuple[tuple[str, frozenset], ...]:
    """Every amount, date, time, number and identifier in ``text``, each with its readings:
    ("date", (5, 4)) and, with its year, ("dated", (2025, 5, 4)); ("time", minutes), ("number",
    value key) or ("id", letters and digits)."""
    text = re.sub(r"[ \t]+", " ", text)  # "MAY  4" is May 4: the patterns expect single spaces
    text = PLACEHOLDER.sub(r"<\1>", text)  # <ORDER_1> and <ORDER_2> are one scrubbed value, no identifier
    text = DAY_PART.sub(_as_clock, HALF_DAY_RANGE.sub(_half_day_both_ends, text))
    found = [(match.group().strip(), _in_smaller_units(text[match.end():match.end() + 24], _readings(match)))
             for match in numeric_matches(text)]
    found += [(match.group(), _in_smaller_units(match["unit"], frozenset({("number", _word_value(match))})))
              for match in NUMBER_WORD_UNIT.finditer(text.lower()) if match["unit"]]
    found += [(match.group(), TIME_WORDS[match.lastgroup]) for match in TIME_WORD.finditer(text)]
    found = [(written, readings | _day_month(written)) for written, readings in found]
    written = {fact for fact, _ in found}  # "10AM" is a time, "A320" an identifier already
    found += [(code, frozenset({("code", code)})) for code in CODE.findall(text) if code not in written]
    return tuple((written, readings) for written, readings in found if readings)


#: a range whose half of the day is written once: "1-5pm" is 1pm to 5pm
HALF_DAY_RANGE = re.compile(r"(?i)\b(?P<start>\d{1,2})(?P<rest>\s?[-–]\s?(?P<end>\d{1,2})(?::\d{2})?\s?(?P<half>[ap])\.?m\b)")
MONTH_BEFORE = re.compile(rf"(?i)\b(?:{word_alternation(MONTH_NUMBER)})\.?\s*$")
#: an hour and the part of the day it falls in: "4 in the afternoon" is 4pm
DAY_PART = re.compile(r"(?i)\b(?P<hour>\d{1,2})\s(?:o['’]clock\s)?in\sthe\s(?P<part>morning|afternoon|evening)\b")


def _half_day_both_ends(match: re.Match) -> str:
    if int(match["start"]) >= int(match["end"]) or int(match["end"]) == 12:  # "11-1pm", "11-12pm": from the morning
        return match.group()
    return f"{match['start']}{match['half']}m{match['rest']}"


def _as_clock(match: re.Match) -> str:
    if MONTH_BEFORE.search(match.string, max(0, match.start() - 12), match.start()):  # "October 8 in the morning" is a date's day
        return match.group()
    return f"{match['hour']}{'am' if match['part'].lower() == 'morning' else 'pm'}"


#: a day and month as German and much of Europe write them: "am 03.04." is April 3 (or 3.04 of something)
DAY_MONTH = re.compile(r"(?P<day>\d{1,2})\.(?P<month>\d{2})\.?")


def _day_month(written: str) -> frozenset:
    match = DAY_MONTH.fullmatch(written)
    if not match or not (1 <= int(match["day"]) <= 31 and 1 <= int(match["month"]) <= 12):
        return frozenset()
    return frozenset({("date", (int(match["month"]), int(match["day"])))})


#: a time said in words: check-out "at noon" is not "at 11 AM" ("après-midi" and "afternoon" are no noon)
TIME_WORD = re.compile(r"(?i)(?<![\w-])(?:(?P<noon>noon|midday|mid-day|mediod[ií]a|mittags?|midi|meio-dia|mezzogiorno)"
                       r"|(?P<midnight>midnight|medianoche|mitternacht|minuit|meia-noite|mezzanotte))(?![\w-])")
TIME_WORDS = {"noon": frozenset({("time", 12 * 60)}), "midnight": frozenset({("time", 0)})}


#: a count of a thing: "2 guests", "up to four people", "7 of 10 modules" (both; not "$5 fee", "3.5 stars")
_COUNT = rf"\d{{1,4}}|{word_alternation(COUNT_WORDS | {'one'})}"
COUNTED = re.compile(rf"(?<![\w.,$€£¥<>/:-])(?P<count>{_COUNT})(?:[ ](?:out[ ])?of[ ](?P<total>{_COUNT}))?"
                     r"[ ](?P<thing>[a-z]{3,20})\b")
COUNTED_FIELD = re.compile(r'"(?P<thing>[a-z]{3,20})"\s*:\s*(?P<count>\d{1,4})\b')
#: what follows a number without being what it counts: units of time (durations are compared
#: apart), months ("4 may"), and the words that join or qualify numbers
NOT_COUNTED = frozenset(
    "second seconds sec secs minute minutes min mins hour hours hrs day days week weeks month months year years "
    "yrs business working calendar and or to of more less than times percent per out through pm am".split()
    + " ".join(MONTHS.values()).split()) | FUNCTION_WORDS
#: a short code of digits and one capital, read whole: seat "14A" is not seat "14C", gate "B7" not "B9"
#: ("2FA" is a word)
CODE = re.compile(r"(?<![\w<.-])(?:\d{1,4}[A-Z]|[A-Z]\d{1,4})(?![\w>.-])")


def _asserted(text: str) -> tuple[tuple[str, frozenset], ...]:
    """The facts a reply (or its input) states: ``_facts``, and what costs nothing, as zero."""
    return _facts(text) + tuple((match.group(), ZERO) for match in NO_COST.finditer(text))


#: costing nothing is an amount too: "free" and "no fee" disagree with "a $75 change fee"
NO_COST = re.compile(rf"\b(?:{_NO_COST})\b", re.I)
ZERO = frozenset({("number", 0)})


#: a duration in weeks, years or hours (what follows its number), with the factor to days, months or minutes
LONG_UNIT = re.compile(r"[\s-]*(?:business\s+|working\s+)?(week|year|yr|hour|hr)s?\b", re.I)
SMALLER_UNIT = {"week": 7, "year": 12, "yr": 12, "hour": 60, "hr": 60}
HOURS = frozenset({"hour", "hr"})


def _in_smaller_units(after: str, readings: frozenset) -> frozenset:
    """A duration also read in the next unit down: "two weeks" is 14 days, "2-year" 24 months; and
    hours in whole days: "48 hours' notice" is "2 days'"."""
    unit = LONG_UNIT.match(after)
    if not unit:
        return readings
    unit_name = unit.group(1).lower()
    factor = SMALLER_UNIT[unit_name]
    numbers = [value for kind, value in readings if kind == "number"]
    days = [value // 24 for value in numbers if unit_name in HOURS and value and value % (24 * 10000) == 0]
    return readings | {("number", number_key(value / 10000 * factor)) for value in numbers} | {("number", d) for d in days}


def _word_value(match: re.Match) -> int:
    """The value key of a number written as a word ("two weeks": 2)."""
    return number_key(NUMBER_WORDS[match["word"].lower()])


def stated_facts(text: str) -> frozenset:
    """Every reading of every amount, date, time, number and identifier ``text`` states."""
    return _all_readings(_facts(text)) if ANY_DIGIT(text) else frozenset()


def _all_readings(facts: tuple[tuple[str, frozenset], ...]) -> frozenset:
    return frozenset().union(*(readings for _, readings in facts))


def _readings(match: re.Match) -> frozenset:
    kind = match.lastgroup
    if kind in ("month_date", "numeric_date"):
        keys, year = date_keys(match), date_year(match)
        dates = frozenset(("date", key) for key in keys) | frozenset(("dated", (year, *key)) for key in keys if year)
        return dates or frozenset().union(*map(_number_readings, NUMBER.finditer(match.group())))  # 4.99: no date
    if kind == "time":
        minutes = minutes_of(match)
        return frozenset({("time", minutes)}) if minutes is not None else frozenset()
    if kind == "number":
        return _number_readings(match)
    if kind == "list_marker":
        return frozenset()  # layout, not a fact
    return frozenset({("id", compact(match.group()))})


def _number_readings(match: re.Match) -> frozenset:
    """A number, or both ends of a range, with every value its writing may mean."""
    ends = [match["num"], *([match["to"]] if match["to"] else [])]
    return frozenset(("number", value) for end in ends for value in number_values(end, match["scale"]))


#: a state awaited, not reached, in a sentence's second half: "you'll get an email as soon as they're
#: issued" (a condition opening one may run into its main clause: "Once started it's no longer eligible")
AWAITED = re.compile(r"(?i)(?<=[^\W\d_]\s)(?:as\s+soon\s+as|once(?!\s+again)|when(?:ever)?|until|till|if|unless)\b"
                     r"(?:(?!\b(?:and|but)\b)[^,;:.!?—–\n])*")
#: what is said of how things go, not of this case: "refunds are usually processed within 5 days"
HABITUAL = re.compile(r"(?i)\b(?:usually|normally|typically|generally|always|often)\b(?:\s+[\w'’]+){0,3}\s+$")
HABITUAL_REACH = 60


def _decisions(text: str, asked: frozenset[str], yes_no: str = "") -> frozenset[tuple[str, str]]:
    """What the reply decides, by subject: its opening word ("lead"; for a yes-or-no question
    without one, ``yes_no`` being that question: what the states it decides say to a question
    about one, else whether its sentences on the question's words are negated or restricted,
    when they agree),
    approval and eligibility words, where things stand, and each word of the question, negated
    or not ("can I return it?": "you can return it" / "it can't be returned"). In any order:
    reordered sentences are the same answer; a subject decided both ways ("you can't return it,
    but you can exchange it") settles nothing, nor does a state awaited or what usually happens
    ("we'll email you once it's issued", "refunds are usually processed in 5 days")."""
    said_text = ASIDE.sub(" ", text)
    plain = NO_COST.sub(" ", said_text)  # "no return fee" denies a fee, not the return
    stated = AWAITED.sub(" ", plain)
    found = {tuple(match.lastgroup.rsplit("_", 1)) for match in DECISION.finditer(stated)
             if not HABITUAL.search(stated, max(0, match.start() - HABITUAL_REACH), match.start())}
    found.update((f"word {stem}", said) for stem, said in _stances(plain) if stem in asked)
    lead, cost = LEAD.match(text), _cost_asked(yes_no, text)
    opening = SENTENCE.match(text[lead.end():]) if lead else None
    if lead and lead.lastgroup == "sympathy":
        if opening and _polarity(opening.group()) == "no":
            found.add(("lead", "no"))
    elif lead and lead.lastgroup == "news":
        found.add(("lead", "no" if opening and cost == "charge" and _denies_a_charge(opening.group()) else "yes"))
    elif lead:
        found.add(("lead", lead.lastgroup))
    elif yes_no and (said := _states_asked(found, yes_no) or _answers(said_text, yes_no, asked, cost)) \
            and len(said) == 1:
        found.add(("lead", said.pop()))
    subjects = [subject for subject, _ in found]
    return frozenset(decision for decision in found if subjects.count(decision[0]) == 1)


#: a question asking where something stands: "Is my card active yet?", "Has the invoice been paid?"
#: ("Can I change the tip after delivery?" asks about the tip, not the delivery)
STATE_QUESTION = re.compile(r"\W*(?:(?:hi|hello|hey|ok|so)\W+)?(?:is|are|was|were|has|have|had|did)\b", re.I)


def _states_asked(found: set[tuple[str, str]], question: str) -> set[str]:
    """What the states a reply decides say to a question asking for one of them: "Is 2FA enabled?" /
    "It's turned off" says no, "Is my account suspended?" / "It's active" says no too."""
    if not STATE_QUESTION.match(question):
        return set()
    answers = set()
    for subject, said in found:
        if subject in DECISION_WORDS:
            yes, no = (bool(words.search(question)) for words in DECISION_WORDS[subject])
            if yes != no:
                answers.add(said if yes else OPPOSITE[said])
    return answers


def _answers(text: str, question: str, asked: frozenset[str], cost: str) -> set[str]:
    """What the statements of ``text`` on the question say to it (questions back ask, not answer): those
    with a word of the question in them, and where the question asks about a cost, those that name
    one or say there is none ("No fee!", "€18 a night"). To "do I need ...?" only what is said to be
    needed or not answers: "you can refer yourself" does not say whether a referral is needed."""
    statements = [sentence for sentence in SENTENCE.findall(text) if not sentence.endswith("?")]
    if REQUIREMENT.search(_asking(question)) and not COST_QUESTION.search(question):
        said = {_need_answer(clause) for sentence in statements
                for clause in CLAUSE_END.split(CONDITION.sub(" ", sentence)) if NEED_SAID.search(clause)}
        if said:
            return said
        # "you can self-book" says nothing of a need; "drop-off isn't possible" still denies
        statements = [sentence for sentence in statements
                      if not ABILITY.search(sentence) or _polarity(sentence) == "no"]
    return {_answer(sentence, question, asked, cost) for sentence in statements
            if _content_stems(sentence) & asked or (cost and (SAID_FREE.search(sentence) or PRICE.search(sentence)))}


#: a clause saying whether a thing is needed: "a referral is required", "it's optional", "no need to book"
NEED_SAID = re.compile(r"(?i)\b(?:needs?|needed|require[sd]?|required|must|ha(?:ve|s)\s+to|mandatory|compulsory"
                       r"|necessary|optional)\b")
OPTIONAL = re.compile(r"(?i)\boptional\b")


#: what may be done, which says nothing of what must: "you can self-book", "walk-ins are welcome"
ABILITY = re.compile(r"(?i)\b(?:can|could|may|able|welcome|fine|allowed|possible|available)\b")


def _asking(question: str) -> str:
    """What a question asks first, in the sentence it asks in (its last with a "?", else its last): "I need
    to send it back. Can I drop it off?" asks whether one can; "Will it work abroad, and do I have to turn
    anything on?" asks first whether it works."""
    sentences = SENTENCE.findall(question) or [question]
    asking = next((sentence for sentence in reversed(sentences) if sentence.endswith("?")), sentences[-1])
    return FIRST_ASK_END.split(asking, 1)[0]


#: where a question's first ask ends: "Can I walk in, or do I need to book?"
FIRST_ASK_END = re.compile(r"(?i),|\b(?:and|or)\b")


def _need_answer(clause: str) -> str:
    """Whether a clause (its conditions left out) saying what is needed says yes or no to "do I need ...?":
    "no need to book", "no GP letter needed" and "it's optional" say no."""
    denied = OPTIONAL.search(clause) or VERB_DENIED.search(clause) or any(map(_negates, TOKEN.findall(clause.lower())))
    return "no" if denied else "yes"


def _opens_denying(text: str) -> bool:
    first = SENTENCE.search(text)
    return bool(first) and _polarity(first.group()) == "no"


def _answer(sentence: str, question: str, asked: frozenset[str], cost: str = "") -> str:
    """Whether a sentence on the question's words says yes or no to it: a restriction in its first
    clause says no to "can I ...?" ("tips can only be added at checkout"), and yes to "do I need ...?"
    ("we only see patients with a referral"), so it is read only for the first; costing nothing
    says no to a question about a charge, a price to one about costing nothing (``cost``: "charge" or "free")."""
    if RESTRICTED.search(CLAUSE_END.split(sentence, 1)[0]) and not REQUIREMENT.search(question):
        return "no"
    if _denies_what_was_asked(sentence, asked) or (cost == "charge" and SAID_FREE.search(sentence)) \
            or (cost == "free" and not MENTIONS_FREE.search(sentence) and _costs_more(sentence)):
        return "no"
    if cost == "free":  # costing nothing, said with a negation, says yes ("it won't cost you anything")
        return _polarity(SAID_FREE.sub(" ", sentence))
    return _polarity(sentence)


#: a question about a charge: "Do you charge for ...?", "Is there a fee?", "Will I have to pay?"
COST_QUESTION = re.compile(r"(?i)\b(?:charge[sd]?|fees?|costs?|pay|price|surcharge)\b")
#: a question about costing nothing: "Is it free?", "Can I cancel without a charge?"
FREE_QUESTION = re.compile(rf"(?i)\b(?:{_NO_COST}|without\s+(?:a\s+|any\s+)?(?:fee|charge|cost|paying)"
                           r"|(?<!\bi\s)(?<!\bwe\s)(?<!\bto\s)includ(?:e|es|ed)|part\s+of)\b")  # "is breakfast included?"
INCLUDED = re.compile(r"(?i)\b(?:includ(?:e|es|ed|ing)|covered|covers)\b")
#: costing more than what was bought: "breakfast would be extra", "billed separately", "it comes with a charge"
#: (not denied: "without extra charges", "no add-on needed")
COSTS_EXTRA = re.compile(r"(?i)(?<!\bno\s)(?<!\bwithout\s)(?<!\bnot\s)\b(?:extra|separately|on\s+top|add-on|surcharge"
                         r"|additional\s+(?:cost|charge|fee)|an?\s+(?:[\w-]+\s+)?(?:charge|fee))\b")
#: costing nothing, said any way: "free", "no fee", "costs nothing", "zero overdraft charges"
SAID_FREE = re.compile(rf"(?i)\b(?:{_NO_COST}|costs?\s+nothing|nothing\s+(?:extra\s+|more\s+|else\s+)?to\s+pay"
                       r"|zero\s+(?:[\w-]+\s+)?(?:fees?|charges?)"
                       # a charge denied: "won't cost you anything", "you won't pay extra", "won't be billed for it"
                       r"|(?:won['’]t|will\s+not|doesn['’]t|does\s+not)\s+(?:cost\s+(?:you\s+)?|be\s+(?:charged|billed)\s+|pay\s+)"
                       r"(?:anything(?:\s+extra)?|extra|more|separately|a\s+(?:thing|penny|cent)|for\s+(?:it|this|that))"
                       r"|(?:isn['’]t|is\s+not|aren['’]t|are\s+not)\s+(?:an?\s+|any\s+)?(?:extra\s+|additional\s+)?(?:fee|charge|cost)"
                       # nothing to buy: "you won't pay to pick a seat", "you won't need to buy a hotspot pass"
                       r"|(?:won['’]t|will\s+not|don['’]t|do\s+not)\s+(?:pay\s+to|need\s+to\s+(?:buy|pay|rent|purchase))"
                       r"|without\s+(?:paying|being\s+charged)(?:\s+(?:anything|extra|more))?)\b")
#: costing nothing, or any "free" at all: "free up to £200 a month" is no price alone
MENTIONS_FREE = re.compile(rf"{SAID_FREE.pattern}|\bfree\b")


def _costs_more(sentence: str) -> bool:
    """Whether a sentence puts a price on something: a clause names one or says it costs extra ("breakfast
    would be extra"), but for one saying what is included ("the box includes a charger and an extra cable")."""
    return any((PRICE.search(clause) or COSTS_EXTRA.search(clause))
               and not INCLUDED.search(clause) for clause in AMOUNT_CLAUSE_END.split(sentence))


def _denies_a_charge(sentence: str) -> bool:
    """Whether a sentence says something costs nothing, or denies a charge ("I don't see any fees")."""
    return bool(SAID_FREE.search(sentence)) or _polarity(sentence) == "no"


def _cost_asked(question: str, text: str) -> str:
    """Which cost ``question`` asks about: "charge" ("Is there a fee?", "Will I be charged?"), which costing
    nothing answers no, unless the reply names a price (a fee for one case and none for another is
    no single answer); "free" ("Is it free?", "Can I cancel without a charge?"), which a price
    answers no; or ""."""
    if FREE_QUESTION.search(question):
        return "free"
    return "charge" if COST_QUESTION.search(question) and not PRICE.search(text) else ""


def _denies_what_was_asked(sentence: str, asked: frozenset[str]) -> bool:
    """"no" or "without" before a word of the question: "Is there a student discount?" / "There's no
    student discount" says no ("Is it free?" / "no fee" does not: a fee was not asked about)."""
    tokens = TOKEN.findall(sentence.lower())
    return any(token in WITHOUT and any(_stem(word) in asked for word in tokens[i + 1:i + 3]
                                        if word not in FUNCTION_WORDS)
               for i, token in enumerate(tokens))


def _polarity(sentence: str) -> str:
    """Whether a sentence denies (a verb negated: "isn't", "can't", "never", "no se puede") or
    affirms, its conditions aside; "no cost" and "without a fee" deny nothing."""
    plain = CONDITION.sub(" ", sentence)
    denied = VERB_DENIED.search(plain) or any(_negates(t) and t not in WITHOUT for t in TOKEN.findall(plain.lower()))
    return "no" if denied else "yes"


def _negates(token: str) -> bool:
    """Whether a (lower-case) word negates: "not", "never", "can't", "don’t" (models write the curly
    apostrophe as often as the straight one)."""
    return token in NEGATORS or token.endswith(("n't", "n’t"))


def _stem(token: str) -> str:
    """A word by its first letters, its plural -s or -es cut first: box, boxes; return, returned."""
    return PLURAL.sub("", token)[:STEM]


#: the words of a field's name that say a state ("appeal_allowed", "frozen"): a field with one is affirmed
#: only by it ("roaming_included": "for roaming, add a pass" says nothing of it); one without, by its other
#: words (``_flags``)
STATE_WORDS = frozenset("allowed available eligible enabled assigned included required due notified paid sent "
                        "confirmed verified active approved blocked frozen locked cancelled completed refundable "
                        "covered waived possible open ready shipped delivered released kept accepted granted issued "
                        "expired valid passed graded received".split())
STATE_STEMS = frozenset(map(_stem, STATE_WORDS))


#: a field's value that says yes or no in words ("online_payments": "disabled"), affirmed by saying it is on
STATE_VALUES = {"enabled": True, "active": True, "on": True, "yes": True, "disabled": False, "inactive": False,
                "off": False, "no": False}
ON_STEMS = frozenset(map(_stem, "enabled active on".split()))


def _stances(text: str) -> list[tuple[str, str]]:
    """(stem, "no") for each content word right after a negator in its clause, or joined to a denied
    one by "or" ("can't be refunded or returned"), else (stem, "yes")."""
    found = []
    for tokens in _clauses_denied_alone(text.lower().replace("’", "'")):
        denied = _denies_its_clause(tokens)
        negated = last_negated = False
        for token, following in zip(tokens, tokens[1:] + [""]):
            if _negates(token) or (token in ("or", "nor") and last_negated) or (negated and token in NEGATION_TAIL) \
                    or (negated and token in FOUND_VERBS and following == "any"):  # "I don't see any fees"
                negated = True
            elif token not in FUNCTION_WORDS and len(token) > 2:
                found.append((_stem(token), "no" if negated or denied else "yes"))
                last_negated, negated = negated, False
    return found


#: what joins two clauses in the languages whose negators deny their clause ("und", "og", "och", "és",
#: "και", "ve", "et", and their "but"): a negator denies only its own ("refusion er godkendt og du behøver
#: ikke at gøre mere" denies nothing of the refund)
COORDINATORS = frozenset("und og och és και ve et sondern men utan mutta ale ali αλλά ama hanem mais".split())
#: "only" after a negator: "nicht nur", "ikke bare", "inte bara" say "not only", which denies nothing
ONLY_WORDS = frozenset("nur bare bara kun tylko samo csak vain μόνο pouze iba alleen seulement".split())


def _clauses_denied_alone(text: str) -> Iterator[list[str]]:
    """The words of each clause of (lower-cased) ``text``, cut where a clause ends or a coordinator joins two."""
    for clause in CLAUSE_END.split(text):
        words: list[str] = []
        for token in TOKEN.findall(clause):
            if token in COORDINATORS and words:
                yield words
                words = []
            else:
                words.append(token)
        yield words


def _denies_its_clause(tokens: list[str]) -> bool:
    """Whether a word of the clause denies all of it ("kann nicht umgebucht werden"), but for "not only"."""
    return any(token in CLAUSE_NEGATORS and following not in ONLY_WORDS
               for token, following in zip(tokens, tokens[1:] + [""])) or _hungarian_sem(tokens)


def _hungarian_sem(tokens: list[str]) -> bool:
    """A clause closed by Hungarian "sem" after its object ("így macskát sem": nor a cat), not Portuguese
    "sem" (without), which never closes one after a word in -t ("com molho ou sem")."""
    return len(tokens) > 1 and tokens[-1] == "sem" and tokens[-2].endswith("t")


def _content_stems(text: str) -> frozenset[str]:
    return frozenset(_stem(token) for token in TOKEN.findall(text.lower().replace("’", "'"))
                     if token not in FUNCTION_WORDS and token not in NEGATORS and len(token) > 2)


def _opposite(a: frozenset[tuple[str, str]], b: frozenset[tuple[str, str]]) -> str:
    """The subjects ``a`` and ``b`` decide opposite ways, as "subject: yes vs no"; "" if none."""
    b_says = dict(b)
    return ", ".join(f"{subject}: {said} vs {b_says[subject]}" for subject, said in sorted(a)
                     if b_says.get(subject, said) != said)


def _choices(text: str) -> frozenset[tuple[str, str]]:
    """(slot, option) for each option ``text`` names, unless its clause denies it ("not via
    WhatsApp, use the portal" names the portal only) or names it under a condition ("once
    approved, ...")."""
    found = set()
    for clause in CLAUSE_END.split(text):
        for match in CHOICE.finditer(clause):
            slot, option = match.lastgroup.split("__")
            if not (_negated_in(clause, match) or HYPOTHETICAL.search(clause, 0, match.start())
                    or (slot == "progress" and TO_COME_ANY_LANGUAGE.search(clause, 0, match.start()))):
                found.add((slot.replace("_", " "), option.replace("_", " ")))
    return frozenset(found | {implied for choice in found for implied in IMPLIED_CHOICES.get(choice, ())})


#: an option that says another too: what is ready for pickup is done ("resolved" / "ready for pickup")
IMPLIED_CHOICES = {("status", "ready"): (("status", "completed"),)}


def _choices_in(texts: list[str]) -> frozenset[tuple[str, str]]:
    """The choices (see ``_choices``) a conversation's message texts name, read text by text: no
    clause spans two, and the system prompt every record repeats is read once (the slowest
    pattern dedup runs, over the longest text)."""
    return frozenset().union(*map(_message_choices, texts))


_message_choices = lru_cache(maxsize=4096)(_choices)


def _negated_in(clause: str, match: re.Match) -> bool:
    """Whether the clause denies what it names: a negated verb anywhere in it ("the portal doesn't
    support it", "can't be done online") or "no" just before it ("no video", "no roaming charges
    apply"); "at no cost" earlier in the clause is no denial of the card a refund goes to."""
    clause = clause.lower().replace("’", "'")
    before, after = TOKEN.findall(clause[:match.start()]), TOKEN.findall(clause[match.end():])
    return _denied(clause, before + after, before)


def _denied(clause: str, tokens: list[str], before: list[str]) -> bool:
    """Whether a (lower-case) clause denies what stands after ``before``: a negated verb anywhere in it,
    "no" or "without" just before it, or Spanish "no" before a verb."""
    return (any(_negates(token) and token not in WITHOUT for token in tokens)
            or not WITHOUT.isdisjoint(before[-3:]) or bool(VERB_DENIED.search(clause)))


def _durations(text: str, context: str, given: frozenset) -> tuple[frozenset, frozenset]:
    """The durations a reply states, and those of them its input holds (a duration of its own,
    or its number: a tool's ``"days_since_purchase": 6`` gives "6 days")."""
    stated, held = _durations_in(text), {(kind, value) for kind, value, _ in _durations_in(context)}
    return stated, frozenset(d for d in stated if d[:2] in held or ("number", number_key(d[2])) in given)


def _durations_in(text: str) -> frozenset[tuple[str, float, float]]:
    """Each duration ``text`` states, in the smallest unit of its kind, with the number written:
    "two weeks" is (days, 14), "a year" (months, 12), "3-5 business days" (days, 3) and (days, 5).
    Months are not days: "30 days" and "a month" are not compared."""
    found = set()
    for match in DURATION.finditer(text):
        unit = match["unit"] or next(unit for unit, pattern in ABROAD_UNIT if pattern.fullmatch(match["unit_abroad"]))
        kind, factor = DURATION_UNITS[unit.lower()]
        for end in filter(None, (match["num"], match["to"])):
            end = end.lower()
            # "1,000" is a thousand, "1,5" one and a half: the first reading of number_values
            count = 1.0 if end in ("a", "an") else float(NUMBER_WORDS.get(end) or COUNTS_ABROAD.get(end)
                                                            or number_values(end)[0] / 10000)
            found.add((kind, round(count * factor, 3), count))
            found.update(("days", days, count) for days in _as_days(unit.lower(), count) if days)
    for match in SAID_DURATION.finditer(text):
        found.update(SAID_DURATIONS["now" if match["now"] else "same day" if match["same_day"] else "next day"])
    return frozenset(found)


def _as_days(unit: str, count: float) -> tuple[float, ...]:
    """Hours in whole days and years, as days too: "48 hours'" notice is "2 days'", a "one-year"
    warranty is no "90-day" one (months stay apart from days: "30 days" is not "a month")."""
    if unit in HOURS and count % 24 == 0:
        return (count / 24,)
    return (round(count * 365, 3),) if unit in ("year", "yr") else ()


def _other_durations(a: Reply, b: Reply) -> str:
    """A kind of duration each reply states a length of the other does not ("2 days" / "2 weeks"
    notice), one of them not from its input, as "x vs y"; "" if none. A length the other reply
    writes as a bare number ("under 14" for "the 14-day window") is held."""
    only_a, only_b = _durations_missing_from(a, b), _durations_missing_from(b, a)
    for kind in sorted({d[0] for d in only_a} & {d[0] for d in only_b}):
        mine, theirs = {d for d in only_a if d[0] == kind}, {d for d in only_b if d[0] == kind}
        if not (mine <= a.durations_given and theirs <= b.durations_given):
            return f"{min(mine)[1]:g} vs {min(theirs)[1]:g} {kind}"
    return ""


def _durations_missing_from(reply: Reply, other: Reply) -> set[tuple[str, float, float]]:
    lengths, counted = {d[:2] for d in other.durations}, {d[2] for d in other.durations}
    bare = frozenset().union(*(readings for written, readings in other.facts if not MONEY.search(written)))  # not "30%"
    bare -= {("number", number_key(length)) for _, length, count in other.durations if length != count}  # 48 hours: no 2
    return {d for d in reply.durations if d[:2] not in lengths
            and (d[2] in counted or ("number", number_key(d[2])) not in bare)}


def _counts(text: str) -> frozenset[tuple[str, int]]:
    """(thing, how many) for each thing ``text`` counts: "2 guests" and "two guests" are ("guest", 2)."""
    return frozenset((singular(match["thing"]), _count_value(count)) for match in COUNTED.finditer(text.lower())
                     if match["thing"] not in NOT_COUNTED for count in filter(None, (match["count"], match["total"])))


def _counted_fields(context: str) -> frozenset[tuple[str, int]]:
    """A tool result's counts: ``"nights": 3`` is ("night", 3)."""
    return frozenset((singular(match["thing"]), int(match["count"])) for match in COUNTED_FIELD.finditer(context.lower()))


def _count_value(count: str) -> int:
    return int(count) if count.isdigit() else NUMBER_WORDS[count]


def _recounted(a: Reply, b: Reply) -> str:
    """A thing both replies count, in numbers that share none ("2 nights" / "3 nights"), one of
    them not from its input, as "x vs y thing"; "" if none."""
    for thing in sorted({thing for thing, _ in a.counts} & {thing for thing, _ in b.counts}):
        mine, theirs = ({pair for pair in reply.counts if pair[0] == thing} for reply in (a, b))
        if {n for _, n in mine}.isdisjoint(n for _, n in theirs) \
                and not (mine <= a.counts_given and theirs <= b.counts_given):
            return f"{min(mine)[1]} vs {min(theirs)[1]} {thing}"
    return ""


def _switched(a: Reply, b: Reply) -> str:
    """A slot each reply fills with an option the other does not name, as "slot: x vs y"; "" if
    none. Two replies each relaying an option only its own input names are no dispute; two
    picking different options of one question ("monthly or yearly?") are."""
    for slot in sorted({slot for slot, _ in a.choices ^ b.choices}):
        only_a = {choice for choice in a.choices - b.choices if choice[0] == slot}
        only_b = {choice for choice in b.choices - a.choices if choice[0] == slot}
        if only_a and only_b and not (only_a <= a.offered - b.offered and only_b <= b.offered - a.offered):
            return f"{slot}: {min(only_a)[1]} vs {min(only_b)[1]}"
    return ""


def _required_otherwise(a: Reply, b: Reply) -> str:
    """What one reply says is needed and the other says is not: "someone needs to be home" / "you
    don't need to be home", as "home: needed vs not needed"."""
    theirs = b.requirements
    return next((f"{thing}: {'needed' if needed else 'not needed'} vs {'not needed' if needed else 'needed'}"
                 for thing, needed in sorted(a.requirements.items()) if theirs.get(thing, needed) != needed), "")


def _requirements(text: str) -> dict[str, bool]:
    """Whether a (normalized) reply says a thing is needed, by the stem of the first word after
    "need", "must", "have to" or "require" ("you'll need to be home": "home"), or before "is needed"
    ("no signature is needed": "signa"); denied by a negation just before ("you don't need to").
    Clauses under a condition ("no need to call as long as ...") and things said both ways are left out."""
    found: dict[str, set[bool]] = {}
    for clause in CLAUSE_END.split(text):
        if CONDITION.search(clause):
            continue
        for match in NEEDED_THING.finditer(clause):
            found.setdefault(_stem(match["thing"]), set()).add(match["amount"] != "no")
        clause = NEEDED_THING.sub(" ", clause)
        tokens = [(token.group(), token.start()) for token in TOKEN.finditer(clause)]
        negated_at = next((at for token, at in tokens if _negates(token)), len(clause))
        starts = [at for _, at in tokens]
        for match in NEEDS.finditer(clause):
            at = bisect_left(starts, match.end())  # the thing needed comes within a few words
            after = [token for token, _ in tokens[at:at + NEEDED_WITHIN] if token not in FUNCTION_WORDS][:2]
            denied = negated_at < match.start() or bool(after) and _negates(after[0])  # "needs no signature"
            thing = after[1:] if after and _negates(after[0]) else after[:1]
            if thing:
                found.setdefault(_stem(thing[0]), set()).add(not denied)
    return {thing: said.pop() for thing, said in found.items() if len(said) == 1}


def _named_otherwise(a: Reply, b: Reply) -> str:
    """One kind of thing each reply names, by names that share no word ("the Team plan" / "the
    Business plan", "our Glass Claims team" / "the Auto Physical Damage team"), one of them not
    from its input, as "x vs y"; "" if none."""
    for kind in sorted({kind for kind, _ in a.named} & {kind for kind, _ in b.named}):
        mine, theirs = (frozenset().union(*(words for k, words in reply.named if k == kind)) for reply in (a, b))
        if mine.isdisjoint(theirs) and not (mine <= a.named_given and theirs <= b.named_given):
            return f"{' '.join(sorted(mine))} vs {' '.join(sorted(theirs))} {kind}"
    return ""


def _named(text: str) -> frozenset[tuple[str, frozenset[str]]]:
    """(kind, name's words) for each kind of thing ``text`` names with capitals: "your Gold tier",
    "the Network Ops team"; "Your plan" names none."""
    found = set()
    for match in NAMED.finditer(text):
        words = frozenset(word.lower() for word in match["name"].split()) - FUNCTION_WORDS - OPENING_ADVERBS
        if words:
            found.add((match["kind"].lower(), words))
    return frozenset(found)


def _renamed(a: Reply, b: Reply) -> str:
    """A name from the shared tool results swapped, in the other reply, for one they do not hold:
    "at the Eastside Clinic" / "at the Westside Clinic". Only where the replies run alike around
    it, and only for capitalized words: a synonym for a status ("dispatched" for "shipped") is
    a wording."""
    if not a.results or a.results != b.results:
        return ""
    returned = _prefixes(WORD.findall(a.results.lower()))
    # aligned without capitals: a sentence's first word is lowered, "Deluxe" after a colon too
    lowered = [tuple(word.lower() for word in reply.words_as_written) for reply in (a, b)]
    steps = SequenceMatcher(None, *lowered, autojunk=False).get_opcodes()
    for k, (op, i1, i2, j1, j2) in enumerate(steps):
        one, other = a.words_as_written[i1:i2], b.words_as_written[j1:j2]
        in_place = any(steps[n][0] == "equal" for n in (k - 1, k + 1) if 0 <= n < len(steps))
        if op != "replace" or not in_place or max(len(one), len(other)) > RENAMED_WORDS:
            continue
        acronyms = len(one) == len(other) == 1  # one word for another: "PPO" / "HMO", "FedEx" / "UPS"
        names, other_names = _names(one, acronyms), _names(other, acronyms)
        if names and other_names and bool(_prefixes(names) & returned) != bool(_prefixes(other_names) & returned):
            return f"{' '.join(one)} vs {' '.join(other)}"
    return ""


def _another_value(a: Reply, b: Reply, seen: FieldValues) -> str:
    """A value one reply names, not denied just before, that a field of the shared tool result does
    not hold but held in another lookup of the request, where the other reply does not name it, nor
    the first the result's own ("your general waste bin" over ``"bin": "recycling"``, another lookup
    having returned ``"bin": "general_waste"``), as "bin: general waste where this lookup returned
    recycling"; "" if none. A value the input names is relayed, not asserted."""
    if not seen or not a.results or a.results != b.results:
        return ""
    for field, values in values_seen([a.values]).items():
        for other in sorted(seen.get(field, frozenset()) - values):
            for reply, theirs in ((a, b), (b, a)):
                if reply.words.issuperset(other) and not theirs.words.issuperset(other) \
                        and reply.named_given.isdisjoint(other) and not _negated(reply, other) \
                        and not any(reply.words.issuperset(value) for value in values):
                    returned = " / ".join(" ".join(value) for value in sorted(values))
                    return f"{field}: {' '.join(other)} where this lookup returned {returned}"
    return ""


def _negated(reply: Reply, words: tuple[str, ...]) -> bool:
    """Whether a negation comes in the three words before one of ``words`` ("wasn't approved")."""
    written = [word.lower() for word in reply.words_as_written]
    return any(word in words and any(map(_negates, written[max(0, at - 3):at])) for at, word in enumerate(written))


#: a field that took more values than this over one input's lookups holds free text, not a state
FIELD_VALUES_KEPT = 20
NORMALIZED_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9_]*>")  # "<ORDER_1>" as ``returned`` writes it


@lru_cache(maxsize=4096)  # replies over one lookup share its values
def field_values(results: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(field, the words of its value, in order) for each value of JSON tool results (one a line, as
    ``returned`` writes them) written in words, those that say something of three letters or more;
    a field inside another is named by its path ("appointment.status"). A value with digits is a
    fact, compared as such, a placeholder an identifier, and a letter ("M", "B") would be met in
    every "I'm" and "I'd"."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for line in results.splitlines():
        try:
            found.extend(_word_leaves(orjson.loads(line)))
        except orjson.JSONDecodeError:
            continue
    return tuple(dict.fromkeys(found))


def _word_leaves(value: Any, path: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    if isinstance(value, dict):
        for field, inner in value.items():
            yield from _word_leaves(inner, f"{path}.{field}" if path else field)
    elif isinstance(value, list):
        for inner in value:
            yield from _word_leaves(inner, path)
    elif isinstance(value, str) and path and not ANY_DIGIT(value) and not NORMALIZED_PLACEHOLDER.search(value):
        words = tuple(dict.fromkeys(LETTERS.findall(value)))
        named = [word for word in words if word not in FUNCTION_WORDS]
        if named and min(map(len, named)) >= 3:
            yield path, words


def values_seen(lookups: Iterable[tuple[tuple[str, tuple[str, ...]], ...]]) -> dict[str, frozenset[tuple[str, ...]]]:
    """What each field held over these lookups (each a reply's ``values``), but the fields that held
    more than FIELD_VALUES_KEPT values."""
    seen: dict[str, set[tuple[str, ...]]] = {}
    for values in lookups:
        for field, words in values:
            seen.setdefault(field, set()).add(words)
    return {field: frozenset(words) for field, words in seen.items() if len(words) <= FIELD_VALUES_KEPT}


def _read_otherwise(a: Reply, b: Reply) -> str:
    """Over the same tool results, amounts, dates or times that both replies read off them, of one kind,
    none of which the other states: "€79.99" / "€59.99" off a refund of one item of two, "10 May" /
    "2 June" off a list of appointments. Each relays its input, but one of them the wrong part of it.
    Two right replies quoting two fields ("your balance is $120.50" / "your minimum payment of $25")
    read as a dispute too: asking for the same field in other entries would miss most of these."""
    if not a.results or not same_grounds(a, b):
        return ""
    mine, theirs = a.read_from_results, b.read_from_results
    for kind in ("amount", "date", "time"):
        if kind in mine and kind in theirs and not mine[kind].values & theirs[kind].values \
                and (kind != "amount" or not (mine[kind].values & b.stated or theirs[kind].values & a.stated)):
            return f"{kind}: {mine[kind].written} vs {theirs[kind].written}"
    return ""


class ReadOff(NamedTuple):
    """What a reply reads off its tool results, of one kind: the values, and the first as written."""

    values: frozenset
    written: str


def _read_from_results(reply: Reply) -> dict[str, ReadOff]:
    """By kind ("amount", "date", "time"), what the reply's facts that its tool results hold say:
    amounts as read (a share, "20%", is none), times as minutes past midnight, dates as days of the
    month, with every number up to 31 it writes ("5 to 9 August" holds the 5 of "August 5-9")."""
    returned = _result_readings(reply.results)
    found: dict[str, ReadOff] = {}
    for written, readings in reply.facts:
        held = readings & returned
        if not held or "%" in written:
            continue
        kinds = {kind for kind, _ in readings}
        if CURRENCY.search(written):
            kind, values = "amount", held
        elif "time" in kinds:
            kind, values = "time", _clock_times(written, readings)
        elif kinds & {"date", "dated"}:
            kind, values = "date", frozenset(value[-1] for kind, value in readings if kind in ("date", "dated"))
        else:
            continue
        before = found.get(kind, ReadOff(frozenset(), written))
        found[kind] = before._replace(values=before.values | values)
    if "date" in found:
        days = frozenset(number for written, readings in reply.facts
                         for number in _fact_numerals(written, readings) if number <= 31)
        found["date"] = found["date"]._replace(values=found["date"].values | days)
    return found


def _result_readings(results: str) -> frozenset:
    """The readings of every value of JSON tool results (one a line)."""
    return frozenset(reading for line in results.splitlines() for leaf in document_values(_json_or_none(line))
                     for _, readings in _asserted(leaf) for reading in readings)


def _json_or_none(line: str) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _against_results(a: Reply, b: Reply) -> str:
    """Over the same tool result, where things stand said otherwise than the result says it by
    one reply and not by the other: "still pending" / "went through" over ``"status": "paid"``,
    as "pending where the tool returned paid"; "" if neither or both."""
    if not a.results or a.results != b.results:
        return ""
    states = _result_states(a.results)
    for reply, other in ((a, b), (b, a)):
        theirs = _states_against(other, *states)
        for said, returned in _states_against(reply, *states).items():
            if said not in theirs:
                return f"{said[1]} where the tool returned {returned}"
    return ""


def _states_against(reply: Reply, options: frozenset, decisions: frozenset,
                    flags: frozenset[tuple[str, frozenset[str], bool]],
                    amounts: tuple[tuple[str, frozenset[str], int], ...],
                    missing: frozenset[str]) -> dict[tuple[str, str], str]:
    """What the reply says that the tool result contradicts, as (slot or subject, what it says), to
    what the result says: an option of a slot the result fills with others only, a decision the
    result takes the other way, a yes-or-no field said the other way ("can't be appealed" over
    ``"appeal_allowed": true``), another field's amount given as a field's ("$18.40 in total" over
    ``"fare": 18.4, "total": 21.4``), nothing left to send where the result lists something missing."""
    found = _amounts_misattributed(reply.key, amounts)
    if missing and _says_nothing_missing(reply.key, frozenset(item for _, item in missing)):
        field, _ = min(missing)
        found[("missing", "nothing missing")] = f"{field}: {sum(listed == field for listed, _ in missing)} listed"
    for subject, predicate, value in flags:
        said = _said_of(reply.key, subject, predicate)
        if said is not None and said != value:
            found[(subject, f"{subject}: {'yes' if said else 'no'}")] = f"{subject}: {'yes' if value else 'no'}"
    for slot in {slot for slot, _ in reply.choices if slot in STANDING_SLOTS}:
        said, returned = ({option for s, option in pairs if s == slot} for pairs in (reply.choices, options))
        if returned and said.isdisjoint(returned):
            found[(slot, min(said))] = min(returned)
    for subject, said in reply.decisions:
        if (subject, said) not in decisions and (subject, OTHER_WAY[said]) in decisions:
            found[(subject, f"{subject} {said}")] = f"{subject} {OTHER_WAY[said]}"
    return found


@lru_cache(maxsize=4096)
def _result_states(results: str) -> tuple[frozenset, frozenset, frozenset[tuple[str, frozenset[str], bool]],
                                          tuple[tuple[str, frozenset[str], int], ...], frozenset[tuple[str, int]]]:
    """Where a tool result says things stand, read as a reply's options and decisions, each field
    a sentence: ``"status": "in_transit"`` as "status is in transit", ``"active": false`` as "it
    is not active"; and its yes-or-no fields by the stems of their words (``"appeal_allowed": true``:
    ("appea", {"allow"}, True)); its amounts (``_amounts``); and what it lists as missing (``_still_missing``)."""
    sentences, flags, numbers, missing = [], set(), [], set()
    for line in results.splitlines():
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:  # a result in plain words is read as written
            sentences.append(line)
            continue
        sentences.extend(_field_sentences(value))
        flags.update(_flags(value))
        numbers.extend(_numeric_fields(value))
        missing.update(_still_missing(value))
    text = ". ".join(sentences)
    options = {said for said, pattern in RESULT_OPTIONS.items() if pattern.search(text)}
    decisions = {said for said, pattern in RESULT_DECISIONS.items() if pattern.search(text)}
    fields_per_subject = Counter(subject for subject, _, _ in flags)  # two fields one subject: neither is read
    return (_choices(text) | options, _decisions(text, frozenset()) | decisions,
            frozenset(flag for flag in flags if fields_per_subject[flag[0]] == 1), _amounts(numbers),
            frozenset(missing))


def _amounts(fields: list[tuple[str, frozenset[str], int]]) -> tuple[tuple[str, frozenset[str], int], ...]:
    """(field, the stems of its name no other amount's name has, its value key) for each field of a
    JSON tool result that holds a number (``"available": 1432.18``, ``"amount": "312.40"``), ids and
    small counts aside (``_counts`` reads those); none when two fields hold one value (which of them
    a reply names could not be told)."""
    found = [amount for amount in fields if not _small_count(amount[2])]  # "checked_bags": 1 is a count
    values = Counter(value for _, _, value in found)
    words = Counter(stem for _, stems, _ in found for stem in stems)
    return tuple((field, frozenset(stem for stem in stems if words[stem] == 1), value)
                 for field, stems, value in found if values[value] == 1)


def _small_count(key: int) -> bool:
    return key % 10000 == 0 and 0 < key < 10 * 10000


def _numeric_fields(value: Any) -> Iterator[tuple[str, frozenset[str], int]]:
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        if isinstance(inner, (dict, list)):
            yield from _numeric_fields(inner)
            continue
        number = inner if isinstance(inner, (int, float)) and not isinstance(inner, bool) else \
            _number_in(inner) if isinstance(inner, str) else None
        # a field's name is structure, never scrubbed: only a name a program gives is read (and quoted)
        if number is not None and isinstance(key, str) and FIELD_NAME.fullmatch(key):
            stems = frozenset(_stem(singular(word)) for word in KEY_WORD.findall(key.lower()))
            if stems and ID_STEMS.isdisjoint(stems):
                yield key, stems, number_key(abs(number))


def _number_in(text: str) -> float | None:
    """The number a string field holds whole ("312.40", "2,450.00"), else None."""
    if not AMOUNT_TEXT.fullmatch(text.strip()):
        return None
    values = number_values(text.strip())
    return values[0] / 10000 if values else None


def _amounts_misattributed(text: str, amounts: tuple[tuple[str, frozenset[str], int], ...]) -> dict[tuple[str, str], str]:
    """Clauses that name one amount field of the tool result and give the value of another, never
    its own: "your checking balance is $1,510.18 available" over ``"available": 1432.18, "current":
    1510.18``, as {(field, "field: what it says"): "field: what the tool returned"}."""
    found: dict[tuple[str, str], str] = {}
    if not amounts:
        return found
    for clause in AMOUNT_CLAUSE_END.split(LABEL_COLON.sub(" ", text)):
        stems = {_stem(singular(token)) for token in TOKEN.findall(clause)}
        named = [amount for amount in amounts if amount[1] & stems]
        if len(named) != 1:
            continue
        field, _, value = named[0]
        given = {key for match in NUMBER.finditer(clause) for key in number_values(match["num"])}
        others = [other for other in amounts if other[2] in given and other[0] != field]
        if value not in given and others:
            found[(field, f"{field}: {others[0][2] / 10000:g}")] = f"{field}: {value / 10000:g}"
    return found


def _still_missing(value: Any) -> Iterator[tuple[str, str]]:
    """(the field, the words of an item) for what a tool result lists as still missing
    (``"documents_missing": ["repair estimate"]``: ("documents_missing", "repair estimate")); a field's
    name is structure, never scrubbed: only a name a program gives is read (and quoted)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        if isinstance(key, str) and FIELD_NAME.fullmatch(key) and MISSING_FIELD.search(key) and isinstance(inner, list):
            for item in inner:
                words = " ".join(LETTERS.findall(str(item).lower()))
                if words not in NOTHING_LISTED:
                    yield key, words
        elif isinstance(inner, (dict, list)):
            yield from _still_missing(inner)


def _says_nothing_missing(text: str, missing: frozenset[str]) -> bool:
    """Whether a reply says nothing is left to send ("all required documents have been received")
    without naming what the result lists as missing, outside a condition ("once you send it, there's
    nothing more to do")."""
    said = set(TOKEN.findall(text))
    if any(word in said for item in missing for word in item.split() if len(word) >= 4):
        return False
    return any(NOTHING_MISSING.search(sentence) and not CONDITION.search(sentence)
               for sentence in SENTENCE.findall(text))


def _flags(value: Any) -> Iterator[tuple[str, frozenset[str], bool]]:
    """(its subject, the stems of its words that say a state, its value) for each yes-or-no field.
    The subject is the stem of the first word that names a thing (``"courier_assigned": false`` is
    ("couri", {"assig"}, False); ``"covers_sudden_water_damage"``: "sudde"), or, where every word
    says a state, the first as written, after "=" (``"cancelled"``: "=cancelled", which
    "cancellation" is not)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        state = STATE_VALUES.get(inner.lower()) if isinstance(inner, str) else inner
        # a field's name is structure, never scrubbed: only a name a program gives is read (and quoted)
        if isinstance(state, bool) and isinstance(key, str) and FIELD_NAME.fullmatch(key):
            words = [word for word in KEY_WORD.findall(key.lower()) if word not in FLAG_PREFIXES]
            things = [word for word in words if _stem(word) not in STATE_STEMS]
            subject = _stem(things[0]) if things else f"={words[0]}" if words else ""
            if len(subject.lstrip("=")) > 2:
                said_in_words = ON_STEMS if isinstance(inner, str) else frozenset()
                stems = frozenset(map(_stem, words))
                # a field without a word for a state is affirmed by its fee ("late_fee_applies": "a late
                # fee"), its other words ("lounge_access": "access") or its one word ("banned")
                predicate = (stems & STATE_STEMS | said_in_words) or stems & COST_STEMS \
                    or frozenset(map(_stem, things[1:] or things))
                yield subject, predicate, state
        elif isinstance(inner, (dict, list)):
            yield from _flags(inner)


def _said_of(text: str, subject: str, predicate: frozenset[str]) -> bool | None:
    """Whether ``text`` affirms or denies a yes-or-no field, in the clauses naming its subject (a
    stem), each read as a whole: denied by a negation ("there's no written feedback", "a courier
    hasn't been assigned", "autopay is off", "smoking is prohibited"), affirmed by a word of
    ``predicate`` ("eligible for compensation"; "for roaming, add a pass" says nothing of
    "roaming_included"), outside a condition, a state to come or an offer ("add the winter sports
    extension"). None if it says neither, or both."""
    said = set()
    for clause in CLAUSE_END.split(LABEL_COLON.sub(" ", text.replace("’", "'"))):
        if COST_STEMS.isdisjoint(predicate | {subject}):  # "no change fee" denies a fee, not "changeable"
            clause = COST_DENIED.sub(" ", clause)
        tokens = TOKEN.findall(clause)
        at = _naming(tokens, subject)
        if at is None or HYPOTHETICAL.search(clause):
            continue
        if _denied(clause, tokens, tokens[:at]) or FLAG_DENIAL.search(clause):
            said.add(False)
        elif (REQUIRED in predicate and REQUIREMENT.search(clause)) or (  # "you'll need prior authorization"
                not predicate.isdisjoint(map(_stem, tokens)) and not (TO_COME.search(clause) or OFFERED.search(clause))):
            said.add(True)
    return said.pop() if len(said) == 1 else None


def _naming(tokens: list[str], subject: str) -> int | None:
    """Where the first token naming a field's subject stands (``_flags``), or None."""
    return next((i for i, token in enumerate(tokens) if (token == subject[1:] if subject[0] == "=" else
                                                         _stems_meet(_stem(token), subject))), None)


def _stems_meet(stem: str, subject: str) -> bool:
    """Whether a word's stem names a field's subject: the same stem, or a whole word of four letters
    that begins it ("fast" names "fasting_required"); a longer word never names a shorter subject
    ("autopay" is not "auto_renew")."""
    return stem == subject or (4 <= len(stem) < len(subject) and subject.startswith(stem))


def _field_sentences(value: Any, key: str = "it") -> Iterator[str]:
    if isinstance(value, dict):
        for field, inner in value.items():
            yield from _field_sentences(inner, field.replace("_", " "))
    elif isinstance(value, list):
        for inner in value:
            yield from _field_sentences(inner, key)
    elif isinstance(value, bool):
        yield f"it is {'' if value else 'not '}{key}"
    elif isinstance(value, str):
        yield f"{key} is {value.replace('_', ' ')}"


def _prefixes(words: Iterable[str]) -> frozenset[str]:
    """Words by their first four letters: "Sept" is "September"."""
    return frozenset(word[:4] for word in words)


def _words_as_written(text: str) -> tuple[str, ...]:
    """The words of ``text`` in order, capitals kept but for the first word of each sentence,
    line or label ("Status: Approved"), which is capitalized whatever it is."""
    return tuple(word if n else word.lower() for part in STARTS.split(text)
                 for n, word in enumerate(TOKEN.findall(part)))


def _names(words: tuple[str, ...], acronyms: bool = False) -> set[str]:
    """The words written with a capital. Codes with digits and placeholders are left out, and so
    are acronyms ("BCN", "AM") unless ``acronyms``: they are facts, compared as such, or
    abbreviations, except where one stands in for another word by word."""
    return {word.lower() for word in words if word[:1].isupper() and (acronyms or not word.isupper())
            and word.lower() not in FUNCTION_WORDS and not re.search(r"[\d_]", word)}


def _calls(message: dict[str, Any], relayed: frozenset[str]) -> tuple[tuple[str, str], ...]:
    calls = [call.get("function") or {} for call in message.get("tool_calls") or () if isinstance(call, dict)]
    return tuple((normalize(str(call.get("name", ""))), _canonical_arguments(call.get("arguments"), relayed))
                 for call in calls)


def returned(result: str) -> str:
    """What a tool result says, as two results are compared: its JSON with keys sorted, every string
    normalized and every opaque identifier made one ("LF-674643" is the order it was asked about)."""
    return _canonical_arguments(result)


def _canonical_arguments(arguments: Any, ids: frozenset[str] | None = None) -> str:
    """Arguments as sorted-key JSON with every string normalized, the opaque identifiers in ``ids``
    (all of them for None) made one; unparseable ones as normalized text."""
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments or "{}")
        except orjson.JSONDecodeError:
            return normalize(without_opaque_ids(arguments, ids))
    return orjson.dumps(_normalized_leaves(arguments, ids), option=orjson.OPT_SORT_KEYS).decode()


def _normalized_leaves(value: Any, ids: frozenset[str] | None) -> Any:
    if isinstance(value, str):
        return normalize(without_opaque_ids(value, ids))
    if isinstance(value, dict):
        return {str(k): _normalized_leaves(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized_leaves(v, ids) for v in value]
    return value


def _calls_text(reply: Reply) -> str:
    return ", ".join(name for name, _ in reply.calls) or "none"
