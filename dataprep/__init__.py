"""dataprep: turn production LLM traffic into a fine-tuning dataset people can trust."""

__version__ = "0.1.0"
