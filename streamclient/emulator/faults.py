"""Fault injection for the emulator's room: drop, duplicate, reorder, delay, corrupt and disconnect.

A :class:`FaultPlan` describes the faults of one direction of one room (client -> avatar, or avatar -> client),
either by probability (each frame draws from a seeded RNG) or by an explicit script (frame index -> faults), or
both (scripted faults are applied first, probabilistic ones on top). A :class:`FaultInjector` applies a plan to the
frames of one direction; it is pure (no clock, no I/O): :meth:`FaultInjector.process` returns what to deliver and
after which delay, and the room does the waiting.

Reproducibility: the injector's RNG is seeded from ``plan.seed`` (or the emulator's seed) and the direction name, and
each frame draws the same number of random values whatever the outcome, so the same seed and the same sequence of
sent frames always give the same delivered sequence.

Semantics, per frame (``index`` counts the frames accepted by the room in this direction, from 0):

* ``drop``: the frame is not delivered.
* ``duplicate``: the frame is delivered twice.
* ``reorder``: the frame is held back and delivered right after the next frame (or when the room flushes it after
  ``reorder_hold_seconds``).
* ``delay``: the frame is delivered ``delay_seconds`` later (later frames may overtake it).
* ``corrupt``: one ASCII byte of the frame is replaced by another printable ASCII byte (the frame stays valid
  UTF-8 but usually stops being valid JSON or changes a value).
* ``disconnect``: the receiving side is disconnected (the client's transport reports ``FAILED``) instead of
  receiving the frame. ``disconnect_after=N`` disconnects on frame ``N``.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from streamclient.errors import InvalidArgumentError

__all__ = ("Delivery", "Fault", "FaultInjector", "FaultOutcome", "FaultPlan")


class Fault(enum.Enum):
    """One fault that can hit a frame."""

    DROP = "drop"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    DELAY = "delay"
    CORRUPT = "corrupt"
    DISCONNECT = "disconnect"


_PROBABILISTIC = (Fault.DROP, Fault.DUPLICATE, Fault.REORDER, Fault.DELAY, Fault.CORRUPT, Fault.DISCONNECT)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """The faults of one direction of a room. The default plan injects nothing.

    Attributes:
        drop: probability that a frame is dropped.
        duplicate: probability that a frame is delivered twice.
        reorder: probability that a frame is swapped with the next one.
        delay: probability that a frame is delayed by ``delay_seconds``.
        corrupt: probability that one byte of a frame is changed.
        disconnect: probability that the frame disconnects the receiver instead.
        delay_seconds: how long a delayed frame is held.
        reorder_hold_seconds: how long a reordered frame waits for a next frame before it is delivered anyway.
        disconnect_after: disconnect on this frame index (0-based), if set.
        script: explicit faults by frame index, applied whatever the probabilities say.
        seed: RNG seed for this plan; ``None`` uses the emulator's seed.
    """

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    corrupt: float = 0.0
    disconnect: float = 0.0
    delay_seconds: float = 0.05
    reorder_hold_seconds: float = 0.2
    disconnect_after: int | None = None
    script: Mapping[int, Fault | Sequence[Fault]] = field(default_factory=dict)
    seed: int | None = None

    def __post_init__(self) -> None:
        for fault in _PROBABILISTIC:
            p = self.probability(fault)
            if not 0.0 <= p <= 1.0:
                raise InvalidArgumentError(f"FaultPlan.{fault.value} must be a probability in [0, 1], got {p!r}")
        if self.delay_seconds < 0 or self.reorder_hold_seconds < 0:
            raise InvalidArgumentError("FaultPlan delays must be >= 0 seconds")
        if self.disconnect_after is not None and self.disconnect_after < 0:
            raise InvalidArgumentError("FaultPlan.disconnect_after must be >= 0")

    def probability(self, fault: Fault) -> float:
        """The configured probability of ``fault``."""
        value: float = getattr(self, fault.value)
        return value

    @property
    def is_noop(self) -> bool:
        """True when this plan can never change a frame."""
        return (
            all(self.probability(f) == 0.0 for f in _PROBABILISTIC)
            and self.disconnect_after is None
            and not self.script
        )

    def scripted(self, index: int) -> frozenset[Fault]:
        """The faults the script assigns to frame ``index``."""
        entry = self.script.get(index)
        faults: set[Fault] = set()
        if isinstance(entry, Fault):
            faults.add(entry)
        elif entry is not None:
            faults.update(entry)
        if self.disconnect_after is not None and index == self.disconnect_after:
            faults.add(Fault.DISCONNECT)
        return frozenset(faults)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Deliver ``data`` after ``delay`` seconds (0: now)."""

    data: bytes
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class FaultOutcome:
    """What the room does with one frame: deliver ``deliveries`` in order, then disconnect if asked."""

    deliveries: tuple[Delivery, ...]
    faults: frozenset[Fault]
    disconnect: bool = False


