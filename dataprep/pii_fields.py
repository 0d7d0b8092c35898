"""Values whose only clue is the field they stand in: a JSON key (``{"cnp": "2940403125590"}``,
``{"adresse": "Bryggen 7, 5003 Bergen"}``), a table's column ("Name;Vorname;Geburtsdatum" and the
rows under it) or a form's "label: value" line ("NIK : 3171254312889847"). CRM exports, tool results,
pasted spreadsheets and OCR'd documents carry personal data this way, with no sentence around it to
say what it is.

``labeled_values`` finds every (label, start, end) once per text; each PII detector keeps the values
whose label is one of its own (``FIELD_LABELS``) and which look like its kind (``VALUE_CHECKS``).
Labels are compared in lower case with spaces and hyphens as "_".
"""

from __future__ import annotations

import re
from typing import Callable, Iterator

from .key_shapes import API_KEY

#: "key": "value" or "key": 12345678 (an id written as a number); escaped JSON inside a string is not read
JSON_FIELD = re.compile(r'"((?:[^"\\\n]|\\.){1,48})"[ \t]*:[ \t]*'
                        r'(?:"((?:[^"\\\n]|\\.){1,300})"|(\d[\d.]{4,29})(?=[ \t\n]*[,}\]]))')
DELIMITERS = (";", "\t", "|", ",")  # a semicolon table's cells may hold commas ("Bryggen 7, 5003 Bergen")
MARKDOWN_RULE = re.compile(r"[\s|:+-]+")  # "|---|:--|" under a Markdown table's header, "---+----" under psql's
LINE = re.compile(r"[^\n]+")
#: labels that on a line of prose may name a plan or a company: "Customer: Premium"
ROLE_LABELS = frozenset(("customer", "client", "recipient", "contact", "user", "account", "guest", "sender"))
#: "Label: value" on a line of its own ("NIK : 3171...", "Адрес: ...", "地址：..."); the label a few words
#: also after a bar or a slash that separates fields on one line: "Πελάτης: X | Διαβατήριο: ...", "이름: X / 등급: VIP"
#: a bullet may open the line ("- Surname: MACLEOD"); two spaces or a dash also part fields ("Last Name: NGUYEN  First
#: Name: ...", "Chủ thẻ: PHAM QUOC BAO – Trạng thái: ...")
LINE_FIELD = re.compile(r"(?:^(?:[ \t]*[-*•][ \t]+)?|(?<=[|，；])|(?<=[ \t]/)|(?<=[ \t]{2})|(?<=[ \t][–—]))[ \t]*"
                        r"(?P<label>[^\W\d][^\n:：\"{}|/]{0,30}?)[ \t]*[:：][ \t]*"
                        r"(?P<value>[^\n\"{}|]+?)[ \t]*(?=$|[|，；]|[ \t]/[ \t]|[ \t]{2}|[ \t][–—][ \t])", re.MULTILINE)
#: a key=value log line's fields: 'ho_ten="Trần Văn Hùng" cccd=038083525916', "surname=HOLLOWAY given=MAEVE"
# and an SQL assignment: "SET passport = '40 15 227381'"
KEY_VALUE_FIELD = re.compile(r"(?<![\w.-])(?P<label>[A-Za-z_][\w.-]{0,40})(?:=| = )(?:\"(?P<quoted>[^\"\n]{1,300})\""
                             r"|'(?P<single>[^'\n]{1,300})'|(?P<bare>[^\s\"'=,;]{1,100}))")
#: an XML element's text: "<name>วิภาวดี ศรีสุข</name>"
XML_FIELD = re.compile(r"<(?P<label>[A-Za-z_][\w.-]{0,40})(?:[ \t][^>\n]*)?>(?P<value>[^<\n]{1,300})</(?P=label)>")
#: "| Name | Declan Reid |": a two-column Markdown table of labels and values, one field a row
ROW_FIELD = re.compile(r"^[ \t]*\|[ \t]*(?P<label>[^\W\d][^|\n]{0,30}?)[ \t]*\|[ \t]*(?P<value>[^|\n]+?)[ \t]*\|[ \t]*$",
                       re.MULTILINE)
MAX_HEADER = 500  # a longer line is prose, not a table's header
#: a column's name: a few words, no path, quote or code ('File "/srv/app/charge.py", line 88' is a traceback)
HEADER_CELL = re.compile(r"[^\W\d](?:[^\W_]|[\u0e31-\u0e4e\u0900-\u0dff])*(?:[ _.#-][^\W_]+){0,3}\.?|#")  # Thai's marks

