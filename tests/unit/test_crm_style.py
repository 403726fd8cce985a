"""A client's communication style applied to text: formal and casual, on whole words, keeping case
and punctuation."""

import pytest

from tidings.crm.style import restyle, style_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hey Maya", "Hello Maya"),  # a sentence starts with a capital
        ("Hey Maya", "Hello Maya"),
        ("HEY MAYA", "HELLO MAYA"),
        ("Hi Maya, thanks!", "Hello Maya, thank you!"),
        ("Thanks.", "Thank you."),
        ("THANKS!!!", "THANK YOU!!!"),
        ("Saw the house, thx. yeah, I'm gonna call.", "Saw the house, thank you. Yes, I'm going to call."),
        ("Ok.\nthanks again", "Ok.\nThank you again"),
        ('She said "great." hey there', 'She said "great." Hello there'),
        ("Nope, we wanna wait", "No, we want to wait"),
        ("(hey)", "(hello)"),
        ("'thanks'", "'thank you'"),
        ("Cheers,\nSam", "Kind regards,\nSam"),
    ],
)
def test_formal_turns_casual_words_into_formal_ones(text: str, expected: str) -> None:
    assert restyle(text, "formal") == expected


@pytest.mark.parametrize(
    "text",
    [
        "They said it was fine",  # "hey" inside a word
        "Happy thanksgiving",  # "thanks" inside a word
        "A hi-fi system",  # joined by a hyphen
        "Well-hey there",
        "hey's",  # joined by an apostrophe
        "See example.com/thanks",  # part of a link
        "#thanks to all",  # a hashtag
        "@hey on X",  # a mention
        "thanks.com",
        "Hiya123",
    ],
)
def test_formal_leaves_words_inside_other_words_links_and_tags(text: str) -> None:
    assert restyle(text, "formal") == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello Maya, thank you!", "Hey Maya, thanks!"),
        ("HELLO, THANK YOU.", "HEY, THANKS."),
        ("Thank   you for coming", "Thanks for coming"),  # a phrase across several spaces
        ("Thank\nyou", "Thanks"),
        ("We said hello. thank you all", "We said hey. Thanks all"),
        ("Kind regards,\nSam", "Cheers,\nSam"),
        ("Othello thank youth", "Othello thank youth"),  # whole words only
    ],
)
def test_casual_turns_formal_words_into_casual_ones(text: str, expected: str) -> None:
    assert restyle(text, "casual") == expected


def test_lower_case_in_the_middle_of_a_sentence_stays_lower_case() -> None:
    assert restyle("well, hey there", "formal") == "well, hello there"
    assert restyle("so, hello there", "casual") == "so, hey there"


def test_text_that_continues_a_sentence_does_not_start_with_a_capital() -> None:
    # A piece of a template after a variable: its first word does not start a sentence
    assert restyle("hey, and thanks", "formal", at_sentence_start=False) == "hello, and thank you"
    assert restyle("  hey", "formal") == "  Hello"


def test_formal_text_stays_formal_and_casual_text_casual() -> None:
    assert restyle("Hello Maya, thank you.", "formal") == "Hello Maya, thank you."
    assert restyle("Hey Maya, thanks.", "casual") == "Hey Maya, thanks."


@pytest.mark.parametrize("style", [None, "", "friendly"])
def test_no_style_or_another_leaves_the_text(style: str | None) -> None:
    assert restyle("hey, thanks", style) == "hey, thanks"


@pytest.mark.parametrize(
    ("preference", "expected"),
    [
        ("formal", "formal"),
        ("Casual ", "casual"),
        ("FORMAL", "formal"),
        ("friendly", None),
        ("", None),
        (None, None),
    ],
)
def test_style_of_a_preference(preference: str | None, expected: str | None) -> None:
    assert style_of(preference) == expected
