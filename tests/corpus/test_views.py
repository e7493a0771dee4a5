"""The post list (search, filters, pagination, htmx fragment) and the post
thread page (sanitised bodies, answers, comments, escaping, CSP)."""

import html
import re
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from annotator.corpus.models import PostType
from tests.factories import AnswerFactory, CommentFactory, MembershipFactory, PostFactory, StudyFactory

pytestmark = pytest.mark.django_db

HOSTILE_BODY = (
    '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>'
    '<pre><code>if a &lt; b: print("ok")</code></pre>'
)


@pytest.fixture
def study(client):
    study = StudyFactory(slug="deploy")
    client.force_login(MembershipFactory(study=study).user)  # a viewer is enough to read
    return study


def day(year: int, month: int = 6, d: int = 1) -> datetime:
    return datetime(year, month, d, 12, tzinfo=timezone.utc)


def listed_ids(response) -> list[int]:
    """Post ids linked from the result rows, in order."""
    return [int(i) for i in re.findall(r'<td><a href="/studies/[\w-]+/posts/(\d+)/">', response.content.decode())]


# --- the list --------------------------------------------------------------------


def test_the_list_pages_by_25_newest_first(client, study):
    posts = [PostFactory(study=study, title=f"Topic {n:02d}", creation_date=day(2020, 1, 1 + n)) for n in range(30)]
    newest_first = [p.pk for p in reversed(posts)]

    first = client.get(f"/studies/{study.slug}/posts/")
    second = client.get(f"/studies/{study.slug}/posts/", {"page": 2})

    assert listed_ids(first) == newest_first[:25]
    assert listed_ids(second) == newest_first[25:]
    assert "Page 1 of 2 · 30 in all" in first.content.decode()
    assert "Page 2 of 2 · 30 in all" in second.content.decode()
    assert 'rel="next"' in first.content.decode() and 'rel="next"' not in second.content.decode()
    assert 'href="?page=1" rel="prev"' in second.content.decode()


def test_page_links_keep_the_filters(client, study):
    for n in range(27):
        PostFactory(study=study, tags="|keras|", creation_date=day(2020, 1, 1 + n))

    response = client.get(f"/studies/{study.slug}/posts/", {"tag": "keras"})

    assert 'href="?tag=keras&amp;page=2" rel="next"' in response.content.decode()


def test_search_finds_a_word_in_the_title_case_insensitively(client, study):
    hit = PostFactory(study=study, title="Serving a Keras model behind nginx", body="<p>It fails.</p>")
    PostFactory(study=study, title="Converting to TFLite", body="<p>It fails.</p>")

    assert listed_ids(client.get(f"/studies/{study.slug}/posts/", {"q": "serving"})) == [hit.pk]
    assert listed_ids(client.get(f"/studies/{study.slug}/posts/", {"q": "NGINX"})) == [hit.pk]


def test_search_finds_a_word_only_in_the_body(client, study):
    hit = PostFactory(study=study, title="Model too large", body="<p>After quantization the accuracy drops.</p>")
    PostFactory(study=study, title="Model too slow", body="<p>Latency is high.</p>")

    response = client.get(f"/studies/{study.slug}/posts/", {"q": "quantization"})

    assert listed_ids(response) == [hit.pk]


def test_search_with_several_words_needs_all_of_them(client, study):
    both = PostFactory(study=study, title="Deploy on android", body="<p>tflite crashes</p>")
    PostFactory(study=study, title="Deploy on ios", body="<p>coreml crashes</p>")

    assert listed_ids(client.get(f"/studies/{study.slug}/posts/", {"q": "android crashes"})) == [both.pk]


def test_the_tag_filter_matches_whole_tags_only(client, study):
    tensor = PostFactory(study=study, tags="|tensor|numpy|")
    tensorflow = PostFactory(study=study, tags="|tensorflow|")

    assert listed_ids(client.get(f"/studies/{study.slug}/posts/", {"tag": "tensor"})) == [tensor.pk]
    assert listed_ids(client.get(f"/studies/{study.slug}/posts/", {"tag": "Tensor"})) == [tensor.pk]
    assert listed_ids(client.get(f"/studies/{study.slug}/posts/", {"tag": "tensorflow"})) == [tensorflow.pk]
    assert listed_ids(client.get(f"/studies/{study.slug}/posts/", {"tag": "flow"})) == []


