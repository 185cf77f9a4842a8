// Schema semantics as a user of kubectl sees them: which fields survive a write, which defaults
// appear, and the exact 422 messages a real cluster would print.
#include "api/schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace skiff::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Json Yaml(const std::string& text) {
  auto j = ParseYaml(text);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? *j : Json();
}

// Wraps a `spec` schema into a whole-object schema.
Json SpecSchema(const std::string& spec_yaml) {
  Json s = Yaml(
      "type: object\nproperties:\n  apiVersion: {type: string}\n  kind: {type: string}\n"
      "  metadata: {type: object}\n");
  s["properties"]["spec"] = Yaml(spec_yaml);
  return s;
}

std::vector<std::string> Messages(const SchemaResult& r) {
  std::vector<std::string> out;
  for (const StatusCause& c : r.causes) out.push_back(c.field + ": " + c.message);
  return out;
}

struct Outcome {
  Json object;
  SchemaResult result;
};

Outcome Apply(const Json& schema, const std::string& spec_yaml,
              UnknownFields mode = UnknownFields::kWarn) {
  Outcome run;
  run.object = {{"apiVersion", "x.io/v1"}, {"kind", "X"}, {"metadata", {{"name", "a"}}}};
  run.object["spec"] = Yaml(spec_yaml);
  run.result = ApplySchema(schema, run.object, mode);
  return run;
}

// ---------------------------------------------------------------- pruning

TEST(Prune, DropsUnknownFieldsAndWarns) {
  Json schema = SpecSchema("type: object\nproperties:\n  a: {type: string}\n");
  Outcome run = Apply(schema, "{a: x, foo: 1}");
  EXPECT_EQ(run.object["spec"], Json({{"a", "x"}}));
  EXPECT_THAT(run.result.warnings, ElementsAre("unknown field \"spec.foo\""));
  EXPECT_THAT(run.result.unknown_fields, ElementsAre("spec.foo"));
  EXPECT_THAT(run.result.causes, IsEmpty());
}

TEST(Prune, IgnoreModeIsSilent) {
  Json schema = SpecSchema("type: object\nproperties:\n  a: {type: string}\n");
  Outcome run = Apply(schema, "{foo: 1}", UnknownFields::kPrune);
  EXPECT_EQ(run.object["spec"], Json::object());
  EXPECT_THAT(run.result.warnings, IsEmpty());
  EXPECT_THAT(run.result.causes, IsEmpty());
}

TEST(Prune, StrictModeMakesCauses) {
  Json schema = SpecSchema("type: object\nproperties:\n  a: {type: string}\n");
  Outcome run = Apply(schema, "{foo: 1, a: x}", UnknownFields::kStrict);
  ASSERT_EQ(run.result.causes.size(), 1u);
  EXPECT_EQ(run.result.causes[0].field, "spec.foo");
  EXPECT_EQ(run.result.causes[0].message, "unknown field \"spec.foo\"");
  EXPECT_EQ(run.result.causes[0].type, "FieldValueInvalid");
  EXPECT_THAT(run.result.warnings, IsEmpty());
}

TEST(Prune, TopLevelUnknownAndNestedInLists) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  items:\n    type: array\n    items:\n      type: object\n"
      "      properties: {name: {type: string}}\n");
  Outcome run = Apply(schema, "{items: [{name: a, extra: 1}]}");
  run.object["status"] = 1;  // not in the schema either
  SchemaResult r = ApplySchema(schema, run.object, UnknownFields::kWarn);
  EXPECT_EQ(run.object["spec"]["items"][0], Json({{"name", "a"}}));
  EXPECT_THAT(run.result.unknown_fields, ElementsAre("spec.items[0].extra"));
  EXPECT_THAT(r.unknown_fields, ElementsAre("status"));
  EXPECT_FALSE(run.object.contains("status"));
}

