"""One table of names: every metric and span has the prefix, a unit, and a row in docs/observability.md."""

from __future__ import annotations

from pathlib import Path

from streamclient.telemetry import EMULATOR_METRICS, METRICS, SPANS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "observability.md").read_text(encoding="utf-8")


def test_every_metric_has_the_prefix_a_unit_and_its_row_in_the_docs() -> None:
    for name, spec in [*METRICS.items(), *((s.name, s) for s in EMULATOR_METRICS.values())]:
        assert name.startswith("streamclient."), name
        assert spec.unit, name
        assert f"| `{name}` | {spec.kind.replace('_', '-')} | `{spec.unit}` |" in DOC, name


def test_every_span_is_documented() -> None:
    for name in SPANS:
        assert name.startswith("streamclient."), name
        assert f"| `{name}` |" in DOC, name
