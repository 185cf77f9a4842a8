"""`python3 -m kfp.dsl.executor_main --component_module_path M --executor_input JSON
--function_to_execute F`: runs one lightweight component the way KFP's executor does — inputs
from the executor input, outputs to the files and URIs it names."""
import argparse
import importlib.util
import inspect
import json
import os
import sys
import typing

from kfp import dsl


def _artifact(cls, spec):
    title = (spec.get("type") or {}).get("schemaTitle", "")
    cls = dsl.ARTIFACT_TYPES.get(title, cls if isinstance(cls, type) else dsl.Artifact)
    return cls(name=spec.get("name", ""), uri=spec.get("uri", ""), metadata=spec.get("metadata"))


def _classify(annotation):
    """('param' | 'input' | 'output' | 'input_path' | 'output_path' | 'final_status', inner)."""
    if isinstance(annotation, dsl.InputPath):
        return "input_path", annotation.type
    if isinstance(annotation, dsl.OutputPath):
        return "output_path", annotation.type
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *marks = typing.get_args(annotation)
        if dsl._OUTPUT in marks:
            return "output", inner
        if dsl._INPUT in marks:
            return "input", inner
    if annotation is dsl.PipelineTaskFinalStatus:
        return "final_status", None
    if isinstance(annotation, type) and issubclass(annotation, dsl.Artifact):
        return "input", annotation
    return "param", annotation


def _convert(value, annotation):
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _write_parameter(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(value if isinstance(value, str) else json.dumps(value))


def main(argv=None):
    p = argparse.ArgumentParser(prog="kfp.dsl.executor_main")
    p.add_argument("--component_module_path", required=True)
    p.add_argument("--executor_input", required=True)
    p.add_argument("--function_to_execute", required=True)
    args, _ = p.parse_known_args(argv)

    spec = importlib.util.spec_from_file_location("ephemeral_component", args.component_module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ephemeral_component"] = module
    spec.loader.exec_module(module)
    func = getattr(module, args.function_to_execute)
    func = getattr(func, "python_func", func)

    ei = json.loads(args.executor_input)
    inputs = ei.get("inputs", {})
    params = inputs.get("parameterValues", {})
    in_arts = inputs.get("artifacts", {})
    outputs = ei.get("outputs", {})
    out_params = outputs.get("parameters", {})
    out_arts = outputs.get("artifacts", {})

    if "Output" in out_arts and out_arts["Output"].get("artifacts"):
        dsl._output_uri = out_arts["Output"]["artifacts"][0].get("uri", "")
    hints = typing.get_type_hints(func, include_extras=True)
    kwargs, produced = {}, {}
    for name, param in inspect.signature(func).parameters.items():
        kind, inner = _classify(hints.get(name, param.annotation))
        if kind == "param":
            if name in params:
                kwargs[name] = _convert(params[name], inner)
        elif kind == "final_status":
            s = params.get(name) or {}
            err = s.get("error") or {}
            kwargs[name] = dsl.PipelineTaskFinalStatus(
                state=s.get("state", ""),
                pipeline_job_resource_name=s.get("pipelineJobResourceName", ""),
                pipeline_task_name=s.get("pipelineTaskName", ""),
                error_code=err.get("code"), error_message=err.get("message"))
        elif kind in ("input", "input_path"):
            if name in in_arts:
                items = [_artifact(inner, a) for a in in_arts[name].get("artifacts", [])]
                if kind == "input_path":
                    kwargs[name] = items[0].path if items else None
                elif typing.get_origin(inner) in (list, typing.List):
                    kwargs[name] = items
                else:
                    kwargs[name] = items[0] if items else None
            elif name in params:  # InputPath of a parameter: hand it over in a file
                path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "kfp-input-" + name)
                _write_parameter(path, params[name])
                kwargs[name] = path
        elif kind == "output":
            art = _artifact(inner, out_arts[name]["artifacts"][0])
            os.makedirs(os.path.dirname(art.path), exist_ok=True)
            produced[name] = art
            kwargs[name] = art
        elif kind == "output_path":
            if name in out_params:
                path = out_params[name]["outputFile"]
            else:
                art = _artifact(None, out_arts[name]["artifacts"][0])
                produced[name] = art
                path = art.path
            os.makedirs(os.path.dirname(path), exist_ok=True)
            kwargs[name] = path

    result = func(**kwargs)

    returned = {}
    if result is not None:
        if hasattr(result, "_fields"):  # NamedTuple
            returned = dict(zip(result._fields, result))
        else:
            returned = {"Output": result}
    executor_output = {}
    for name, value in returned.items():
        if name in out_params:
            _write_parameter(out_params[name]["outputFile"], value)
        elif name in out_arts and isinstance(value, dsl.Artifact):
            produced[name] = value
        elif name in out_arts:  # a returned value stored as the artifact's content
            art = _artifact(None, out_arts[name]["artifacts"][0])
            _write_parameter(art.path, value)
            produced[name] = art
    if produced:
        executor_output["artifacts"] = {
            name: {"artifacts": [{"name": a.name, "uri": a.uri, "metadata": a.metadata}]}
            for name, a in produced.items()
        }
    out_file = outputs.get("outputFile")
    if out_file:
        os.makedirs(os.path.dirname(out_file), exist_ok=True)
        with open(out_file, "w") as f:
            json.dump(executor_output, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
