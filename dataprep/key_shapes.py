"""What vendors' API keys and bearer tokens look like: the PII scrubber replaces them in the
data, and every printed error is redacted of them (a server may echo a key back). Kept apart
from the scrubber so an error line does not load all of its detectors."""

from __future__ import annotations

import re

API_KEY = re.compile(
    r"\b(?:sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"   # OpenAI sk-, sk-proj-; Anthropic sk-ant- (with digits)
    r"|[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}"           # Stripe
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"                   # Slack
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"                       # AWS access key id
    r"|AIza[0-9A-Za-z_-]{35}"                           # Google
    r"|glpat-[A-Za-z0-9_-]{20,}|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}"
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})")
TOKEN = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
                   r"|(?i:\bbearer\s+)(?P<value>[A-Za-z0-9._~+/-]{16,}=*)")