PREFIX = r"(?:[a-z]+_){0,2}"  # "customer_dob", "billing_address", "db_admin_password"
#: keys that name a person in a form, but also a product, a tool or a bot ("name": "Pro plan", "agent": "claude"):
#: their value counts as a name only when written in a script without capitals or in capitals ("KIM DOYUN")
ROLE_KEYS = (r"name|agent|assignee|requester|holder|beneficiary|owner|operator|consultant|attendant|passenger|traveller"
             r"|traveler|guest|recipient|receiver|payee|insured|cardholder")
FIELD_LABELS = {
    "name": (rf"{PREFIX}(?:(?:first|last|given|family|full|middle|customer|client|contact|patient|employee|passenger|student"
             r"|holder|account_holder|card_holder|recipient|sender)_?names?|surname|forename|given|firstname"
             r"|lastname|vorname|nachname|familienname|pr[ée]nom|nom_de_famille|apellidos?|nombre_completo|cognome"
             r"|voornaam|achternaam|fornavn|etternavn|efternavn|f[öo]rnamn|efternamn|etunimi|sukunimi|imi[eę]"
             r"|nazwisko|jm[ée]no|p[řr][íi]jmen[íi]|n[ée]v|vezet[ée]kn[ée]v|ut[óo]n[ée]v|csal[áa]dn[ée]v|nume"
             r"|prenume|soyad|ad_soyad|adsoyad|isim|namn|navn|nimi|destinataire|destinatario|empf[äa]nger"
             r"|customer|recipient|성명|이름|氏名|名前|お名前|ユーザー|नाम|naam|姓名|收件人|ho_ten|họ_tên|фио|имя|фамилия"
             r"|получатель|όνομα|ονοματεπώνυμο|παραλήπτης|nama|penerima|penumpang|shimei|الاسم|المستلم|пациент|клиент"
             r"|сотрудник|πελάτης|πράκτορας|εργαζόμενος|客服|患者|乘客|旅客|联系人|المستفيد|المسافر|người_nhận|khách_hàng"
             r"|adı_soyadı|ad_soyadı|destinatário|beneficiario|beneficiário|bénéficiaire|begünstigter|címzett"
             r"|작성자|담당자|승객|예약자|신청자|负责人|联系人|乘客|宿泊者|担当者|契約者|乗客|yolcu"
             # a person by their role in the app, in other scripts: user, customer, patient, subscriber
             r"|用户|客户|顾客|사용자|고객|환자|المستخدم|العميل|المريض|пользователь|абонент|заявитель|χρήστης"
             r"|ασθενής|उपयोगकर्ता|ग्राहक|मरीज़|मरीज|利用者|お客様|会員|担当|顧客|客戶姓名|客户姓名|持卡人|탑승객|שם|בעל_החשבון"
             r"|оператор|nhân_viên|khach_hang|ho_ten|zakaznik|zákazník|الاسم_الكامل|отчество|по_батькові|patronymic"
             r"|받는분|소유자|名義|власник|власниця|nguoi_nhan|người_nhận|ผู้รับ"
             # buyers, consignees, insured people, card holders in more languages
             r"|vornamen|versicherte[rn]?|verzekerde|assuré|assurée|porteur|passeggero|pelanggan|pembeli|المشتري"
             r"|לקוח|покупатель|отримувач|клієнт|держатель|승객명|구매자|상담원|고객명|수령인|收货人|旅客姓名|ลูกค้า"
             r"|ผู้โดยสาร|chủ_thẻ|khách_hàng|người_mua"
             # candidates, applicants, tenants, guarantors, subscribers, patients, pupils and their parents
             r"|candidate|candidato|candidat|kandidat|applicant|solicitante|locataire|inquilino|mieter|guarantor"
             r"|garant|fiador|subscriber|abonné|abonado|élève|alunno|alumno|schüler|parent_name|guardian|tutore"
             r"|patient_name|paciente|pacjent|paziente|hasta|assistito|nominativo|liable_party|titulaire|titular_cartao"
             r"|المرشح|المستأجر|المشترك|اسم_المشترك|υποψήφιος|ผู้สมัคร|ผู้ใช้ไฟ|кандидат|заявник|phu_huynh|benh_nhan"
             r"|chủ_hộ|患者姓名|候选人|学生姓名|申请人|户名|환자명|지원자|보호자)"),
    "dob": (rf"{PREFIX}(?:dob|d_?o_?b|date_?of_?birth|birth_?date|birthdate|birthday|geburtsdatum|geburtstag"
            r"|date_de_naissance|date_naissance|fecha_de_nacimiento|fecha_nacimiento|data_di_nascita|data_nascita"
            r"|data_de_nascimento|data_nascimento|geboortedatum|f[øo]dselsdato|f[öo]delsedatum|syntym[äa]aika"
            r"|data_urodzenia|datum_narozen[íi]|do[gğ]um_tarihi|data_na[sș]terii|sz[üu]let[ée]si_d[áa]tum"
            r"|sz[üu]let[ée]si_hely_id[őo]|sz[üu]let[ée]si_id[őo]|geb_datum|nascimento|janm_tithi|生年月日|생년월일"
            r"|出生日期|ngay_sinh|ngày_sinh|дата_рождения|γέννηση|ημερομηνία_γέννησης|sz[üu]letett|seinengappi"
            r"|tanggal_lahir|tgl_lahir|تاريخ_الميلاد|जन्म_तिथि|जन्मतिथि|f[öo]dd|f[øo]dt|дата_народження|תאריך_לידה"
            r"|ημ_γέννησης|วันเกิด)"),
    # not "ssn": the SSN detector reads a US number as one; every other country's goes here
    "national_id": (rf"{PREFIX}(?:national_?id(?:_number)?|id_?number"
                    r"|personal_?(?:id|code|number)|tax_?id|tin|cpr|pesel|nir|dni|nie|nif|bsn|cpf|cuil|cuit|curp|rfc"
                    r"|tfn|sin|ahv|hetu|codice_fiscale|cf|personnummer|steuer_?id|steuer_?idnr|fnr|f[øo]dselsn(?:umme)?r"
                    r"|rc|rodne_?cislo|rodn[ée]_[čc][íi]slo|tckn|tc_?kimlik(?:_no)?|svnr|nas|pps|ppsn|aadhaa?r"
                    r"|cnp|nss|resident_?id|ad[óo]azonos[íi]t[óo](?:_jel)?|taj(?:_?sz[áa]m)?|isikukood|asmens_kodas"
                    r"|matricule|rijksregisternummer|insee|s[ée]curit[ée]_sociale|n_?[°º]_?s[ée]cu|num_?secu|my_?number|マイナンバー|주민등록번호"
                    r"|身份证号?码?|cccd|снилс|инн|полис_омс|αμκα|αφμ|nik|numero_national|رقم_الهوية"
                    r"|ת_ז|ת\"ז|תעודת_זהות|рнокпп|іпн|citizen_?id|(?:numero_)?seguridad_social|香港身份證|身分證字號|पैन"
                    r"|nr_dowodu|numer_dowodu|versichertennummer|versicherungsnummer|krankenversichertennummer|kvnr"
                    r"|pis|pis_pasep|nis|เลขประจำตัวประชาชน"
                    r"|(?:cpf|nif|nie|dni|bsn|pesel|tckn|cnp|curp)_[a-z]+)"),  # "cpf_responsavel"
    "ssn": rf"{PREFIX}(?:ssn|social_security(?:_number|_no)?)",
    "nino": rf"{PREFIX}(?:nino|ni_?number|ni_no|national_insurance(?:_number|_no)?)",
    # not a machine's or a mailbox's: "ip_address", "email_address", "mac_adresse"
    "address": (rf"(?!(?:[a-z]+_)?(?:ip|mac|e_?mail|mail|web|server|remote|wallet|contract|memory|bitcoin|btc|eth)_)"
                rf"{PREFIX}(?:address(?:_?line_?\d)?|addr|adres|adresa|adresse|anschrift|direcci[óo]n|domicilio"
                r"|indirizzo|endere[çc]o|morada|adress|osoite|c[íi]m|lakc[íi]m|ulica|street(?:_address)?|line_?[12]"
                r"|住所|주소|पता|住址|地址|收货地址|dia_chi|địa_chỉ|адрес|διεύθυνση|alamat|jusho|العنوان)"),  # a postcode alone is an area, not an address
    "passport": (rf"{PREFIX}(?:passport(?:_?(?:no|number|nr|num))?|pasaporte|passeport|passaporto|reisepass(?:nummer)?"
                 r"|パスポート番号|여권번호|护照号码?|paspor|διαβατήριο|[úu]tlev[ée]l|رقم_جواز_السفر|загранпаспорт|паспорт"
                 r"|paspoort(?:nummer)?|paszport|passnummer|pasnummer|passaporte|旅券番号|דרכון|pașaport|pasaport"
                 r"|[úu]tlev[ée]lsz[áa]m)"),
    "password": (rf"{PREFIX}(?:password|passwd|pass|pwd|passphrase|passwort|kennwort|mot_de_passe|mdp|contrase[ñn]a"
                 r"|senha|parola|wachtwoord|l[öo]senord|adgangskode|passord|salasana|has[łl]o|heslo|jelsz[óo]|[şs]ifre"
                 r"|пароль|密码|密碼|mật_khẩu|kata_sandi|κωδικός|كلمة_السر|كلمة_المرور|סיסמה|パスワード|비밀번호)"
                 # and which one: "Mật khẩu tạm", "סיסמה_זמנית" (temporary), "password_new"
                 r"(?:_(?:tạm|temp|temporary|new|old|initial|זמנית|חדשה|mới|nueva|nova|neu|nouveau))?"),
}


