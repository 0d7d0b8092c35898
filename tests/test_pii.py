"""The PII scrubber: measured precision and recall on the labeled sets must not regress, and
the behaviours the mine stage relies on (validators, consistent placeholders, JSON-safe, linear)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dataprep import schemas
from dataprep.pii import DEFAULT_PHONE_REGIONS, DETECTOR_NAMES, Scrubber
from dataprep.re2_hints import HINTS
from dataprep.record import Record

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_pii import BITEXT, CLEAN_SETS, LABELED, TUNING_SETS, bitext_names, load, score  # noqa: E402

STRUCTURED = ("email", "phone", "card", "iban", "ssn", "uk_nino", "passport", "dob", "ip", "api_key", "jwt",
              "pem_key", "aws_secret")


def values_of(text: str, kind: str) -> list[str]:
    """What the scrubber finds in ``text`` as ``kind``, in text order."""
    return [text[found.start:found.end] for found in Scrubber().find(text) if found.kind == kind]


FLOORS = {"precision": 0.98, "recall": 0.95, "name": 0.9, "structured": 0.97, "neutral": 0.02, "kind_precision": 0.95}
#: the last two sets were clean sets first, and their errors have had one round of tuning since: their floors
#: stay at their measured level (holdout4's one false SSN is a customer number written like one,
#: "klantnummer blijft 800-44-1271"; holdout5's false phones are Brazilian boleto digit groups, its false IP a
#: documentation range, its false AWS secret an unprefixed Cohere key)
MEASURED_FLOORS = {"holdout4": {**FLOORS, "recall": 0.93, "name": 0.83, "neutral": 0.03, "kind_precision": 0.92},
                   "holdout5": {**FLOORS, "precision": 0.97, "recall": 0.93, "name": 0.89, "structured": 0.96,
                                "neutral": 0.035, "kind_precision": 0.91},
                   # its writer's neutral texts name products and rooms after people ("Room Ada Lovelace", "the
                   # Grace Hopper Celebration", "Hugo Boss Bottled") and hold a bcrypt hash, an SSH fingerprint,
                   # a Twilio message id and an order number grouped like a card
                   "holdout7": {**FLOORS, "recall": 0.95, "name": 0.89, "neutral": 0.09, "kind_precision": 0.93},
                   # brands and places named after people ("Tim Hortons", "Leroy Merlin", "Albert Heijn")
                   "holdout8": {**FLOORS, "recall": 0.945, "name": 0.89, "neutral": 0.08},
                   # brands and venues ("Jack Daniel's", "Carl Zeiss", "Lincoln Park"); national ids and dates of
                   # birth with no word that names them; a Romanian and a Hungarian address
                   "holdout9": {**FLOORS, "recall": 0.935, "name": 0.89, "structured": 0.95, "neutral": 0.085,
                                "kind_precision": 0.93},
                   # a third of its names are lone first names in passing ("Amara, Frank and Sunita"), in
                   # rotas and lists, or Japanese, Korean and Hindi names without an honorific
                   "holdout10": {**FLOORS, "recall": 0.905, "name": 0.83, "structured": 0.96, "neutral": 0.03,
                                 "kind_precision": 0.9},
                   # names in Cyrillic, Greek and Arabic with no label or honorific; Chinese names in prose
                   "holdout11": {**FLOORS, "recall": 0.875, "name": 0.76, "structured": 0.93, "neutral": 0.06,
                                 "kind_precision": 0.85},
                   # a third of its passports and dates of birth stand in airline records and payroll tables with
                   # no word; names in Arabic, Russian and Greek prose, git blame lines and GitHub handles
                   "holdout12": {**FLOORS, "precision": 0.97, "recall": 0.86, "name": 0.77, "structured": 0.93,
                                 "neutral": 0.1, "kind_precision": 0.8},
                   # names in Cyrillic, Greek and Arabic prose; first.last logins; passports in CSV columns and MRZ
                   # lines; call records with foreign numbers; Korean health-card numbers
                   "holdout13": {**FLOORS, "recall": 0.875, "name": 0.76, "structured": 0.94, "neutral": 0.05,
                                 "kind_precision": 0.85},
                   # passports in wedding-guest lists and transfer manifests; names in Cyrillic prose and HL7 lines
                   "holdout14": {**FLOORS, "precision": 0.975, "recall": 0.875, "name": 0.77, "structured": 0.94,
                                 "neutral": 0.06, "kind_precision": 0.85},
                   # built from templates, each base used twice: one round of tuning lifts both copies
                   "holdout15": {**FLOORS, "precision": 0.99, "recall": 0.98, "name": 0.99, "structured": 0.98},
                   # its writer leaves role mailboxes (support@, noreply@) unlabeled, which the scrubber removes
                   "holdout16": {**FLOORS, "precision": 0.96, "recall": 0.945, "name": 0.915, "structured": 0.98,
                                 "neutral": 0.07, "kind_precision": 0.88},
                   # names that sign off a message quoted inside another ("... — Ігор»") are its hardest
                   "holdout17": {**FLOORS, "precision": 0.975, "recall": 0.91, "name": 0.845, "structured": 0.96,
                                 "neutral": 0.11, "kind_precision": 0.9},
                   # clean sets first (never read until the end of round fourteen): their false IPs and keys are
                   # its writers' unlabeled look-alikes
                   "holdout18": {**FLOORS, "precision": 0.965, "recall": 0.935, "name": 0.89, "structured": 0.97,
                                 "neutral": 0.09, "kind_precision": 0.9},
                   "holdout19": {**FLOORS, "precision": 0.96, "recall": 0.905, "name": 0.875, "structured": 0.95,
                                 "neutral": 0.08, "kind_precision": 0.88},
                   "holdout20": {**FLOORS, "precision": 0.96, "recall": 0.92, "name": 0.895, "structured": 0.955,
                                 "neutral": 0.11, "kind_precision": 0.87}}


@pytest.mark.parametrize("name", TUNING_SETS)  # never CLEAN_SETS: those are only for the benchmark's last run
def test_tuning_set_precision_and_recall_stay_at_the_measured_level(name):
    assert name not in CLEAN_SETS
    floors = MEASURED_FLOORS.get(name, FLOORS)
    tally = score(load(LABELED / f"{name}.jsonl"), Scrubber())
    assert tally.precision() >= floors["precision"], tally.errors
    assert tally.recall() >= floors["recall"], tally.errors
    assert tally.recall("name") >= floors["name"], tally.errors
    structured = sum(tally.true_pos[kind] for kind in STRUCTURED)
    missed = sum(tally.false_neg[kind] for kind in STRUCTURED)
    assert structured / (structured + missed) >= floors["structured"], tally.errors
    for kind in STRUCTURED:
        assert tally.precision(kind) >= floors["kind_precision"], (kind, tally.errors)
    assert tally.neutral_hit / tally.neutral_texts <= floors["neutral"], tally.errors


@pytest.mark.skipif(not BITEXT.exists(), reason="needs ../shared beside the project, as CI has it")
def test_names_in_real_messages_annotated_by_others_are_found():
    """The Bitext corpus's authors annotated the person's name in 161 of its user messages; 160 were found
    when this test was written."""
    names = bitext_names()
    tally = score(names, Scrubber())
    assert len(names) == 161
    assert tally.recall("name") >= 0.97, tally.errors


def test_the_older_fixture_still_scores_for_the_types_it_labels():
    # it predates names, dates of birth, passports and NI numbers: those detectors are off here
    older = {"password": "secret", "aws_secret": "secret", "high_entropy": "secret", "pem_key": "secret", "ipv6": "ip",
             "keyword_key": "secret"}
    rows = load(Path(__file__).resolve().parent / "data" / "pii_labeled.jsonl")
    tally = score(rows, Scrubber(disable=["name", "dob", "passport", "uk_nino"]),
                  label=lambda found: older.get(found.detector, found.detector), kept=())  # it labels orders
    assert tally.precision() >= 0.97 and tally.recall() >= 0.98, tally.errors


@pytest.mark.parametrize("text, kind", [
    ("card 4111 1111 1111 1111", "card"),
    ("card 4111-1111-1111-1111 exp 09/27", "card"),
    ("amex 3782 822463 10005", "card"),
    ("卡号6289 5573 1335 1361，手机号码", "card"),  # written right after a word, as Chinese, Japanese and Korean do
    ("카드 6221 7711 7405 6586로 할게요", "card"),
    ("call (415) 555-0123 today", "phone"),
    ("call +44 20 7946 0958", "phone"),
    ("call +1 692-604-7232", "phone"),  # written like a phone number, area code unassigned
    ("ring me on 07700 900123", "phone"),  # UK mobile, no +44
    ("meine Nummer: 0151 23456789", "phone"),  # German mobile
    ("appelez le 06 12 34 56 78", "phone"),  # French mobile
    ("mobile 0412 345 678", "phone"),  # Australian mobile
    ("iban GB82 WEST 1234 5698 7654 32", "iban"),
    ("pay to de89 3704 0044 0532 0130 00 please", "iban"),  # lower case
    ("mail josé@exämple.de today", "email"),  # unicode local part and domain
    ("from 2001:db8::8a2e:370:7334", "ip"),
    ("key AKIAJ4XQ7PLM2RT5NV3Z", "api_key"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYq8Lk2Pt9vQ", "secret"),  # not AWS's documented example
    ("my password is hunter", "password"),
    ("pwd: correcthorse", "password"),
    ("SSN 123-45-6789", "ssn"),
    ("SSN 123 45 6789", "ssn"),
    ("my ssn is 123456789", "ssn"),
    ("NI number AB 12 34 56 C", "nino"),
    ("passport number 533380006", "passport"),
    ("Reisepass C4J7NPR92", "passport"),
    ("born 14 March 1992", "dob"),
    ("date of birth: 1988-11-02", "dob"),
    ("geboren am 12.04.1986", "dob"),
    ("né le 2 février 1983", "dob"),
    ("fecha de nacimiento 19/11/1976", "dob"),
    ("send it to 221B Baker Street, London NW1 6XE", "address"),
    ("Hauptstraße 5, 10115 Berlin", "address"),
    ("12 rue de la Paix, 75002 Paris", "address"),
    ("Calle de Alcalá 48, 28014 Madrid", "address"),
    ("Oudegracht 231, 3511 NK Utrecht", "address"),
    ("PO Box 1234", "address"),
    ("P.O. Box 4471, Boise, ID 83701", "address"),
    ("Postfach 12 34", "address"),
    # round four: separator styles, made-up NI prefixes, postcodes of more countries, keys in JSON
    ("appelle-moi au 07.12.34.56.78", "phone"),  # dots, not a version
    ("meu celular é (21) 99123-4567", "phone"),  # Brazil: area code in brackets, no trunk 0
    ("SSN 219.09.4471", "ssn"),
    ('{"ssn": "219094471"}', "ssn"),
    ("my social is 219094471", "ssn"),
    ("NI number AB 12 34 56 C", "nino"),  # not QQ: HMRC's documented example, no one's number
    ("Kirchgasse 8, 8001 Zürich", "address"),
    ("12 rue de la Loi, 1040 Bruxelles", "address"),
    ("Mariahilfer Straße 88/4, 1070 Wien", "address"),
    ("Caixa Postal 3120, 01060-970 São Paulo", "address"),
    ("Av. Paulista 1000, São Paulo - SP, 01310-100", "address"),
    ("Rua do Ouro 12, 3.º Dto., 1100-063 Lisboa", "address"),
    ("Sie ist am 12. März 1981 geboren", "dob"),  # the birth word after the date
    # round five: separator styles, keywords in more languages, numbers further from their keyword,
    # unit words in more languages, Japanese addresses
    ("SSN 219–48–3307", "ssn"),  # en dashes, as a word processor writes them
    ("SSN 231/54/8812", "ssn"),
    ("numéro de sécurité sociale 231548812", "ssn"),
    ("NI number AB-12-34-56-C", "nino"),
    ("passport renewal for my daughter, document number KX481120", "passport"),
    ("PassportCheckError: mismatch for document KX481120", "passport"),
    ('"data_nascita": "1979-04-30"', "dob"),
    ("Rua das Flores 120, apto 42, 01305-100 São Paulo", "address"),
    ("Calle Mayor 10, piso 3, 28013 Madrid", "address"),
    ("1-2-3 Marunouchi, Chiyoda-ku, Tokyo 100-0005", "address"),
    ("telefone +55 11 98765-4321", "phone"),  # Luhn-valid by chance: after a "+" it is no card
    ('{"client_ip":"198.51.100.23","app_version":"4.12.0.2291"}', "ip"),  # the version word is the next field's
    # round six: other countries' personal numbers, birth words of more languages, Swedish and Polish
    # postcodes, passwords on command lines and in brackets, keys named by their header
    ("mijn BSN is 375507644", "national_id"),
    ("Swedish personnummer 840225-0461", "national_id"),  # not a phone number
    ("codice fiscale QBWJFR84E64H696X", "national_id"),
    ("mi DNI es 70914031V y quiero", "national_id"),
    ("PESEL 74020947647, proszę", "national_id"),
    ("numéro de sécurité sociale 1 84 01 39 633 107 47 ;", "national_id"),
    ("Jag är född 1987-04-06.", "dob"),
    ("nasci a 11 de julho de 1983", "dob"),
    ("The date of birth on file for this member is 27 October 1996", "dob"),
    ("Vasagatan 95, 411 38 Göteborg", "address"),
    ("ul. Marszałkowska 152 m. 46, 31-019 Kraków", "address"),
    ("psql -U admin --password=Gato_Negro77", "password"),
    ("senha incorreta (mamma1962!)", "password"),
    ("le code du wifi c'est Haslo#Silne9", "password"),
    ("twine says 403 for pypi-AgEIcHlwaS5vcmc4LFnmhnb_6SCiatYlEyXIzwWjZPtsSGOdt_CKjOQKS0N4gH-QQnRBBidUoV6", "api_key"),
    ("X-Postmark-Server-Token: 52fcf30d-6f0e-431b-81b8-d2540bc95c14", "api_key"),
    ("AZURE_STORAGE_KEY=goZtJiALTxwBF3wAbY99lsxylQkjWvCmAFQE2KAIF1UqnboBi2epXLIs3vlkTJ4B4rbReOrtJH1M8YiVm60qmH==",
     "api_key"),
    ("ip=91.67.225.193 ua=Mozilla/5.0 build=2024.11.0192", "ip"),  # the version word is the next pair's
    ("acceso denegado desde 85.227.69.73 para el usuario", "ip"),  # "para" is no paragraph
    ('{"passport_no": "CWNYT9G8T"}', "passport"),
    ('{"numero_passeport": "XPZ396841"}', "passport"),
    # round seven: personal numbers named by a JSON key, inflected words and ID cards, Danish floors, Roman
    # house numbers, passwords on command lines, a version word that belongs to an earlier JSON field
    ('{"cpr": "031192-5718", "telefon": "+45 28 14 93 07"}', "national_id phone"),
    ('{"nif": null, "telefone": "+351 912 345 678"}', "phone"),  # the key's value is null: the number is a phone
    ("henkilötunnukseni on 040583-8437", "national_id"),
    ("Personalausweis-Nr. LF2H7Y9M3 – die Bank", "national_id"),
    ("Číslo občanského průkazu 204817395 a", "national_id"),
    ("mon numéro de registre national est 88.07.14-200.16", "national_id"),
    ("Jernbanegade 5, st. tv., 9000 Aalborg", "address"),
    ("Keizersgracht 318-II, 1016 EZ Amsterdam", "address"),
    ("Numer paszportu EK4827193.", "passport"),
    ("nací el 15/08/2001 jaja", "dob"),
    ("redis-cli -h cache.internal -a R3d!sCache_pr0d ping", "password"),
    ("lösenordet till routern är Midsommar!2024", "password"),
    ("The admin password on the label is Kiosk@Admin9; how do I change it?", "password"),
    ('{"app_version": "3.14.2", "locale": "en-GB", "client_ip": "86.12.214.77"}', "ip"),
    ("algolia admin key 9ab4ed86a4c30faeaf9c60ab89bbc46e ended up in the bundle", "api_key"),
    # round eight: more countries' words for their numbers, passwords in the old-one-was phrasing of more
    # languages and after sshpass, a key=value log line's IP after another field's version word
    ('{"musteri": "x", "tckn": "30773920618"}', "national_id"),
    ("mi dni es 13585907Z y la fecha", "national_id"),
    ("Mon NAS est 142 235 050, et", "national_id"),  # Canada's social insurance number, not a phone
    ("PAN card no PNCPS3810A, linked", "national_id"),
    ("su CURP es SAPE580421HNLLPR59", "national_id"),
    ("zapomniałem hasła, stare to było Kasia2010!", "password"),
    ("glömt lösenordet, det gamla var Midsommar2022", "password"),
    ("sshpass -p 'Quarry&Lamp77' ssh deploy@host", "password"),
    ("const ADMIN_PASS = \"s3cr3t-Adm1n-PW\";", "password"),
    ("Das WLAN-Passwort im Büro ist übrigens „Elbphilharmonie#2017“", "password"),
    ("WARN auth failed user=v.ivanova@lumenpay.eu src=93.184.12.66 reason=bad_password", "email ip"),
    ("Volám kvůli panu Zdeňkovi, narozen 3. 8. 1955, bydliště", "name dob"),
    # round six: the word that names the number, in Romanian, Hungarian, Turkish, Finnish, Spanish, French
    ("Bună ziua, CNP 1870912403999. Aș dori", "national_id"),
    ("a TAJ-számom 113 295 562. Szeretnék", "national_id"),
    ("HATA: T.C. Kimlik No doğrulanamadı (67036926650)", "national_id"),
    ("Virhe: henkilötunnus 091203A1857 on alaikäisen", "national_id"),
    ("mi cédula es 1.020.457.893 y necesito", "national_id"),
    ("mon numéro national est 86.04.19-959.14 et", "national_id"),
    ("személyi igazolvány száma: 482917KE. Mikor", "national_id"),
    ("Passnummeret på det gamle er FB4719302.", "passport"),
    ('curl -H "Authorization: Bearer MrJvxJsDtN_T-ohHOzVpb2tjLtf7zg8RGHx0NlJj" https://api.example.com', "api_key"),
    # round seven: Korean, Japanese and Hindi ids, passports and phones, ids in German and Portuguese
    ("주민등록번호는 800912-1143688 입니다.", "national_id"),
    ("マイナンバーは 7789 1664 0235 です。", "national_id"),
    ("출력에 여권번호(M09343252)가 포함되어", "passport"),
    ("주문번호는 20260304-55182이고 연락처는 010-4821-7736입니다.", "phone"),
    ("Ihre Steuer-Identifikationsnummer 51205535911 wurde hinterlegt.", "national_id"),
    ('{"aluno": "Heitor", "cpf_responsavel": "028.480.229-81"}', "national_id"),
    # round eight: Chinese, Indonesian, Greek, Russian ids by their words; Russian passports; a number under its label
    ("陈秀英，身份证210202196008090865。", "name national_id"),
    ("Nama saya Dewi, NIK 1271106102880942.", "name national_id"),
    ("ΑΜΚΑ: 24056359730", "national_id"),
    ('{"снилс": "136-952-019 72"}', "national_id"),
    ("Загранпаспорт: 75 4829173, вылет в пятницу", "passport"),
    ("Social Insurance Number / Numéro d'assurance sociale\n457 914 703", "national_id"),
    # round nine: a passport number right after its word in Chinese, a Korean particle after an id, an NHS number
    ("乘客是王建国，护照号码E40871964，出生日期", "name passport"),
    ("주민등록번호 910305-2741602를 입력해야 합니다", "national_id"),
    ("my NHS number is 570 955 5738 if that helps", "national_id"),
    ('{"id": "FR-1182", "nir": "2 77 06 33 659 326 68"}', "national_id"),  # the key says what it is: no card
    # round ten: numbers whose check digits say what they are, with no word naming them (python-stdnum)
    ("Te paso los datos: Lucía Prieto Sanz · 64225938W · 04/02/1998", "name national_id dob"),  # a record: the date after the id is a birth date
    ("Uppgifter till hyresavtalet: Ebba Nordin, 20000714-2490, Kungsgatan 12", "name national_id"),
    ('{"tessera_sanitaria": "TLTSPB86E48A732N"}', "national_id"),
    ("영국에서 일해요. NI 번호는 JY487345A이고 생년월일은", "nino"),
    ("予約の支払いはカードで。パスポートは TR0315190 です。", "passport"),
    # round eleven: Brazil's CPF and Germany's Steuer-ID as written, with no word; a health card's number
    ("Pode conferir se digitei certo? 273.044.322-33 é pro cadastro.", "national_id"),
    ("Teilnehmerliste\nSchulz, Annika · 13 593 038 761", "national_id"),
])
def test_valid_values_are_found(text, kind):
    assert [found.kind for found in Scrubber().find(text)] == kind.split()


@pytest.mark.parametrize("text, name", [
    ("Hi Maria, your parcel is on its way.", "Maria"),
    ("Dear Mr. Okafor,", "Okafor"),
    ("Thanks,\nJames", "James"),
    ("Best, Ana", "Ana"),
    ("Hello, my name is Priya Raman and I need help.", "Priya Raman"),
    ("I'm Tom, I ordered a desk.", "Tom"),
    ("this is Sarah from the Leeds branch", "Sarah"),
    ("Name: Oluwaseun Adeyemi\nDOB unknown", "Oluwaseun Adeyemi"),
    ('{"klant":"Femke de Boer","taal":"nl"}', "Femke de Boer"),
    ("Mit freundlichen Grüßen\nStefan Hoffmann\nKundenservice", "Stefan Hoffmann"),
    ("Hallo, ich bin Jürgen Weiß und habe eine Frage.", "Jürgen Weiß"),
    ("Escalate to Marek Nowak for prod incidents.", "Marek Nowak"),
    # phrasings the dev set lacks, written from the labeling guide
    ("Regards,\nAna Souza", "Ana Souza"),
    ("Best regards,\nJohn Smith\nSenior Engineer", "John Smith"),
    ("thanks!\n— Ana", "Ana"),
    ("cc: Tom Reyes", "Tom Reyes"),
    ("Hola Carmen, gracias", "Carmen"),
    ("Bonjour Élodie, merci", "Élodie"),
    ("Hi @Kenji, can you look?", "Kenji"),
    ('customer_name="Dana Whitfield"', "Dana Whitfield"),
    ('"first_name": "Dana", "plan": "pro"', "Dana"),
    ("Signed: Olga Petrova", "Olga Petrova"),
    ("Contact: Hiroshi Tanaka", "Hiroshi Tanaka"),
    ("Kind regards\nDr. Aisha Bello", "Aisha Bello"),
    # round three: greetings in more languages, sign-offs, introductions, relations, fields, user names
    ("Bom dia Joana, tudo bem?", "Joana"),
    ("Hej Lars, tack!", "Lars"),
    ("Take care,\nPriya", "Priya"),
    ("thanks\n--\nMarta Kowalczyk\nSupport Lead", "Marta Kowalczyk"),
    ("This is Kenji Watanabe from Acme Logistics.", "Kenji Watanabe"),
    ("my colleague Fatima will send the form", "Fatima"),
    ("please ask Dmitri to call back", "Dmitri"),
    ("I changed Olivia's shipping address", "Olivia"),
    ("From: Lucas Martin\nSubject: refund", "Lucas Martin"),
    ("name: rosa delgado -- pls check", "rosa delgado"),
    ("CARDHOLDER: MARIA LOPEZ", "MARIA LOPEZ"),
    ('{"sender_name": "Ingrid Berg"}', "Ingrid Berg"),
    ("username: jbecker", "jbecker"),
    ('password authentication failed for user "giulia.romano"', "giulia.romano"),
    ("kwame.mensah", "kwame.mensah"),
    ("sven_lindqvist_2", "sven_lindqvist_2"),
    # round four: fields that hold a name whatever it is, roles, lower-case thanks, a name ending the text,
    # initials, names after capitalised nouns, names from non-Latin locales in Latin letters, user names
    ('{"last_name": "Tanaka"}', "Tanaka"),
    ("full name Chidi Okonkwo", "Chidi Okonkwo"),
    ("**Name:** Priyanka Shah", "Priyanka Shah"),
    ("Kontoinhaber: Birgit Albrecht", "Birgit Albrecht"),
    ("The account manager is Tomasz Wrona.", "Tomasz Wrona"),
    ("On-call doctor: Petra Novak", "Petra Novak"),
    ("thx Ngozi!! that fixed it", "Ngozi"),
    ("Is that fixed now? Valentina", "Valentina"),
    ("the 3pm is moved? thx — Jess", "Jess"),
    ("Le dossier de M. Girard est prêt.", "Girard"),
    ("paid to K. Vogel yesterday", "K. Vogel"),
    ("--\nFiona MacLeod | Senior Accountant", "Fiona MacLeod"),
    ("Dear Ms. O'Neill,", "O'Neill"),
    ("Ich darf das Passwort von Lena Vogel nicht nennen.", "Lena Vogel"),
    ("Meeting with Wei Zhang tomorrow", "Wei Zhang"),
    ("Could Tobias from your team call me?", "Tobias"),
    ('{"recipient": "Anna Berg"}', "Anna Berg"),
    ("name on card WEI ZHANG", "WEI ZHANG"),
    ("cn=mei.lin,ou=staff", "mei.lin"),
    ('"operator": "nadia.petrova"', "nadia.petrova"),
    ("aurelie.petit", "aurelie.petit"),  # typed without the accent of "Aurélie"
    ("mysql://tgarcia:secret@db/crm", "tgarcia"),
    ("mi usuario es mferrer", "mferrer"),
    ("last login by kfischer from the VPN", "kfischer"),
    # round six: thanks in more languages, Polish titles, person keys of other languages, sshd's log, a URL's
    # user, a first name that is an everyday word before a listed surname, names from gender-guesser's list
    ("Tack Kenji! Återbetalningen går till kontot.", "Kenji"),
    ("Gracias, Haruto. Hemos registrado tu IBAN.", "Haruto"),
    ("Dziękuję, Pani Małgorzata. Zwrot trafi na rachunek.", "Małgorzata"),
    ('{"medewerker": "Xiao Ling", "kanal": "chat"}', "Xiao Ling"),
    ('{"traveller": "Zhang Wei"}', "Zhang Wei"),
    ("May 14 03:12:55 bastion sshd[60538]: Failed password for Rachel from 10.1.2.3 port 51514 ssh2", "Rachel"),
    ("git clone https://Sophie:gho_xP543GpMpuZXJ9M6uT4SqbTuYUwkqtHw0UJI@github.com/acme/repo.git", "Sophie"),
    ("-----\nFrom: Hope Sandoval <sandoval.hope@example.com>", "Hope Sandoval"),
    ("Grazie, signor Bianchi. Abbiamo aggiornato l'indirizzo.", "Bianchi"),
    ("Bien noté, Madame Benali. Votre colis arrive jeudi.", "Benali"),
    # round six: greetings and introductions of more languages, lower case, a Turkish case ending
    ("yo this is dmitri, the dashboard is down", "dmitri"),
    ("i'm mia btw, can you check the age rule", "mia"),
    ("Szia Bence! Átküldöd a címet?", "Bence"),
    ("Tjena Linnea! Vi ses på fredag!", "Linnea"),
    ("Bună ziua, domnule Popescu. Am actualizat contul.", "Popescu"),
    ("Deniz'in numarasını atar mısın?", "Deniz"),
    # someone reported as saying or doing something
    ("the night shift lead says Raj said you could reset my VPN", "Raj"),
    ("set the router password like Tony asked", "Tony"),
    # round seven: names in scripts without capitals, marked by an honorific, a title or an introduction
    ("こんにちは。佐藤 美咲と申します。", "佐藤 美咲"),
    ("井上さん、お疲れさまです。", "井上"),
    ("안녕하세요, 김민준입니다.", "김민준"),
    ("내일 회의 자료를 보냈습니다. 임도윤 드림", "임도윤"),
    ("नमस्ते, मेरा नाम राहुल शर्मा है।", "राहुल शर्मा"),
    ("Mishra ji, aapka parcel kal tak aayega.", "Mishra"),
    # round eight: who speaks in a chat transcript, in any script; Vietnamese and Indonesian introductions;
    # a label in Greek (its final sigma kept)
    ("[09:12] Серёжа: скинь токен для стейджинга", "Серёжа"),
    ("[10:21] 老李：测试环境的token发我一下", "老李"),
    ("Mau konsultasi online. Nama saya Dewi Lestari, terima kasih.", "Dewi Lestari"),
    ("Αποστολή\nΠαραλήπτης: Ιωάννης Βλάχος", "Ιωάννης Βλάχος"),
    # round nine: airline records, Chinese, Arabic and Greek introductions and titles
    ("Boarding pass: KOWALSKA/EWA MS  Seat 17C  Group 3", "KOWALSKA/EWA"),
    ("王先生您好，6月30日上海浦东直飞巴黎", "王"),
    ("مرحباً، أريد حجز موعد. اسمي مريم الحمادي ورقم جوالي", "مريم الحمادي"),
    ("Καλησπέρα, είμαι ο Γιώργος Παπαδάκης. Ο ΑΜΚΑ μου", "Γιώργος Παπαδάκης"),
    ("はじめまして、高橋健太と申します。", "高橋健太"),
])
def test_names_are_found_where_logs_carry_them(text, name):
    assert values_of(text, "name") == [name]


def test_a_letter_names_who_it_is_for_and_who_closes_it():
    letter = "Liebe Hannelore,\nherzlichen Glückwunsch!\n\nDeine Gisela"
    assert [letter[found.start:found.end] for found in Scrubber().find(letter) if found.kind == "name"] == \
        ["Hannelore", "Gisela"]


@pytest.mark.parametrize("text", [
    "card 4111 1111 1111 1112",          # fails Luhn
    "serial 1234 5678 9012 3456",        # no card network starts with 1
    "ISBN 978-0-13-468599-1, SKU 88-1234-567",  # digit runs not written like phone numbers
    "on 2024-03-15 at 10:30:00",
    "iban GB82 WEST 1234 5698 7654 33",  # bad check digits
    "version 1.2.3.4 and build 10.0.19041.1",
    "After upgrading to build 4.2.10.3 the crash is gone",
    "pip install sk-learn-compatible-estimator-toolkit",
    "commit 3f2a9c1b7e4d5f60718293a4b5c6d7e8f9012345",
    "id 550e8400-e29b-41d4-a716-446655440000",
    'ETag: W/"wCwLll4COr7oCPK1SNjVGTqLUim+bzEhpvFuLUGkSbM="',  # base64 content hash
    "bcrypt hash $2b$12$KIXQJq0uQ3f7Ywz8mXc1bO9r2yE4sT6vW8aD0gH2jL4nP6qR8sU0W in the users table",  # a salt
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7bX0RkPz4u9Lh2mF8cT1vN3sY6wQ5eJ0aK7dH4pLs ci@build-runner",  # public
    '{"version": "1.2.3.4", "min_supported": "1.0.0.0"}',  # a network address, not a host
    "The Van Gogh Museum and the Anne Frank House are both near Museumplein",
    "total $1,299.00 for 12,500 units",
    "class CustomerOrderHistoryView2024Handler",
    "Hi there, I'm sorry to hear that. Hi team!",
    "I'm Tom's manager",  # not a greeting of Tom, but still Tom: see below
    "my password is incorrect, can you reset it?",
    "customer number 123456789",  # nine digits without an SSN keyword
    # look-alikes the dev set lacks, written from the labeling guide
    "see section 3.2.1.4 of the contract",   # section numbers look like IPs
    "python 3.11.7.1 crashed",
    "chapter 10.2.3.4 of the spec",
    "OID 1.3.6.1.4.1.311 is Microsoft's",
    "ticket #4155550123 was closed",          # ids written like phone numbers
    "case 4155550123 is escalated",
    "timestamp 1712345678901",
    "amount 1234567.89 EUR",
    "took 1234567 ms",
    "Best,\nAcme Billing",                     # a team signs, not a person
    "Regards,\nThe Support Team",
    "Customer: Premium",                      # a label followed by a category
    "DOB field is required",
    'Click password reset "Send link" and check your inbox',
    # round three: not names, not phones
    "SMTP 550 User unknown",                # a user label followed by a plain word
    "username: admin",
    "config.yaml",                           # a whole field that is a file name
    "invoice 4155550123 is overdue",         # an id written like a phone number
    "tracking number: 4155550123",
    "paid € 4155550123 in total",            # an amount
    "refund of $ 415 555 0123 approved",
    "logged at 03/15/2024 1030 UTC",         # a date and a time
    "population 1.234.567",                  # thousands separated by dots
    "born in the USA",
    # round four: error codes, documents numbered by year, decimals, tracking and licence numbers,
    # every machine's addresses, byte strings, teams, code
    "Error 1045 (28000): Access denied for user 'report_ro'",
    "A fatura FT 2025/0042 tem o valor de 80,00 €",
    "Factuurnummer 2025-00417",
    "expected 2.71828182 to equal 2.71828183",
    "FedEx 7812 3456 7890 delivered",
    "Spedizione BRT 0612 3301 7745",
    "licence PL 16789/0042",
    "bound to 0.0.0.0:8000",
    "serial 0A:3F:91:7C:22:5B:E0:14",
    "Kind regards,\nPeople Team",
    "a capitalised run names an interface element",
    "shares = bin_shares(data)",
    "verbs: handle consider look follow",
    "shared = [ray.put(arg) for arg in args]",
    "LINK_MARKS = ('://', '@')",
    "the password you entered (see above) is too short",
    '"DB_PASSWORD": password,',              # code naming a password, not stating one
    "Data moved to Sydney from the Frankfurt region",  # places share first names
    '{"payee": "Stadtwerke München"}',       # a payee may be a company: its name must be on a name list
    "Sprint 14, 2025 Planning starts Monday",  # a four-digit postcode needs a street word before it
    "Table 2, 2023 Results",
    # round five: ids and timestamps next to key-shaped runs, a version after an address-shaped number
    "decline_code=insufficient_funds, charge=ch_1NqY7m3fAwLZkp3D9b8c7d6e",  # a Stripe object id is no key
    "ts 1701619200:request_processing_pipeline_stage_two_done",  # Telegram's shape inside a longer token
    "Can you check if 4.12.0.1 is a valid Maven version string?",
    # round six: places named after people, a first name in German "ich bin ab 14 Uhr"
    "¿Dónde queda el Museo Reina Sofía? Voy desde Atocha.",
    "Și e departe de Bulevardul Regina Elisabeta?",
    "Mimar Sinan Üniversitesi'ne yakın bir otel arıyorum.",
    "Ik woon bij de Van Goghstraat.",
    "Rückruf bitte, ich bin ab 14 Uhr erreichbar.",
    "The Monday said nothing about it and Apple said the update ships in May.",  # not first names
    # a table whose "name" column names products, not people
    "name,price,stock\nTrail Runner,89.00,14\nSummit Pack,129.00,3",
    # round seven: Japanese cities, Korean roles, a traceback's comma-separated lines, sudo's working directory,
    # versions after the word for a driver or a module
    "東京 大阪の出張は来週です。お客様のご注文は明日届きます。",
    "당신은 문서 요약 도우미입니다. 고객님 감사합니다.",
    'Traceback:\n  File "/srv/app/charge.py", line 88, in charge_customer\n  File "/srv/lib/api.py", line 22, in create',
    "sudo[2240]: deploy : TTY=pts/0 ; PWD=/srv/app ; USER=root",
    "The printer driver 3.0.4.128 conflicts with the update; the modulo 3.2.1.7 too.",
    # round eight: masked values in a table, an environment variable, a chat line of "me"
    "chargeback_id,masked_pan,amount\nCB-88101,453901******4112,129.00",
    "DB_USER=ledger_svc\nDB_PASSWORD=${DB_PASSWORD}",
    "[18:03] Yo: bajo en 2 min",
    # round nine: airport pairs, AWS's documented example keys, a PEM header named in prose, an IP's "address"
    "SFO/LAX  flight, then HTTP/HTTPS  proxy",
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "The output will start with `-----BEGIN PRIVATE KEY-----` and Java can read it.",
    '{"ip_adresse": "10.2.3.4x", "email_address": "ops42@example"}',
    # round ten: sixteen digits in groups of four (an invoice number) hold no Aadhaar; HMRC's example NI number;
    # placeholders where a password or key would stand
    "Invoice no. 4539 1488 0343 6468 from March hasn't been paid yet.",
    "absorbed by rec-f1a470422438389501e6; transaction txn_4532015112830366, hash ab4532015112830366cd",  # Luhn-valid
    "My payslip shows NI number as QQ123456C, the example from the gov website.",
    "In the docs the config says password: \"<your-password-here>\" and STRIPE_SECRET_KEY=sk_test_XXXXXXXXXXXXXXXX",
])
def test_lookalikes_are_left_alone(text):
    found = [(text[f.start:f.end], f.kind) for f in Scrubber().find(text)]
    assert found in ([], [("Tom", "name")])


@pytest.mark.parametrize("text, names", [
    ("cc: Ana Lima, Raj Kapoor and Wei Chen", ["Ana Lima", "Raj Kapoor", "Wei Chen"]),
    ("Escalation contacts: Maria Rocha (EMEA), Kenji Sato (APAC)", ["Maria Rocha", "Kenji Sato"]),
    ("can you tell Chen and Abdullah that the 3pm is moved", ["Chen", "Abdullah"]),
])
def test_every_name_of_a_list_is_found(text, names):
    assert values_of(text, "name") == names


def test_one_value_written_two_ways_gets_one_placeholder():
    text = "Call (415) 555-0123 or +1 415-555-0123; mail Jane@Example.com or jane@example.com"
    assert Scrubber().scrub_text(text) == "Call <PHONE_1> or <PHONE_1>; mail <EMAIL_1> or <EMAIL_1>"


def test_a_tool_call_argument_in_another_case_and_spacing_gets_the_users_placeholder():
    record = Record(messages=[
        {"role": "user", "content": "Where is order LF-960195? Text me on 07700 900123."},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "lookup_order", "arguments": json.dumps({"order_id": "lf 960195", "notify": "07700900123"})}}]},
    ])
    Scrubber().scrub_record(record)
    assert record.messages[0]["content"] == "Where is order <ORDER_1>? Text me on <PHONE_1>."
    arguments = json.loads(record.messages[1]["tool_calls"][0]["function"]["arguments"])
    assert arguments == {"order_id": "<ORDER_1>", "notify": "<PHONE_1>"}


def test_forty_characters_are_an_aws_secret_only_where_the_text_says_aws():
    secret = "JH7LZW8YV2ahSmTCKEeYTmqy2pZIuq9rAOOncdXn"
    for text, detector in ((f"cohere key: {secret}", "high_entropy"), (f"aws_secret_access_key = {secret}", "aws_secret"),
                           (f"SignatureDoesNotMatch (secret used: {secret})", "aws_secret")):
        assert [found.detector for found in Scrubber().find(text)] == [detector], text


def test_the_first_name_of_a_full_name_is_found_alone_elsewhere_in_the_text():
    text = 'You draft replies on behalf of Joy Adeyemi, Head of Success. Sign every email as "Joy".'
    assert values_of(text, "name") == ["Joy Adeyemi", "Joy"]
    scrubbed = Scrubber().scrub_text(text)
    assert "Joy" not in scrubbed and scrubbed.count("<NAME_1>") == 2  # one person, one placeholder
    # a surname is not: companies are named after people
    signature = "Chiara Esposito\nResponsabile Acquisti, Esposito Arredi S.r.l."
    assert [signature[f.start:f.end] for f in Scrubber().find(signature) if f.kind == "name"] == ["Chiara Esposito"]


def test_a_person_named_in_full_then_by_first_name_or_surname_keeps_one_placeholder():
    record = Record(messages=[{"role": "user", "content": "Hi, I'm Omar Okafor. Please change my email."},
                              {"role": "assistant", "content": "Thanks Omar! Ms. Okafor, a code is on its way."}])
    Scrubber().scrub_record(record)
    assert record.messages[1]["content"] == "Thanks <NAME_1>! Ms. <NAME_1>, a code is on its way."
    # two people who share a first name: "Omar" alone could be either, so it is neither
    record = Record(messages=[{"role": "user", "content": "Omar Okafor and Omar Haddad both ordered."},
                              {"role": "assistant", "content": "Thanks Omar!"}])
    Scrubber().scrub_record(record)
    assert record.messages[1]["content"] == "Thanks <NAME_3>!"


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-opus-4-1-20250805", "claude-3-haiku@20240307",
                                   "anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-instant-1.2", "reka-core"])
def test_a_model_named_like_a_person_is_left_as_the_calls_provenance(model):
    record = Record(messages=[{"role": "user", "content": "hi"}], source={"model": model})
    Scrubber().scrub_record(record)
    assert record.source["model"] == model
    assert Scrubber().scrub_text("claude-dupont") == "<NAME_1>"  # a person who is called Claude still is one


def test_names_are_replaced_elsewhere_only_as_written():
    record = Record(messages=[{"role": "user", "content": "Thanks,\nMark"},
                              {"role": "assistant", "content": "Mark, I will mark it as done."}])
    Scrubber().scrub_record(record)
    assert record.messages[1]["content"] == "<NAME_1>, I will mark it as done."


def test_twenty_thousand_copies_of_one_address_become_one_placeholder():
    text = " ".join(["mail jane.doe@example.com"] * 20_000)
    scrubbed = Scrubber().scrub_text(text)
    assert scrubbed == " ".join(["mail <EMAIL_1>"] * 20_000)


def test_a_pem_private_key_is_replaced_whole():
    key = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
           "aNcAHfyS9J3X5Yq8T6mK6p1JjX0Vb9mDq2Yq3x0uYkXb2vM4tR7wZp6h1rT0yQ==\n-----END RSA PRIVATE KEY-----")
    assert Scrubber().scrub_text(f"my key:\n{key}\nthanks") == "my key:\n<PRIVATE_KEY_1>\nthanks"


def test_phone_regions_decide_which_national_numbers_count():
    text = "appelez le 06 12 34 56 78"
    assert Scrubber(phone_regions=["US"]).find(text) == ()
    assert [found.kind for found in Scrubber(phone_regions=["US", "FR"]).find(text)] == ["phone"]


def test_a_value_found_once_is_scrubbed_wherever_it_stands_alone_in_the_record():
    record = Record(messages=[{"role": "user", "content": "order #A-77120 is late"},
                              {"role": "assistant", "content": "A-77120 ships today; A-771200 is another one."}])
    Scrubber().scrub_record(record)
    assert record.messages[1]["content"] == "<ORDER_1> ships today; A-771200 is another one."


def test_json_text_stays_valid_json_and_unchanged_json_keeps_its_exact_text():
    scrubber = Scrubber()
    scrubbed = scrubber.scrub_text('{"note": "line one\\nemail: x@y.com", "n": 3}')
    assert json.loads(scrubbed) == {"note": "line one\nemail: <EMAIL_1>", "n": 3}
    untouched = '{ "status" : "shipped",  "items": [1, 2] }'
    assert scrubber.scrub_text(untouched) == untouched


def test_json_keeps_the_layout_it_was_written_in_where_a_value_is_scrubbed():
    # a reply in JSON is what the model learns to write: its spacing and key order are the format
    scrubber = Scrubber()
    reply = '[{"item": "tent", "email": "ana.ruiz@example.com", "refund": 76.24}]'
    assert scrubber.scrub_text(reply) == '[{"item": "tent", "email": "<EMAIL_1>", "refund": 76.24}]'
    indented = '{\n  "note": "call +44 20 7946 0958",\n  "escaped": "caf\\u00e9 \\"x\\"",\n  "n": [1, 2]\n}'
    assert scrubber.scrub_text(indented) == indented.replace("+44 20 7946 0958", "<PHONE_1>")
    nested = '{"arguments": "{\\"to\\": \\"ana.ruiz@example.com\\"}"}'  # JSON in a JSON string
    assert json.loads(json.loads(scrubber.scrub_text(nested))["arguments"]) == {"to": "<EMAIL_1>"}


def test_placeholders_already_in_a_record_are_not_handed_out_again():
    record = Record(messages=[{"role": "user", "content": "I wrote <EMAIL_1> before; now it's new@example.com"}])
    Scrubber().scrub_record(record)
    assert record.messages[0]["content"] == "I wrote <EMAIL_1> before; now it's <EMAIL_2>"


def test_custom_pattern_with_a_value_group_replaces_only_the_value():
    scrubber = Scrubber(patterns={"badge": r"badge (?P<value>\d{5})"})
    assert scrubber.scrub_text("my badge 12345, thanks") == "my badge <BADGE_1>, thanks"


def test_a_built_in_name_replaces_that_detectors_pattern():
    scrubber = Scrubber(patterns={"order": r"\bLK-\d{4,}\b"})
    assert scrubber.scrub_text("LK-1234 and order #A-77120") == "<ORDER_1> and order #A-77120"


def test_the_schema_lists_exactly_the_built_in_detectors_and_the_default_phone_regions():
    pii = schemas.load("stages/mine")["properties"]["pii"]["properties"]
    assert pii["disable"]["items"]["enum"] == DETECTOR_NAMES
    assert pii["phone_regions"]["default"] == list(DEFAULT_PHONE_REGIONS)


# -- phrasings the dev set lacks, written from the labeling guide -------------------------------
@pytest.mark.parametrize("text, value", [
    ("I was born on 3 March 1985 in Lyon", "3 March 1985"),
    ("DOB 04/12/79", "04/12/79"),
    ("D.O.B.: 12 Jan 1990", "12 Jan 1990"),
    ("Date of Birth - March 3rd, 1985", "March 3rd, 1985"),
    ("date of birth is 1990.05.17", "1990.05.17"),
    ("DOB: 1971/06/05", "1971/06/05"),
    ('"date_of_birth": "1984-07-09"', "1984-07-09"),  # JSON fields inside a log line
    ('dob="07/09/1984"', "07/09/1984"),
    ('birthdate: 1984-07-09', "1984-07-09"),
    ("Geburtsdatum: 14.02.1975", "14.02.1975"),
    ("Geburtsdatum 14. Februar 1975", "14. Februar 1975"),
    ("née le 3 mars 1990", "3 mars 1990"),
    ("fecha de nacimiento: 3 de marzo de 1990", "3 de marzo de 1990"),
    ("nació el 12/05/1988", "12/05/1988"),
    ("born on the 5th of June, 1971", "5th of June, 1971"),
    ("born 5-Jun-1971", "5-Jun-1971"),
    ("M-am născut pe 12 septembrie 1987 în Constanța.", "12 septembrie 1987"),
    ("Narodil jsem se 30. července 1994 v Brně", "30. července 1994"),
    ("生年月日：1990年5月14日", "1990年5月14日"),
    ("할머니 (1942년 3월 15일생)이 사세요.", "1942년 3월 15일"),
    ("Pacjentka: Agnieszka Lewandowska, ur. 1984-01-26", "1984-01-26"),
    ("陈秀英，出生日期1960年8月9日，身份证", "1960年8月9日"),
    ("Születési dátum: 1959. április 11., TAJ", "1959. április 11."),
    ("Em đặt lịch khám cho bố, ngày sinh 02/09/1948.", "02/09/1948"),
    ("이름은 한지민이고 생년월일은 1993.07.21입니다.", "1993.07.21"),
    ("NINO        | Surname   | DOB        | Pay\nGX635129A   | Whitmore  | 12/04/1967 | 2,310.00", "12/04/1967"),
    ("Właścicielka umowy to moja mama, Halina Grabowska, ur. 5 października 1956.", "5 października 1956"),
    ("契約者は父（生年月日：昭和38年4月2日）です。", "昭和38年4月2日"),
    ("我儿子李浩然出生于2011年3月9日，想报名暑期编程班", "2011年3月9日"),
    ("Пациент: Иванов Николай Петрович, 07.11.1944 г.р.", "07.11.1944"),
])
def test_dates_of_birth_are_found_however_they_are_written(text, value):
    assert values_of(text, "dob") == [value]


@pytest.mark.parametrize("text, value", [
    ("password: Tr0ub4dor&3", "Tr0ub4dor&3"),
    ("my pw is bluefish77", "bluefish77"),
    ("login: jdoe / pass: Winter2024!", "Winter2024!"),
    ("new password = 'Sunflower#88'", "Sunflower#88"),
    ("password was set to Kx9!mPq2", "Kx9!mPq2"),
    ("I changed my password to Gato1234 yesterday", "Gato1234"),
    ("Passwort lautet Sommer2023", "Sommer2023"),
    ("mot de passe : Soleil!2024", "Soleil!2024"),
    ("mi contraseña es Gato1234", "Gato1234"),
    ("PASSWORD=Gato1234", "Gato1234"),
    ("use the passphrase 'purple monkey dishwasher'", "purple monkey dishwasher"),
    # round three
    ("my laptop login is wei.zhang / letmein", "letmein"),
    ("creds: admin:Hunter2024", "Hunter2024"),
    ("I reset your password, the new one is Blue7Sky#", "Blue7Sky#"),
    ("password expired so I set it to 'mango tango'", "mango tango"),
    ("mijn wachtwoord is Tulp2024", "Tulp2024"),
    ("a minha senha é Praia!99", "Praia!99"),
    ("mein Passwort ist Sommer!77", "Sommer!77"),
    ("moje hasło to Zima2024", "Zima2024"),
    ("https://admin:S3cr3tPass@db.example.com/prod", "S3cr3tPass"),
    # round four: compounds and field names, an adverb after the verb, "the X one", a shared password in
    # brackets, other languages' "the old one was", an "@" inside a URL's password, basic auth
    ("Das WLAN-Passwort lautet Apfelbaum", "Apfelbaum"),
    ('{"new_password": "Tx8#qL2m"}', "Tx8#qL2m"),
    ("Das Passwort im Keller lautet jetzt Kellerkatze#3", "Kellerkatze#3"),
    ("wifi password is seagull-harbour, the guest one is Visitor2025", "Visitor2025"),
    ("please rotate the password you shared earlier (Quokka_42)", "Quokka_42"),
    ("olvidé la contraseña, creo que la antigua era Lince_2001", "Lince_2001"),
    ("mysql://reporting:s3cret@2024@db-1:3306/crm", "s3cret@2024"),
    ("redis://:Pr0d-Redis-K3y@10.0.0.5:6379", "Pr0d-Redis-K3y"),
    ('"basic_auth": "svc:Zq7$kL9w"', "Zq7$kL9w"),
    ("pass for the staging box is Mango2024", "Mango2024"),
    # round five: four words before the verb, a field that says which password
    ("het wachtwoord voor de gedeelde mailbox is nu Fietsen_2024!", "Fietsen_2024"),
    ('{"senha_temporaria": "Trocar#2025"}', "Trocar#2025"),
    ("parola mea e Dracula#1476 si nu merge", "Dracula#1476"),
    ("a jelszavam Paprika2023! de nem enged be", "Paprika2023"),
    ('{"host": "ftp.example.com", "user": "uploads", "pass": "f7Rk!29vqXz"}', "f7Rk!29vqXz"),
    ("PGPASSWORD='Ruisleipä#42x' psql -h kanta -U raportti", "Ruisleipä#42x"),
    ("The string is WIFI:S:Bean&Leaf Guest;T:WPA;P:flatwhite-2026;; for the QR code", "flatwhite-2026"),
    ("勤怠システムの初期パスワードは Sakura_Mochi2026! です。", "Sakura_Mochi2026"),
    ("the password for the shared drive is just Spring2026 with a capital S", "Spring2026"),
    ("he cambiado la contraseña a Paella#Valencia77, que alguien la usaba", "Paella#Valencia77"),
    ("+ docker login registry.example.com -u ci-bot -p Hx7!qLm2#pRw", "Hx7!qLm2#pRw"),
    ("Ich hab das Root-Passwort auf \"Hetzner!Rettung77\" gesetzt, trotzdem kein Login.", "Hetzner!Rettung77"),
    ("define( 'DB_PASSWORD', 'Stroopw@fel2024' );", "Stroopw@fel2024"),
])
def test_passwords_are_found_however_they_are_stated(text, value):
    assert value not in Scrubber().scrub_text(text)


def test_an_id_keyword_far_before_a_phone_number_does_not_hide_it():
    text = "About ticket 1182: please call me on 07700 900123 tomorrow."
    assert [f.kind for f in Scrubber().find(text)] == ["phone"]


def test_a_phone_number_after_a_booking_keyword_is_still_a_phone():
    text = "I've added it to the booking: +41 79 123 45 67"
    assert [f.kind for f in Scrubber().find(text)] == ["phone"]


def test_a_twenty_megabyte_line_is_scrubbed_whole():
    # the keyword, digit and hint searches must not lose what lies far into a long text
    prose = "The sync job finished in 4.2 s; build 4.2.10.3 logged 1,024 events and drained. " * 40
    unit = prose + "Thanks, Maria: call +1 415 555 0123 or mail jane.doe@example.com, server 10.12.8.203. "
    copies = 20_000_000 // len(unit)
    scrubbed = Scrubber().scrub_text(unit * copies)
    expected = prose + "Thanks, <NAME_1>: call <PHONE_1> or mail <EMAIL_1>, server <IP_1>. "
    assert scrubbed == expected * copies


def test_a_json_value_whose_only_clue_is_its_key_is_scrubbed():
    arguments = '{"first_name": "Ana", "dob": "1984-07-09", "password": "correcthorse", "order": "A-1029"}'
    record = Record(messages=[{"role": "user", "content": "please update my profile"},
                              {"role": "assistant", "content": None, "tool_calls": [
                                  {"id": "c1", "type": "function", "function": {"name": "update", "arguments": arguments}}]}])
    Scrubber().scrub_record(record)
    scrubbed = json.loads(record.messages[1]["tool_calls"][0]["function"]["arguments"])
    assert scrubbed["first_name"].startswith("<NAME_") and scrubbed["dob"].startswith("<DOB_")
    assert scrubbed["password"].startswith("<PASSWORD_") and scrubbed["order"] == "A-1029"


@pytest.mark.parametrize("text, expected", [
    # JSON keys in the languages of the logs
    ('{"nume": "Ioana-Maria Stan", "cnp": "2940403125590", "data_nasterii": "03.04.1994", '
     '"adresa": "Str. Mihai Eminescu nr. 47, ap. 14, 020072 București"}',
     {"name": "Ioana-Maria Stan", "national_id": "2940403125590", "dob": "03.04.1994",
      "address": "Str. Mihai Eminescu nr. 47, ap. 14, 020072 București"}),
    ('{"kunde": {"fodselsnr": "021190 46982", "adresse": "Bryggen 7, 5003 Bergen"}}',
     {"national_id": "021190 46982", "address": "Bryggen 7, 5003 Bergen"}),
    # a CRM export pasted as a table: the header says what each column holds
    ("Name;Vorname;Geburtsdatum;E-Mail\nSchneider;Elif;22.07.1995;elif.s@gmx.de",
     {"name": "Schneider Elif", "dob": "22.07.1995", "email": "elif.s@gmx.de"}),
    ("| first_name | last_name | plan |\n|---|---|---|\n| Wen | Zhao | pro |", {"name": "Wen Zhao"}),
])
def test_a_value_whose_only_clue_is_its_field_or_column_is_found(text, expected):
    found: dict[str, list[str]] = {}
    for item in Scrubber().find(text):
        found.setdefault(item.kind, []).append(text[item.start:item.end])
    assert {kind: " ".join(values) for kind, values in found.items()} == expected


@pytest.mark.parametrize("text, value", [
    # a phone word or a phone field says so where no default region has the number
    ("Med venlig hilsen\nAnders Bech\nTlf. 66 14 28 90", "66 14 28 90"),
    ('{"navn": "Freja Holm", "telefon": "31 47 82 09"}', "31 47 82 09"),
    ("Ring 924 17 380 hvis dere ikke finner frem.", "924 17 380"),
    # a number in brackets after a name
    ("Groetjes, Femke (06-12 87 43 90)", "06-12 87 43 90"),
])
def test_a_phone_number_is_found_where_the_text_says_it_is_one(text, value):
    assert values_of(text, "phone") == [value]


@pytest.mark.parametrize("text, value", [
    ("I moved to Av. Larco 1150, Miraflores, Lima 15074 and need the label updated.",
     "Av. Larco 1150, Miraflores, Lima 15074"),
    ("Dirección: Av. Corrientes 1847, piso 3, depto. B, C1045 CABA, Buenos Aires. A nombre de Martín Sosa.",
     "Av. Corrientes 1847, piso 3, depto. B, C1045 CABA, Buenos Aires"),
    ("Teslimat adresi: Bağdat Caddesi No: 214 D: 7, 34728 Kadıköy/İstanbul", "Bağdat Caddesi No: 214 D: 7, 34728 Kadıköy/İstanbul"),
    ("Eu sunt la Str. Republicii nr. 12, ap. 3, 400015 Cluj-Napoca până luni.",
     "Str. Republicii nr. 12, ap. 3, 400015 Cluj-Napoca"),
    ("Адрес: Невский проспект, д. 88, кв. 12, Санкт-Петербург, 191025\nТел.: +7 812 555 0143",
     "Невский проспект, д. 88, кв. 12, Санкт-Петербург, 191025"),
    ("Meine neue Anschrift: Hauptstr. 27, 67433 Neustadt an der Weinstraße, Festnetz 06321 48 92 71",
     "Hauptstr. 27, 67433 Neustadt an der Weinstraße"),
    ("Adresse : Rue Royale 120, 1000 Bruxelles. Merci, Manon Lambert", "Rue Royale 120, 1000 Bruxelles"),
])
def test_an_address_after_a_word_that_announces_it_runs_to_its_sentences_end(text, value):
    assert values_of(text, "address") == [value]


def test_a_memory_or_mac_address_is_no_address():
    assert Scrubber().find("Segfault at address: 0x7ffd5e8a10 in libc. MAC address: 00:1A:2B:3C:4D:5E.") == ()


@pytest.mark.parametrize("text, value", [
    ("住所：大阪府大阪市北区梅田3-1-3 ノースゲートビル 1204", "大阪府大阪市北区梅田3-1-3 ノースゲートビル 1204"),
    ('{"from": "서울특별시 강남구 테헤란로 152, 12층 (역삼동)"}', "서울특별시 강남구 테헤란로 152, 12층 (역삼동)"),
    ("运单\n收件人：周杰\n地址：广东省深圳市南山区科技园南路18号2栋1203\n电话：0755-8663 2217", "广东省深圳市南山区科技园南路18号2栋1203"),
])
def test_east_asian_addresses_are_found(text, value):
    assert values_of(text, "address") == [value]


def test_a_postcode_alone_is_no_address():
    assert Scrubber().find('{"zip": "98109", "postal_code": "SE15 4QN"}') == ()


HEX32 = "0123456789abcdef" * 2


@pytest.mark.parametrize("key", [
    # shapes from detect-secrets' plugins
    "123456789:AAH" + "k3Jx9" * 6 + "Qp",  # Telegram bot
    "SK" + HEX32,  # Twilio
    "M" + "TAx9Kp2" * 3 + "Jk." + "GaB3xY." + "k9" * 13 + "Z",  # Discord bot
    "https://hooks.slack.com/services/T0A1B2C3D/B0A1B2C3D/" + "xYz12AbC" * 3,  # Slack webhook
    HEX32 + "-us14",  # Mailchimp
    "sq0csp-" + "Ab3_" * 10 + "xyz",  # Square OAuth secret
    "ghp_" + "Ab3D" * 9,  # GitHub
    # shapes it has no plugin for
    "key-" + HEX32,  # Mailgun
    "shpat_" + HEX32,  # Shopify
    "dop_v1_" + HEX32 * 2,  # DigitalOcean
    "gsk_" + "Ab3D" * 13,  # Groq
    "lin_api_" + "Ab3D" * 10,  # Linear
    "sntrys_eyJpYXQiOjE3MD" + "Ab3D" * 12,  # Sentry
    "pk.eyJ1IjoiYWNtZSIsImEiOiJjbH" + ".Ab3D" + "x9" * 10,  # Mapbox
    "EAAA" + "Ab3D_" * 12,  # Square access token
    "whsec_" + "Ab3D" * 8,  # Stripe webhook secret
    "sk_live_" + "Ab3D" * 24,  # Stripe's long keys: the whole key, not detect-secrets' first 24 characters
    "lsv2_pt_" + HEX32 + "_0123456789",  # LangSmith
    "secret_" + "Ab3D" * 10 + "xyz",  # Notion
    "LTAI" + "Ab3D" * 5,  # Alibaba Cloud
    "AKID" + "Ab3D" * 8,  # Tencent Cloud
    "klarna_live_api_" + "Ab3D" * 10,  # Klarna
    "sandbox-" + "Ab3D" * 8,  # iyzico
])
def test_vendor_keys_are_replaced_whole(key):
    assert Scrubber().scrub_text(f"use {key} for it") == "use <API_KEY_1> for it"


@pytest.mark.parametrize("header", ["DD-API-KEY", "X-Algolia-API-Key:", '"api-key":'])
def test_a_key_of_hex_digits_is_found_after_its_header_name(header):
    assert Scrubber().scrub_text(f"sent {header} {HEX32}; ok") == f"sent {header} <API_KEY_1>; ok"


def test_a_key_shape_inside_a_longer_word_is_no_key():
    assert Scrubber().find("task-0123456789abcdefghij1 and pr8_" + "Ab3D" * 9 + "x") == ()


def test_an_error_line_shows_no_vendor_key():
    from dataprep.terminal import redact
    key = "SK" + HEX32  # a shape only detect-secrets knows
    assert redact(f"Twilio said: key {key} is revoked", secrets=[]) == "Twilio said: key [redacted] is revoked"


@pytest.mark.parametrize("text, kind, value", [
    ("Un saludo,\nLucía Navarro\nTel. 613037683", "phone", "613037683"),  # bare digits after a phone word
    ("Mi teléfono es 602331250 y mi correo", "phone", "602331250"),
    ("identity check failed (caller ID 555.959.1163).", "phone", "555.959.1163"),  # the phone word beats "ID"
    ("remote_addr=81.50.1.254 build=48df785f5da29f99e29e196b98b860984fb29f88", "ip", "81.50.1.254"),
    ("サーバー192.168.6.167用の秘密鍵です。", "ip", "192.168.6.167"),
    ("ユーザーkentaito@example.co.jpのパスワード", "email", "kentaito@example.co.jp"),  # not the Japanese around it
    ("ユーザーのパスワード「S0mmer!Regen42」がメッセージに含まれていました。", "password", "S0mmer!Regen42"),
    ("Anfrage abgelehnt: Nutzer Matthias Müller-Hagen hat eine Kartennummer gesendet.", "name", "Matthias Müller-Hagen"),
    ("Falei com João dos Santos ontem.", "name", "João dos Santos"),
    ("I revoked the sessions. Maeve, please also enable 2FA.", "name", "Maeve"),
    ("Booking 4ESS7C\nPAX 1: Quentin Nakamura-Reid  DOB August 28, 1975", "name", "Quentin Nakamura-Reid"),
    ("| field | value |\n|---|---|\n| Name | Declan Nakamura-Reid |\n| Case | JIRA-7026 |", "name", "Declan Nakamura-Reid"),
    ('{"nom": "Baptiste Moreau", "numero_securite_sociale": "2 55 10 22 896 282 42"}', "national_id",
     "2 55 10 22 896 282 42"),
    ("Teşekkürler, yeni adresiniz Bağdat Caddesi No:114 D:14, 34710 Kadıköy/İstanbul olarak kaydedildi.", "address",
     "Bağdat Caddesi No:114 D:14, 34710 Kadıköy/İstanbul"),
    ("Your new address is 14 Rue de la Paix, 75002 Paris. Thanks", "address", "14 Rue de la Paix, 75002 Paris"),
])
def test_round_twelve_finds_what_holdout15_missed(text, kind, value):
    assert value in values_of(text, kind)


@pytest.mark.parametrize("text, value", [
    ('{"id_doc": {"kind": "P", "no": "738613333", "state": "GBR"}}', "738613333"),  # a document of type P
    ('{"document":{"type":"P","number":"313222496","issuing_country":"GBR"}}', "313222496"),
    ("MRZ check OK\nDocument: P  Issuing state: GBR  Number: 724159322\nHolder: ABIGAIL THORNE", "724159322"),
    ("Type: P   Issuing state: GBR\nSurname: PEMBERTON   Given names: HARRIET\nDocument no. 941459560", "941459560"),
    ("PAX 1  SMIT/DAAN       NLD  PYESVN484  M  1981-09-14", "PYESVN484"),  # an airline manifest's line
    ("1. OYELARAN/FOLASADE MRS   A09381726  NG", "A09381726"),
    ('{"passports": [{"number": "R10884412", "country": "IRN"}]}', "R10884412"),  # the plural
    ("제 여권번호는 M20410730, 남편은 M35266996 이에요.", "M35266996"),  # the second of a couple's
    ("загранпаспорта: мой 14 8338090, мужа 17 7768833.", "17 7768833"),
])
def test_passports_without_a_word_right_before_them_are_found(text, value):
    assert value in values_of(text, "passport")


@pytest.mark.parametrize("text", [
    "RP/LON1S2101/LON1S2101   AA/SU  12JUN24/0914Z   8HJQ2L\n  3  LH 901 Y 02AUG 5 FRALHR HK2",  # a record locator
    "Passport photo uploaded; your booking 4ESS7C and flight BA0117 are confirmed.",
    '{"doc_type": "invoice", "number": "INV2024001"}',
])
def test_travel_codes_near_passport_cues_are_no_passport(text):
    assert values_of(text, "passport") == []



@pytest.mark.parametrize("text", [
    "Bitte überweisen Sie den Betrag an die Kasse.",  # a capitalised pronoun and an article are no name
    "Fuimos a San Sebastián y luego a Santa Cruz de Tenerife.",  # places named after saints
    "O pedido vai chegar em São José dos Campos.",
    "Pieter\nVan den Berg Installatietechniek B.V.\nIndustrieweg",  # a company with its legal form
    "| Name | Email |\n|---|---|",  # a table's header row names its columns
    "customer ID 4155550123 was merged",  # an id keyword without a phone word still rules
])
def test_round_twelve_leaves_look_alikes_alone(text):
    assert [found.kind for found in Scrubber().find(text) if found.kind in ("name", "phone")] == []


@pytest.mark.parametrize("text, value", [
    ("Hier die Daten: Nils Hoffmann, 08.05.1979, 42 829 071 539.", "08.05.1979"),
    ("Terrence Ogilvie | 449 39 9760 | 1971-08-30 | new cell (602) 555-0138", "1971-08-30"),
    ("PAX 1  SMIT/DAAN       NLD  PYESVN484  M  1981-09-14", "1981-09-14"),
])
def test_a_date_after_a_name_in_a_persons_record_is_a_date_of_birth(text, value):
    assert values_of(text, "dob") == [value]


@pytest.mark.parametrize("text", [
    "Anna Weber | 2024-06-12 | refund approved",  # a recent date beside a name is an event's
    "Anna Weber signed the lease on 12.03.1998.",  # words between: the sentence says what the date is
])
def test_a_date_beside_a_name_is_not_always_a_birth_date(text):
    assert values_of(text, "dob") == []


def test_dates_of_birth_in_records_follow_the_dob_switch():
    text = "Nils Hoffmann, 08.05.1979"
    assert [found.kind for found in Scrubber(disable=["dob"]).find(text)] == ["name"]


@pytest.mark.parametrize("text, value", [
    ("Dane do umowy: Tomasz Lis, 79110228091, ul. Marszałkowska 84/92", "79110228091"),  # a PESEL in a record
    ("NL-2207;Noor Bakker-Yilmaz;308579872;NL21KNAB0863314659;36;actief", "308579872"),  # a BSN in a CSV row
    ("Für die Anmeldung: Martina Keller, 756.0064.8440.00, Eintritt 1. September", "756.0064.8440.00"),  # AHV
    ("核验结果：刘芳 310115199207031853 一致", "310115199207031853"),  # a Chinese resident id, by its check digit
    ("주민번호 확인: 841016-1299227", "841016-1299227"),  # a Korean resident registration number
])
def test_personal_numbers_are_found_by_their_check_digits(text, value):
    assert value in values_of(text, "national_id")


@pytest.mark.parametrize("text", [
    "Anna Weber; 308579873; ok",  # the BSN's check fails by one digit
    "Order 79110228091 shipped to the depot",  # a PESEL-valid number with no person before it
])
def test_weak_check_digits_alone_make_no_personal_number(text):
    assert values_of(text, "national_id") == []


@pytest.mark.parametrize("text, value", [
    ("01/03/2025 10:12  vers 01 45 55 02 18   4 min", "01 45 55 02 18"),  # two spaces end a call record's number
    ("2025-03-11 22:41  INTL ROAM  to +44 20 7946 0321   14 min   $12.60", "+44 20 7946 0321"),
    ("Хочу перенести номер 8 (926) 555-22-10 от МТС.", "8 (926) 555-22-10"),  # an area code in brackets
    ("Flat 4, 27 Mornington Crescent, London NW1 7RE please. Ring 07700 900461 when you're outside",
     "07700 900461"),  # "Ring 07700" is no street: a house number does not start with 0
    ("Doğru adres: Bağdat Caddesi No: 245 D: 7, 34728 Kadıköy/İstanbul. Telefonum 0532 418 27 90.",
     "0532 418 27 90"),  # the address ends with its sentence, before the phone's
])
def test_phone_numbers_in_call_records_and_after_addresses(text, value):
    assert values_of(text, "phone") == [value]


@pytest.mark.parametrize("text, value", [
    ("our vendor sent an API key via email: f02a57d0b374ecea1557768b8c73c77b. Should I", "f02a57d0b374ecea1557768b8c73c77b"),
    ("Internal API key for the tracking service: 8a24b45ee30295941b787199efdbaf591c8f2f1c.",
     "8a24b45ee30295941b787199efdbaf591c8f2f1c"),
])
def test_a_key_a_few_words_after_its_name_is_found(text, value):
    assert values_of(text, "api_key") == [value]


def test_a_short_value_a_few_words_after_token_is_no_key():
    assert Scrubber().find("The token for today: hello2024world, expired for session: abc123") == ()


@pytest.mark.parametrize("text, value", [
    ("С уважением,\nЕлена Васильевна Морозова\nуправляющая ТСЖ", "Елена Васильевна Морозова"),  # signatures
    ("مع خالص التحية،\nنور الهدى قاسم\nمديرة العقارات", "نور الهدى قاسم"),
    ("सादर,\nकविता अय्यर\nप्रॉपर्टी मैनेजर", "कविता अय्यर"),
    ("此致\n敬礼\n\n黄丽华\n物业管理处", "黄丽华"),
    ("Спасибо, Анна Сергеевна. Ваш убыток зарегистрирован.", "Анна Сергеевна"),  # who is thanked
    ("شكراً لك يا محمد. تم تسجيل المطالبة.", "محمد"),  # who is called
    ("رقم الآيبان: AE124221836285261942820 باسم طارق سليمان.", "طارق سليمان"),  # in the name of
    ("退款请打到我的银行卡，户名吴芳。", "吴芳"),  # the account holder
    ('{"मरीज़": "अनीता देसाई", "जन्मतिथि": "1975-11-30"}', "अनीता देसाई"),  # a field, Devanagari's marks kept
    ('{"用户": "何静怡", "token": "x"}', "何静怡"),
    ('{"пользователь": "Никита Лебедев", "канал": "telegram"}', "Никита Лебедев"),
])
def test_names_in_other_scripts_are_found_where_logs_carry_them(text, value):
    assert value in values_of(text, "name")


@pytest.mark.parametrize("text, value", [
    ("Pozdrawiam serdecznie\nTomasz, Biuro Obsługi Klienta", "Tomasz"),  # the team after the name on its line
    ("Cu stimă,\nMihai – Relații Clienți", "Mihai"),
    ("within an hour.\n\n— Sam @ Support", "Sam"),
    ("Jag jobbar natt och sover på dagen. /Mattias", "Mattias"),  # a Swedish slash signature
    ("Kære Mette\n\nLønsedlen er nu sendt", "Mette"),
    ("Operatore: Chiara | Cliente: Luca Moretti | Esito: risolto", "Chiara"),  # who is on the call
    ("[09:16] Agent (Leonie): Haben Sie den Router neu gestartet?", "Leonie"),
    ("Agente: Buenas tardes, le atiende Rocío, ¿en qué puedo ayudarle?", "Rocío"),
    ("Yo. Tyler here. bought the hoodie last week", "Tyler"),
    ("Галина Сергеевна, добрый день. Ваш полис готов.", "Галина Сергеевна"),  # a first name and a patronymic
    ("Вітаю, Оксано!\n\nПерепрошуємо за затримку", "Оксано"),
    ("Здравствуйте, это Марина Егорова. Паспорт для визы", "Марина Егорова"),
    ("שלום, קוראים לי יוסי כהן ואני מנסה לבטל", "יוסי כהן"),
    ("สวัสดีค่ะ ดิฉันชื่อ สมศรี ใจดี ค่ะ อยากสอบถาม", "สมศรี ใจดี"),
    ("З повагою,\n\nОлександр Мельник\nДиректор з логістики", "Олександр Мельник"),
    ("감사합니다.\n\n최지훈\n구매팀 과장", "최지훈"),
    ("Я теперь в Питере, кв. 12. — Катя", "Катя"),  # a name that signs off the end of a message
    ("GR98 8182 3934 5688 6046 0814 603. Ευχαριστώ πολύ! Σοφία", "Σοφία"),
    ("はじめまして、加藤です。先日お電話した", "加藤"),
    ("Вера Александрова", "Вера Александрова"),  # a name field's whole text
    ('kyc.verify ok ho_ten="Trần Văn Hùng" cccd=038083525916', "Trần Văn Hùng"),  # a key=value log line
    ("<customer>\n  <name>วิภาวดี ศรีสุข</name>\n</customer>", "วิภาวดี ศรีสุข"),  # an XML element
    ("Πελάτης: Βασίλης Οικονόμου | Διαβατήριο: BS3120409", "Βασίλης Οικονόμου"),  # fields on one line
    ('{"ticket": "TH-88120", "assignee": "ปิยะพงษ์"}', "ปิยะพงษ์"),  # a role key, a script without capitals
    ('{"card_number": "3574648756156853", "holder": "TAKAHASHI YUKI"}', "TAKAHASHI YUKI"),  # or in capitals
])
def test_names_in_the_contexts_issue_12_names_across_languages(text, value):
    assert value in values_of(text, "name")


@pytest.mark.parametrize("text", [
    "Спасибо за помощь",  # thanks for the help: lower case is no name
    "Статус — Доставлено",  # a dash inside a line is no signature
    "Я не знаю. Это Москва, да.",  # "this is" one capitalised word: a city
    "שלום, אני צריך עזרה",  # "I need help"
    "سيتواصل معك المقيّم خلال يومي عمل.",  # "the assessor will contact you"
    'MAIL_FROM_NAME="Acme Billing" app_name=checkout-api',  # a role key with a cased Latin value: a product
    '{"name": "Pro plan", "owner": "Acme"}',
])
def test_role_words_and_thanks_without_a_person_are_no_name(text):
    assert values_of(text, "name") == []


def test_a_vendor_key_under_a_password_field_is_that_key():
    text = "artifactory_password=AKCp8P1rnQl1UcKnC2zhGcH66Lp8zyURDMA8ADjdP1WmGnaN5etE931cCwuGeVTbGt483FUFC"
    assert [found.kind for found in Scrubber().find(text)] == ["api_key"]


@pytest.mark.parametrize("text, kind, value", [
    ('{"canal": "whatsapp", "wa_id": "5531988124407"}', "phone", "5531988124407"),  # a country code, no "+"
    ("Cel. (+57) 315 770 4418", "phone", "(+57) 315 770 4418"),
    ('{"фио": "Кузнецов", "телефон": "8 903 551-20-84"}', "phone", "8 903 551-20-84"),  # a phone word as a key
    ("SELECT name FROM members WHERE phone = '15921887304'", "phone", "15921887304"),  # or an SQL column
    ('{"фио": "Кузнецов", "паспорт": "45 09 718240"}', "passport", "45 09 718240"),  # Russia's series and number
    ("UPDATE clients SET passport = '40 15 227381' WHERE id = 440918", "passport", "40 15 227381"),
    ("id | name | passport | nationality\n---+------+----------+-----------\n41 | Lars Eriksen | 57160749 | NO",
     "passport", "57160749"),  # psql's table
    ("Nombre,Apellido,Documento,Ciudad\nValentina,Rojas,22.247.946-0,Santiago", "national_id", "22.247.946-0"),  # RUT
    ("Nombre,Apellido,Documento,Ciudad\nValentina,Rojas,22.247.946-0,Santiago", "name", "Valentina"),  # a person table
    ("您好，我的身份证号是320102197810034793，出生日期", "national_id", "320102197810034793"),
    ("เลขบัตรประชาชน 1005785611048 ค่ะ เกิดวันที่ 14 กุมภาพันธ์ 2533", "dob", "14 กุมภาพันธ์ 2533"),
    ("Ο πατέρας μου γεννήθηκε στις 3 Μαρτίου 1943 και", "dob", "3 Μαρτίου 1943"),
    ("שלום, מספר תעודת הזהות 828333377.", "national_id", "828333377"),
    ('{"рнокпп": "3114754871", "дата_народження": "11.04.1985"}', "dob", "11.04.1985"),
    ("İşlem reddedildi: 9792 4644 5967 0957 numaralı kart", "card", "9792 4644 5967 0957"),  # Troy
    ("2024/06/01 3582-7701-2079-2468 ¥12,800 承認", "card", "3582-7701-2079-2468"),  # not from the date before it
    ("từ địa chỉ IP 27.72.101.46 trong vòng 1 phút.", "ip", "27.72.101.46"),  # "vòng" is no version word
    ("Et la clé API du logiciel de caisse : 16437e4f0ac7bc629f94938c823f50e3.", "api_key",
     "16437e4f0ac7bc629f94938c823f50e3"),
])
def test_round_thirteen_structured_values(text, kind, value):
    assert value in values_of(text, kind)


@pytest.mark.parametrize("text", [
    '{"pan": "4539492662474783", "exp_month": 11}',  # a card's primary account number, not India's PAN
    "UPI se ₹2,499 ka payment fail hua, UTR 408812345671 dikh raha hai",  # a UPI transaction reference
])
def test_payment_references_are_no_personal_number(text):
    assert values_of(text, "national_id") == []


@pytest.mark.parametrize("text, value", [
    ("Пароль от личного кабинета Moskva_2023!!, логин тот же", "Moskva_2023"),  # words between, a made-up value
    ("密码我已经改成 Shanghai@2024abc 了，但是", "Shanghai@2024abc"),
    ("お送りいただいたパスワード（Sakura#0714）は無効化いたしました", "Sakura#0714"),
    ("لاحظت أنك أرسلت كلمة المرور (Layla@1990#) في المحادثة", "Layla@1990#"),
    ('tool argument `password` contains a plaintext credential ("Winter#2025-ops"). Use', "Winter#2025-ops"),
    ("das alte Passwort `POSTGRES_PASSWORD: Hamburg_2019!db` – reicht es", "Hamburg_2019!db"),  # no backtick
    ("Khách: Ngô Thanh Tùng | Mật khẩu tạm: Tung@2024vn | Hết hạn: 24h", "Tung@2024vn"),
    ('{"משתמש": "avi", "סיסמה_זמנית": "Tlv#2024reset"}', "Tlv#2024reset"),
    ("I keep getting \"invalid credentials\". I've tried Tr0ub4dor&3 and also another one.", "Tr0ub4dor&3"),
])
def test_passwords_in_more_languages_and_further_from_their_word(text, value):
    assert values_of(text, "password") == [value]


@pytest.mark.parametrize("text", [
    "credentials are invalid for user_42",  # an identifier is no password
    "card declined again. tried 5335-2887-7059-4568 and also my amex",  # a card number is no password
    "Also tried @sentry/react-native 5.22.0, same thing.",  # nor a package
    "Het wachtwoord dat je net stuurde heb ik verwijderd.",  # "net" (just) is no password
])
def test_what_was_tried_or_named_near_a_password_word_is_not_always_one(text):
    assert values_of(text, "password") == []


@pytest.mark.parametrize("text, value", [
    ("м. Київ, вул. Хрещатик, 15, кв. 42, 01001", "м. Київ, вул. Хрещатик, 15, кв. 42, 01001"),
    ("живу на Лиговском пр., д. 44, кв. 12. — Катя", "Лиговском пр., д. 44, кв. 12"),
    ("Αιγαίο Τρόφιμα Α.Ε.\nΤσιμισκή 45, 546 23 Θεσσαλονίκη", "Τσιμισκή 45, 546 23 Θεσσαλονίκη"),
    ('"כתובת": "רחוב הרצל 42, דירה 7, רמת גן 5226311"', "רחוב הרצל 42, דירה 7, רמת גן 5226311"),
    ("حي النرجس، شارع الأمير سلطان 4128، الرياض 13327", "حي النرجس، شارع الأمير سلطان 4128، الرياض 13327"),
    ("12, एम.जी. रोड, बेंगलुरु, कर्नाटक 560001", "12, एम.जी. रोड, बेंगलुरु, कर्नाटक 560001"),
    ("88 ถนนรัชดาภิเษก แขวงดินแดง เขตดินแดง กรุงเทพฯ 10400", "88 ถนนรัชดาภิเษก แขวงดินแดง เขตดินแดง กรุงเทพฯ 10400"),
    ("Tầng 9, 235 Nguyễn Văn Cừ, Phường 4, Quận 5, TP. Hồ Chí Minh",
     "Tầng 9, 235 Nguyễn Văn Cừ, Phường 4, Quận 5, TP. Hồ Chí Minh"),
    ("Jl. Jend. Gatot Subroto Kav. 21, Jakarta Selatan 12930", "Jl. Jend. Gatot Subroto Kav. 21, Jakarta Selatan 12930"),
    ("Carrera 7 # 71-21, Torre B, Of. 902, Bogotá D.C.", "Carrera 7 # 71-21, Torre B, Of. 902, Bogotá D.C."),
    ("mon adresse 4521, rue Saint-Denis, app. 3, Montréal (Québec) H2J 2L4. Est-ce",
     "4521, rue Saint-Denis, app. 3, Montréal (Québec) H2J 2L4"),
    ("客户要求发票寄到北京市朝阳区建国路 93 号院 6 号楼 1802，收件人", "北京市朝阳区建国路 93 号院 6 号楼 1802"),
])
def test_street_addresses_in_other_grammars(text, value):
    assert any(value in found for found in values_of(text, "address"))


@pytest.mark.parametrize("text, kind, value", [
    ("От: Игорь Смирнов <i.smirnov@stroy-invest.ru>\nКому: Екатерина Павлова", "name", "Игорь Смирнов"),  # mail headers
    ("보낸 사람: 이서연 <seoyeon.lee@hanbit-soft.co.kr>\n받는 사람: 최동욱", "name", "최동욱"),
    ("- Surname: MACLEOD\n- Given names: ISLA CATRIONA", "name", "MACLEOD"),  # a bulleted form
    ("Last Name: NGUYEN  First Name: THANH HUONG  MI: T", "name", "THANH HUONG"),  # fields two spaces apart
    ('{"passenger":"MR THEODORE ABERNETHY","pnr":"ZK4P9R"}', "name", "MR THEODORE ABERNETHY"),
    ("Nr | Name | Reisepass | Geburtsdatum\n1  | Brandt, Helmut | VC202KWTN | 14.07.1959", "name", "Brandt, Helmut"),
    ("ชื่อ,เลขประจำตัวประชาชน,วันเกิด\nนางสาวพิมพ์ชนก ศรีสุข,8867176364131,01/12/2539", "dob", "01/12/2539"),
    ("якщо щось зміниться — напишу.\nЗ повагою, Соломія", "name", "Соломія"),
    ("今天先这样。\n——小雨", "name", "小雨"),
    ("Ezt kérik: útlevélszám (PS9464195), a férjemé (TK0922958), és", "passport", "TK0922958"),
    ('{"搭乗者": [{"氏名": "SAITO HARUKA", "旅券番号": "TR9692080"}]}', "passport", "TR9692080"),
    ("Pasager: Radu Gheorghe\nPașaport: 911140229", "passport", "911140229"),
    ("Meine Steuer-ID ist 35896647204, die von meiner Frau 34687125021. Wo", "national_id", "34687125021"),
    ("अनुरोध अस्वीकृत: पैन HZSPC2916S और ग्राहक", "national_id", "HZSPC2916S"),
    ('{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "27025303712"}', "national_id", "27025303712"),  # fnr
    ("Ny bekreftelse sendes på SMS til 412 55 908.", "phone", "412 55 908"),
    ('"text": "Grüße\\nSabine Lehmann\\n0151 23456789"}', "phone", "0151 23456789"),  # after an escaped newline
    ("meu cartão 6362 9789 6266 3262 foi clonado", "card", "6362 9789 6266 3262"),  # Elo
])
def test_round_fourteen_finds_what_holdout17_missed(text, kind, value):
    assert value in values_of(text, kind)


def test_a_flights_from_and_to_keys_in_arabic_are_no_mail_header():
    assert values_of('{"رقم": "SV 1025", "من": "JED", "إلى": "DMM"}', "name") == []


@pytest.mark.parametrize("text, value", [
    ('Csinálj ebből egy jegyet:\n"Bence, a szerver root jelszava megváltozott.', "Bence"),  # a quoted message's reader
    ("Переклади дослівно:\n«Марек, доступ до адмінки готовий.", "Марек"),
    ("Після першого входу змініть пароль. — Ігор»", "Ігор"),  # and its writer
    ("Your voucher will arrive by post.\n\nHave a great trip!\nAkiko, Wayfarer Travel", "Akiko"),
    ("Jó napot, Kovács Péter vagyok. A TAJ-számom", "Kovács Péter"),
    ("สวัสดีครับ ผมชื่อสมชาย ใจดี ต้องการเปลี่ยนที่อยู่", "สมชาย ใจดี"),
    ("मैं अर्जुन सिंह हूँ, लंदन में काम करता हूँ।", "अर्जुन सिंह"),
    ("私は松本 直樹です。ロンドンで働いています。", "松本 直樹"),
    ("أنا عمر فاروق من القاهرة، رقم موبايلي", "عمر فاروق"),
    ("다음 주에는 표를 만들어 달라고 할게요.\n지영 드림", "지영"),
])
def test_names_that_open_or_sign_a_quoted_message_and_introductions_in_more_languages(text, value):
    assert value in values_of(text, "name")


def test_a_relative_signing_a_korean_message_is_no_name():
    assert values_of('"수아야, 생일 축하해! 행복하게 자라렴. – 이모가"', "name") == []


@pytest.mark.parametrize("text, value", [
    ("رقم الجواز: N04418827 | الاسم: AL MAKTOUM/SALEM", "AL MAKTOUM/SALEM"),  # SURNAME/GIVEN anywhere
    ("Passnummer AA4418273 – LINDGREN/ANNA – född 1988-03-14", "LINDGREN/ANNA"),
    ("Reisepassnummer stimmt nicht mit der Buchung von Weber/Tobias überein.", "Weber/Tobias"),
    ("Search results (3):\n1. Olumide Fashola — o.fashola@zenithmail.ng — +234", "Olumide Fashola"),
    ('{"versicherter":"Maurer, Gerlinde","geburtsdatum":"1957-08-11"}', "Maurer, Gerlinde"),
    ("Assuré : GIRAUD Philippe\nN° SS : 1 84 03 65 480 858 15", "GIRAUD Philippe"),
    ("收货地址：北京市朝阳区建国路88号，收货人：马云飞", "马云飞"),  # fields after a full-width comma
    ("Thẻ: 3528904240541250 – Chủ thẻ: PHAM QUOC BAO – Trạng thái: từ chối", "PHAM QUOC BAO"),  # or a dash
    ("C'est noté, Camille : le passeport est enregistré.", "Camille"),
    ("Hi team, Kwame here from accounts payable.", "Kwame"),
    ("مرحبا، اسمي فاطمة الزهراء بنعلي. فقدت حقيبتي", "فاطمة الزهراء بنعلي"),
    ("مع خالص التحيات،\nد. ليلى منصور\nمديرة الموارد البشرية", "ليلى منصور"),
    ("सादर,\nडॉ. अनीता गुप्ता\nप्रधानाचार्या", "अनीता गुप्ता"),
    ("Шановна пані Оксано, ваш платіж зараховано.", "Оксано"),
    ("हैलो, मैं प्रिया वर्मा बोल रही हूँ।", "प्रिया वर्मा"),
    ("เรียนคุณ วิภาวดี การคืนเงินของท่านเสร็จสิ้นแล้ว", "วิภาวดี"),
    ("商品が届きません。よろしくお願いします。中島", "中島"),
    ("Un saludo, Jorge (Atención al Cliente)", "Jorge"),
    ("Cảm ơn.\nTrân trọng,\nLê Hoàng Phương\nTrưởng phòng", "Lê Hoàng Phương"),  # Vietnamese ư and ơ
    ("Tôi tên Phạm Quốc Bảo, ngày sinh 20/11/1990", "Phạm Quốc Bảo"),
])
def test_round_fifteen_finds_what_holdout18_and_19_missed(text, value):
    assert value in values_of(text, "name")


@pytest.mark.parametrize("text", [
    "INPUT/OUTPUT errors and READ/WRITE locks, TCP/IP, AND/OR",  # slashes between words that are no names
    "anh ơi pass wifi quán là gì ạ?",  # Vietnamese "hey" is no name
    "Sure thing, no problem",
])
def test_round_fifteen_leaves_look_alikes_alone(text):
    assert values_of(text, "name") == []


@pytest.mark.parametrize("text, value", [
    ('{"المرشح":"أحمد سعيد المصري","جواز_السفر":"A18447723"}', "أحمد سعيد المصري"),  # a candidate
    ("Top;Mieter;Tel;IBAN;Miete\n7;Huber Stefan;+43 664 218 4471;AT411269371500000000;980", "Huber Stefan"),  # a tenant
    ('{"pacjent":"MAZUR GRZEGORZ","data_urodzenia":"1966-09-30"}', "MAZUR GRZEGORZ"),
    ("学籍番号: 24F3117 / 氏名: 中村 美咲 (ナカムラ ミサキ) / 生年月日: 2008年7月9日", "中村 美咲"),  # reading aside
    ("Gentile sig. Esposito, il certificato può essere scaricato.", "Esposito"),
    ("Beste juf Ilse, Daan heeft morgen een afspraak.", "Ilse"),
    ("Κύριε Παπαδόπουλε, η αίτησή σας καταχωρίστηκε.", "Παπαδόπουλε"),
    ("היי, אני אבי לוי. רוצה להעביר את החשבון.", "אבי לוי"),
    ("美咲の母の中村 由美です。明日の面談を変更できますか。", "中村 由美"),
    ("老师您好，我是张子涵的家长。", "张子涵"),
    ("التحويل إلى الحساب، مع التحية، ليلى الشامسي", "ليلى الشامسي"),
    ("Мой номер +7 921 340-18-77. Елена Волкова", "Елена Волкова"),
])
def test_round_sixteen_finds_what_holdout20_missed(text, value):
    assert value in values_of(text, "name")


@pytest.mark.parametrize("text, look_alike", [
    ('{"tenant":"acme-eu","region":"eu-central-1"}', "acme-eu"),  # a SaaS tenant is a company
    ("Beneficiario: Catering La Alameda (Inés Paredes)", "Catering La Alameda"),  # a company, its contact in brackets
    ("साक्षात्कार के अवसर के लिए धन्यवाद।\nसादर,", "।"),  # a full stop is no name
])
def test_round_sixteen_leaves_look_alikes_alone(text, look_alike):
    assert not [name for name in values_of(text, "name") if look_alike in name]


@pytest.mark.parametrize("text, value, placeholder", [
    ("Passport: \x1b[31mC01X00T47\x1b[0m", "C01X00T47", "<PASSPORT_1>"),
    ("phone \x1b[1m+44 7700 900123\x1b[0m", "+44 7700 900123", "<PHONE_1>"),
    ('msg="mail \\u001b[1mjan.kowalski@example.pl\\u001b[0m"', "jan.kowalski@example.pl", "<EMAIL_1>"),  # as JSON writes it
    ('echo -e "\\033[32mcall +49 151 23456789\\033[0m"', "+49 151 23456789", "<PHONE_1>"),  # as a shell script writes it
])
def test_values_coloured_by_terminal_escapes_are_scrubbed_whole(text, value, placeholder):
    assert Scrubber().scrub_text(text) == text.replace(value, placeholder)


def test_one_pass_for_every_hint_tells_what_searching_each_one_tells():
    """The scrubber asks an RE2::Set which of its hint patterns occur in a text (dataprep/re2_hints.py);
    a pattern it missed would hide PII from a detector, so it must answer exactly as searching does."""
    Scrubber().scrub_text("warm up: every detector's patterns are registered")
    texts = [row["text"] for path in sorted(LABELED.glob("*.jsonl")) for row in load(path)]
    assert len(texts) > 5000 and len(HINTS.index) > 40
    for text in texts + [text.lower() for text in texts]:
        searched = {index for pattern, index in HINTS.index.items() if pattern.search(text)}
        assert HINTS.occurring(text) == searched, text


def test_a_scrubber_that_has_read_many_texts_finds_in_each_what_a_new_one_finds():
    """A scrubber remembers which detectors a combination of hints calls for, and which name rules a
    keyword opens: remembered from one text, either must be right for the next."""
    texts = [row["text"] for path in sorted(LABELED.glob("*.jsonl")) for row in load(path)][::7]
    seasoned = Scrubber()
    for text in texts:
        seasoned.find(text)
    assert len(texts) > 700
    assert [seasoned.find(text) for text in texts] == [Scrubber().find(text) for text in texts]


def lookup_tools(description: str) -> list[dict]:
    return [{"type": "function", "function": {"name": "lookup_order", "description": description, "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string", "description": "The number as the customer wrote it."}},
        "required": ["order_id"]}}}]


def test_an_order_number_the_user_gave_is_scrubbed_where_it_stands_in_the_tool_definitions():
    """Tool definitions with nothing to scrub are read once a run; a value found in the conversation that
    also stands in them is replaced there too, with the conversation's placeholder."""
    scrubber = Scrubber()
    plain = Record(messages=[{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}],
                   tools=lookup_tools("Find an order by its number. Example: LK-4410293."))
    record = Record(messages=[{"role": "user", "content": "Where is my order LK-4410293?"},
                              {"role": "assistant", "content": "Let me look."}],
                    tools=lookup_tools("Find an order by its number. Example: LK-4410293."))
    scrubber.scrub_record(plain)
    scrubber.scrub_record(record)
    assert plain.tools == lookup_tools("Find an order by its number. Example: LK-4410293.")
    assert record.messages[0]["content"] == "Where is my order <ORDER_1>?"
    assert record.tools == lookup_tools("Find an order by its number. Example: <ORDER_1>.")