TEST(Prune, KeepsRootApiVersionKindMetadataEvenIfUndeclared) {
  Json schema = Yaml("type: object\nproperties: {spec: {type: object}}\n");
  Json object = {{"apiVersion", "x.io/v1"},
                 {"kind", "X"},
                 {"metadata", {{"name", "a"}, {"weird", 1}}},
                 {"spec", Json::object()}};
  SchemaResult r = ApplySchema(schema, object, UnknownFields::kStrict);
  EXPECT_THAT(r.causes, IsEmpty());
  EXPECT_EQ(object["metadata"]["weird"], 1);  // top-level metadata belongs to the caller
  EXPECT_EQ(object["kind"], "X");
}

TEST(Prune, PreserveUnknownFieldsKeepsButStillPrunesKnownProperties) {
  Json schema = SpecSchema(
      "type: object\nx-kubernetes-preserve-unknown-fields: true\nproperties:\n"
      "  known:\n    type: object\n    properties: {a: {type: string}}\n");
  Outcome run = Apply(schema, "{free: {x: 1}, known: {a: s, b: 2}}");
  EXPECT_EQ(run.object["spec"]["free"], Json({{"x", 1}}));
  EXPECT_EQ(run.object["spec"]["known"], Json({{"a", "s"}}));
  EXPECT_THAT(run.result.unknown_fields, ElementsAre("spec.known.b"));
}

TEST(Prune, AdditionalPropertiesSchemaAndTrue) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n"
      "  m:\n    type: object\n    additionalProperties:\n      type: object\n"
      "      properties: {v: {type: integer}}\n"
      "  any:\n    type: object\n    additionalProperties: true\n");
  Outcome run = Apply(schema, "{m: {k1: {v: 1, junk: 2}}, any: {k: {deep: true}}}");
  EXPECT_EQ(run.object["spec"]["m"], Json({{"k1", {{"v", 1}}}}));
  EXPECT_EQ(run.object["spec"]["any"], Json({{"k", {{"deep", true}}}}));
  EXPECT_THAT(run.result.unknown_fields, ElementsAre("spec.m.k1.junk"));
}

TEST(Prune, EmbeddedResourceKeepsTypeMetaAndPrunesMetadata) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  template:\n    type: object\n"
      "    x-kubernetes-embedded-resource: true\n    properties: {spec: {type: object, "
      "x-kubernetes-preserve-unknown-fields: true}}\n");
  Outcome run = Apply(schema,
                      "{template: {apiVersion: batch/v1, kind: Job, metadata: {name: j, bogus: 1}, "
                      "spec: {x: 1}, other: 2}}");
  const Json& t = run.object["spec"]["template"];
  EXPECT_EQ(t["apiVersion"], "batch/v1");
  EXPECT_EQ(t["kind"], "Job");
  EXPECT_EQ(t["metadata"], Json({{"name", "j"}}));
  EXPECT_FALSE(t.contains("other"));
  EXPECT_THAT(run.result.unknown_fields,
              ElementsAre("spec.template.metadata.bogus", "spec.template.other"));
}

TEST(Prune, NonNullableNullWithoutDefaultIsDropped) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  a: {type: string}\n  b: {type: string, nullable: true}\n");
  Outcome run = Apply(schema, "{a: null, b: null}");
  EXPECT_FALSE(run.object["spec"].contains("a"));
  EXPECT_TRUE(run.object["spec"]["b"].is_null());
  EXPECT_THAT(run.result.causes, IsEmpty());
}

// ---------------------------------------------------------------- defaulting

TEST(Defaults, AppliedWhereAbsentRecursively) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n"
      "  replicas: {type: integer, default: 1}\n"
      "  policy:\n    type: object\n    default: {}\n"
      "    properties: {clean: {type: string, default: Running}}\n"
      "  workers:\n    type: array\n    items:\n      type: object\n"
      "      properties: {port: {type: integer, default: 2222}}\n");
  Outcome run = Apply(schema, "{replicas: 3, workers: [{}, {port: 1}]}");
  EXPECT_EQ(run.object["spec"]["replicas"], 3);
  EXPECT_EQ(run.object["spec"]["policy"], Json({{"clean", "Running"}}));
  EXPECT_EQ(run.object["spec"]["workers"], Json::parse(R"([{"port":2222},{"port":1}])"));
  EXPECT_THAT(run.result.causes, IsEmpty());
}

