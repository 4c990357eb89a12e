"""Runnable examples (type-checked; run against the emulator in the test suite)."""