class EveryToolRead(Scrubber):
    """The scrubber without its shortcut for tool definitions: every string of them read in every record."""

    def quiet_tools(self, tools):
        return None


def test_reading_quiet_tool_definitions_once_scrubs_every_record_as_reading_them_each_time_does():
    descriptions = ["Find an order by its number. Example: LK-4410293.", "Escalate to maria.lopez@larkfield.example if unsure.",
                    "Book a callback. Agents on duty: Omar Okafor, Priya Raman.", "The number, e.g. LK-4410293\nor lk 4410293",
                    "Sign it as <NAME_2>.", "Look the order up first."]
    users = ["Where is my order LK-4410293? I am Omar Okafor.", "order lk 4410293 please, Omar here", "Hi, nothing personal",
             "Mail me at maria.lopez@larkfield.example", "Is Priya Raman working today?"]
    records = [Record(messages=[{"role": "user", "content": user}, {"role": "assistant", "content": "Thanks, Omar."}],
                      tools=lookup_tools(description), source={"user": "omar"}) for user in users for description in descriptions]
    records += [Record(messages=row["messages"], tools=row["tools"])  # the fact sets' conversations with tools
                for path in sorted((LABELED.parent / "facts").glob("*.jsonl"))
                for row in load(path) if row.get("tools")][:400]
    assert len(records) > 300
    shortcut, every = Scrubber(), EveryToolRead()
    for record in records:
        copy = Record.from_dict(record.to_dict())
        assert shortcut.scrub_record(record) == every.scrub_record(copy)
        assert record.to_dict() == copy.to_dict()


