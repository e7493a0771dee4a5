"""REST API of the results: the taxonomy's final counts (JSON) and the taxonomy CSV.

Every member reads, through the blindness rule; ``draw`` and ``stratum`` narrow the scope."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.studies.access import StudyApiMixin, study_access
from annotator.api_utils import QueryParams, StrictInput, query_params
from annotator.csv_output import csv_response
from annotator.jobs.apis import JobOutput

from . import codebook, figure, saturation, selectors, services
from .report import methods_report, methods_report_download
from .taxonomy_csv import PATH_SEPARATOR, TAXONOMY_COLUMNS, taxonomy_csv_filename, taxonomy_csv_rows

SCOPE_PARAMETERS = [
    OpenApiParameter("draw", int, description="one drawn version (default: every draw in labelling)"),
    OpenApiParameter("stratum", str, description="one stratum, by name"),
]


class NodeOutput(serializers.Serializer):
    class Meta:
        ref_name = "ResultsNode"

    id = serializers.IntegerField()
    parent_id = serializers.IntegerField(allow_null=True)
    level = serializers.CharField(help_text="root, inner or leaf")
    depth = serializers.IntegerField()
    path = serializers.SerializerMethodField()
    name = serializers.CharField()
    status = serializers.CharField()
    posts = serializers.IntegerField(help_text="posts with a final label in it or below it")
    root_posts = serializers.IntegerField(help_text="posts counted in its root")
    percent_of_root = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True, coerce_to_string=False)

    def get_path(self, node) -> str:
        return node.path(PATH_SEPARATOR)


class ResultsOutput(serializers.Serializer):
    class Meta:
        ref_name = "Results"

    scope = serializers.CharField(source="scope.description")
    draws = serializers.SerializerMethodField()
    stratum = serializers.CharField(source="scope.stratum_name", allow_null=True)
    items = serializers.IntegerField(source="counts.items", help_text="sampled posts in the scope")
    decided = serializers.IntegerField(source="counts.decided")
    undecided = serializers.IntegerField(source="counts.undecided", help_text="items without a final label yet")
    pending = serializers.IntegerField(source="counts.pending", help_text="of those, waiting in the Pending queue")
    false_positive = serializers.IntegerField(source="counts.false_positive")
    unclear = serializers.IntegerField(source="counts.unclear")
    covered = serializers.IntegerField(source="counts.covered", help_text="posts with at least one category")
    multi_category = serializers.IntegerField(source="counts.multi_category",
                                              help_text="posts with two categories or more")
    nodes = NodeOutput(source="counts.nodes", many=True)

    def get_draws(self, results) -> list[int]:
        return [d.version for d in results.scope.draws]


def _results(request, slug):
    access = study_access(request, slug)
    arguments = selectors.results_scope_arguments(request.query_params)
    return selectors.results_get(study=access.study, user=request.user, **arguments)


class ResultsApi(APIView):
    @extend_schema(parameters=SCOPE_PARAMETERS, responses=ResultsOutput)
    def get(self, request, slug):
        """The taxonomy with each category's posts and percentage of its root, from final labels."""
        return Response(ResultsOutput(_results(request, slug)).data)


class CsvQuery(QueryParams):
    """``?excel=`` of a CSV download, checked (``csv_response`` reads it)."""

    excel = serializers.BooleanField(default=False, help_text="UTF-8 with a BOM")


class TaxonomyCsvApi(APIView):
    @extend_schema(parameters=[*SCOPE_PARAMETERS, CsvQuery], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, slug):
        """The taxonomy CSV (the same file as the page's download and ``manage.py export_taxonomy``)."""
        query_params(CsvQuery, request)
        results = _results(request, slug)
        return csv_response(request, header=TAXONOMY_COLUMNS, rows=taxonomy_csv_rows(results=results),
                            filename=taxonomy_csv_filename(results=results))


class ExportStartApi(StudyApiMixin, APIView):
    class InputSerializer(StrictInput):
        class Meta:
            ref_name = "ExportStartInput"

        kind = serializers.ChoiceField(choices=sorted(services.EXPORTS))
        draw = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        stratum = serializers.CharField(required=False, allow_blank=True, max_length=100)
        excel = serializers.BooleanField(default=False, help_text="CSV with a UTF-8 byte-order mark")

    @extend_schema(request=InputSerializer, responses={202: JobOutput})
    def post(self, request, slug):
        """Start an export in the background (items_csv, archive, package); poll ``/api/jobs/{id}/``,
        then fetch ``/api/studies/{slug}/results/exports/{id}/file``."""
        access = self.get_study_access()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        job = services.export_start(study=access.study, user=request.user, kind=values["kind"],
                                    draw_version=values.get("draw"), stratum_name=values.get("stratum") or None,
                                    excel=values["excel"])
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class ExportFileApi(StudyApiMixin, APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, slug, job_id):
        """The finished export's file (for the member who asked for it)."""
        access = self.get_study_access()
        job, path, export = services.export_file_get(study=access.study, user=request.user, job_id=job_id)
        return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name, content_type=export.content_type)