TEST(Defaults, NullOfNonNullableTakesTheDefault) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  a: {type: string, default: d}\n"
      "  b: {type: string, nullable: true, default: d}\n");
  Outcome run = Apply(schema, "{a: null, b: null}");
  EXPECT_EQ(run.object["spec"]["a"], "d");
  EXPECT_TRUE(run.object["spec"]["b"].is_null());
}

TEST(Defaults, MapValuesAndApplyDefaultsAlone) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  m:\n    type: object\n    additionalProperties:\n"
      "      type: object\n      properties: {x: {type: integer, default: 7}}\n");
  Json object = {{"spec", {{"m", {{"k", Json::object()}}}}}};
  ApplyDefaults(schema, object);
  EXPECT_EQ(object["spec"]["m"]["k"]["x"], 7);
}

// ---------------------------------------------------------------- validation

TEST(Validate, TypeMessagesMatchKubernetes) {
  Json schema = SpecSchema("type: object\nproperties: {replicas: {type: integer}}\n");
  Outcome run = Apply(schema, "{replicas: abc}");
  ASSERT_EQ(run.result.causes.size(), 1u);
  EXPECT_EQ(run.result.causes[0].type, "FieldValueTypeInvalid");
  EXPECT_THAT(Messages(run.result),
              ElementsAre("spec.replicas: Invalid value: \"string\": spec.replicas in body must "
                          "be of type integer: \"string\""));
}

TEST(Validate, EveryType) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  o: {type: object}\n  a: {type: array, items: {type: string}}\n"
      "  s: {type: string}\n  i: {type: integer}\n  n: {type: number}\n  b: {type: boolean}\n");
  EXPECT_THAT(Apply(schema, "{o: {}, a: [], s: x, i: 1, n: 1.5, b: true}").result.causes,
              IsEmpty());
  EXPECT_THAT(Apply(schema, "{n: 2, i: 2.0}").result.causes, IsEmpty())
      << "integers are numbers; a whole float is an integer";
  Outcome bad = Apply(schema, "{o: 1, a: {}, s: 1, i: 1.5, n: x, b: 'true'}");
  EXPECT_THAT(Messages(bad.result),
              ElementsAre("spec.a: Invalid value: \"object\": spec.a in body must be of type "
                          "array: \"object\"",
                          "spec.b: Invalid value: \"string\": spec.b in body must be of type "
                          "boolean: \"string\"",
                          "spec.i: Invalid value: \"number\": spec.i in body must be of type "
                          "integer: \"number\"",
                          "spec.n: Invalid value: \"string\": spec.n in body must be of type "
                          "number: \"string\"",
                          "spec.o: Invalid value: \"integer\": spec.o in body must be of type "
                          "object: \"integer\"",
                          "spec.s: Invalid value: \"integer\": spec.s in body must be of type "
                          "string: \"integer\""));
}

TEST(Validate, NullableInArrays) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  a: {type: array, items: {type: string}}\n"
      "  b: {type: array, items: {type: string, nullable: true}}\n");
  Outcome run = Apply(schema, "{a: [x, null], b: [null]}");
  EXPECT_THAT(Messages(run.result),
              ElementsAre("spec.a[1]: Invalid value: \"null\": spec.a[1] in body must be of type "
                          "string: \"null\""));
}

TEST(Validate, Required) {
  Json schema =
      SpecSchema("type: object\nrequired: [image]\nproperties: {image: {type: string}}\n");
  Outcome run = Apply(schema, "{}");
  ASSERT_EQ(run.result.causes.size(), 1u);
  EXPECT_EQ(run.result.causes[0].type, "FieldValueRequired");
  EXPECT_THAT(Messages(run.result), ElementsAre("spec.image: Required value"));
  EXPECT_THAT(Apply(schema, "{image: x}").result.causes, IsEmpty());
}

