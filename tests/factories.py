"""factory-boy factories for every model the tests create."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from annotator.corpus.models import Comment, Post, PostType
from annotator.jobs.models import Job, JobKind
from annotator.studies.models import Membership, Study
from sampling.question_sets.models import QuestionSet, QuestionSetMember

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Study

    name = factory.Sequence(lambda n: f"Study {n}")
    slug = factory.Sequence(lambda n: f"study-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    study = factory.SubFactory(StudyFactory)
    user = factory.SubFactory(UserFactory)


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    study = factory.SubFactory(StudyFactory)
    site = "stackoverflow.com"
    so_id = factory.Sequence(lambda n: 1000 + n)
    post_type = PostType.QUESTION
    title = factory.Sequence(lambda n: f"Question {n}")
    body = "<p>How do I deploy this model?</p>"
    tags = "|tensorflow|deployment|"
    creation_date = factory.LazyFunction(timezone.now)
    score = 1
    updated_at = factory.LazyFunction(timezone.now)


class AnswerFactory(PostFactory):
    post_type = PostType.ANSWER
    title = ""
    tags = ""
    parent_so_id = factory.LazyAttribute(lambda a: a.question.so_id)
    study = factory.LazyAttribute(lambda a: a.question.study)

    class Params:
        question = factory.SubFactory(PostFactory)


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    study = factory.SubFactory(StudyFactory)
    site = "stackoverflow.com"
    so_id = factory.Sequence(lambda n: 5000 + n)
    post_so_id = 1000
    text = "Have you tried restarting it?"
    updated_at = factory.LazyFunction(timezone.now)


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    study = factory.SubFactory(StudyFactory)
    kind = JobKind.IMPORT
    params = factory.LazyFunction(lambda: {"files": [], "only_tags": []})


# -- question sets (sampling.question_sets) -----------------------------------------


class QuestionSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QuestionSet

    study = factory.SubFactory(StudyFactory)
    name = factory.Sequence(lambda n: f"Set {n}")


class QuestionSetMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QuestionSetMember

    question_set = factory.SubFactory(QuestionSetFactory)
    post = factory.SubFactory(PostFactory, study=factory.SelfAttribute("..question_set.study"))


def questions_bulk(*, study, count: int, first_so_id: int = 1, tags: str = "|tensorflow|") -> list[Post]:
    """Many questions at once (factories make one row per INSERT)."""
    now = timezone.now()
    return Post.objects.bulk_create(
        Post(study=study, site="stackoverflow.com", so_id=first_so_id + i, post_type=PostType.QUESTION,
             title=f"Question {first_so_id + i}", body="<p>body</p>", tags=tags, creation_date=now, updated_at=now)
        for i in range(count)
    )


def evaluated_set(*, study, name: str, posts) -> QuestionSet:
    """A question set whose (last) evaluation found exactly these posts."""
    question_set = QuestionSet.objects.create(study=study, name=name, evaluated_at=timezone.now(),
                                              member_count=len(posts), tags=["tensorflow"])
    QuestionSetMember.objects.bulk_create(QuestionSetMember(question_set=question_set, post=p) for p in posts)
    return question_set


def labelling_draw(*, study, raters, pilot: int = 3, reliability: int = 6, per_item: int = 2,
                   status: str = "labelling", first_so_id: int = 900_000):
    """A drawn sample in one stratum, made directly (no job): ``pilot`` pilot items and
    ``reliability`` reliability items, each given to ``per_item`` of ``raters`` in turn.
    Returns the draw; its items and assignments are in the database."""
    from sampling.draws.models import Assignment, SampleDraw, SampleItem, SampleStratum
    from taxonomy.labelling.services import rater_tallies_make

    posts = questions_bulk(study=study, count=pilot + reliability, first_so_id=first_so_id)
    version = (SampleDraw.objects.filter(study=study).count()) + 1
    now = timezone.now()
    draw = SampleDraw.objects.create(
        study=study, version=version, status=status, seed=1, raters_per_item=per_item,
        rater_ids=[r.pk for r in raters], drawn_at=now, sample_size=len(posts), pilot_size=pilot,
        labelling_started_at=now if status == "labelling" else None,
    )
    stratum = SampleStratum.objects.create(draw=draw, position=0, name="Stratum", mode="census",
                                           set_size=len(posts), population=len(posts), n=len(posts),
                                           drawn=len(posts), pilot=pilot)
    items = SampleItem.objects.bulk_create(
        SampleItem(draw=draw, stratum=stratum, post=p, part="pilot" if i < pilot else "reliability")
        for i, p in enumerate(posts)
    )
    turn = 0
    assignments = []
    for item in items[pilot:]:
        for _ in range(min(per_item, len(raters))):
            assignments.append(Assignment(draw=draw, item=item, rater=raters[turn % len(raters)]))
            turn += 1
    Assignment.objects.bulk_create(assignments)
    if status == "labelling":  # as sample_draw_labelling_start leaves it
        rater_tallies_make(draw=draw)
    return draw


def assignment_mark_submitted(assignment, when) -> None:
    """Set an assignment's submitted_at as label_submit does (for tests that write labels
    directly); the rater's tally follows by the database's trigger."""
    from sampling.draws.models import Assignment

    Assignment.objects.filter(pk=assignment.pk, submitted_at__isnull=True).update(submitted_at=when)


# A corpus whose category is recoverable from the words (issue 20): each leaf has its own words,
# each root a few more; every post mixes its leaf's and root's words with words every post uses.
TOPIC_WORDS = {
    "Server": {"Docker serving": ["docker", "container", "image", "port", "compose", "volume"],
               "REST endpoint": ["endpoint", "request", "json", "flask", "response", "route"]},
    "Mobile": {"Android build": ["android", "gradle", "apk", "studio", "jni", "emulator"],
               "Quantization": ["quantization", "int8", "tflite", "converter", "calibration", "float16"]},
    "Browser": {"WebGL backend": ["webgl", "shader", "canvas", "gpu", "texture", "chrome"],
                "Model loading": ["fetch", "url", "cors", "weights", "manifest", "shards"]},
}
ROOT_WORDS = {"Server": ["server", "cloud", "deployment"], "Mobile": ["mobile", "phone", "device"],
              "Browser": ["browser", "javascript", "page"]}
COMMON_WORDS = ["model", "error", "tensorflow", "version", "trying", "help", "run", "python", "keras", "works"]


def topic_text(*, root: str, leaf: str, rng) -> tuple[str, str]:
    """A (title, body HTML) about ``leaf`` under ``root`` (``rng``: a random.Random)."""
    own = TOPIC_WORDS[root][leaf]
    title = " ".join(rng.sample(own, 2) + rng.sample(COMMON_WORDS, 2))
    words = rng.sample(own, 4) + rng.sample(ROOT_WORDS[root], 2) + rng.sample(COMMON_WORDS, 5)
    rng.shuffle(words)
    return title.capitalize(), f"<p>{' '.join(words)}.</p><pre><code>import tensorflow as tf</code></pre>"


def coded_study(*, study, decided_by, per_leaf: int = 4, pending: int = 0, seed: int = 1, raters=(),
                notes=()):
    """``study`` with the tree of TOPIC_WORDS, a draw in arbitration whose ``per_leaf`` posts per
    leaf carry a final label of their leaf, and ``pending`` more items without one (the topics in
    turn), which each of ``raters`` labelled Pending (the i-th with the i-th of ``notes``, if any):
    the Pending queue. Returns (draw, {leaf name: Category}, [items with a final label], [items
    without])."""
    import random

    from sampling.draws.models import Assignment, SampleDraw, SampleItem, SampleStratum
    from taxonomy.labelling.models import Label
    from taxonomy.review.arbitration.models import FinalLabel, FinalLabelCategory
    from taxonomy.tree.models import Category

    rng = random.Random(seed)
    leaves, topics = {}, []
    for r, (root_name, children) in enumerate(TOPIC_WORDS.items()):
        root = Category.objects.create(study=study, name=root_name, position=r)
        for c, leaf_name in enumerate(children):
            leaves[leaf_name] = Category.objects.create(study=study, name=leaf_name, parent=root, position=c)
            topics.append((root_name, leaf_name))
    plan = [t for t in topics for _ in range(per_leaf)] + [topics[i % len(topics)] for i in range(pending)]
    now = timezone.now()
    first = (Post.objects.filter(study=study).order_by("-so_id").values_list("so_id", flat=True).first() or 0) + 1
    posts = []
    for i, (root_name, leaf_name) in enumerate(plan):
        title, body = topic_text(root=root_name, leaf=leaf_name, rng=rng)
        posts.append(Post(study=study, site="stackoverflow.com", so_id=first + i, post_type=PostType.QUESTION,
                          title=title, body=body, tags="|tensorflow|", creation_date=now, updated_at=now))
    posts = Post.objects.bulk_create(posts)
    version = SampleDraw.objects.filter(study=study).count() + 1
    draw = SampleDraw.objects.create(study=study, version=version, status="labelling", seed=1, drawn_at=now,
                                     sample_size=len(posts), labelling_started_at=now, arbitration_started_at=now)
    stratum = SampleStratum.objects.create(draw=draw, position=0, name="Stratum", mode="census",
                                           set_size=len(posts), population=len(posts), n=len(posts),
                                           drawn=len(posts))
    items = SampleItem.objects.bulk_create(SampleItem(draw=draw, stratum=stratum, post=p, part="reliability")
                                           for p in posts)
    coded = items[:len(items) - pending]
    for item, (_, leaf_name) in zip(coded, plan, strict=False):
        final = FinalLabel.objects.create(item=item, kind="categories", method="arbitrated", decided_by=decided_by,
                                          decided_at=now, reason="generated")
        FinalLabelCategory.objects.create(final=final, category=leaves[leaf_name])
    waiting = items[len(items) - pending:]
    for i, item in enumerate(waiting):
        for rater in raters:
            assignment = Assignment.objects.create(draw=draw, item=item, rater=rater, submitted_at=now)
            Label.objects.create(assignment=assignment, kind="pending", submitted_at=now, updated_at=now,
                                 note=notes[i] if i < len(notes) else "")
    return draw, leaves, coded, waiting


def migration_apps(app_label: str, migration: str):
    """The models as they stood after ``migration`` (what its RunPython functions are given), so
    a test can run a data migration's function on today's tables after models have moved apps."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    return MigrationLoader(connection).project_state((app_label, migration)).apps


def job_run_to_end(job_id: int, *, timeout: float = 120) -> None:
    """Run a queued job here and return once it has ended, whoever ran it: in a test where the
    session's Celery worker is up (started by an earlier browser test), the worker may claim the
    job first, and ``job_run`` then returns at once."""
    import time

    from annotator.jobs.runner import job_run

    job_run(job_id=job_id)
    deadline = time.monotonic() + timeout
    while not Job.objects.get(pk=job_id).is_finished:
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not end within {timeout:.0f} s")
        time.sleep(0.2)