class ResultsReportApi(StudyApiMixin, APIView):
    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT})
    def get(self, request, slug):
        """The methods report (the page's numbers): corpus, funnels, sampling design per draw, agreement,
        final labels by outcome and method, taxonomy size; each with ``url``s to its source page."""
        access = self.get_study_access()
        return Response(methods_report(study=access.study, user=request.user).as_dict())


class ResultsReportMarkdownApi(StudyApiMixin, APIView):
    @extend_schema(responses={(200, "text/markdown"): OpenApiTypes.STR})
    def get(self, request, slug):
        """The methods report as Markdown with booktabs LaTeX tables (the page's download)."""
        access = self.get_study_access()
        report = methods_report(study=access.study, user=request.user)
        return methods_report_download(report=report, base_url=request.build_absolute_uri("/"))


# -- the taxonomy figure, the saturation curve and the codebook ----------------------------


class FileNegotiation(BaseContentNegotiation):
    """For endpoints that answer with a file: the file's type comes from the path (or
    ``?format=``, read by the view), never from content negotiation; errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class CodebookApi(StudyApiMixin, APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(responses={(200, codebook.CONTENT_TYPE): OpenApiTypes.STR})
    def get(self, request, slug):
        """The tree the caller sees, with definitions, as a REFI-QDA codebook (.qdc); 400 when the tree is empty."""
        access = self.get_study_access()
        content = codebook.codebook_qdc(study=access.study, user=request.user)
        return figure.download_response(content, content_type=codebook.CONTENT_TYPE,
                                        filename=codebook.codebook_filename(study=access.study))


FORMAT_PARAMETER = OpenApiParameter("format", str, enum=list(figure.FIGURE_FORMATS),
                                    description="svg (default), pdf or png; the path's suffix wins")


class TaxonomyFigureApi(APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(parameters=[*SCOPE_PARAMETERS, FORMAT_PARAMETER],
                   responses={(200, media): OpenApiTypes.BINARY for media in figure.FIGURE_FORMATS.values()})
    def get(self, request, slug, fmt=None):
        """The taxonomy figure: a column per root, each category with its percentage of its root."""
        fmt = figure.figure_format(fmt or request.query_params.get("format"))
        results = _results(request, slug)
        return figure.download_response(figure.taxonomy_figure(results=results, fmt=fmt),
                                        content_type=figure.FIGURE_FORMATS[fmt],
                                        filename=figure.taxonomy_figure_filename(results=results, fmt=fmt))


def _saturation(request, slug):
    access = study_access(request, slug)
    return saturation.saturation_curve(study=access.study, user=request.user,
                                       **selectors.results_scope_arguments(request.query_params))


class SaturationApi(APIView):
    @extend_schema(parameters=SCOPE_PARAMETERS, responses={(200, "application/json"): OpenApiTypes.OBJECT})
    def get(self, request, slug):
        """The saturation curve: distinct leaf categories of the final labels as coding proceeds
        (pilot first), ``last_new_index`` where the last new one appeared, and every point."""
        return Response(_saturation(request, slug).as_dict())


class SaturationCsvApi(APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(parameters=[*SCOPE_PARAMETERS, CsvQuery], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, slug):
        """The saturation curve's data: one row per decided item in coding order."""
        query_params(CsvQuery, request)
        curve = _saturation(request, slug)
        return csv_response(request, header=saturation.SATURATION_COLUMNS, rows=saturation.saturation_rows(curve),
                            filename=saturation.saturation_csv_filename(study=curve.scope.study))


class SaturationFigureApi(APIView):
    content_negotiation_class = FileNegotiation

    @extend_schema(parameters=SCOPE_PARAMETERS,
                   responses={(200, figure.FIGURE_FORMATS[fmt]): OpenApiTypes.BINARY
                              for fmt in saturation.SATURATION_FORMATS})
    def get(self, request, slug, fmt):
        """The saturation curve as a figure (svg, png, pdf)."""
        fmt = figure.figure_format(fmt, formats=saturation.SATURATION_FORMATS)
        curve = _saturation(request, slug)
        return figure.download_response(saturation.saturation_figure(curve, fmt=fmt),
                                        content_type=figure.FIGURE_FORMATS[fmt],
                                        filename=saturation.saturation_figure_filename(study=curve.scope.study,
                                                                                       fmt=fmt))
