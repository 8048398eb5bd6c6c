from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers.text import normalise, sentence_bounds


def test_ascii_is_lowercased_with_identity_offsets():
    n = normalise("ISIS Released A Video")
    assert n.text == "isis released a video"
    assert n.span(0, 4) == (0, 4)


def test_diacritics_quotes_and_dashes_are_folded():
    n = normalise("Dáesh’s “video” — al‑Furqān")
    assert n.text == "daesh's \"video\" - al-furqan"


def test_zero_width_and_bidi_marks_are_dropped_with_offsets_mapped_back():
    original = "I\u200bS\u200dI\u202eS released"
    n = normalise(original)
    assert n.text.startswith("isis released")
    s, e = n.span(0, 4)
    assert original[s:e] == "I\u200bS\u200dI\u202eS"


def test_cyrillic_homoglyphs_become_latin():
    original = "\u0406S\u0406S video"  # Cyrillic I
    n = normalise(original)
    assert n.text == "isis video"


def test_expanding_characters_map_back_to_their_source():
    original = "ﬁre ﬁght"  # ligature fi expands to two letters
    n = normalise(original)
    assert n.text == "fire fight"
    s, e = n.span(0, 4)
    assert original[s:e] == "ﬁre"


def test_sentences_split_on_punctuation_but_not_abbreviations():
    text = normalise("U.S. forces said it. Next one! Mr. Smith left\nNew line").text
    parts = [text[a:b].strip() for a, b in sentence_bounds(text)]
    assert parts == ["u.s. forces said it.", "next one!", "mr. smith left", "new line"]


def test_leetspeak_inside_words_is_undone_but_numbers_stay():
    n = normalise("Fighters of 1S1S and D4esh at 5pm on the 3rd, 2014")
    assert n.text == "fighters of isis and daesh at 5pm on the 3rd, 2014"
    i = n.text.index("isis")
    s, e = n.span(i, i + 4)
    assert n.original[s:e] == "1S1S"


def test_letter_spaced_names_are_joined_with_offsets():
    original = "A clip from I S I S and the I.S.I.S. channel"
    n = normalise(original)
    assert n.text.count("isis") == 2
    i = n.text.index("isis")
    s, e = n.span(i, i + 4)
    assert original[s:e] == "I S I S"


def test_ordinary_numbers_next_to_letters_are_left_alone():
    for text in ("a 44-year-old man", "covid19 and the b52", "at 5pm on the 3rd", "an mp3 file"):
        assert normalise(text).text == text.lower()


def _reference_fold(text: str):
    """The definition: every character folded on its own, offsets one per output character."""
    from classifiers.text import _fold_char

    parts, starts = [], []
    for i, ch in enumerate(text):
        folded = _fold_char(ch) if not text.isascii() else ch.lower().translate({9: " ", 13: " ", 96: "'"})
        parts.append(folded)
        starts.extend([i] * len(folded))
    return "".join(parts), starts


@given(st.text(alphabet=st.sampled_from(
    list("AaBbIiSsΣσςİıKkÉéèÆæß  ’‘“”—–-`\t\r\n.,ﬁ…") + ["\u200b", "\u200d", "\u202e", "\u00ad", "е", "Е", "ο", "Ο", "ё", "Ⅻ", "½"]
), max_size=60) | st.text(max_size=60))
@settings(max_examples=400, deadline=None)
def test_fast_folding_equals_folding_each_character(text):
    from classifiers.text import _fold

    n = _fold(text)
    expected, starts = _reference_fold(text)
    assert n.text == expected
    if n.starts is not None:
        assert list(n.starts) == starts
        assert list(n.ends) == [s + 1 for s in starts]
    else:
        assert len(n.text) == len(text)


@given(st.lists(st.sampled_from(list("aeisxhдé 01345@$.-_*\n'(),?") + ["e-", "-e-", "i.", "1s", "s1", " i "]), max_size=30).map("".join))
@settings(max_examples=600, deadline=None)
def test_cheap_evasion_check_never_skips_an_edit(text):
    """The pre-check only saves time: undoing evasions on text it rejects changes nothing."""
    from classifiers.text import _fold, _maybe_obfuscated, _undo_evasions

    n = _fold(text)
    if not _maybe_obfuscated(n.text):
        assert _undo_evasions(n).text == n.text


@given(st.lists(st.sampled_from(["mr", "u.s", "sept", "a", "bb", "corporation", " ", "\n", "(", '"', "'", ".", "x"]),
                max_size=14).map("".join))
@settings(max_examples=500, deadline=None)
def test_abbreviation_check_reads_the_word_before_the_dot(text):
    from classifiers.text import _ABBREVIATIONS, _is_abbreviation

    for dot in [i for i, c in enumerate(text) if c == "."]:
        j = dot
        while j > 0 and text[j - 1] not in " \n(\"'":
            j -= 1
        word = text[j:dot]
        assert _is_abbreviation(text, dot) == (len(word) == 1 or word in _ABBREVIATIONS), (text, dot)


def test_a_quote_entity_that_lost_its_ampersand_reads_as_a_quote_mark():
    text = 'A group calling itself  quot;The Islamic Army quot; said'
    norm = normalise(text)
    assert len(norm.text) == len(text)  # offsets are unchanged
    assert '"the islamic army' in norm.text and "quot" not in norm.text