def test_answers_match_a_tag_through_their_question(client, study):
    """A dump gives answers no tags: an answer carries its question's, in the filter and the list."""
    keras = PostFactory(study=study, so_id=10, tags="|keras|python|", creation_date=day(2020))
    other = PostFactory(study=study, so_id=20, tags="|tensorflow|", creation_date=day(2020))
    on_keras = AnswerFactory(question=keras, so_id=11, creation_date=day(2020, 7))
    AnswerFactory(question=other, so_id=21, creation_date=day(2020, 8))
    # The same id on another site is another question: its tags do not count.
    elsewhere = PostFactory(study=study, so_id=30, site="genai.stackexchange.com", tags="|tensorflow|")
    AnswerFactory(question=elsewhere, so_id=31, site="stackoverflow.com", parent_so_id=30, creation_date=day(2020))
    url = f"/studies/{study.slug}/posts/"

    answers = client.get(url, {"tag": "keras", "type": "2"})
    assert listed_ids(answers) == [on_keras.pk]
    page = answers.content.decode()
    assert 'href="?tag=keras"' in page and 'href="?tag=python"' in page  # its question's tags, shown
    assert listed_ids(client.get(url, {"tag": "KERAS", "type": "0"})) == [on_keras.pk, keras.pk]
    assert listed_ids(client.get(url, {"tag": "tensorflow", "type": "2"})) == [
        a.pk for a in PostFactory._meta.model.objects.filter(so_id=21)]
    assert listed_ids(client.get(url, {"tag": "keras"})) == [keras.pk]  # questions, by default


def test_the_year_filter(client, study):
    old = PostFactory(study=study, creation_date=day(2019))
    PostFactory(study=study, creation_date=day(2021))

    response = client.get(f"/studies/{study.slug}/posts/", {"year": "2019"})

    assert listed_ids(response) == [old.pk]
    # The year choices are the years the study has.
    assert '<option value="2021">2021</option>' in response.content.decode()


def test_the_list_shows_questions_unless_answers_are_asked_for(client, study):
    question = PostFactory(study=study)
    answer = AnswerFactory(question=question)

    assert listed_ids(client.get(f"/studies/{study.slug}/posts/")) == [question.pk]
    assert listed_ids(client.get(f"/studies/{study.slug}/posts/", {"type": "2"})) == [answer.pk]
    assert set(listed_ids(client.get(f"/studies/{study.slug}/posts/", {"type": "0"}))) == {question.pk, answer.pk}


def test_an_htmx_request_gets_only_the_results_fragment(client, study):
    hit = PostFactory(study=study, title="Serving with TF Serving")

    fragment = client.get(f"/studies/{study.slug}/posts/", {"q": "serving"}, headers={"HX-Request": "true"})
    full = client.get(f"/studies/{study.slug}/posts/", {"q": "serving"})

    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in body and "<body" not in body and 'class="filters"' not in body
    assert listed_ids(fragment) == [hit.pk]
    assert "<html" in full.content.decode() and 'class="filters"' in full.content.decode()
    assert listed_ids(full) == [hit.pk]


def test_an_empty_study_says_so(client, study):
    response = client.get(f"/studies/{study.slug}/posts/")

    assert response.status_code == 200
    assert "No posts in this study yet." in response.content.decode()
    assert listed_ids(response) == []


def test_filters_that_match_nothing_say_so(client, study):
    PostFactory(study=study, title="Serving")

    response = client.get(f"/studies/{study.slug}/posts/", {"q": "zzzunlikely"}, headers={"HX-Request": "true"})

    assert "No posts match these filters." in response.content.decode()
    assert "No posts in this study yet." not in response.content.decode()
    assert listed_ids(response) == []


def test_a_post_title_with_html_is_escaped_in_the_list(client, study):
    PostFactory(study=study, title="<b>Why</b> does <script>x()</script> fail?")

    body = client.get(f"/studies/{study.slug}/posts/").content.decode()

    assert "&lt;b&gt;Why&lt;/b&gt; does &lt;script&gt;x()&lt;/script&gt; fail?" in body
    assert "<b>Why</b>" not in body


# --- one post --------------------------------------------------------------------


@pytest.fixture
def thread(study):
    question = PostFactory(
        study=study, so_id=4242, title="How to serve a TensorFlow model?", tags="|tensorflow|serving|",
        body="<p>I exported a <strong>SavedModel</strong>.</p>", accepted_answer_so_id=4302,
    )
    high_score = AnswerFactory(question=question, so_id=4301, score=50, body="<p>Use Flask, upvoted a lot.</p>")
    accepted = AnswerFactory(question=question, so_id=4302, score=2, body="<p>Use TF Serving, accepted.</p>")
    CommentFactory(study=study, post_so_id=4242, text="Which version of TF?")
    CommentFactory(study=study, post_so_id=4302, text="This worked for me.")
    return SimpleNamespace(question=question, high_score=high_score, accepted=accepted)


def articles(body: str) -> list[str]:
    return re.findall(r"<article .*?</article>", body, flags=re.S)


