"""A question's answers are read through the answers index, whatever the corpus holds: on a
corpus of questions alone, SQLite's statistics of an index over every post said all posts
share one parent, and its planner read the whole table for each item shown (the index now
holds answers only: corpus 0005)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.corpus.models import Post
from annotator.corpus.selectors import post_thread
from tests.factories import AnswerFactory, PostFactory, StudyFactory

pytestmark = pytest.mark.django_db


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return " | ".join(row[-1] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = off")  # a small table: ask whether the index can serve it
        cursor.execute(f"EXPLAIN {sql}", params)
        return " | ".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("with_answers", [False, True], ids=["questions alone", "with answers"])
def test_answers_are_read_through_the_answers_index(with_answers):
    study = StudyFactory()
    questions = PostFactory.create_batch(200, study=study)
    if with_answers:
        for question in questions[:20]:
            AnswerFactory(question=question)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the statistics a long-lived installation has
    with CaptureQueriesContext(connection) as queries:
        thread = post_thread(post=questions[-1])
    assert thread.answers == []
    answers_query = next(q["sql"] for q in queries.captured_queries
                         if '"parent_so_id" =' in q["sql"] and "corpus_post" in q["sql"])
    # The captured SQL has its values written in; read again with the same filter as parameters.
    sql, params = (Post.objects.filter(study_id=study.pk, site=questions[-1].site, parent_so_id=questions[-1].so_id,
                                       post_type=2).query.sql_with_params())
    assert "parent_so_id" in answers_query
    plan = _plan(sql, params)
    assert "post_study_site_parent" in plan, plan