class FaultInjector:
    """Applies a :class:`FaultPlan` to the frames of one direction (pure; the room does the waiting)."""

    def __init__(self, plan: FaultPlan, *, seed: int = 0, direction: str = "") -> None:
        self.plan = plan
        effective = plan.seed if plan.seed is not None else seed
        self._rng = random.Random(f"{effective}:{direction}")
        self._index = 0
        self._held: bytes | None = None
        # The plan is frozen but for its script's mapping: the probabilities are read once, the script every frame.
        self._no_chance = plan.disconnect_after is None and all(plan.probability(f) == 0.0 for f in _PROBABILISTIC)

    @property
    def passes_through(self) -> bool:
        """True when the next frame is delivered unchanged for sure: a no-op plan and nothing held."""
        return self._no_chance and self._held is None and not self.plan.script

    @property
    def holding(self) -> bool:
        """True while a reordered frame waits for the next one."""
        return self._held is not None

    def flush(self) -> bytes | None:
        """Release the frame held for reordering, if any."""
        held, self._held = self._held, None
        return held

    def process(self, data: bytes) -> FaultOutcome:
        """Decide the fate of the next frame of this direction."""
        index = self._index
        self._index += 1
        # Draw the same number of values for every frame so outcomes never shift the RNG stream.
        draws = {fault: self._rng.random() for fault in _PROBABILISTIC}
        corrupt_at = self._rng.random()
        corrupt_with = self._rng.randrange(0x21, 0x7F)
        faults = set(self.plan.scripted(index))
        faults.update(f for f in _PROBABILISTIC if draws[f] < self.plan.probability(f))
        if Fault.DISCONNECT in faults:
            return FaultOutcome((), frozenset(faults), disconnect=True)
        if Fault.DROP in faults:
            return FaultOutcome(self._release_held(()), frozenset(faults))
        if Fault.CORRUPT in faults:
            data = corrupt(data, position=corrupt_at, replacement=corrupt_with)
        delay = self.plan.delay_seconds if Fault.DELAY in faults else 0.0
        copies = 2 if Fault.DUPLICATE in faults else 1
        now = tuple(Delivery(data, delay) for _ in range(copies))
        if Fault.REORDER in faults and self._held is None:
            self._held = data
            return FaultOutcome((), frozenset(faults))
        return FaultOutcome(self._release_held(now), frozenset(faults))

    def _release_held(self, deliveries: tuple[Delivery, ...]) -> tuple[Delivery, ...]:
        held = self.flush()
        return deliveries if held is None else (*deliveries, Delivery(held))


def corrupt(data: bytes, *, position: float, replacement: int) -> bytes:
    """Replace one ASCII byte of ``data`` (chosen by ``position`` in [0, 1)) with ``replacement``.

    The result stays valid UTF-8 when ``data`` was. Data without ASCII bytes is truncated by one byte instead.
    """
    ascii_positions = [i for i, b in enumerate(data) if b < 0x80]
    if not ascii_positions:
        return data[:-1]
    i = ascii_positions[int(position * len(ascii_positions))]
    if data[i] == replacement:
        replacement = 0x21 if replacement != 0x21 else 0x22
    return data[:i] + bytes((replacement,)) + data[i + 1 :]
