"""Integrations of AKOOL avatar sessions into other frameworks; each needs its own extra (``streamclient[pipecat]``).

Nothing here is imported by ``import streamclient``.
"""