def labeled_values(text: str) -> list[tuple[str, int, int]]:
    """(label, start, end) of every JSON string value, every table cell under a header and every value
    of a "label: value" line (a form, an OCR'd card, a shipping label), in text order."""
    found = list(json_values(text)) if '":' in text or '" :' in text else []
    if "\n" in text:
        found += table_cells(text)
        if "|" in text:
            found += label_rows(text)
    if ":" in text or "：" in text:
        # not addresses: a line may go on after one ("Anschrift: Hauptstr. 27, 67433 Neustadt, Festnetz 06321 ...");
        # the address detector reads where an announced address ends
        found += [(label, match.start("value"), match.end("value")) for match in LINE_FIELD.finditer(text)
                  if (label := label_of(match["label"])) not in ROLE_LABELS and not FIELD_PATTERNS["address"].fullmatch(label)]
    if "=" in text:
        found += [(label_of(match["label"]), *match.span(next(group for group in ("quoted", "single", "bare")
                                                               if match[group] is not None)))
                  for match in KEY_VALUE_FIELD.finditer(text)]
    if "</" in text:
        found += [(label_of(match["label"]), *match.span("value")) for match in XML_FIELD.finditer(text)]
    return sorted(found, key=lambda item: item[1])


def label_of(raw: str) -> str:
    """Lower case, words joined by "_" ("holderName" and "Holder name" are "holder_name")."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", raw.strip(" \t\"'*`"))
    return re.sub(r"[\s-]+", "_", words.lower())  # not casefold: Greek keeps its final "ς"


def label_rows(text: str) -> list[tuple[str, int, int]]:
    """The rows of a table of labels and values; not a header row (a Markdown rule line under it), whose
    second cell names a column ("| Name | Email |")."""
    return [(label_of(match["label"]), match.start("value"), match.end("value")) for match in ROW_FIELD.finditer(text)
            if not ruled_below(text, match.end())]


def ruled_below(text: str, end: int) -> bool:
    """The line after the one ending at ``end`` is a Markdown rule: that line was a header."""
    below = LINE.match(text, end + 1)
    return below is not None and MARKDOWN_RULE.fullmatch(below.group()) is not None


def json_values(text: str) -> Iterator[tuple[str, int, int]]:
    for match in JSON_FIELD.finditer(text):
        group = 2 if match.start(2) >= 0 else 3
        yield label_of(match.group(1)), match.start(group), match.end(group)


def table_cells(text: str) -> list[tuple[str, int, int]]:
    """Cells of delimited tables (CSV, semicolons, tabs, Markdown) under a header line with a known
    label; the rows are the lines after it with as many cells, a Markdown rule line skipped."""
    lines = [match.span() for match in LINE.finditer(text)]
    found: list[tuple[str, int, int]] = []
    index = 0
    while index < len(lines):
        index = read_table(text, lines, index, found) or index + 1
    return found


def read_table(text: str, lines: list[tuple[int, int]], index: int, found: list[tuple[str, int, int]]) -> int:
    """The index after the table whose header is line ``index`` (its cells added to ``found``), 0 if none."""
    start, end = lines[index]
    if end - start > MAX_HEADER:
        return 0
    for delimiter in DELIMITERS:
        header = cells(text, start, end, delimiter)
        if len(header) < 2 or not all(HEADER_CELL.fullmatch(text[a:b]) for a, b in header):
            continue
        labels = person_table([label_of(text[a:b]) for a, b in header])
        if not any(ANY_LABEL.fullmatch(label) for label in labels):
            continue
        row = index + 1
        if row < len(lines) and MARKDOWN_RULE.fullmatch(text[lines[row][0]:lines[row][1]]):
            row += 1
        first_row = row
        while row < len(lines) and len(values := cells(text, *lines[row], delimiter)) == len(header):
            found += [(label, a, b) for label, (a, b) in zip(labels, values) if a < b]
            row += 1
        if row > first_row:
            return row
    return 0


#: a column just called "Name" is a person's in a table of people ("Name;Vorname;Geburtsdatum"), not in
#: one of products or servers
PLAIN_NAME = frozenset(("name", "nom", "nome", "nombre", "naam", "navn", "namn", "nimi", "imie", "jmeno", "ชื่อ", "姓名", "이름",
                        "имя", "שם", "الاسم", "नाम", "tên"))
#: a field or column that holds a phone number (also what tells the phone detector a number is one)
PHONE_LABEL = re.compile(r"(?:[a-z]+_)?(?:phone|tel|tlf|telefon\w*|t[ée]l[ée]phone|tel[ée]fono|telefone|mobile?|mobil\w*"
                         r"|cell|gsm|handy|puhelin|wa_id|whatsapp|msisdn|nomor|nomor_hp|телефон|טלפון|电话|電話|手机号?|手機"
                         r"|โทรศัพท์|điện_thoại)(?:_?(?:number|no|nr))?")
PERSON_COLUMN = re.compile(r".*(?:e_?mail|first_?name|last_?name|given_?name|family_?name|surname|apellidos?|nachname"
                           r"|cognome|achternaam|nom_de_famille|sobrenome|nazwisko)")


def person_table(labels: list[str]) -> list[str]:
    if any(PERSON_COLUMN.fullmatch(label) or PHONE_LABEL.fullmatch(label) or FIELD_PATTERNS["dob"].fullmatch(label)
           for label in labels):
        return ["full_name" if label in PLAIN_NAME else label for label in labels]
    return labels


def cells(text: str, start: int, end: int, delimiter: str) -> list[tuple[int, int]]:
    """The cells of one line, each without its padding and quotes; a Markdown row's outer bars open no cells."""
    line = text[start:end]
    offset = start
    if delimiter == "|" and line.strip().startswith("|") and line.strip().endswith("|"):  # Markdown's outer bars
        offset = start + line.index("|") + 1
        line = line.strip()[1:-1]
    spans, position = [], 0
    for piece in line.split(delimiter):
        left = len(piece) - len(piece.lstrip(" \t\"'"))
        right = len(piece.rstrip(" \t\"'"))
        spans.append((offset + position + left, offset + position + max(right, left)))
        position += len(piece) + 1
    return spans


