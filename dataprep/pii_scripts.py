"""Personal names in scripts the Latin-script rules do not read (Japanese, Korean, Chinese, Hindi, Arabic,
Hebrew, Thai, Greek, Russian, Ukrainian), who speaks in a pasted chat transcript, and the SURNAME/GIVEN of
airline records.

The Latin-script rules find a name by its capitals and the name lists; these scripts have neither,
but their languages mark people by what stands around the name: an honorific or title ("佐藤様",
"김민준 고객님", "राहुल जी"), a patronymic ("Галина Сергеевна"), a self-introduction ("佐藤 美咲と申します",
"김민준입니다", "मेरा नाम राहुल शर्मा है"), a greeting or a letter's closing ("שלום מיכל,", "С уважением,\n
Елена Морозова"), or, in Japanese, the space that only a name's two parts stand apart by ("高橋 健太":
Japanese prose has no spaces between words).
"""

from __future__ import annotations

import re

from .re2_hints import HINTS, compiled_re2

KANJI, KANA = "\u4e00-\u9fff", "\u3040-\u30ff"
KATAKANA = "\u30a0-\u30ff"
#: family words that sign a message as names do ("– 이모가": "from auntie")
KOREAN_FAMILY = "이모|삼촌|엄마|아빠|할머니|할아버지|언니|오빠|누나|형이|고모"
#: the most common Korean surnames (over 95% of people), a syllable each
KOREAN_SURNAMES = ("김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민진나지엄채원천방공현함변염"
                   "여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부")
DEVANAGARI = "\u0900-\u097f"
#: what people are called by their role, which starts with a family name's syllable too ("도우미입니다")
KOREAN_ROLES = "(?:도우미|변호사|상담원|관리자|담당자|사용자|선생님|대표님|회사원|여러분|고객님|이사님|기사님)"
#: cities written side by side with a space ("東京 大阪の出張"): no family names
JAPANESE_CITIES = "東京|大阪|京都|名古屋|横浜|神戸|福岡|札幌|仙台|広島|川崎|千葉|埼玉|奈良|沖縄|那覇|金沢|新潟|静岡|熊本"
#: words that open a Hindi greeting or address before the name: not part of it
HINDI_OPENERS = "धन्यवाद|प्रिय|नमस्ते|श्री|श्रीमती|सुश्री|डॉ|आदरणीय"

JAPANESE_NAME = re.compile(
    # family and given name, spaced: "高橋 健太", "吉田 ハナ", "中村 さくら"; not a prefecture, city or ward
    rf"(?<![{KANJI}{KANA}A-Za-z])(?!(?:{JAPANESE_CITIES})[ 　])"
    rf"(?P<value>[{KANJI}]{{1,3}}(?<![都道府県市区町村])[ 　](?:[{KANJI}]{{1,3}}|[{KATAKANA}]{{2,4}}|[ぁ-ゖ]{{2,4}}(?=[、。 　様さ])))"
    rf"(?![{KANJI}])"
    # unspaced before "と申します" ("I am called"): "高橋健太と申します"
    rf"|(?<![{KANJI}])(?P<value_called>[{KANJI}]{{2,4}})と申します"
    # a family name before an honorific: "佐藤様", "井上さん"; two kanji at least ("お客様" is the customer)
    rf"|(?<![{KANJI}])(?P<value_honoured>[{KANJI}]{{2,3}})(?:さん|様|さま|君|くん|ちゃん|先生|氏|殿)"
    # "はじめまして、加藤です" (I am Kato), "開発チームの小野です" (Ono of the development team)
    rf"|(?:はじめまして|こんにちは|お世話になっております|(?:チーム|部|課|係|母|父|妻|夫)の)[、]?(?P<value_desu>[{KANJI}]{{1,3}}(?:[ 　]?[{KANJI}]{{1,3}})?)です"
    # "本名は桜井 由紀です" (my real name is), "名前は..."
    rf"|(?:本名|名前)は(?P<value_named>[{KANJI}]{{1,3}}[ 　]?[{KANJI}]{{1,3}})です"
    # a name that signs after "yoroshiku onegai shimasu" or "keigu" at the end: "...よろしくお願いします。中島"
    rf"|(?:よろしくお願い(?:いた)?します|敬具)[。、\s]*(?:[^\n]{{0,20}}[ 　])?(?P<value_signed>[{KANJI}]{{1,4}})\s*\Z")
