"""What the inspector page shows, as a bounded store of JSON-ready items (no I/O, no clock: times are arguments).

Fed by the live emulator (:mod:`streamclient.emulator.inspector.live`) or by a recording file
(:mod:`streamclient.emulator.inspector.offline`), it turns rooms, sessions, joins, leaves and frames into *items*:
small dicts the page applies by key (a later item with the same key replaces the earlier one). Kinds (``k``):

* ``room`` (by ``room``): channel, session id, the room's limits, open or closed;
* ``counts`` (by ``room``): the room's frame, refusal and dropped counts, updating its ``room`` item (at most once a
  second per room: ``ROOM_ITEMS_EVERY``);
* ``session`` (by ``id``): avatar, mode, status. Never a token or a key;
* ``peer`` (by ``room`` + ``uid``): role (``avatar``, ``bot``, ``viewer``, ``page``), in or out, when;
* ``frame`` (by ``room`` + ``n``): direction, sender, size, decoded type/mid/idx/fin, the room's verdict
  (``code``: 0 delivered, else the SDK code it was refused with), ``bad`` (the codec's reason when it cannot be
  decoded), ``guide`` (the sender's sliding second was over AKOOL's 6 KB/s guidance), and the frame's text;
* ``say`` (by ``room`` + ``key``): one chat message as it grows chunk by chunk (bot, viewer, avatar or user);
* ``note`` (by ``room`` + ``n``): speaking start/stop, a command (interrupt, set-params, ...) and its ack;
* ``rate`` (by ``room`` + ``uid`` + ``bin``): the sender's sliding-second bytes and messages, highest in a
  quarter-second bin (what the room's limits are checked against);
* ``turn`` (by ``room`` + ``id``): a request and the avatar's answer: first frame, last frame, first reply chunk,
  audio start, audio end (the room cannot see when a client queued its text).

Every buffer is bounded: rooms, sessions, frames per room and in total (bytes), messages, notes, turns, rate bins
and the update log; what falls out is gone (the page says how many frames a room dropped).
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from streamclient.codec import ChatFrame, CommandAck, CommandFrame, EventFrame, Frame, RawFrame, decode_frame
from streamclient.errors import RemoteProtocolError

__all__ = ("GUIDE_BYTES_PER_SECOND", "ROOM_CODES", "InspectorModel", "Limits")

#: AKOOL's implementation guide: "Maximum message frequency: 6 KB per second" (per sender).
GUIDE_BYTES_PER_SECOND = 6000
#: The room's refusal codes (Agora SDK return codes) by number.
ROOM_CODES = {
    -12: "ERR_TOO_OFTEN",
    -113: "ERR_NOT_IN_CHANNEL",
    -114: "ERR_SIZE_TOO_LARGE",
    -115: "ERR_BITRATE_LIMIT",
}

MAX_ROOMS = 200
MAX_SESSIONS = 1000
FRAMES_PER_ROOM = 1000
#: Frame text kept across all rooms; beyond it the oldest frames of the oldest rooms go first.
MAX_FRAME_BYTES_TOTAL = 24 * 1024 * 1024
MESSAGES_PER_ROOM = 300
NOTES_PER_ROOM = 300
TURNS_PER_ROOM = 100
PEERS_PER_ROOM = 64
SENDERS_PER_ROOM = 32
#: Quarter-second bins of the rate chart, two minutes of them per sender.
RATE_BIN_SECONDS = 0.25
RATE_BINS = 480
MAX_MESSAGE_CHUNKS = 1024
MAX_MESSAGE_CHARS = 20_000
#: Update items kept for the page's live stream (a page further behind reloads its snapshot).
LOG_ITEMS = 50_000
#: A room's counters (frames, refused) are re-sent at most this often (seconds of the feed's clock).
ROOM_ITEMS_EVERY = 1.0
#: Refused frames larger than this keep only their first bytes (accepted frames are at most the room's 1 KB).
KEEP_REFUSED_BYTES = 2048


@dataclass(frozen=True, slots=True)
class Limits:
    """A room's per-sender limits, as the page draws them."""

    max_message_bytes: int
    bytes_per_second: int
    messages_per_second: int
    window_seconds: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON view."""
        return {
            "max_message_bytes": self.max_message_bytes,
            "bytes_per_second": self.bytes_per_second,
            "messages_per_second": self.messages_per_second,
            "window_seconds": self.window_seconds,
            "guide_bytes_per_second": GUIDE_BYTES_PER_SECOND,
        }


@dataclass(slots=True)
class _Message:
    item: dict[str, Any]
    chunks: dict[int, str] = field(default_factory=dict)
    chars: int = 0
    text: str = ""
    last_idx: int = -1


@dataclass(slots=True)
class _Sender:
    window: deque[tuple[float, int]] = field(default_factory=deque)
    bytes: int = 0
    bins: OrderedDict[int, dict[str, Any]] = field(default_factory=OrderedDict)


@dataclass(slots=True)
class _Room:
    channel: str
    item: dict[str, Any]
    window_seconds: float
    frames: deque[dict[str, Any]] = field(default_factory=deque)
    frame_count: int = 0
    dropped_frames: int = 0
    #: The number of the last frame fed (the frames before it that never came are counted as dropped).
    last_n: int = 0
    peers: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    bots: set[str] = field(default_factory=set)
    own: set[str] = field(default_factory=set)
    avatars: set[str] = field(default_factory=set)
    messages: OrderedDict[str, _Message] = field(default_factory=OrderedDict)
    notes: deque[dict[str, Any]] = field(default_factory=deque)
    note_count: int = 0
    commands: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    turns: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    turn_count: int = 0
    #: the latest turn of each request mid, the turns not yet answered (oldest first), the one being spoken
    by_mid: dict[str, dict[str, Any]] = field(default_factory=dict)
    waiting: deque[dict[str, Any]] = field(default_factory=deque)
    speaking: dict[str, Any] | None = None
    last_started: dict[str, Any] | None = None
    senders: dict[str, _Sender] = field(default_factory=dict)
    #: The avatar's mode (1 retelling: a user transcript is not answered), ``None`` when unknown.
    mode: int | None = None


def _frame_fields(data: bytes) -> tuple[dict[str, Any], Frame | None]:
    """Type, mid, idx, fin of a frame (and the frame), or ``bad`` (the codec's reason) when it cannot be decoded."""
    try:
        frame = decode_frame(data)
    except RemoteProtocolError as exc:
        return {"type": None, "bad": exc.reason}, None
    if isinstance(frame, ChatFrame):
        return {"type": "chat", "mid": frame.mid, "idx": frame.idx, "fin": frame.fin, "from": frame.source}, frame
    if isinstance(frame, CommandAck):
        return {"type": "ack", "mid": frame.mid, "cmd": frame.cmd, "ack": frame.code}, frame
    if isinstance(frame, CommandFrame):
        return {"type": "command", "mid": frame.mid, "cmd": frame.cmd}, frame
    if isinstance(frame, EventFrame):
        return {"type": "event", "mid": frame.mid, "event": frame.name}, frame
    assert isinstance(frame, RawFrame)
    return {"type": frame.type, "mid": frame.mid}, frame


class InspectorModel:
    """The inspector's state: feed it with the ``*_`` methods, read it with :meth:`snapshot` and :meth:`items_after`.

    Args:
        live: whether the page may act (speak, chat, interrupt): False for a recording.
        title: shown in the page's header.
    """

    def __init__(self, *, live: bool = True, title: str = "streamclient emulator") -> None:
        self.live = live
        self.title = title
        self._rooms: OrderedDict[str, _Room] = OrderedDict()
        self._sessions: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_ITEMS)
        self._dirty_rates: dict[tuple[str, str, int], dict[str, Any]] = {}
        self._dirty_rooms: dict[str, dict[str, Any]] = {}
        self._rooms_flushed = -float("inf")
        self._frame_bytes = 0
        #: Sequence number of the last item logged (items are numbered from 1).
        self.seq = 0

    # ------------------------------------------------------------------------------------------- reading

    def rooms(self) -> list[str]:
        """The channels of the rooms kept, oldest first."""
        return list(self._rooms)

    def has_room(self, channel: str) -> bool:
        """Whether the room of ``channel`` is kept."""
        return channel in self._rooms

    def snapshot(self, room: str | None = None) -> dict[str, Any]:
        """Everything the page needs to draw the rooms list and, when given, the room ``room`` in full."""
        items: list[dict[str, Any]] = [r.item for r in self._rooms.values()]
        items.extend(self._sessions.values())
        for r in self._rooms.values():
            items.extend(r.peers.values())
        detail = self._rooms.get(room) if room is not None else None
        if detail is not None:
            items.extend(detail.frames)
            items.extend(m.item for m in detail.messages.values())
            items.extend(detail.notes)
            items.extend(detail.turns.values())
            for sender in detail.senders.values():
                items.extend(sender.bins.values())
        return {"seq": self.seq, "live": self.live, "title": self.title, "items": items}

    def items_after(self, seq: int, *, room: str | None, limit: int = 500) -> tuple[list[dict[str, Any]], int, bool]:
        """The logged items after ``seq`` that concern the page watching ``room``.

        Returns:
            ``(items, last_seq, reset)``: ``reset`` is True when items after ``seq`` have already left the bounded
            log (the page must reload its snapshot).
        """
        log = self._log
        first = self.seq - len(log) + 1
        if seq + 1 < first:
            return [], self.seq, True
        out: list[dict[str, Any]] = []
        last = seq
        for i in range(max(0, seq + 1 - first), len(log)):  # a deque's index walks its blocks from the nearer end
            item = log[i]
            last = item["seq"]
            kind = item["k"]
            if kind in ("room", "counts", "session", "peer") or item.get("room") == room:
                out.append(item)
                if len(out) >= limit:
                    break
        return out, last, False

    @overload
    def recording_lines(self, room: str) -> Iterator[str]: ...
    @overload
    def recording_lines(self, room: str, *, encode: Literal[False]) -> Iterator[dict[str, Any]]: ...
    def recording_lines(self, room: str, *, encode: bool = True) -> Iterator[str] | Iterator[dict[str, Any]]:
        """The room's kept frames as recording lines (``streamclient.emulator.recording``'s JSONL format).

        Delivered frames are frame records; frames the room refused are refusal lines (``"by": "room"``, the
        reason ``room:<code>``), which :func:`~streamclient.emulator.recording.replay` skips. ``encode=False``
        yields the lines' objects (the caller encodes them).
        """
        detail = self._rooms.get(room)
        if detail is None:
            return
        for item in list(detail.frames):
            if item["code"] == 0:
                obj: dict[str, Any] = {
                    "t": item["t"],
                    "dir": item["dir"],
                    "sender": item["uid"],
                    "frame": item["text"],
                    "channel": room,
                }
            else:
                obj = {
                    "t": item["t"],
                    "refused": f"room:{item['code']}",
                    "by": "room",
                    "sender": item["uid"],
                    "excerpt": item["text"][:80],
                    "channel": room,
                }
            yield json.dumps(obj, separators=(",", ":")) if encode else obj

    # ------------------------------------------------------------------------------------------- feeding

    def room_opened(self, channel: str, *, session_id: str | None, limits: Limits, t: float) -> None:
        """A room opened (or re-opened under the same channel)."""
        old = self._rooms.pop(channel, None)
        if old is not None:
            self._forget_frames(old)
        item = {
            "k": "room",
            "room": channel,
            "session": session_id,
            "limits": limits.to_dict(),
            "open": True,
            "opened": round(t, 4),
            "closed": None,
            "reason": None,
            "frames": 0,
            "dropped": 0,
            "refused": 0,
        }
        self._rooms[channel] = _Room(channel=channel, item=item, window_seconds=limits.window_seconds)
        while len(self._rooms) > MAX_ROOMS:
            _, gone = self._rooms.popitem(last=False)
            self._forget_frames(gone)
        self._emit(item)

    def room_closed(self, channel: str, *, reason: int, t: float) -> None:
        """The room closed with Agora reason ``reason``."""
        r = self._rooms.get(channel)
        if r is None:
            return
        r.item.update(open=False, closed=round(t, 4), reason=reason)
        self._emit(r.item)

    def session(self, session_id: str, *, room: str, avatar_id: str, mode: int | None, status: str, t: float) -> None:
        """A session was created or ended (``status``: ``open``, ``closed`` or ``expired``). No credentials here."""
        item = self._sessions.get(session_id)
        if item is None:
            item = {"k": "session", "id": session_id, "room": room, "created": round(t, 4)}
            self._sessions[session_id] = item
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        item.update(avatar_id=avatar_id, mode=mode, status=status, ended=None if status == "open" else round(t, 4))
        self._emit(item)
        r = self._rooms.get(room)
        if r is not None and status == "open":
            r.mode = mode

    def mark_bot(self, channel: str, uid: str) -> None:
        """``uid`` is a session's own client in ``channel`` (the bot); other clients are viewers."""
        r = self._rooms.get(channel)
        if r is not None:
            r.bots.add(uid)

    def mark_own(self, channel: str, uid: str) -> None:
        """``uid`` is the page's own viewer in ``channel``."""
        r = self._rooms.get(channel)
        if r is not None:
            r.own.add(uid)

    def peer(self, channel: str, uid: str, *, role: str, joined: bool, reason: int, t: float) -> None:
        """``uid`` joined or left (``role``: the room's ``client`` / ``avatar``)."""
        r = self._rooms.get(channel)
        if r is None:
            return
        if role == "avatar":
            r.avatars.add(uid)
        item = r.peers.get(uid)
        if item is None:
            item = {"k": "peer", "room": channel, "uid": uid, "joined": round(t, 4)}
            r.peers[uid] = item
            while len(r.peers) > PEERS_PER_ROOM:
                r.peers.popitem(last=False)
        item.update(role=self._role(r, uid, role), here=joined, left=None if joined else round(t, 4), reason=reason)
        self._emit(item)

    def count_frame(self, channel: str, *, refused: bool) -> int | None:
        """Count a frame of the room (its number, from 1) without keeping it; ``None`` for an unknown room.

        (:meth:`frame` calls it when given no number: a recording's frames are counted here; the live inspector
        counts on its tapes and gives the numbers.)
        """
        r = self._rooms.get(channel)
        if r is None:
            return None
        r.frame_count += 1
        r.item["frames"] = r.frame_count
        if refused:
            r.item["refused"] += 1
        self._dirty_rooms[channel] = r.item
        return r.frame_count

    def room_counts(self, channel: str, *, frames: int, refused: int, oldest: int) -> None:
        """Set the room's counters as its feeder keeps them.

        ``frames`` and ``refused``: so far; ``oldest``: the number of the oldest frame the feeder still holds (the
        ones before it that were never fed are dropped for the page).
        """
        r = self._rooms.get(channel)
        if r is None:
            return
        r.frame_count = max(r.frame_count, frames)
        dropped = r.dropped_frames + max(0, oldest - 1 - r.last_n)
        item = r.item
        if (item["frames"], item["refused"], item["dropped"]) != (r.frame_count, refused, dropped):
            item.update(frames=r.frame_count, refused=refused, dropped=dropped)
            self._dirty_rooms[channel] = item

    def frame(
        self, channel: str, *, t: float, uid: str, role: str, data: bytes, code: int, n: int | None = None
    ) -> None:
        """The room delivered (``code`` 0) or refused (``code`` < 0) ``data`` from ``uid``.

        ``n``: the frame's number as its feeder counted it (the counters are then the feeder's:
        :meth:`room_counts`); frames numbered in between that never came are counted as dropped.
        """
        if n is None:
            n = self.count_frame(channel, refused=code != 0)
        r = self._rooms.get(channel)
        if r is None or n is None:
            return
        if n > r.last_n + 1:
            r.dropped_frames += n - r.last_n - 1
            r.item["dropped"] = r.dropped_frames
        r.last_n = max(r.last_n, n)
        if n > r.frame_count:
            r.frame_count = r.item["frames"] = n
        if role == "avatar":
            r.avatars.add(uid)
        elif not role:
            role = "avatar" if uid in r.avatars else "client"
        kept = data if code == 0 or len(data) <= KEEP_REFUSED_BYTES else data[:KEEP_REFUSED_BYTES]
        text = kept.decode("utf-8", errors="surrogateescape")
        item: dict[str, Any] = {
            "k": "frame",
            "room": channel,
            "n": n,
            "t": round(t, 4),
            "dir": "in" if role == "avatar" else "out",
            "uid": uid,
            "role": self._role(r, uid, role),
            "size": len(data),
            "code": code,
            "guide": False,
            "bad": None,
            "text": text,
        }
        frame: Frame | None = None
        if code == 0:
            fields, frame = _frame_fields(data)
            item.update(fields)
            item["guide"] = self._count_rate(r, uid, t, len(data))
        else:
            item["type"] = None
            item["codename"] = ROOM_CODES.get(code, str(code))
        self._keep_frame(r, item, len(text))
        self._emit(item)
        if frame is not None:
            self._follow(r, item, frame)

    def flush(self, now: float | None = None) -> None:
        """Log the rate bins changed since the last flush (call it after a batch of frames), and the rooms' counters.

        The rooms' changed counters are logged (as ``counts`` items: the page updates its room with them) when
        ``now`` is ``None``, or ``ROOM_ITEMS_EVERY`` seconds after they were last logged (with many busy rooms they
        would otherwise flood every page's stream).
        """
        rates, self._dirty_rates = self._dirty_rates, {}
        for item in rates.values():
            self._emit(item)
        if now is None or now - self._rooms_flushed >= ROOM_ITEMS_EVERY:
            self._rooms_flushed = -float("inf") if now is None else now
            rooms, self._dirty_rooms = self._dirty_rooms, {}
            for channel, item in rooms.items():  # the counters alone (the room's item is sent whole when it changes)
                counts = {"k": "counts", "room": channel, "frames": item["frames"], "refused": item["refused"]}
                counts["dropped"] = item["dropped"]
                self._emit(counts)

    # ------------------------------------------------------------------------------------------- internals

    def _emit(self, item: dict[str, Any]) -> None:
        self.seq += 1
        item["seq"] = self.seq
        self._log.append(item)

    @staticmethod
    def _role(r: _Room, uid: str, role: str) -> str:
        if role == "avatar" or uid in r.avatars:
            return "avatar"
        if uid in r.own:
            return "page"
        return "bot" if uid in r.bots else "viewer"

    def _keep_frame(self, r: _Room, item: dict[str, Any], nbytes: int) -> None:
        r.frames.append(item)
        self._frame_bytes += nbytes
        if len(r.frames) > FRAMES_PER_ROOM:
            self._drop_frame(r)
        while self._frame_bytes > MAX_FRAME_BYTES_TOTAL:
            victim = next((x for x in self._rooms.values() if x.frames), None)
            if victim is None:  # pragma: no cover - the budget cannot be over with no frames kept
                break
            self._drop_frame(victim)

    def _drop_frame(self, r: _Room) -> None:
        gone = r.frames.popleft()
        self._frame_bytes -= len(gone["text"])
        r.dropped_frames += 1
        r.item["dropped"] = r.dropped_frames

    def _forget_frames(self, r: _Room) -> None:
        self._frame_bytes -= sum(len(f["text"]) for f in r.frames)
        r.frames.clear()

    def _count_rate(self, r: _Room, uid: str, t: float, nbytes: int) -> bool:
        """Add a delivered frame to the sender's sliding second; True when that second is over the guidance."""
        sender = r.senders.get(uid)
        if sender is None:
            if len(r.senders) >= SENDERS_PER_ROOM:
                return False
            sender = r.senders[uid] = _Sender()
        window = sender.window
        while window and t - window[0][0] >= r.window_seconds:
            sender.bytes -= window.popleft()[1]
        window.append((t, nbytes))
        sender.bytes += nbytes
        b = int(t // RATE_BIN_SECONDS)
        item = sender.bins.get(b)
        if item is None:
            item = {"k": "rate", "room": r.channel, "uid": uid, "bin": b, "t": round(b * RATE_BIN_SECONDS, 4)}
            item.update(bytes=0, msgs=0)
            sender.bins[b] = item
            while len(sender.bins) > RATE_BINS:
                sender.bins.popitem(last=False)
        item["bytes"] = max(item["bytes"], sender.bytes)
        item["msgs"] = max(item["msgs"], len(window))
        self._dirty_rates[(r.channel, uid, b)] = item
        return sender.bytes > GUIDE_BYTES_PER_SECOND

    # -- the conversation and the turns, from the frames the room delivered

    def _note(self, r: _Room, what: str, item: dict[str, Any], **fields: Any) -> dict[str, Any]:
        r.note_count += 1
        note = {"k": "note", "room": r.channel, "n": r.note_count, "t": item["t"], "uid": item["uid"]}
        note.update(what=what, role=item["role"], mid=item.get("mid"), **fields)
        r.notes.append(note)
        if len(r.notes) > NOTES_PER_ROOM:
            r.notes.popleft()
        self._emit(note)
        return note

    def _follow(self, r: _Room, item: dict[str, Any], frame: Frame) -> None:
        if isinstance(frame, ChatFrame):
            self._chat(r, item, frame)
        elif isinstance(frame, EventFrame):
            self._event(r, item, frame.name)
        elif isinstance(frame, CommandFrame):
            data = dict(frame.data) if frame.data else None
            note = self._note(r, frame.cmd, item, ack=None, data=data)
            if frame.mid is not None:
                r.commands[frame.mid] = note
                while len(r.commands) > NOTES_PER_ROOM:
                    r.commands.popitem(last=False)
            if frame.cmd == "interrupt":
                self._interrupt(r, item["t"])
        elif isinstance(frame, CommandAck):
            command = r.commands.get(frame.mid) if frame.mid is not None else None
            if command is None:
                self._note(r, "ack", item, code=frame.code)
                return
            command["ack"] = {"code": frame.code, "t": item["t"]}
            self._emit(command)
            mode = (command.get("data") or {}).get("mode")
            if command["what"] == "set-params" and frame.code == 1000 and mode in (1, 2):
                r.mode = mode

    def _chat(self, r: _Room, item: dict[str, Any], frame: ChatFrame) -> None:
        who = ("user" if frame.source == "user" else "avatar") if item["role"] == "avatar" else item["role"]
        key = f"{item['uid']}:{frame.mid}"
        message = r.messages.get(key)
        if message is None:
            say = {"k": "say", "room": r.channel, "key": key, "uid": item["uid"], "who": who, "mid": frame.mid}
            say.update(t=item["t"], text="", fin=False, chunks=0)
            message = r.messages[key] = _Message(item=say)
            while len(r.messages) > MESSAGES_PER_ROOM:
                r.messages.popitem(last=False)
            if who != "avatar" and not (who == "user" and r.mode == 1):
                self._new_turn(r, item, frame.mid, who)
        idx, text = frame.idx, frame.text
        if idx not in message.chunks and len(message.chunks) < MAX_MESSAGE_CHUNKS and message.chars < MAX_MESSAGE_CHARS:
            message.chunks[idx] = text
            message.chars += len(text)
            if idx == message.last_idx + 1:  # in order (the usual case): append
                message.text += text
                message.last_idx = idx
            else:
                message.text = "".join(message.chunks[i] for i in sorted(message.chunks))
                message.last_idx = max(message.last_idx, idx)
            shown = message.text
            if text and ("\ud800" <= text[0] <= "\udfff" or "\ud800" <= text[-1] <= "\udfff"):
                # half a surrogate pair at a chunk's edge (the official client splits pairs): pair them again
                shown = shown.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            message.item["text"] = shown
        message.item["chunks"] = len(message.chunks)
        message.item["last"] = item["t"]
        if frame.fin:
            message.item["fin"] = True
        self._emit(message.item)
        if who == "avatar":
            self._reply_chunk(r, item, frame.mid)
        elif frame.fin:
            turn = r.by_mid.get(frame.mid)
            if turn is not None and turn["t1"] is None:
                turn["t1"] = item["t"]
                self._emit(turn)

    def _new_turn(self, r: _Room, item: dict[str, Any], mid: str, who: str) -> None:
        r.turn_count += 1
        turn = {"k": "turn", "room": r.channel, "id": r.turn_count, "mid": mid, "by": who, "uid": item["uid"]}
        turn.update(t0=item["t"], t1=None, first=None, astart=None, aend=None, interrupted=False)
        if who == "user":  # a transcript arrives whole: its "sending" is the frame itself
            turn["t1"] = item["t"]
        r.turns[str(r.turn_count)] = turn
        r.by_mid[mid] = turn
        r.waiting.append(turn)
        while len(r.turns) > TURNS_PER_ROOM:
            _, gone = r.turns.popitem(last=False)
            if r.by_mid.get(gone["mid"]) is gone:
                del r.by_mid[gone["mid"]]
        while len(r.waiting) > TURNS_PER_ROOM:
            r.waiting.popleft()
        self._emit(turn)

    def _reply_chunk(self, r: _Room, item: dict[str, Any], mid: str) -> None:
        turn = r.by_mid.get(mid)
        if turn is None or turn["by"] == "user":  # fresh reply mids (or a reply to speech): the one being spoken
            turn = r.speaking
        if turn is not None and turn["first"] is None:
            turn["first"] = item["t"]
            self._emit(turn)

    def _event(self, r: _Room, item: dict[str, Any], name: str) -> None:
        self._note(r, name, item)
        if name == "audio_start":
            while r.waiting:
                turn = r.waiting.popleft()
                if not turn["interrupted"]:
                    turn["astart"] = item["t"]
                    r.speaking = r.last_started = turn
                    self._emit(turn)
                    return
        elif name == "audio_end":
            ended = r.speaking or r.last_started  # an interrupted reply ends too
            r.speaking = None
            if ended is not None and ended["aend"] is None:
                ended["aend"] = item["t"]
                self._emit(ended)

    def _interrupt(self, r: _Room, t: float) -> None:
        """An interrupt cuts the reply being spoken and drops the ones queued behind it."""
        cut = [r.speaking] if r.speaking is not None else []
        cut.extend(turn for turn in r.waiting if turn["t0"] <= t)
        r.waiting = deque(turn for turn in r.waiting if turn["t0"] > t)
        r.speaking = None
        for turn in cut:
            if not turn["interrupted"]:
                turn["interrupted"] = True
                self._emit(turn)