FIELD_PATTERNS = {kind: re.compile(labels) for kind, labels in FIELD_LABELS.items()}
ANY_LABEL = re.compile("|".join(f"(?:{labels})" for labels in FIELD_LABELS.values()))
NOT_A_VALUE = frozenset(("null", "none", "n/a", "na", "-", "—", "unknown", "redacted", "hidden", "***", "tbd", "?"))
#: a letter, or a mark that joins one: Devanagari's vowel signs and virama, Arabic's and Thai's vowel marks
NAME_CHAR = r"(?:[^\W\d_]|[\u0300-\u036f\u064b-\u065f\u0900-\u0dff\u0e31-\u0e4e])"
NAME_VALUE = re.compile(rf"{NAME_CHAR}+(?:[ '’.,-]{{1,2}}{NAME_CHAR}+){{0,5}}\.?")  # "Brandt, Helmut" too
#: what may follow a name in its field: the sender's address ("Игорь Смирнов <i.smirnov@stroy-invest.ru>") or
#: the name in another script in brackets ("中村 美咲 (ナカムラ ミサキ)")
AFTER_NAME = re.compile(r"[ \t]*(?:<[^<>\s]+@[^<>\s]+>|\([^()\nA-Za-z]{1,40}\))\s*\Z")


#: what a field's value must look like to be a value of each kind
VALUE_CHECKS: dict[str, Callable[[str], bool]] = {
    "name": lambda value: len(value) <= 80 and NAME_VALUE.fullmatch(value) is not None,
    "dob": lambda value: len(value) <= 40 and any(ch.isdigit() for ch in value),
    "national_id": lambda value: len(value) <= 32 and sum(ch.isdigit() for ch in value) >= 5,
    "ssn": lambda value: re.fullmatch(r"\d{3}[ .-]?\d{2}[ .-]?\d{4}", value) is not None,
    "address": lambda value: 3 <= len(value) <= 200 and any(ch.isdigit() for ch in value),
    # and Russia's series and number: "45 09 718240"
    "passport": lambda value: re.fullmatch(r"(?=[A-Za-z]{0,5}\d)[A-Za-z0-9]{6,10}|\d{2} ?\d{2} ?\d{6,7}", value) is not None,
    "nino": lambda value: re.fullmatch(r"[A-Za-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d]", value) is not None,
    # a vendor's key under a password field is that key: "artifactory_password=AKCp8P1rnQ..."
    "password": lambda value: (3 <= len(value) <= 128 and not any(ch.isspace() for ch in value) and len(set(value)) > 1
                               and not API_KEY.fullmatch(value)),
}


