"""The sentence segmenter of say_stream: where streamed text is cut, and what every cut guarantees."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamclient.errors import InvalidArgumentError
from streamclient.session import SentenceSegmenter

# Letters, digits, spaces, every mark the segmenter treats specially, CJK, a combining accent and an emoji.
ALPHABET = st.sampled_from(
    [
        *"abcXYZ019 .,;:!?…\"')(\n\t",
        *["\u3002", "\uff01", "\uff1f", "\uff0c", "\u3001", "\u300d", "\u4f60", "\u597d", "\u0301", "\U0001f600"],
        *["Mr", "e.g.", "3.14", "Dr.", "..."],
    ]
)
TEXT = st.lists(ALPHABET, max_size=300).map("".join)


def segment(deltas: list[str], *, expire_at: set[int] | None, **kw: object) -> list[tuple[str, str]]:
    """Feed ``deltas`` one per 10 ms; expire after the indexes in ``expire_at``; tag each piece by its origin."""
    seg = SentenceSegmenter(**kw)  # type: ignore[arg-type]
    out: list[tuple[str, str]] = []
    for i, delta in enumerate(deltas):
        now = i * 0.01
        out += [("feed", p) for p in seg.feed(delta, now)]
        if expire_at and i in expire_at:
            out += [("expire", p) for p in seg.expire(now + 100.0)]
    out += [("flush", p) for p in seg.flush()]
    return out


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


def pieces(deltas: list[str], **kw: object) -> list[str]:
    return [p for _, p in segment(deltas, expire_at=None, **kw)]


@given(text=TEXT, cuts=st.lists(st.integers(min_value=0), max_size=40), max_chars=st.integers(1, 80))
def test_pieces_join_to_the_input_are_never_empty_and_never_too_long(
    text: str, cuts: list[int], max_chars: int
) -> None:
    out = pieces(split(text, cuts), max_chars=max_chars)
    assert "".join(out) == text
    assert all(out)
    assert all(len(p) <= max_chars for p in out)


@given(
    text=TEXT,
    cuts=st.lists(st.integers(min_value=0), max_size=40),
    expire_at=st.sets(st.integers(0, 40)),
    max_chars=st.integers(1, 80),
)
def test_the_guarantees_hold_with_expiries_anywhere(
    text: str, cuts: list[int], expire_at: set[int], max_chars: int
) -> None:
    tagged = segment(split(text, cuts), expire_at=expire_at, max_chars=max_chars, max_wait=0.5)
    out = [p for _, p in tagged]
    assert "".join(out) == text
    assert all(out)
    assert all(len(p) <= max_chars for p in out)
    # A piece without a letter or digit comes only from the final flush or a cut forced by max_chars.
    for origin, piece in tagged:
        if not any(ch.isalnum() for ch in piece):
            assert origin == "flush" or len(piece) >= max_chars - 1  # (-1: a combining mark kept with its base)


@given(text=st.text(max_size=400), cuts=st.lists(st.integers(min_value=0), max_size=40))
def test_any_unicode_text_is_kept_whole(text: str, cuts: list[int]) -> None:
    assert "".join(pieces(split(text, cuts), max_chars=50)) == text


def tokens(text: str) -> list[str]:
    """Split like an LLM tokenizer: words with their leading space, punctuation on its own."""
    out: list[str] = []
    for ch in text:
        if ch.isalnum() and out and out[-1][-1:].isalnum():
            out[-1] += ch
        elif ch.isalnum() and out and out[-1] == " ":
            out[-1] += ch
        else:
            out.append(ch)
    return out


def test_sentences_are_cut_when_their_last_token_arrives() -> None:
    seg = SentenceSegmenter()
    assert seg.feed("Hello", 0.0) == []
    assert seg.feed(" world", 0.0) == []
    assert seg.feed(".", 0.0) == ["Hello world."]  # the "." after an ordinary word: no need to wait
    assert seg.feed(" How are you", 0.0) == []
    assert seg.feed("?", 0.0) == [" How are you?"]
    assert seg.flush() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pi is 3.14 and e.g. this. Next", ["Pi is 3.14 and e.g. this. ", "Next"]),
        ("Mr. Smith and Dr. Who met. Then", ["Mr. Smith and Dr. Who met. ", "Then"]),
        ("J. R. R. Tolkien wrote it. Yes", ["J. R. R. Tolkien wrote it. ", "Yes"]),
        ("We won in 2024. Then", ["We won in 2024. ", "Then"]),
        ('He said "stop." Then', ['He said "stop." ', "Then"]),
        ("Really?! Yes", ["Really?! ", "Yes"]),
        ("Wait... what", ["Wait... ", "what"]),
        ("No. That is wrong.", ["No. ", "That is wrong."]),
        ("It is a. Or b.", ["It is a. ", "Or b."]),  # a lower-case letter is no initial
        ("line one\nline two", ["line one\n", "line two"]),
        ("你好。今天很好！好的", ["你好。", "今天很好！", "好的"]),  # noqa: RUF001
    ],
)
def test_where_text_fed_at_once_is_cut(text: str, expected: list[str]) -> None:
    assert pieces([text]) == expected


@pytest.mark.parametrize(
    ("deltas", "expected"),
    [
        (["The value is 3", ".", "14 today."], ["The value is 3.14 today."]),  # "3." waits for the next delta
        (["I met Mr", ".", " Smith."], ["I met Mr. Smith."]),
        (["see e", ".g", ".", " this."], ["see e.g. this."]),
    ],
)
def test_an_ambiguous_dot_waits_for_the_next_token(deltas: list[str], expected: list[str]) -> None:
    assert pieces(deltas) == expected


def test_a_dot_at_the_end_of_the_stream_ends_the_last_piece() -> None:
    seg = SentenceSegmenter()
    assert seg.feed("It costs 3.", 0.0) == []
    assert seg.flush() == ["It costs 3."]


def test_clauses_end_a_piece_only_once_it_is_long_enough() -> None:
    short = "Well, I think so, yes."
    assert pieces([short]) == [short]
    long = "When the weather is fine and the sun shines over the hills, we walk to the river and swim."
    assert pieces([long], clause_min_chars=40) == [
        "When the weather is fine and the sun shines over the hills, ",
        "we walk to the river and swim.",
    ]
    assert pieces(["3,000 people came, and they, all of them, stayed."], clause_min_chars=5) == [
        "3,000 people came, ",
        "and they, ",
        "all of them, ",
        "stayed.",
    ]


def test_a_run_on_answer_is_cut_at_max_chars_on_a_word_boundary() -> None:
    out = pieces(["word " * 30], max_chars=42)
    assert out[0] == "word " * 8  # 40 chars: the last white space within 42
    assert all(len(p) <= 42 for p in out)
    assert "".join(out) == "word " * 30


def test_max_chars_prefers_a_clause_mark_in_its_second_half() -> None:
    text = "alpha beta gamma, delta epsilon zeta eta theta iota kappa"
    assert pieces([text], max_chars=30, clause_min_chars=100)[0] == "alpha beta gamma, "


def test_text_without_spaces_is_cut_hard_at_max_chars_keeping_combining_marks() -> None:
    assert pieces(["x" * 25], max_chars=10) == ["x" * 10, "x" * 10, "x" * 5]
    accented = "e\u0301" * 6  # é as e + combining acute: never split between the two
    out = pieces([accented], max_chars=5)
    assert all(not unicode_starts_with_combining(p) for p in out)
    assert "".join(out) == accented


def unicode_starts_with_combining(text: str) -> bool:
    import unicodedata

    return bool(unicodedata.combining(text[0]))


def test_max_wait_cuts_a_stalled_piece_at_its_last_word() -> None:
    seg = SentenceSegmenter(max_wait=0.5)
    assert seg.next_deadline() is None
    assert seg.feed("   ", 0.0) == []
    assert seg.next_deadline() is None  # white space alone never waits to be said
    assert seg.feed("Thinking about your question", 1.0) == []
    assert seg.next_deadline() == 1.5
    assert seg.expire(1.4) == []
    assert seg.expire(1.5) == ["   Thinking about your "]
    assert seg.pending == "question"
    assert seg.next_deadline() == 2.0  # the rest waits again from the cut
    assert seg.feed(" carefully", 1.6) == []
    assert seg.expire(2.0) == ["question "]
    assert seg.flush() == ["carefully"]


def test_max_wait_cuts_everything_after_a_trailing_mark_or_an_unbroken_word() -> None:
    seg = SentenceSegmenter(max_wait=0.5)
    seg.feed("It costs 3.", 0.0)
    assert seg.expire(0.5) == ["It costs 3."]
    seg.feed("你好世界", 1.0)
    assert seg.expire(1.5) == ["你好世界"]
    assert seg.next_deadline() is None


def test_llm_like_tokens_give_sentence_pieces() -> None:
    answer = "Streaming avatars speak in real time. They start before the answer is complete! Isn't that neat?"
    assert pieces(tokens(answer)) == [
        "Streaming avatars speak in real time.",
        " They start before the answer is complete!",
        " Isn't that neat?",
    ]


@pytest.mark.parametrize("kwargs", [{"max_chars": 0}, {"max_wait": 0}, {"clause_min_chars": 0}])
def test_bounds_must_be_positive(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError):
        SentenceSegmenter(**kwargs)  # type: ignore[arg-type]


def test_empty_deltas_are_ignored() -> None:
    seg = SentenceSegmenter()
    assert seg.feed("", 0.0) == []
    assert seg.next_deadline() is None
    assert seg.flush() == []
