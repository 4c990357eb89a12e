"""Fake of the ``agora`` package of agora-python-server-sdk 2.4.10 (tests only; see ``fake_agora/__init__.py``).

The real ``agora/__init__.py`` checks/downloads the native SDK and, like every import of it, replaces the process-wide
default HTTPS context with an unverified one (agora/__init__.py:14 of the sdist). The fake keeps that side effect so
the loader's restoration of the TLS context is tested; it downloads and loads nothing.
"""

import ssl


def _check_download_and_extract_sdk() -> None:
    """Like the real one, it names the native SDK's download URL; streamclient's loader reads it without importing."""
    url = "https://download.agora.io/fake.zip"
    del url


ssl._create_default_https_context = ssl._create_unverified_context  # type: ignore[assignment]