TEST(Validate, Enum) {
  Json schema = SpecSchema(
      "type: object\nproperties: {policy: {type: string, enum: [Always, Never]}, "
      "n: {type: integer, enum: [1, 2]}}\n");
  Outcome run = Apply(schema, "{policy: Foo, n: 3}");
  EXPECT_THAT(Messages(run.result),
              ElementsAre("spec.n: Unsupported value: 3: supported values: \"1\", \"2\"",
                          "spec.policy: Unsupported value: \"Foo\": supported values: "
                          "\"Always\", \"Never\""));
  EXPECT_EQ(run.result.causes[0].type, "FieldValueNotSupported");
  EXPECT_THAT(Apply(schema, "{policy: Never, n: 2}").result.causes, IsEmpty());
}

TEST(Validate, Formats) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  t: {type: string, format: date-time}\n"
      "  i: {type: integer, format: int32}\n  b: {type: string, format: byte}\n"
      "  l: {type: integer, format: int64}\n");
  EXPECT_THAT(
      Apply(schema, "{t: '2024-01-02T03:04:05Z', i: 5, b: aGVsbG8=, l: 99999999999}").result.causes,
      IsEmpty());
  Outcome run = Apply(schema, "{t: yesterday, i: 3000000000, b: '***'}");
  EXPECT_THAT(Messages(run.result),
              ElementsAre("spec.b: Invalid value: \"***\": spec.b in body must be of type byte: "
                          "\"***\"",
                          "spec.i: Invalid value: 3000000000: spec.i in body must be of type "
                          "int32: 3000000000",
                          "spec.t: Invalid value: \"yesterday\": spec.t in body must be of type "
                          "date-time: \"yesterday\""));
}

TEST(Validate, Pattern) {
  Json schema =
      SpecSchema("type: object\nproperties: {name: {type: string, pattern: '^[a-z]+$'}}\n");
  EXPECT_THAT(Apply(schema, "{name: abc}").result.causes, IsEmpty());
  EXPECT_THAT(Messages(Apply(schema, "{name: Abc}").result),
              ElementsAre("spec.name: Invalid value: \"Abc\": spec.name in body should match "
                          "'^[a-z]+$'"));
}

TEST(Validate, NumericBounds) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  a: {type: integer, minimum: 1, maximum: 3}\n"
      "  b: {type: number, minimum: 0, exclusiveMinimum: true, maximum: 1, "
      "exclusiveMaximum: true}\n  c: {type: integer, multipleOf: 2}\n");
  EXPECT_THAT(Apply(schema, "{a: 1, b: 0.5, c: 4}").result.causes, IsEmpty());
  EXPECT_THAT(Apply(schema, "{a: 3}").result.causes, IsEmpty());
  EXPECT_THAT(Messages(Apply(schema, "{a: 0, b: 0, c: 3}").result),
              ElementsAre("spec.a: Invalid value: 0: spec.a in body should be greater than or "
                          "equal to 1",
                          "spec.b: Invalid value: 0: spec.b in body should be greater than 0",
                          "spec.c: Invalid value: 3: spec.c in body should be a multiple of 2"));
  EXPECT_THAT(Messages(Apply(schema, "{a: 4, b: 1}").result),
              ElementsAre("spec.a: Invalid value: 4: spec.a in body should be less than or "
                          "equal to 3",
                          "spec.b: Invalid value: 1: spec.b in body should be less than 1"));
}

TEST(Validate, StringLengths) {
  Json schema =
      SpecSchema("type: object\nproperties: {s: {type: string, minLength: 2, maxLength: 3}}\n");
  EXPECT_THAT(Apply(schema, "{s: ab}").result.causes, IsEmpty());
  EXPECT_THAT(Apply(schema, "{s: \"\u00e9\u00e9\u00e9\"}").result.causes, IsEmpty())
      << "lengths count characters, not bytes";
  Outcome long_run = Apply(schema, "{s: abcd}");
  ASSERT_EQ(long_run.result.causes.size(), 1u);
  EXPECT_EQ(long_run.result.causes[0].type, "FieldValueTooLong");
  EXPECT_THAT(Messages(long_run.result), ElementsAre("spec.s: Too long: may not be longer than 3"));
  EXPECT_THAT(Messages(Apply(schema, "{s: a}").result),
              ElementsAre("spec.s: Invalid value: \"a\": spec.s in body should be at least 2 "
                          "chars long"));
}