def test_the_post_page_shows_the_question_with_tags_and_a_link_to_the_original(client, study, thread):
    body = client.get(f"/studies/{study.slug}/posts/{thread.question.pk}/").content.decode()

    question = articles(body)[0]
    assert "<h1 class=\"post-title\">How to serve a TensorFlow model?</h1>" in question
    assert f'href="/studies/{study.slug}/posts/?tag=tensorflow"' in question
    assert f'href="/studies/{study.slug}/posts/?tag=serving"' in question
    assert "<p>I exported a <strong>SavedModel</strong>.</p>" in question  # formatting kept
    assert 'href="https://stackoverflow.com/questions/4242"' in question
    assert "Which version of TF?" in question


def test_the_accepted_answer_comes_first_and_is_marked(client, study, thread):
    body = client.get(f"/studies/{study.slug}/posts/{thread.question.pk}/").content.decode()

    question, first, second = articles(body)
    assert "2 answers" in body
    assert "Use TF Serving, accepted." in first and "✓ Accepted answer" in first and "accepted" in first.split(">")[0]
    assert "This worked for me." in first  # the answer's own comment, under it
    assert "Use Flask, upvoted a lot." in second and "Accepted answer" not in second
    assert "This worked for me." not in question + second
    assert 'href="https://stackoverflow.com/a/4302"' in first


def test_an_answer_page_shows_its_whole_thread(client, study, thread):
    body = client.get(f"/studies/{study.slug}/posts/{thread.high_score.pk}/").content.decode()

    question, first, second = articles(body)
    assert "How to serve a TensorFlow model?" in question
    assert "Use TF Serving, accepted." in first
    assert "Use Flask, upvoted a lot." in second and "current" in second.split(">")[0]


def test_a_hostile_body_is_sanitised_but_its_code_stays_readable(client, study):
    post = PostFactory(study=study, body=HOSTILE_BODY)
    AnswerFactory(question=post, body=HOSTILE_BODY)

    page = client.get(f"/studies/{study.slug}/posts/{post.pk}/").content.decode()

    bodies = re.findall(r'<div class="body">(.*?)</div>', page, flags=re.S)
    assert len(bodies) == 2, page  # the question's and the answer's
    for shown in bodies:
        lowered = shown.lower()
        assert "<script" not in lowered and "alert(1)" not in lowered
        assert "onerror" not in lowered and "javascript:" not in lowered
        assert '<pre tabindex="0"><code>' in shown  # reachable by keyboard: it may scroll sideways
        code = re.search(r'<pre tabindex="0"><code>(.*?)</code></pre>', shown, flags=re.S).group(1)
        assert html.unescape(code) == 'if a < b: print("ok")'
    # The only scripts on the page are our own files (base.html's).
    scripts = re.findall(r"<script[^>]*>", page)
    assert '<script src="/static/vendor/htmx.min.js" defer>' in scripts
    assert all(re.fullmatch(r'<script src="/static/[\w/.-]+\.js" defer>', tag) for tag in scripts), scripts
    assert "onerror" not in page and "javascript:" not in page


def test_pages_carry_a_content_security_policy_without_inline_scripts(client, study):
    post = PostFactory(study=study)

    for path in (f"/studies/{study.slug}/posts/{post.pk}/", f"/studies/{study.slug}/posts/"):
        policy = client.get(path)["Content-Security-Policy"]
        directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
        assert directives["script-src"] == ["'self'"]
        assert "'unsafe-inline'" not in policy
        assert directives["object-src"] == ["'none'"]


def test_html_in_a_title_or_comment_is_escaped(client, study):
    post = PostFactory(study=study, title="<i>Title</i><script>alert('t')</script>")
    CommentFactory(study=study, post_so_id=post.so_id, text='<img src=x onerror="alert(\'c\')"> see <b>docs</b>')

    page = client.get(f"/studies/{study.slug}/posts/{post.pk}/").content.decode()

    assert "<h1 class=\"post-title\">&lt;i&gt;Title&lt;/i&gt;&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;</h1>" in page
    assert "&lt;img src=x onerror=&quot;alert(&#x27;c&#x27;)&quot;&gt; see &lt;b&gt;docs&lt;/b&gt;" in page
    assert "<i>Title</i>" not in page and "<b>docs</b>" not in page
    assert "<img src=x" not in page


def test_a_post_of_the_study_that_does_not_exist_is_404(client, study):
    post = PostFactory(study=study)

    assert client.get(f"/studies/{study.slug}/posts/{post.pk + 1000}/").status_code == 404


def test_a_question_without_answers(client, study):
    post = PostFactory(study=study, post_type=PostType.QUESTION)

    body = client.get(f"/studies/{study.slug}/posts/{post.pk}/").content.decode()

    assert "0 answers" in body and "No answers in this study." in body
    assert len(articles(body)) == 1
