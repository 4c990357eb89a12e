"""Contract tests of the Agora adapter against the SDK's real Python wrapper (fetched at test time), over stand-ins
for its native library: a scripted Python one and a small C library compiled at test time (see ``harness.py``)."""
