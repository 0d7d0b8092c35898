"""One small interface over the official ``openai`` and ``anthropic`` SDKs: structured-output
calls that are cached on disk, budgeted in dollars, concurrent, retried, and batchable.
See ``llm.py`` for the entry point."""

from .api import ProviderError
from .llm import LLM, Completion, InvalidOutput, LLMSettings, Request
from .pricing import DEFAULT_PRICES, Prices, Usage

__all__ = ["LLM", "LLMSettings", "Request", "Completion", "ProviderError", "InvalidOutput", "Usage", "Prices",
           "DEFAULT_PRICES"]