ROLE_KEY = re.compile(rf"{PREFIX}(?:{ROLE_KEYS})")  # "mail_from_name", "app_name", "tag_name" too
#: an e-mail's sender and recipients in other languages ("От:", "Από:", "מאת:", "보낸 사람:", "发件人:"); as a JSON
#: key "من"/"إلى" is a flight's "from"/"to": the value must be more than one code ("JED") to be a person
MAIL_HEADER = re.compile(r"от|кому|від|από|προς|κοιν|מאת|אל|من|إلى|प्रेषक|प्राप्तकर्ता|feladó|címzett|보낸_사람"
                         r"|받는_사람|참조|từ|đến|发件人|收件人|寄件者|จาก|ถึง|nadawca|odbiorca|gönderen|alıcı|afzender"
                         r"|remitente|destinatário")


def person_value(label: str, value: str) -> bool:
    """A role key's or a mail header's value that can only be a person's name."""
    if ROLE_KEY.fullmatch(label):
        return uncased_or_capitals(value)
    return MAIL_HEADER.fullmatch(label) is not None and not re.fullmatch(r"[A-Z0-9]{2,5}", value)


def uncased_or_capitals(value: str) -> bool:
    """Written in a script without capitals ("송민지", "อรวรรณ ทองดี"), or in capitals, two words or more ("KIM DOYUN")."""
    letters = [ch for ch in value if ch.isalpha()]
    return bool(letters) and (not any(ch.isupper() or ch.islower() for ch in letters)
                              or (all(ch.isupper() for ch in letters) and " " in value.strip()))


