"""Tunable limits and timeouts of an avatar session."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ("SessionOptions",)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOptions:
    """Timeouts (seconds) and bounds for :class:`~streamclient.session.AvatarSession`.

    Attributes:
        join_timeout: joining the channel.
        avatar_join_timeout: waiting for the avatar to appear in the channel after joining.
        reply_timeout: default wait for a turn's reply (``await turn``).
        command_timeout: default wait for a command's ack.
        send_timeout: handing one frame to the transport.
        close_timeout: the whole shutdown (interrupt, leave, close through the API), shielded from cancellation.
        expiry_margin: how long before ``duration`` runs out to emit ``SessionExpiring``.
        event_buffer: events buffered per ``events()`` consumer before the oldest are dropped.
        message_timeout: how long an incomplete incoming message may wait for its missing chunks.
        max_frame_bytes: the byte budget of one outgoing frame (``None``: the largest size, within the transport's
            limit, whose whole frames fill the paced byte budget of every window; 986 B for Agora's 6000 B/s).
        rate_limit_backoff: first pause after the transport reports a rate-limit error (doubles, up to 2 s).
        wait_for_avatar: wait in ``__aenter__`` until the avatar has joined.
    """

    join_timeout: float = 15.0
    avatar_join_timeout: float = 30.0
    reply_timeout: float = 120.0
    command_timeout: float = 10.0
    send_timeout: float = 5.0
    close_timeout: float = 15.0
    expiry_margin: float = 30.0
    event_buffer: int = 1000
    message_timeout: float = 30.0
    max_frame_bytes: int | None = None
    rate_limit_backoff: float = 0.1
    wait_for_avatar: bool = True
