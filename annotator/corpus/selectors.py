"""Reads of a study's posts: the browsable list and one post with its thread."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import ExtractYear
from django.http import Http404

from .models import Comment, Post, PostType, SiteUser


@dataclass(frozen=True)
class PostFilters:
    q: str = ""
    tag: str = ""
    year: int | None = None
    post_type: int | None = PostType.QUESTION


def _question_of_answer() -> QuerySet[Post]:
    """The question of the answer in the outer query (same study and site)."""
    return Post.objects.filter(study_id=OuterRef("study_id"), site=OuterRef("site"), so_id=OuterRef("parent_so_id"),
                               post_type=PostType.QUESTION)


def post_list(*, study, filters: PostFilters) -> QuerySet[Post]:
    """The study's posts matching ``filters``, newest first. Answers carry no tags in a dump:
    an answer matches a tag when its question carries it, and ``question_tags`` holds its
    question's tags (``Post.thread_tag_list`` shows them)."""
    posts = Post.objects.filter(study=study).defer("body")
    if filters.post_type != PostType.QUESTION:
        posts = posts.annotate(question_tags=Subquery(_question_of_answer().values("tags")[:1]))
    if filters.post_type:
        posts = posts.filter(post_type=filters.post_type)
    if filters.q:
        for word in filters.q.split()[:10]:
            posts = posts.filter(Q(title__icontains=word) | Q(body__icontains=word))
    if filters.tag:
        tag = f"|{filters.tag.strip().lower()}|"
        posts = posts.filter(Q(post_type=PostType.QUESTION, tags__contains=tag)
                             | Q(Exists(_question_of_answer().filter(tags__contains=tag)), post_type=PostType.ANSWER))
    if filters.year:
        posts = posts.filter(creation_date__year=filters.year)
    return posts.order_by("-creation_date", "-so_id")


def post_years(*, study) -> list[int]:
    years = (
        Post.objects.filter(study=study, creation_date__isnull=False)
        .annotate(year=ExtractYear("creation_date"))
        .values_list("year", flat=True)
        .distinct()
        .order_by("-year")
    )
    return list(years)


def post_get(*, study, post_id: int) -> Post:
    post = Post.objects.filter(study=study, pk=post_id).first()
    if post is None:
        raise Http404("No such post in this study.")
    return post


@dataclass(frozen=True)
class PostThread:
    question: Post
    answers: list[Post]
    comments: dict[int, list[Comment]]  # by post so_id
    accepted_so_id: int | None


def post_thread(*, post: Post) -> PostThread:
    """The question (the post itself, or an answer's question), its answers
    (accepted first, then by score) and every comment, by post."""
    question = post
    if not post.is_question:
        question = Post.objects.filter(
            study_id=post.study_id, site=post.site, so_id=post.parent_so_id, post_type=PostType.QUESTION
        ).first()
        if question is None:  # an answer whose question is not in the study
            question = post
    answers = list(
        Post.objects.filter(
            study_id=question.study_id, site=question.site, parent_so_id=question.so_id, post_type=PostType.ANSWER
        )
    )
    accepted = question.accepted_answer_so_id
    answers.sort(key=lambda a: (a.so_id != accepted, -(a.score or 0), a.so_id))
    ids = [question.so_id, *(a.so_id for a in answers)]
    comments: dict[int, list[Comment]] = {}
    for c in Comment.objects.filter(study_id=question.study_id, site=question.site, post_so_id__in=ids):
        comments.setdefault(c.post_so_id, []).append(c)
    author_names_set(study_id=question.study_id, site=question.site,
                     posts=[question, *answers], comments=[c for cs in comments.values() for c in cs])
    return PostThread(question=question, answers=answers, comments=comments, accepted_so_id=accepted)


def author_names_set(*, study_id: int, site: str, posts=(), comments=()) -> None:
    """Give each post and comment its author's display name from the site's Users.xml
    (``author_name``; "" when the study has none), for ``corpus/_author.html``."""
    ids = {p.owner_user_id for p in posts} | {c.user_id for c in comments}
    ids.discard(None)
    names = dict(SiteUser.objects.filter(study_id=study_id, site=site, so_id__in=ids)
                 .values_list("so_id", "display_name")) if ids else {}
    for post in posts:
        post.author_name = names.get(post.owner_user_id, "")
    for comment in comments:
        comment.author_name = names.get(comment.user_id, "")


@dataclass(frozen=True)
class ThreadEntry:
    post: Post
    html: str  # sanitised body, safe to render
    comments: list[Comment]


@dataclass(frozen=True)
class ThreadDisplay:
    """What ``corpus/_thread.html`` renders: the question, its answers and comments, bodies sanitised."""

    question: ThreadEntry
    answers: list[ThreadEntry]
    accepted_so_id: int | None
    current_pk: int


def post_thread_display(*, post: Post) -> ThreadDisplay:
    """The thread of ``post`` ready to show: every page that shows a post (browsing, pilot,
    labelling, arbitration) renders this with ``corpus/_thread.html``."""
    from .sanitize import post_html_sanitize

    thread = post_thread(post=post)
    entries = [ThreadEntry(post=p, html=post_html_sanitize(p.body), comments=thread.comments.get(p.so_id, []))
               for p in [thread.question, *thread.answers]]
    return ThreadDisplay(question=entries[0], answers=entries[1:], accepted_so_id=thread.accepted_so_id,
                         current_pk=post.pk)


def post_find(*, study, post_id: int) -> Post | None:
    """The study's post with this database id, or None (the caller says why it is missing)."""
    return Post.objects.filter(study=study, pk=post_id).first()


def question_find(*, study, so_id: int, site: str = "") -> Post | None:
    """The study's one question with this Stack Exchange id (on ``site``, if given), or None when
    there is none or, without a site, several."""
    questions = Post.objects.filter(study=study, post_type=PostType.QUESTION, so_id=so_id)
    if site:
        questions = questions.filter(site=site)
    found = list(questions[:2])
    return found[0] if len(found) == 1 else None