KOREAN_NAME = re.compile(
    # a family name and a given name (three syllables: "고객님" is "customer") before an honorific or "I am"
    # ("김민준입니다", "오순자 님"), or spaced before a title ("김민준 고객님", "정하늘 변호사", "임도윤 드림")
    rf"(?<![가-힣])(?!{KOREAN_ROLES})(?P<value>[{KOREAN_SURNAMES}][가-힣]{{2}})(?=[ ]?(?:님|씨|입니다|이에요|예요)|[ ](?:고객님|변호사|과장님"
    r"|부장님|팀장님|대리님|사장님|교수님|드림|올림))"
    # a given name alone, spaced from "님": "민지 님"
    r"|(?<![가-힣])(?P<value_given>[가-힣]{2})(?=[ ]님)"
    # a sign-off at the end of a message: "... 괜찮을까요? 문가은", "- 서연"
    rf"|(?:(?<=[.!?~)][ ])|(?<=-[ ])|(?<=\n))(?!{KOREAN_FAMILY})"
    rf"(?P<value_signed>[{KOREAN_SURNAMES}]?[가-힣]{{2}})[ ]?(?:드림|올림)?[ ]*[\"」]?[ ]*\Z")
#: the most common Chinese surnames, a character each
CHINESE_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟"
                    "谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
CHINESE_NAME = re.compile(
    # after "I am", "my name is", "the passenger is", "Dear": "我是王晓明", "乘客是王建国"
    # the account holder, the person in charge, the driver: "户名吴芳", "机主是我妈妈陈秀英", "负责人刘建国"
    rf"(?:我是|我叫|名字是|乘客是|旅客是|收件人是|亲爱的|户名|姓名[：:]?|机主是(?:我(?:妈妈|爸爸|母亲|父亲))?|名义是?"
    rf"|负责人|联系人|司机)(?P<value>[{CHINESE_SURNAMES}][\u4e00-\u9fff]{{1,2}})(?=[，,。、\s（(的]|$)"
    # a family name before a title: "王先生", "李女士"
    rf"|(?<![\u4e00-\u9fff])(?P<value_title>[{CHINESE_SURNAMES}])(?=先生|女士|小姐|老师|经理)"
    # the person a reply opens on: "王磊，..."
    rf"|\A(?P<value_addressed>[{CHINESE_SURNAMES}][\u4e00-\u9fff]{{1,2}})(?=，)")
ARABIC = "\u0600-\u06ff"
ARABIC_NAME = re.compile(
    # after "my name is", a title or a greeting: "اسمي مريم الحمادي", "الدكتور سامر حداد", "أهلاً مريم"
    # "باسم" (in the name of), "يا" (calling someone), "أنا" (I am)
    rf"(?:اسمي|الدكتور|الدكتورة|السيد|السيدة|الأستاذ|الأستاذة|أهلاً|أهلا|مرحباً|مرحبا|عزيزي|عزيزتي|باسم|يا|أنا)[ ]"
    # "و..." ("and") opens the next clause, "من" says where from: "أنا عمر فاروق من القاهرة"
    rf"(?P<value>[{ARABIC}]+(?:[ ](?!و)[{ARABIC}]+){{0,3}}?)(?=[،.,!؟?\n]|$|[ ]و|[ ]من[ ])")
