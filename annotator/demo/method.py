"""The demo study's method so far: question sets, a drawn sample and a starter taxonomy.

So that `make run` opens on a study where every step can be tried at once:
the sets are evaluated, the sample is drawn (census of each small stratum,
30 % pilot, every reliability item to both raters) and labelling has started.
"""

from __future__ import annotations

from django.db import transaction

from annotator.jobs.runner import job_run
from sampling.question_sets.models import QuestionSet
from sampling.question_sets.services import QuestionSetRule, question_set_evaluate, question_set_save
from sampling.draws.design import DrawDesign, StratumChoice
from sampling.draws.models import DrawStatus, SampleDraw, StratumMode
from sampling.draws.services import sample_draw_labelling_start, sample_draw_start
from taxonomy.tree.models import Category
from taxonomy.tree.services import category_add

DL_TAGS = ["tensorflow", "keras", "pytorch", "tensorflow-serving", "tensorflow-lite", "tensorflow.js", "coreml",
           "onnx", "torchserve"]
SETS = [
    QuestionSetRule(name="B", description="Deep-learning questions", tags=DL_TAGS),
    QuestionSetRule(name="C", description="Server/Cloud deployment", within=["B"],
                    words=["server", "serving", "cloud", "docker", "flask", "api", "gunicorn", "torchserve"]),
    QuestionSetRule(name="D", description="Mobile deployment", within=["B"],
                    words=["mobile", "android", "ios", "tflite", "apk", "core ml", "coreml", "kotlin"]),
    QuestionSetRule(name="E", description="Browser deployment", within=["B"],
                    words=["browser", "tensorflow.js", "tfjs", "webgl", "javascript"]),
]
# root → inner → leaves
TAXONOMY = {
    "Server/Cloud": {"Model Export": ["Model quantization", "Signature mismatch"],
                     "Environment": ["GPU memory", "Container size"]},
    "Mobile": {"Model Conversion": ["Unsupported operator", "Quantized model accuracy"],
               "Inference": ["Delegate failure", "App size"]},
    "Browser": {"Model Loading": ["Unknown layer", "Cross-origin loading"],
                "Performance": ["WebGL memory"]},
}


def demo_method_setup(*, study, owner, stdout=None) -> None:
    """Idempotent: each part is made only when the study has none of it yet."""
    say = stdout.write if stdout else (lambda _msg: None)
    if not QuestionSet.objects.filter(study=study).exists():
        for rule in SETS:
            question_set_save(study=study, rule=rule, user=owner)
        for name in ("C", "D", "E"):
            question_set_evaluate(question_set=QuestionSet.objects.get(study=study, name=name))
        say("Question sets B, C (server/cloud), D (mobile), E (browser) evaluated.")
    if not SampleDraw.objects.filter(study=study).exists():
        strata = tuple(StratumChoice(question_set_id=QuestionSet.objects.get(study=study, name=name).pk,
                                     mode=StratumMode.CENSUS) for name in ("C", "D", "E"))
        draw = sample_draw_start(study=study, design=DrawDesign(strata=strata, seed=2020), user=owner)
        job_run(job_id=draw.job_id)  # the worker would; running it here makes the demo ready at once
        draw.refresh_from_db()
        if draw.status == DrawStatus.READY:
            with transaction.atomic():
                sample_draw_labelling_start(draw=draw, user=owner)
            say(f"Draw v{draw.version}: {draw.sample_size} posts, {draw.pilot_size} in the pilot; labelling started.")
        else:
            say(f"The demo draw did not finish: {draw.error}")
    if not Category.objects.filter(study=study).exists():
        with transaction.atomic():
            for root_name, inner in TAXONOMY.items():
                root = category_add(study=study, name=root_name, actor=owner)
                for inner_name, leaves in inner.items():
                    node = category_add(study=study, name=inner_name, actor=owner, parent=root)
                    for leaf in leaves:
                        category_add(study=study, name=leaf, actor=owner, parent=node)
        say("Starter taxonomy: Server/Cloud, Mobile and Browser with a few categories each.")
