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