GREEK_NAME = re.compile(
    # "είμαι ο Γιώργος Παπαδάκης" (I am), "με λένε ..." (they call me), "κ. ..." (Mr)
    r"(?:είμαι (?:ο|η)|με λένε|ονομάζομαι|λέγομαι|κ\.|[Κκ]ύριε|[Κκ]υρία)[ ](?P<value>[Α-ΩΆ-Ώ][α-ωά-ώς]+(?:[ ][Α-ΩΆ-Ώ][α-ωά-ώς]+)?)")
RUSSIAN_NAME = re.compile(
    # "меня зовут ..." (my name is), "я — ..." (I am)
    r"(?:меня зовут|Меня зовут|я —|Я —)[ ](?P<value>[А-ЯЁ][а-яё]+(?:[ ][А-ЯЁ][а-яё]+){0,2})")
#: airline records write names SURNAME/GIVEN, a title after: "MUELLER/ANNA MRS", "SMIT/DAAN   NLD"
PNR_NAME = re.compile(r"(?<![A-Z/])(?P<value>[A-Z][A-Z'-]{1,}/[A-Z][A-Z'-]+(?: (?!(?:MRS?|MS|MISS|MSTR|DR)\b)[A-Z]+)?)"
                      r"(?=[ ]+(?:MRS?|MS|MISS|MSTR|DR|CHD|INF)\b|[ ]{2,}[A-Z]{3}[ ]|[ ]{2,}Seat\b)")
HINDI_NAME = re.compile(
    # before "ji": "राहुल जी", "सुरेश कुमार जी", "Mishra ji"
    rf"(?<![{DEVANAGARI}])(?!(?:{HINDI_OPENERS})[ ])(?P<value>[{DEVANAGARI}]+(?:[ ][{DEVANAGARI}]+)?)[ ]जी(?!\w)"
    r"|\b(?P<value_latin>[A-Z][a-z]+)[ ]ji\b"
    # "my name is ... is": "मेरा नाम राहुल शर्मा है"
    rf"|मेरा नाम[ ](?P<value_stated>[{DEVANAGARI}]+(?:[ ][{DEVANAGARI}]+){{0,2}})[ ]है")
#: a word of a script without capitals or of Cyrillic and Greek, with the marks that join its letters
SCRIPT_WORD = r"(?:[^\W\d_A-Za-z\u00c0-\u024f]|[\u064b-\u065f\u0900-\u0963\u0966-\u097f\u0e31-\u0e4e])+"  # not "।"
#: a title before a name in these scripts: "م. سامر حداد" (engineer), "डॉ. संजय गुप्ता", "д-р"
SCRIPT_TITLE = r"(?:(?:[^\W\d_A-Za-z]|[\u0900-\u097f]){1,4}\.[ ])?"
#: the closing of a letter in these scripts, the name on the line after it: "С уважением,\nЕлена Морозова",
#: "مع خالص التحية،\nنور الهدى قاسم", "此致\n敬礼\n\n黄丽华"
SCRIPT_SIGNED = re.compile(
    r"(?:С уважением|С наилучшими пожеланиями|Всего доброго|З повагою|Με εκτίμηση|Με φιλικούς χαιρετισμούς|Με τιμή"
    r"|مع خالص التحيات|مع خالص التحية|مع التحية والتقدير|مع التحية|مع أطيب التحيات|مع تحياتي|सादर|भवदीय|धन्यवाद"
    r"|此致\s*敬礼|敬上|敬具|謹んで|בברכה|감사합니다|ขอแสดงความนับถือ|ขอบคุณ(?:มาก)?(?:ครับ|ค่ะ)?|وتفضلوا بقبول فائق الاحترام)"
    # the name alone on its line, or before the team: "Дмитрий, служба поддержки", "ريم – خدمة العملاء"
    rf"[ \t]*[,，、،.!]?[ \t]*\n(?:[ \t]*\n)?[ \t]*{SCRIPT_TITLE}(?P<value>{SCRIPT_WORD}(?:[ ]{SCRIPT_WORD}){{0,3}})"
    r"[ \t]*(?=\n|\Z|[,،–—|]|[ ]-[ ])")
