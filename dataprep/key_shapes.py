"""What vendors' API keys and bearer tokens look like: the PII scrubber replaces them in the
data, and every printed error is redacted of them (a server may echo a key back). Kept apart
from the scrubber so an error line does not load all of its detectors.

The vendor shapes are detect-secrets' (Yelp) plugin patterns plus the vendors it has no plugin
for. detect-secrets is imported on the first search, not here: ``dataprep --help`` stays fast."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any, Callable, Iterable, Iterator

#: detect-secrets plugins that are not a vendor's key shape, or that our own detectors find
#: with their own type
NOT_VENDOR_SHAPES = frozenset((
    "Secret Keyword", "Base64 High Entropy String", "Hex High Entropy String",  # the keyword and entropy detectors
    "Basic Auth Credentials", "Private Key", "Public IP (ipv4)",  # password (://user:pass@), pem_key, ip
    "JSON Web Token",  # TOKEN below: it takes the signature too, where detect-secrets' pattern stops before it
    # "AP" + a hex digit + 8 letters is a capitalised word too ("APDeveloper1"), and the match takes the space around
    "Artifactory Credentials",
))

#: keys of vendors detect-secrets has no plugin for, or of shapes its plugin misses
OUR_SHAPES = (
    r"sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}",  # OpenAI sk-, sk-proj- and Anthropic sk-ant- (detect-secrets: only
                                                  # the old T3BlbkFJ form); a digit, so "sk-learn-compatible" is no key
    r"[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe test and publishable keys (detect-secrets: live secret ones)
    r"whsec_[A-Za-z0-9]{24,}",  # Stripe webhook signing secret
    r"github_pat_[A-Za-z0-9_]{22,}",  # GitHub fine-grained tokens (detect-secrets: classic ghp_ and the like)
    r"xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,}",  # Slack: letters in the digit groups, app tokens
    r"AIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
    r"npm_[A-Za-z0-9]{36}",  # npm tokens outside an .npmrc line
    r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",  # SendGrid keys of other lengths than 22.43
    r"key-[0-9a-f]{32}",  # Mailgun
    r"gsk_[A-Za-z0-9]{40,}",  # Groq
    r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}",  # Shopify admin, shared-secret, custom-app and private-app tokens
    r"[ps]k\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{16,}",  # Mapbox
    r"sntry[su]_[A-Za-z0-9_+/=-]{40,}",  # Sentry auth tokens
    r"lin_(?:api|oauth)_[A-Za-z0-9]{32,}",  # Linear
    r"do[opr]_v1_[a-f0-9]{64}",  # DigitalOcean
    r"EAA[A-Za-z0-9_-]{50,}",  # Square access tokens (EAAA…; detect-secrets: the OAuth secret) and Meta's (EAAB…)
    r"sq0atp-[A-Za-z0-9_-]{22,}",  # Square's older access tokens
    r"A{22}[A-Za-z0-9%]{40,}",  # X (Twitter) app bearer tokens
    # AI and developer platforms an LLM app calls, by the prefixes their docs give
    r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}",  # LangSmith
    r"pcsk_[A-Za-z0-9_]{40,}",  # Pinecone
    r"r8_[A-Za-z0-9]{37}",  # Replicate
    r"pplx-[A-Za-z0-9]{40,}",  # Perplexity
    r"xai-[A-Za-z0-9]{60,}",  # xAI
    r"tvly-(?:dev-)?[A-Za-z0-9]{32}",  # Tavily
    r"fc-[a-f0-9]{32}",  # Firecrawl
    r"sk_[a-f0-9]{48}",  # ElevenLabs
    r"secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{40,}",  # Notion
    r"ATATT3[A-Za-z0-9_=-]{100,}",  # Atlassian
    r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}",  # Postman
    r"hv[sb]\.[A-Za-z0-9_-]{24,}",  # HashiCorp Vault
    r"dapi[a-f0-9]{32}(?:-\d)?",  # Databricks
    r"sbp_[a-f0-9]{40}",  # Supabase
    r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}",  # Airtable
    r"figd_[A-Za-z0-9_-]{40,}",  # Figma
    r"NRAK-[A-Z0-9]{27}",  # New Relic
    r"glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2}",  # Grafana
    r"pul-[a-f0-9]{40}",  # Pulumi
    r"dp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,44}",  # Doppler
    r"rzp_(?:live|test)_[A-Za-z0-9]{14,}",  # Razorpay
    r"nfp_[A-Za-z0-9]{36}",  # Netlify
    r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64}",  # PlanetScale
    r"dckr_pat_[A-Za-z0-9_-]{27,}",  # Docker Hub personal access tokens
    r"CCIPAT_[A-Za-z0-9_]{30,}",  # CircleCI personal API tokens
    r"bkua_[a-f0-9]{40}",  # Buildkite
    r"HRKU-[A-Za-z0-9_-]{40,}",  # Heroku
    r"CFPAT-[A-Za-z0-9_-]{40,}",  # Contentful management tokens
    r"AGE-SECRET-KEY-1[0-9A-Z]{58}",  # age encryption secret keys
    r"AKCp[A-Za-z0-9]{60,}",  # JFrog Artifactory API keys (detect-secrets' plugin is off: see NOT_VENDOR_SHAPES)
    r"hca[a-z]{2}_[A-Za-z0-9]{40,}",  # Honeycomb ingest and configuration keys
    r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}",  # Brevo (Sendinblue)
    r"pat-(?:na|eu)\d-[a-f0-9]{8}(?:-[a-f0-9]{4}){3}-[a-f0-9]{12}",  # HubSpot private app tokens
    r"(?:sdk|mob)-[a-f0-9]{8}(?:-[a-f0-9]{4}){3}-[a-f0-9]{12}",  # LaunchDarkly SDK and mobile keys
    r"AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{100,}",  # Firebase Cloud Messaging server keys
    r"[MNO][A-Za-z0-9]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}",  # Discord bot tokens
    r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",  # PyPI upload tokens (a macaroon naming pypi.org)
    r"access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}",  # Braintree access tokens
    r"bot\d{8,10}:AA[A-Za-z0-9_-]{33}",  # Telegram bot tokens inside the API URL (".../bot<token>/sendMessage")
    r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}:fx",  # DeepL free-tier keys
    r"sl\.[A-Za-z0-9_-]{100,}",  # Dropbox short-lived access tokens
    r"fw_[A-Za-z0-9]{20,}",  # Fireworks AI
    r"AQE[A-Za-z0-9_+/=.-]{80,}",  # Adyen API keys
    r"APP_USR-\d{16}-\d{6}-[a-f0-9]{32}-\d{6,10}",  # Mercado Pago access tokens
    r"LTAI[A-Za-z0-9]{12,20}",  # Alibaba Cloud AccessKey ids
    r"AKID[A-Za-z0-9]{32}",  # Tencent Cloud SecretIds
    r"klarna_(?:live|test)_api_[A-Za-z0-9_-]{30,}",  # Klarna API keys
    r"(?:sandbox|live)-(?=[A-Za-z]*\d)[A-Za-z0-9]{32}",  # iyzico API keys (a digit: not a 32-letter slug)
    # a key of hex digits has no vendor prefix: only its header or field name says what it is ("DD-API-KEY ...",
    # "X-Algolia-API-Key: ...", Azure OpenAI's "api-key")
    r"(?i:\b(?:[a-z]+[_-])*(?:(?:api|admin|master|app|subscription|cognitive)[_ -]?key|auth[_ -]?token)\w*)"
    r"[\"']?[ \t]*(?:[:=]|is)?[ \t]*[\"']?"
    r"(?P<value_hex>[0-9a-fA-F]{32,64})",
    # nor has a UUID or a long base64 value after a header or variable that names a key or a token
    # ("X-Postmark-Server-Token: <uuid>", "AZURE_STORAGE_KEY=...==")
    r"(?i:\b(?:[a-z]+[_-])*(?:api|server|access|account|storage|secret|auth|master|shared)[_-]?(?:key|token))"
    r"[\"']?[ \t]*[:=][ \t]*[\"']?"
    # (not AWS's 40 characters, which the aws_secret detector names, nor a JWT's first part)
    r"(?P<value_named>[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
    r"|(?!eyJ)(?:[A-Za-z0-9+/]{43,}={0,2}|[A-Za-z0-9+/]{20,}={1,2})(?!\.))",
)
#: a key is a whole token: the patterns alone also match inside a longer one (Twilio's "AC" + 32 in
#: "HMACa1b2…", Telegram's in "1701619200:request_processing_pipeline_…", "sk-" + 20 in "task-…")
WHOLE_TOKEN = r"(?<![\w-])(?{flags}:{pattern})(?![\w-])"

TOKEN = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")  # a JWT
BEARER_TOKEN = re.compile(r"(?i:\bbearer\s+)(?P<value>[A-Za-z0-9._~+/-]{16,}=*)")  # an opaque one: an API key


class CompiledOnUse:
    """A regex of alternatives compiled on its first use: the caller sees a ``re.Pattern``."""

    def __init__(self, alternatives: Callable[[], Iterable[str]]):
        self._alternatives = alternatives

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile("|".join(self._alternatives()))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # pickle asks for __setstate__ before the instance has its state
            raise AttributeError(name)
        return getattr(self.compiled, name)


def vendor_patterns() -> Iterator[str]:
    """Every key shape as a whole token, each with its own flags: detect-secrets', then ours."""
    for pattern in [*detect_secrets_shapes(), *map(re.compile, OUR_SHAPES)]:
        # a verbose pattern may end in a comment: the group closes on the next line
        end_of_line = "\n" if pattern.flags & re.VERBOSE else ""
        yield WHOLE_TOKEN.format(flags=scoped_flags(pattern), pattern=pattern.pattern + end_of_line)


def detect_secrets_shapes() -> Iterator[re.Pattern[str]]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    for secret_type, plugin in sorted(get_mapping_from_secret_type_to_class().items()):
        if secret_type in NOT_VENDOR_SHAPES:
            continue
        for pattern in getattr(plugin, "denylist", ()):
            # a case-insensitive pattern with a group is a value after its keyword ("aws_secret = '...'",
            # "cloudant_password: ..."), not a key's shape: the secret and aws_secret detectors find those
            if not (pattern.flags & re.IGNORECASE and pattern.groups):
                yield pattern


def scoped_flags(pattern: re.Pattern[str]) -> str:
    return "".join(letter for flag, letter in ((re.IGNORECASE, "i"), (re.VERBOSE, "x"), (re.DOTALL, "s"),
                                               (re.MULTILINE, "m")) if pattern.flags & flag) or "-i"


API_KEY = CompiledOnUse(vendor_patterns)