def plausible(kind: str, value: str) -> bool:
    """Whether a field's value can be a value of ``kind`` (an empty, placeholder or unlike value is not)."""
    return value.casefold() not in NOT_A_VALUE and not value.startswith(("<", "${", "{{")) and VALUE_CHECKS[kind](value)


def masked(value: str) -> bool:
    """A value shown masked ("453901******4112", "sk_test_xxxxxxxx"): what is left of it is no one's."""
    return "**" in value or "xxxx" in value.casefold()


def field_spans(text: str, kind: str, values: list[tuple[str, int, int]],
                inside: re.Pattern[str] | None = None) -> Iterator[tuple[int, int]]:
    """The spans of ``values`` (from ``labeled_values``) that stand under a label of ``kind`` and look like one;
    with ``inside``, the first match of it in each value ("Születési dátum: 1959. április 11., TAJ ...")."""
    labels = FIELD_PATTERNS[kind]
    for label, start, end in values:
        if masked(text[start:end]):
            continue
        if not labels.fullmatch(label) and not (kind == "name" and person_value(label, text[start:end])):
            continue
        if inside is not None:
            if not (match := inside.search(text, start, end)):
                continue
            start, end = match.span()
        elif kind == "name" and (after := AFTER_NAME.search(text, start, end)):
            end = after.start()
        if plausible(kind, text[start:end]):
            yield start, end