CYRILLIC_NAME_WORD = "[А-ЯЁІЇЄҐ][а-яёіїєґ'’]+"
#: who is thanked, greeted or introduced in Russian or Ukrainian: "Спасибо, Анна Сергеевна.", "Вітаю, Оксано!",
#: "Мене звати Оксана Ковальчук", "это Марина Егорова", "Я Артём Новиков"
RUSSIAN_ADDRESSED = re.compile(
    r"(?:Спасибо|Здравствуйте|Добрый день|Добрый вечер|Привет|Привіт|Уважаемый|Уважаемая|Вітаю|Шановний|Шановна"
    r"|Доброго дня|Добрий день|Мене звати|мене звати|Пане|Пані|Шановна пані|Шановний пане)[,!]?[ ]"
    rf"(?P<value>{CYRILLIC_NAME_WORD}(?:[ ]{CYRILLIC_NAME_WORD}){{0,2}})(?=[,.!?\n]|\Z)"
    # "this is", "I am": a first name and a surname ("Это Москва" is a city)
    rf"|(?<!\w)(?:[Ээ]то|Я)[ ](?P<value_full>{CYRILLIC_NAME_WORD}(?:[ ]{CYRILLIC_NAME_WORD}){{1,2}})(?=[,.!?\n]|\Z)"
    rf"|(?<!\w)[Яя][ ](?P<value_first>{CYRILLIC_NAME_WORD}(?:[ ]{CYRILLIC_NAME_WORD})?),")  # "Привіт, я Максим, ..."
#: a first name and a patronymic, whatever stands around them: "Галина Сергеевна", "Тарасов Виктор Алексеевич"
PATRONYMIC_NAME = re.compile(
    rf"(?<![\w-])(?P<value>(?:{CYRILLIC_NAME_WORD}[ ])?{CYRILLIC_NAME_WORD}[ ][А-ЯЁІЇЄ][а-яёіїє]+"
    r"(?:овна|евна|ович|евич|ична|инична|івна|ївна|йович|ьович))(?![\w-])")
#: who is greeted, introduced or called in Hebrew, Arabic, Greek, Thai or Chinese: "שלום מיכל,", "קוראים לי יוסי כהן",
#: "معك يوسف الحربي", "Γεια σου Ελένη", "Είμαι η Ιωάννα", "สวัสดีครับ คุณสมชาย", "ดิฉันชื่อ สมศรี ใจดี", "嗨小周"
SCRIPT_GREETED = re.compile(
    # "אני" (I am) takes one word before a comma or a full stop: "אני עומר." ("אני צריך עזרה" is "I need help")
    rf"(?<!\w)אני[ ](?P<value_i>{SCRIPT_WORD}(?:[ ]{SCRIPT_WORD})?)(?=[,.])"
    r"|(?<!\w)(?:שלום|היי|קוראים לי|שמי|מדבר|מדברת|प्रिय(?:[ ](?:श्री|श्रीमती|सुश्री))?|(?<=[،,.][ ])معكم|(?<=[،,.][ ])معك|أستاذ|أستاذة|Γεια σου|Γεια σας|Αγαπητέ|Αγαπητή|Είμαι η|Είμαι ο"
    r"|สวัสดี(?:ครับ|ค่ะ)?[ ]?คุณ)[ ]?"
    rf"(?P<value>{SCRIPT_WORD}(?:[ ]{SCRIPT_WORD}){{0,3}}?)(?=[ \t]*(?:[,，、،.!]|\n|\Z|[ ](?:ค่ะ|ครับ|ואני|و|من|και)\b))"
    # Thai writes no full stop: the name is the two words after "my name is" ("ผมชื่อสมชาย ใจดี ต้องการ...")
    r"|(?:ผม|ดิฉัน|ฉัน)?ชื่อ[ ]?(?P<value_th>[^\s\d]+(?:[ ](?!ค่ะ|ครับ)[^\s\d]+)?)"
    # Hindi "I am ... am": "मैं अर्जुन सिंह हूँ"; Japanese "私は松本 直樹です"
    rf"|मैं[ ](?P<value_hi>{SCRIPT_WORD}(?:[ ]{SCRIPT_WORD})?)[ ](?:हूँ|बोल)"
    # Thai after "Dear Khun": the name is one word ("เรียนคุณ วิภาวดี การคืนเงิน...")
    r"|(?:เรียน|สวัสดี(?:ครับ|ค่ะ)?)[ ]?คุณ[ ]?(?P<value_khun>[^\s\d]+)"
    r"|私は(?P<value_ja>[\u4e00-\u9fff]{1,3}[ 　]?[\u4e00-\u9fff]{1,3})です"
    r"|嗨(?P<value_cn>[\u4e00-\u9fff]{2,3})(?=[，,！!])")  # "嗨小周，": Chinese has no spaces to end a name