TEST(Validate, ItemCountsAndUniqueness) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  l: {type: array, minItems: 1, maxItems: 2, items: {type: "
      "integer}}\n  u: {type: array, uniqueItems: true, items: {type: integer}}\n");
  EXPECT_THAT(Apply(schema, "{l: [1, 2], u: [1, 2]}").result.causes, IsEmpty());
  Outcome run = Apply(schema, "{l: [1, 2, 3], u: [1, 1]}");
  EXPECT_THAT(Messages(run.result),
              ElementsAre("spec.l: Too many: 3: must have at most 2 items",
                          "spec.u: Invalid value: [1,1]: spec.u in body shouldn't contain "
                          "duplicates"));
  EXPECT_EQ(run.result.causes[0].type, "FieldValueTooMany");
  EXPECT_THAT(Messages(Apply(schema, "{l: []}").result),
              ElementsAre("spec.l: Invalid value: 0: spec.l in body should have at least 1 "
                          "items"));
}

TEST(Validate, PropertyCounts) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  m: {type: object, minProperties: 1, maxProperties: 1, "
      "additionalProperties: {type: string}}\n");
  EXPECT_THAT(Apply(schema, "{m: {a: x}}").result.causes, IsEmpty());
  EXPECT_THAT(Messages(Apply(schema, "{m: {a: x, b: y}}").result),
              ElementsAre("spec.m: Too many: 2: must have at most 1 item"));
  EXPECT_THAT(Messages(Apply(schema, "{m: {}}").result),
              ElementsAre("spec.m: Invalid value: 0: spec.m in body should have at least 1 "
                          "properties"));
}

TEST(Validate, IntOrString) {
  Json schema =
      SpecSchema("type: object\nproperties: {port: {x-kubernetes-int-or-string: true}}\n");
  EXPECT_THAT(Apply(schema, "{port: 80}").result.causes, IsEmpty());
  EXPECT_THAT(Apply(schema, "{port: http}").result.causes, IsEmpty());
  EXPECT_THAT(Messages(Apply(schema, "{port: true}").result),
              ElementsAre("spec.port: Invalid value: \"boolean\": spec.port in body must be of "
                          "type integer,string: \"boolean\""));
  EXPECT_THAT(Apply(schema, "{port: 1.5}").result.causes, ::testing::SizeIs(1));
}

TEST(Validate, Junctors) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n"
      "  one:\n    type: object\n    properties: {a: {type: string}, b: {type: string}}\n"
      "    oneOf: [{required: [a]}, {required: [b]}]\n"
      "  any:\n    type: integer\n    anyOf: [{minimum: 10}, {maximum: 0}]\n"
      "  all:\n    type: string\n    allOf: [{minLength: 2}, {pattern: '^x'}]\n"
      "  no:\n    type: string\n    not: {enum: [bad]}\n");
  EXPECT_THAT(Apply(schema, "{one: {a: x}, any: 11, all: xy, no: ok}").result.causes, IsEmpty());
  Outcome run = Apply(schema, "{one: {a: x, b: y}, any: 5, all: y, no: bad}");
  EXPECT_THAT(
      Messages(run.result),
      ElementsAre(
          "spec.all: Invalid value: \"y\": spec.all in body should be at least 2 chars long",
          "spec.all: Invalid value: \"y\": spec.all in body should match '^x'",
          "spec.any: Invalid value: 5: \"spec.any\" must validate at least one schema (anyOf)",
          "spec.no: Invalid value: \"bad\": \"spec.no\" must not validate the schema (not)",
          "spec.one: Invalid value: {\"a\":\"x\",\"b\":\"y\"}: \"spec.one\" must validate one "
          "and only one schema (oneOf). Found 2 valid alternatives"));
  EXPECT_THAT(Messages(Apply(schema, "{one: {}}").result),
              ElementsAre("spec.one: Invalid value: {}: \"spec.one\" must validate one and only "
                          "one schema (oneOf). Found none valid"));
}