def test_every_digit_python_reads_is_a_digit_to_re2():
    """The needles write ``\\p{Nd}`` where the regexes they stand for write ``\\d``: a digit Python's ``re``
    knows and RE2 does not (a newer Unicode in a newer Python) would let a card through unscrubbed."""
    import re

    import re2

    digit = re2.compile(r"\p{Nd}")
    unknown = [hex(code) for code in range(0x110000) if re.match(r"\d", chr(code)) and not digit.match(chr(code))]
    assert not unknown


def test_the_needles_read_letters_and_spaces_as_re_does():
    """A needle stands for a ``re`` regex in RE2: its classes must hold every character the regex's do, or a
    value would go unscrubbed (``re``'s case-blind ``[A-Z]`` is also "ı" and the Kelvin sign; its ``\\s`` is every
    script's spaces, RE2's only ASCII ones)."""
    import re

    import re2

    from dataprep.pii import CASE_BLIND_LETTER, PYTHON_SPACE

    pairs = [(r"\s", PYTHON_SPACE), (r"(?i)[A-Z]", f"[{CASE_BLIND_LETTER}]")]
    characters = [chr(code) for code in range(0x110000) if not 0xD800 <= code < 0xE000]  # no surrogates: RE2 reads UTF-8
    for python, needle in pairs:
        python, needle = re.compile(python), re2.compile(needle)
        assert not [char for char in characters if python.match(char) and not needle.match(char)], python.pattern