#: a name that signs off the end of a message, after a dash or a thank-you: "— Катя", "– विकास", "—阿杰",
#: "Ευχαριστώ πολύ! Σοφία", "شكراً، خالد المنصوري", "Всего доброго, В. Тарасов"
SCRIPT_END_SIGNED = re.compile(
    r"(?:(?<=[.!?。！？।\n])[ ]?[—–]{1,2}[ ]?|(?<=[.!?。！？।\n][ ])[—–][ ]?|(?:شكراً|شكرا|Ευχαριστώ(?: πολύ)?|Спасибо|Дякую"
    r"|Всего доброго|धन्यवाद|谢谢|谢啦|감사합니다|С уважением|З повагою|Φιλικά|Με εκτίμηση|تحياتي|مع تحياتي"
    r"|مع أطيب التحيات|مع خالص التحيات|مع التحية|सादर|תודה)[،,!.]?[ \n]?"
    # two capitalised Cyrillic words that end a message after a sentence: "... +7 921 340-18-77. Елена Волкова"
    rf"|(?<=[.!?][ ])(?={CYRILLIC_NAME_WORD}[ ]{CYRILLIC_NAME_WORD}[ \t]*\Z))"
    # not a lower-case word of a script with capitals: "Спасибо за помощь"
    rf"(?P<value>(?![а-яёіїєґα-ωά-ώ]|{KOREAN_FAMILY})(?:[А-ЯЁІЇЄ]\.[ ])?{SCRIPT_WORD}(?:[ ]{SCRIPT_WORD})?)[ \t]*[.!]?[ \t]*[\"»”」]?[ \t]*(?:\n|\Z)")
#: a Cyrillic or Greek name that opens a quoted message, calling its reader: «Марек, доступ ...», «Νίκο, Wi-Fi ...»
QUOTE_ADDRESSED = re.compile(rf"(?<=[\"«“„])(?P<value>{CYRILLIC_NAME_WORD}|[Α-ΩΆ-Ώ][α-ωά-ώς]+),[ ]")
#: a text that is a name and nothing else, as a name field holds it: "Вера Александрова", "이수빈", "吴佳琪"
WHOLE_TEXT_NAME = re.compile(
    rf"\A[ \t]*(?P<value>{CYRILLIC_NAME_WORD}(?:[ ]{CYRILLIC_NAME_WORD}){{1,2}}|[Α-ΩΆ-Ώ][α-ωά-ώς]+(?:[ ][Α-ΩΆ-Ώ][α-ωά-ώς]+){{1,2}}"
    rf"|[{KOREAN_SURNAMES}][가-힣]{{2}}|[{CHINESE_SURNAMES}][\u4e00-\u9fff]{{1,2}})[ \t]*\Z")