TEST(Validate, ListTypeSetAndMap) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n"
      "  s: {type: array, x-kubernetes-list-type: set, items: {type: string}}\n"
      "  m:\n    type: array\n    x-kubernetes-list-type: map\n"
      "    x-kubernetes-list-map-keys: [name, port]\n"
      "    items:\n      type: object\n"
      "      properties: {name: {type: string}, port: {type: integer, default: 80}}\n");
  EXPECT_THAT(Apply(schema, "{s: [a, b], m: [{name: a}, {name: a, port: 81}]}").result.causes,
              IsEmpty());
  Outcome run = Apply(schema, "{s: [a, b, a], m: [{name: a}, {name: b}, {name: a, port: 80}]}");
  EXPECT_THAT(Messages(run.result),
              ElementsAre("spec.m[2]: Duplicate value: {\"name\":\"a\",\"port\":80}",
                          "spec.s[2]: Duplicate value: \"a\""));
  EXPECT_EQ(run.result.causes[0].type, "FieldValueDuplicate");
}

TEST(Validate, AdditionalPropertiesSchemaValidatesMapValues) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  limits: {type: object, additionalProperties: {type: "
      "string, pattern: '^[0-9]+$'}}\n");
  EXPECT_THAT(Messages(Apply(schema, "{limits: {cpu: '1', mem: x}}").result),
              ElementsAre("spec.limits.mem: Invalid value: \"x\": spec.limits.mem in body should "
                          "match '^[0-9]+$'"));
}

TEST(Validate, EmbeddedResourceNeedsKindAndApiVersion) {
  Json schema = SpecSchema(
      "type: object\nproperties:\n  t: {type: object, x-kubernetes-embedded-resource: true, "
      "x-kubernetes-preserve-unknown-fields: true}\n");
  EXPECT_THAT(Apply(schema, "{t: {apiVersion: v1, kind: Pod}}").result.causes, IsEmpty());
  EXPECT_THAT(Messages(Apply(schema, "{t: {spec: {}}}").result),
              ElementsAre("spec.t.apiVersion: Required value: must not be empty",
                          "spec.t.kind: Required value: must not be empty"));
}

TEST(Validate, TopLevelMetadataOnlyTypeChecked) {
  Json schema = Yaml(
      "type: object\nrequired: [metadata]\nproperties: {metadata: {type: object, properties: "
      "{name: {type: string, maxLength: 1}}}}\n");
  schema["properties"]["metadata"]["properties"]["namespace"] = {{"type", "string"},
                                                                 {"default", "default"}};
  Json object = {{"metadata", {{"name", "long-name"}}}};
  EXPECT_THAT(ApplySchema(schema, object, UnknownFields::kStrict).causes, IsEmpty());
  EXPECT_FALSE(object["metadata"].contains("namespace")) << "no defaulting inside metadata";
  object = {{"metadata", "x"}};
  SchemaResult r = ApplySchema(schema, object, UnknownFields::kStrict);
  ASSERT_EQ(r.causes.size(), 1u);
  EXPECT_EQ(r.causes[0].field, "metadata");
}

TEST(Validate, DefaultsAreValidatedAfterApplying) {
  // A default that breaks the schema is the schema's bug; it must surface, not be hidden.
  Json schema = SpecSchema("type: object\nproperties: {n: {type: integer, default: x}}\n");
  EXPECT_THAT(Apply(schema, "{}").result.causes, ::testing::SizeIs(1));
}

// ---------------------------------------------------------------- Status rendering

