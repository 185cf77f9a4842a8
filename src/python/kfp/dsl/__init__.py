"""The `kfp.dsl` names a component's module uses at run time: input/output annotations and the
artifact classes. Authoring (pipelines, compiling) is done with the real KFP SDK elsewhere."""
import os
import typing

_INPUT = "skiff.kfp.input"
_OUTPUT = "skiff.kfp.output"


class Input:
    """`Input[Dataset]`: an input artifact."""

    def __class_getitem__(cls, item):
        return typing.Annotated[item, _INPUT]


class Output:
    """`Output[Model]`: an output artifact the function writes to `.path`."""

    def __class_getitem__(cls, item):
        return typing.Annotated[item, _OUTPUT]


class InputPath:
    """`InputPath('Dataset')`: the local path of an input artifact (or parameter file)."""

    def __init__(self, type=None):
        self.type = type


class OutputPath:
    """`OutputPath(str)` / `OutputPath('Model')`: where the function writes an output."""

    def __init__(self, type=None):
        self.type = type


def _local_path(uri):
    if uri.startswith("file://"):
        return uri[len("file://"):]
    for scheme, prefix in (("gs://", "/gcs/"), ("s3://", "/s3/"), ("minio://", "/minio/")):
        if uri.startswith(scheme):
            buckets = os.environ.get("SKIFF_BUCKETS")
            if buckets:
                return os.path.join(buckets, scheme[:-3], uri[len(scheme):])
            return prefix + uri[len(scheme):]
    return uri


class Artifact:
    schema_title = "system.Artifact"
    schema_version = "0.0.1"

    def __init__(self, name="", uri="", metadata=None):
        self.name = name
        self.uri = uri
        self.metadata = dict(metadata or {})

    @property
    def path(self):
        return _local_path(self.uri)

    @path.setter
    def path(self, value):
        self.uri = "file://" + value

    def __repr__(self):
        return "%s(name=%r, uri=%r, metadata=%r)" % (type(self).__name__, self.name, self.uri,
                                                     self.metadata)


class Dataset(Artifact):
    schema_title = "system.Dataset"


class Model(Artifact):
    schema_title = "system.Model"

    @property
    def framework(self):
        return self.metadata.get("framework", "")

    @framework.setter
    def framework(self, value):
        self.metadata["framework"] = value


class Metrics(Artifact):
    schema_title = "system.Metrics"

    def log_metric(self, metric, value):
        self.metadata[metric] = value


class ClassificationMetrics(Artifact):
    schema_title = "system.ClassificationMetrics"

    def log_roc_data_point(self, fpr, tpr, threshold):
        points = self.metadata.setdefault("confidenceMetrics", [])
        points.append({"confidenceThreshold": threshold, "recall": tpr,
                       "falsePositiveRate": fpr})

    def log_roc_curve(self, fpr, tpr, threshold):
        for f, t, th in zip(fpr, tpr, threshold):
            self.log_roc_data_point(f, t, th)

    def set_confusion_matrix_categories(self, categories):
        self._categories = list(categories)
        self._matrix = [[0] * len(categories) for _ in categories]
        self._publish()

    def log_confusion_matrix_row(self, row_category, row):
        self._matrix[self._categories.index(row_category)] = list(row)
        self._publish()

    def log_confusion_matrix_cell(self, row_category, col_category, value):
        self._matrix[self._categories.index(row_category)][
            self._categories.index(col_category)] = value
        self._publish()

    def log_confusion_matrix(self, categories, matrix):
        self._categories = list(categories)
        self._matrix = [list(r) for r in matrix]
        self._publish()

    def _publish(self):
        self.metadata["confusionMatrix"] = {
            "annotationSpecs": [{"displayName": c} for c in self._categories],
            "rows": [{"row": r} for r in self._matrix],
        }


class SlicedClassificationMetrics(Artifact):
    schema_title = "system.SlicedClassificationMetrics"


class HTML(Artifact):
    schema_title = "system.HTML"


class Markdown(Artifact):
    schema_title = "system.Markdown"


class PipelineTaskFinalStatus:
    """The final status of a task, given to exit-handler components."""

    def __init__(self, state="", pipeline_job_resource_name="", pipeline_task_name="",
                 error_code=None, error_message=None):
        self.state = state
        self.pipeline_job_resource_name = pipeline_job_resource_name
        self.pipeline_task_name = pipeline_task_name
        self.error_code = error_code
        self.error_message = error_message


# Set by the executor: the URI of the task's "Output" artifact, for get_uri().
_output_uri = ""


def get_uri(suffix=""):
    """A URI under this task's outputs for an artifact the function returns (pythonic artifacts):
    the `Output` artifact's URI, or `suffix` beside it."""
    if not suffix:
        return _output_uri
    return _output_uri.rsplit("/", 1)[0] + "/" + suffix


# Names used only when authoring; importable so `from kfp.dsl import *` and decorators work.
def component(func=None, **_kwargs):
    if func is None:
        return lambda f: f
    return func


container_component = component
pipeline = component
notebook_component = component

ARTIFACT_TYPES = {c.schema_title: c for c in (Artifact, Dataset, Model, Metrics,
                                              ClassificationMetrics, SlicedClassificationMetrics,
                                              HTML, Markdown)}

__all__ = ["Input", "Output", "InputPath", "OutputPath", "Artifact", "Dataset", "Model",
           "Metrics", "ClassificationMetrics", "SlicedClassificationMetrics", "HTML", "Markdown",
           "PipelineTaskFinalStatus", "get_uri", "component", "container_component", "pipeline",
           "notebook_component"]