#: who speaks in a pasted chat transcript, in any script: "[09:12] Серёжа: ...", "[10:21] 老李：..."
CHAT_SPEAKER = re.compile(r"^[ \t]*\[\d{1,2}:\d{2}(?::\d{2})?\][ \t]*(?!(?:yo|me|moi|ich|ik|io|eu|bot|agent|system|support|"
                          r"user|customer|assistant|admin|you|i)\s*[:：])(?P<value>[^\W\d_][^\W\d_ ]*(?:[ ][^\W\d_]+)?)[ \t]*[:：]",
                          re.MULTILINE | re.IGNORECASE)
SCRIPT_NAMES = ((CHAT_SPEAKER, r"^[ \t]*\[\d{1,2}:\d{2}"), (PNR_NAME, r"[A-Z]/[A-Z]"),
                (SCRIPT_SIGNED, "уважением|пожеланиями|доброго|повагою|Με |التحية|التحيات|تحياتي|सादर|भवदीय|धन्यवाद"
                                "|此致|敬上|敬具|謹んで|בברכה|감사합니다|ขอบคุณ|ขอแสดงความนับถือ|الاحترام"),
                (RUSSIAN_ADDRESSED, "Спасибо|Здравствуйте|Добр|Привет|Привіт|Уважаем|Вітаю|Шановн|звати|[Ээ]то |[Яя] |Пан[еі] "),
                (PATRONYMIC_NAME, "вна|вич|ична|івна|ївна"),
                (QUOTE_ADDRESSED, "[\"«“„][А-ЯЁІЇЄΑ-ΩΆ-Ώ]"),
                (SCRIPT_END_SIGNED, "[—–]|شكر|Ευχαριστώ|Спасибо|Дякую|доброго|धन्यवाद|谢|감사합니다|уважением|повагою|Φιλικά"
                                    "|εκτίμηση|تحياتي|التحيات|التحية|सादर|תודה|[.!?] [А-ЯЁІЇЄ]"),
                (WHOLE_TEXT_NAME, r"\A[ \t]*[^\x00-\x7f][^\n]{0,40}\z"),
                (SCRIPT_GREETED, "שלום|היי|קוראים|אני|שמי|מדבר|معك|أستاذ|Γεια|Αγαπητ|Είμαι|สวัสดี|เรียน|ชื่อ|嗨|मैं|प्रिय|私は"),
                (CHINESE_NAME, "[\u4e00-\u9fff]"), (ARABIC_NAME, f"[{ARABIC}]"), (GREEK_NAME, "[Α-ω]"),
                (RUSSIAN_NAME, "[Мм]еня зовут|[Яя] —"), (JAPANESE_NAME, f"[{KANJI}{KANA}]"), (KOREAN_NAME, "[가-힣]"), (HINDI_NAME, f"[{DEVANAGARI}]| ji\\b"))
# RE2 scans a long text for a hint in one pass however many alternatives it has; each hint by its number
# in ``HINTS``, which tells in one pass for all of them which occur in a text
SCRIPT_HINTS = tuple((pattern, HINTS.index[compiled_re2(f"(?m){hint}")]) for pattern, hint in SCRIPT_NAMES)
SCRIPT_HINT_NUMBERS = frozenset(number for _, number in SCRIPT_HINTS)


def script_names(text: str, occurring: frozenset[int]) -> list[tuple[int, int]]:
    """Where names stand in the Japanese, Korean and Hindi parts of ``text``; ``occurring`` holds the
    numbers of the hints that occur in it."""
    found: list[tuple[int, int]] = []
    if occurring.isdisjoint(SCRIPT_HINT_NUMBERS):  # most texts: none of these scripts, no transcript
        return found
    for pattern, hint in SCRIPT_HINTS:
        if hint in occurring:
            for match in pattern.finditer(text):
                group = next(name for name, value in match.groupdict().items() if value is not None)
                found.append(match.span(group))
    return found