TEST(InvalidStatus, SingleCauseWithoutBrackets) {
  Status s = InvalidStatus("TFJob.kubeflow.org", "mnist",
                           {{"FieldValueRequired", "Required value", "spec.image"}});
  EXPECT_EQ(s.code(), Code::kInvalid);
  EXPECT_EQ(s.HttpCode(), 422);
  EXPECT_EQ(s.Reason(), "Invalid");
  EXPECT_EQ(s.message(), "TFJob.kubeflow.org \"mnist\" is invalid: spec.image: Required value");
  EXPECT_EQ(s.details_name(), "mnist");
  EXPECT_EQ(s.details_group(), "kubeflow.org");
  EXPECT_EQ(s.details_kind(), "TFJob");
  ASSERT_EQ(s.causes().size(), 1u);
  EXPECT_EQ(s.causes()[0].field, "spec.image");
}

TEST(InvalidStatus, ManyCausesInBracketsAndDeduplicated) {
  Status s = InvalidStatus("Pod", "p",
                           {{"FieldValueRequired", "Required value", "spec.a"},
                            {"FieldValueRequired", "Required value", "spec.b"},
                            {"FieldValueRequired", "Required value", "spec.a"}});
  EXPECT_EQ(s.message(), "Pod \"p\" is invalid: [spec.a: Required value, spec.b: Required value]");
  EXPECT_EQ(s.details_group(), "");
  EXPECT_EQ(s.details_kind(), "Pod");
  EXPECT_EQ(s.causes().size(), 2u);
}

TEST(StrictDecodingStatus, ReadsLikeKubernetes) {
  Status s = StrictDecodingStatus("TFJob", "v1", {"spec.foo", "spec.bar"});
  EXPECT_EQ(s.code(), Code::kBadRequest);
  EXPECT_EQ(s.message(),
            "TFJob in version \"v1\" cannot be handled as a TFJob: strict decoding error: "
            "unknown field \"spec.foo\", unknown field \"spec.bar\"");
}

// ---------------------------------------------------------------- CheckStructural

std::vector<std::string> Structural(const std::string& yaml) {
  std::vector<std::string> out;
  for (const StatusCause& c :
       CheckStructural(Yaml(yaml), "spec.versions[0].schema.openAPIV3Schema")) {
    out.push_back(c.field + ": " + c.message);
  }
  return out;
}

TEST(CheckStructural, AcceptsAStructuralSchema) {
  EXPECT_THAT(Structural("type: object\nproperties:\n  spec:\n    type: object\n"
                         "    x-kubernetes-preserve-unknown-fields: true\n"
                         "    properties:\n      port: {x-kubernetes-int-or-string: true}\n"
                         "      items: {type: array, items: {type: string}}\n"
                         "      m: {type: object, additionalProperties: {type: integer}}\n"
                         "    oneOf: [{required: [port]}, {required: [items]}]\n"),
              IsEmpty());
}

TEST(CheckStructural, MissingType) {
  EXPECT_THAT(Structural("type: object\nproperties: {spec: {properties: {a: {type: string}}}}\n"),
              ElementsAre("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: "
                          "Required value: must not be empty for specified fields"));
  EXPECT_THAT(Structural("type: object\nproperties: {l: {type: array, items: {}}}\n"),
              ElementsAre("spec.versions[0].schema.openAPIV3Schema.properties[l].items.type: "
                          "Required value: must not be empty for specified fields"));
}

TEST(CheckStructural, UnsupportedKeywords) {
  EXPECT_THAT(Structural("type: object\nproperties: {a: {$ref: '#/definitions/X'}}\n"),
              ::testing::Contains("spec.versions[0].schema.openAPIV3Schema.properties[a].$ref: "
                                  "Forbidden: $ref is not supported"));
  EXPECT_THAT(Structural("type: object\npatternProperties: {}\n"),
              ElementsAre("spec.versions[0].schema.openAPIV3Schema.patternProperties: "
                          "Forbidden: patternProperties is not supported"));
  EXPECT_THAT(
      Structural("type: object\nproperties: {l: {type: array, uniqueItems: true, items: {type: "
                 "string}}}\n"),
      ElementsAre("spec.versions[0].schema.openAPIV3Schema.properties[l].uniqueItems: Forbidden: "
                  "uniqueItems cannot be set to true since the runtime complexity becomes "
                  "quadratic"));
}

