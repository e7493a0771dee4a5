"""Post HTML as the pages show it (annotator/corpus/sanitize.py): safe, code blocks reachable
by keyboard, images named and linked instead of loaded."""

import pytest

from annotator.corpus.sanitize import post_html_sanitize

LINK = 'class="post-image" rel="nofollow noopener noreferrer"'


def test_hostile_markup_is_dropped():
    shown = post_html_sanitize('<p onclick="x()">Hi</p><script>alert(1)</script><a href="javascript:alert(3)">x</a>'
                               '<span style="color:red">red</span>')
    assert shown == '<p>Hi</p><a rel="nofollow noopener noreferrer">x</a><span>red</span>'


def test_a_code_block_can_be_reached_by_keyboard():
    # it scrolls sideways when a line is long; a keyboard user scrolls what has the focus
    assert (post_html_sanitize('<pre class="lang-py" tabindex="-1"><code>if a &lt; b: pass</code></pre>')
            == '<pre class="lang-py" tabindex="0"><code>if a &lt; b: pass</code></pre>')


@pytest.mark.parametrize(("img", "shown"), [
    # an absolute image: a link to it, named by its alternative text, title or file name
    ('<img src="https://i.stack.imgur.com/a.png" alt="The trace" width="600" onerror="x()">',
     f'<a href="https://i.stack.imgur.com/a.png" {LINK}>[image: The trace]</a>'),
    ('<img src="https://i.stack.imgur.com/a.png" title="A &quot;title&quot; &lt;b&gt;">',
     f'<a href="https://i.stack.imgur.com/a.png" {LINK}>[image: A "title" &lt;b&gt;]</a>'),
    ('<IMG SRC="http://example.com/i/b.png?x=1&y=2"/>',
     f'<a href="http://example.com/i/b.png?x=1&amp;y=2" {LINK}>[image: b.png]</a>'),
    # relative to the site the dump came from (nothing here to link to), or unsafe: named only
    ('<img src="/images/c.png" alt="">', '<span class="post-image">[image: c.png]</span>'),
    ('<img src="javascript:alert(1)" alt="x">', '<span class="post-image">[image: x]</span>'),
    ('<img src="data:image/png;base64,AAAA">', '<span class="post-image">[image]</span>'),
    ("<img>", '<span class="post-image">[image]</span>'),
])
def test_an_image_is_a_link_to_it_with_a_name(img, shown):
    assert post_html_sanitize(f"<p>See {img} here</p>") == f"<p>See {shown} here</p>"


def test_an_image_inside_a_link_is_named_only_as_links_do_not_nest():
    shown = post_html_sanitize('<a href="https://example.com/">Logo <img src="https://example.com/l.png" alt="L"></a>'
                               ' <img src="https://example.com/m.png">')
    assert shown == ('<a href="https://example.com/" rel="nofollow noopener noreferrer">Logo '
                     '<span class="post-image">[image: L]</span></a> '
                     f'<a href="https://example.com/m.png" {LINK}>[image: m.png]</a>')


def test_markup_in_text_and_attributes_is_not_taken_for_an_image():
    html = ('<code>&lt;img src="https://e/x.png"&gt;</code>'
            '<a href="https://e/" title="&lt;img src=&quot;https://e/y.png&quot;&gt;">t</a>')
    assert "post-image" not in post_html_sanitize(html)