def test_a_detector_is_skipped_for_its_needle_only_where_it_could_not_match():
    """Addresses, cards, checked national ids, IPv4 addresses and IBANs run only in a text holding what every
    match of their regex holds (``needing``): wherever the regex matches a labeled text, the needle must occur,
    or the value would go unscrubbed."""
    from dataprep.pii import (ADDRESS, ADDRESS_ENDS, CARD, CARD_DIGITS, CHECKED_ID, CHECKED_ID_SHAPE, IBAN, IBAN_SHAPE, IPV4,
                              IPV4_SHAPE)

    texts = [row["text"] for path in sorted(LABELED.glob("*.jsonl")) for row in load(path)]
    texts += ["PO Box 4410, Springfield, IL 62704", "Postfach 12 03, 10115 Berlin", "Caixa Postal 88",
              "221B Baker Street\nLondon NW1 6XE", "Kirchgasse 8, 8001 Zürich", "1600 N. Pennsylvania Avenue",
              "1-2-3 Chuo, Shibuya-ku", "Rua Augusta 1500, Consolação - SP, 01304-001", "４５３９ １４８８ ０３４３ ６４６７",
              "12345678Z", "RSSMRA85T10A562S", "756.1234.5678.97", "de89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
              "ıt60x0542811101000000123456", "10.0.0.12", "١٩٢.١٦٨.١.٢٠"]
    for regex, needle in ((ADDRESS, ADDRESS_ENDS), (CARD, CARD_DIGITS), (CHECKED_ID, CHECKED_ID_SHAPE), (IBAN, IBAN_SHAPE),
                          (IPV4, IPV4_SHAPE)):
        matched = [text for text in texts if regex.search(text)]
        assert len(matched) >= 5, regex.pattern[:60]  # each is exercised
        assert all(needle.search(text) for text in matched), [t for t in matched if not needle.search(t)][:3]


def test_a_name_rule_is_skipped_for_its_hint_only_where_it_could_not_match():
    """A name rule without keywords may name what all its matches hold (``NameRule.hint``); the scrubber
    does not try the rule on a text without it, so wherever the rule matches, the hint must occur."""
    from dataprep.pii import NAME_RULES

    hinted = [rule for rule in NAME_RULES if rule.hint is not None]
    texts = [row["text"] for path in sorted(LABELED.glob("*.jsonl")) for row in load(path)]
    assert len(hinted) >= 8
    for rule in hinted:
        matched = [text for text in texts if rule.pattern.search(text)]
        assert matched, rule.pattern.pattern  # each hinted rule is exercised by the labeled texts
        assert all(rule.hint.search(text) for text in matched), rule.pattern.pattern