TEST(CheckStructural, RootMustBeObjectAndOtherRules) {
  EXPECT_THAT(Structural("type: string\n"),
              ElementsAre("spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "
                          "\"string\": must be object at the root"));
  EXPECT_THAT(Structural("type: object\nx-kubernetes-preserve-unknown-fields: false\n"),
              ElementsAre("spec.versions[0].schema.openAPIV3Schema.x-kubernetes-preserve-"
                          "unknown-fields: Invalid value: false: must be true or undefined"));
  EXPECT_THAT(Structural("type: object\nproperties: {a: {type: string}}\n"
                         "additionalProperties: {type: string}\n"),
              ElementsAre("spec.versions[0].schema.openAPIV3Schema.additionalProperties: "
                          "Forbidden: additionalProperties and properties are mutual exclusive"));
  EXPECT_THAT(Structural("type: object\nproperties: {a: {type: string}}\n"
                         "anyOf: [{type: object}]\n"),
              ElementsAre("spec.versions[0].schema.openAPIV3Schema.anyOf[0].type: Forbidden: "
                          "must be empty to be structural"));
  EXPECT_THAT(Structural("type: object\nproperties: {metadata: {type: object, properties: "
                         "{labels: {type: object}}}}\n"),
              ElementsAre("spec.versions[0].schema.openAPIV3Schema.properties[metadata]."
                          "properties[labels]: Forbidden: must not be specified"));
  EXPECT_THAT(Structural("type: object\nproperties: {a: {type: str}}\n"),
              ::testing::Contains(::testing::HasSubstr("properties[a].type: Unsupported value")));
}

// ---------------------------------------------------------------- $ref resolution

TEST(ResolveRefs, InlinesRecursivelyAndMergesSiblings) {
  Json defs = Yaml(
      "A: {type: object, description: a, properties: {b: {$ref: '#/definitions/B'}}}\n"
      "B: {type: string, description: b}\n");
  auto r = ResolveRefs(Yaml("type: object\nproperties:\n  x: {$ref: '#/definitions/A', "
                            "description: mine}\n  d: {type: object, default: {$ref: keep}}\n"),
                       defs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["properties"]["x"]["description"], "mine");
  EXPECT_EQ((*r)["properties"]["x"]["type"], "object");
  EXPECT_EQ((*r)["properties"]["x"]["properties"]["b"], Yaml("{type: string, description: b}"));
  EXPECT_EQ((*r)["properties"]["d"]["default"], Yaml("{$ref: keep}")) << "defaults are values";
}

TEST(ResolveRefs, FieldsNamedLikeKeywordsAreSchemas) {
  // A parameter's `default` field is a field, not the `default` keyword.
  Json defs = Yaml("V: {type: string}\n");
  auto r = ResolveRefs(Yaml("type: object\nproperties: {default: {$ref: '#/definitions/V'}, "
                            "enum: {$ref: '#/definitions/V'}}\n"),
                       defs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["properties"]["default"], Yaml("{type: string}"));
  EXPECT_EQ((*r)["properties"]["enum"], Yaml("{type: string}"));
}

TEST(ResolveRefs, CycleIsAnErrorNamingTheChain) {
  Json defs = Yaml(
      "A: {type: object, properties: {b: {$ref: '#/definitions/B'}}}\n"
      "B: {type: object, properties: {a: {$ref: '#/definitions/A'}}}\n");
  auto r = ResolveRefs(Yaml("{$ref: '#/definitions/A'}"), defs);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("$ref cycle: A -> B -> A"));
}

TEST(ResolveRefs, UnknownAndMalformedReferences) {
  auto unknown =
      ResolveRefs(Yaml("{properties: {x: {$ref: '#/definitions/Nope'}}}"), Json::object());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "properties.x.$ref: unknown definition \"Nope\"");
  auto bad = ResolveRefs(Yaml("{$ref: 'other.yaml#/X'}"), Json::object());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("#/definitions/<Name>"));
}

}  // namespace
}  // namespace skiff::api
