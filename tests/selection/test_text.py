"""Code stripping and vocabulary matching, on hand-made and real post bodies."""

import pytest

from annotator.corpus.dump_parser import DumpReader
from sampling.question_sets.text import Vocabulary, normalise_words, snippets, text_without_code


def test_code_blocks_and_inline_code_are_removed_with_their_content():
    body = (
        "<p>Deploy with <code>tf.serving</code> on the cloud.</p>\n"
        "<pre><code>server = Server(cloud=True)\nprint('mobile')</code></pre>\n"
        "<PRE class='x'>browser()</PRE><p>Done &amp; dusted.</p>"
    )
    text = text_without_code(body)
    assert text == "Deploy with on the cloud. Done & dusted."
    assert "mobile" not in text and "browser" not in text and "tf.serving" not in text


def test_an_unclosed_code_block_runs_to_the_end():
    assert text_without_code("<p>server</p><pre><code>mobile") == "server"


@pytest.mark.parametrize(
    "words, whole, text, expected",
    [
        (["ios"], True, "Deploying on iOS 17", ["ios"]),
        (["ios"], True, "my studios app", []),
        (["ios"], False, "my studios app", ["ios"]),
        (["c++"], True, "Calling C++ from Python", ["c++"]),
        ([".*"], True, "a regex like a.b", []),  # literal, never a pattern
        ([".*"], False, "the glob .* matches", [".*"]),
        (["tf serving", "tf"], True, "TF   Serving and TF", ["tf"]),  # phrases match their exact spacing
        (["tf serving", "tf"], True, "tf serving and tf", ["tf serving", "tf"]),
        (["Cloud", "cloud ", ""], True, "CLOUD", ["cloud"]),
    ],
)
def test_vocabulary_matching(words, whole, text, expected):
    assert Vocabulary(tuple(words), whole_words=whole).matches(text) == expected


def test_an_empty_vocabulary_matches_nothing():
    assert Vocabulary((), whole_words=True).matches("anything") == []
    assert Vocabulary(("  ",), whole_words=False).pattern is None
    assert normalise_words(["A", "a", " b ", ""]) == ("a", "b")


def test_snippets_show_the_match_in_context():
    voc = Vocabulary(("serving",))
    [(before, match, after)] = snippets("We use TF Serving in production", voc, width=7)
    assert (before, match, after) == ("…use TF ", "Serving", " in pro…")


def test_a_word_only_inside_code_in_a_real_body_does_not_match(shared_data):
    """genai.stackexchange.com question 139 has snake_case_variable and ChartJS
    only inside its <code> elements."""
    with open(shared_data / "genai.stackexchange.com-Posts.xml", "rb") as f:
        post = next(r for r in DumpReader(f) if r.so_id == 139)
    assert "snake_case_variable" in post.body and "ChartJS" in post.body
    outside = text_without_code(post.body)
    vocabulary = Vocabulary(("snake_case_variable", "chartjs"))
    assert vocabulary.matches(outside) == []
    assert vocabulary.matches(post.body) == ["snake_case_variable", "chartjs"]
    assert Vocabulary(("reserved",), whole_words=False).matches(post.title) == ["reserved"]
