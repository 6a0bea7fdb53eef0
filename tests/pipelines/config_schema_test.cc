// The config schemas of the built-in pipelines (pipelines/schemas/<MODE>.json): each module carries its
// schema as the custom section "wasmq.config_schema"; the schema accepts the configs the pipeline tests run
// with and refuses what the C validation refuses for type and range; and every enum lists exactly the
// choices the C code accepts (read from the pipeline's own refusal, "must be one of …").
#include <regex>

#include "harness.h"

namespace wasmq::pipelines::testing {
namespace {

// The subset of JSON Schema 2020-12 the schemas use: type, enum, minimum, maximum, minLength, maxLength,
// required, properties, items, minItems, maxItems, oneOf, if/then/else ("format" is an annotation).
bool TypeIs(const Json& v, const std::string& type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "number") return v.is_number();
  if (type == "integer") return v.is_number_integer() || (v.is_number_float() && v.get<double>() == std::floor(v.get<double>()));
  if (type == "null") return v.is_null();
  return false;
}

bool Valid(const Json& s, const Json& v) {
  if (s.contains("type")) {
    bool any = false;
    if (s["type"].is_string()) any = TypeIs(v, s["type"]);
    else
      for (const Json& t : s["type"]) any = any || TypeIs(v, t);
    if (!any) return false;
  }
  if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) return false;
  if (v.is_number()) {
    if (s.contains("minimum") && v.get<double>() < s["minimum"].get<double>()) return false;
    if (s.contains("maximum") && v.get<double>() > s["maximum"].get<double>()) return false;
  }
  if (v.is_string()) {
    if (s.contains("minLength") && v.get<std::string>().size() < s["minLength"].get<size_t>()) return false;
    if (s.contains("maxLength") && v.get<std::string>().size() > s["maxLength"].get<size_t>()) return false;
  }
  if (v.is_object()) {
    for (const Json& r : s.value("required", Json::array()))
      if (!v.contains(r.get<std::string>())) return false;
    if (s.contains("properties"))
      for (auto it = v.begin(); it != v.end(); ++it)
        if (s["properties"].contains(it.key()) && !Valid(s["properties"][it.key()], *it)) return false;
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return false;
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return false;
    if (s.contains("items"))
      for (const Json& item : v)
        if (!Valid(s["items"], item)) return false;
  }
  if (s.contains("oneOf")) {
    int n = 0;
    for (const Json& alt : s["oneOf"]) n += Valid(alt, v);
    if (n != 1) return false;
  }
  if (s.contains("if")) {
    const char* branch = Valid(s["if"], v) ? "then" : "else";
    if (s.contains(branch) && !Valid(s[branch], v)) return false;
  }
  return true;
}

Json SchemaInModule(const std::string& mode) {
  for (const worker::BuiltinModule& m : BuiltinModules())
    if (m.mode == mode) {
      auto section = worker::CustomSection(
          std::span(reinterpret_cast<const uint8_t*>(m.bytes.data()), m.bytes.size()), worker::kConfigSchemaSection);
      if (!section) return nullptr;
      return Json::parse(*section, nullptr, false);
    }
  return nullptr;
}

class ConfigSchemaTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConfigSchemaTest, TheModuleCarriesItsSchemaFile) {
  Json in_module = SchemaInModule(GetParam());
  ASSERT_TRUE(in_module.is_object()) << GetParam() << " has no wasmq.config_schema section";
  std::ifstream f(std::string(WASMQ_PIPELINES_SOURCE_DIR) + "/schemas/" + GetParam() + ".json");
  EXPECT_EQ(in_module, Json::parse(f));
  EXPECT_EQ(in_module["type"], "object");
  EXPECT_EQ(in_module["$schema"], "https://json-schema.org/draft/2020-12/schema");
  EXPECT_FALSE(in_module.value("description", "").empty());
  // Every field that names an upload is marked so that a form offers the user's images.
  for (auto it = in_module["properties"].begin(); it != in_module["properties"].end(); ++it)
    if (it.key().ends_with("_image")) {
      EXPECT_EQ((*it)["format"], "wasmq-file-id") << it.key();
    }
}

INSTANTIATE_TEST_SUITE_P(Builtins, ConfigSchemaTest,
                         ::testing::Values("BACKGROUND_CHANGE", "HEAD_SWAP", "POSE_CHANGE"));

// The configs of background_change_test.cc, head_swap_test.cc, pose_change_test.cc and
// pose_change_generative_test.cc that the pipelines accept, and those they refuse for a type or a range.
TEST(ConfigSchema, AcceptsWhatThePipelineTestsRunWith) {
  const Json quad = {{0, 0}, {10, 0}, {10, 10}, {0, 10}};
  const std::vector<std::pair<std::string, Json>> accepted = {
      {"BACKGROUND_CHANGE", {{"background_color", "#0000ff"}, {"feather", 0}, {"matte", "estimate"}}},
      {"BACKGROUND_CHANGE", {{"background_gradient", {{"from", "black"}, {"to", "white"}, {"angle", 90}}}, {"feather", 0}}},
      {"BACKGROUND_CHANGE", {{"background_gradient", {{"from", "#000000"}, {"to", "#ffffff"}}}}},
      {"BACKGROUND_CHANGE", {{"background_image", "img_background"}, {"feather", 0}}},
      {"BACKGROUND_CHANGE", {{"mask_image", "img_mask"}, {"background_color", "black"}, {"feather", 0}}},
      {"BACKGROUND_CHANGE", {{"background_color", "blue"}, {"output_format", "jpeg"}, {"quality", 95}, {"feather", 0}}},
      {"BACKGROUND_CHANGE", {{"background_color", "blue"}, {"output_format", "jpg"}, {"quality", 5}}},
      {"BACKGROUND_CHANGE", {{"background_color", "teal"}, {"model", "isnet-1024"}, {"output_mask", true}}},
      {"BACKGROUND_CHANGE", {{"background_color", "blue"}, {"model", "no-such-model"}, {"matte", "model"}}},
      {"BACKGROUND_CHANGE", {{"background_color", "red"}, {"tolerance", 20}}},
      {"BACKGROUND_CHANGE", {{"engine", "remote"}}},
      {"HEAD_SWAP", {{"reference_image", "img_ref"}, {"face_engine", "face-detect"}}},
      {"HEAD_SWAP", {{"reference_image", "img_ref"}, {"face_index", 1}}},
      {"HEAD_SWAP", {{"reference_image", "img_ref"}, {"source_box", {0, 0, 8, 8}}}},
      {"HEAD_SWAP", {{"reference_image", "img_ref"}, {"reference_box", {{"x", 1}, {"y", 2}, {"w", 3}, {"h", 4}}}}},
      {"HEAD_SWAP", {{"reference_image", "img_ref"}, {"output_format", "png"}, {"feather", 1}, {"color_match", false}}},
      {"POSE_CHANGE", {{"rotate", 90}}},
      {"POSE_CHANGE", {{"rotate", -270}}},
      {"POSE_CHANGE", {{"flip", "both"}}},
      {"POSE_CHANGE", {{"source_keypoints", quad}, {"target_keypoints", quad}, {"fill", "white"}}},
      {"POSE_CHANGE", {{"source_keypoints", quad}, {"target_keypoints", quad}, {"fit", "affine"}}},
      {"POSE_CHANGE", {{"perspective", {{"source", quad}, {"target", quad}}}, {"fill", "#ff00ff"}}},
      {"POSE_CHANGE", {{"width", 64}, {"height", 40}, {"translate", {3, -2}}, {"fill", "rgb(1,2,3)"}}},
      {"POSE_CHANGE", {{"rotate", 17}, {"scale", 0.9}, {"flip", "horizontal"}}},
      {"POSE_CHANGE", {{"method", "generative"}, {"target_keypoints", {{"neck", {16, 8}}, {"nose", {16, 4}}}}, {"size", 64}}},
      {"POSE_CHANGE", {{"method", "generative"}, {"pose_image", "img_pose"}, {"size", 128}}},
  };
  for (const auto& [mode, config] : accepted)
    EXPECT_TRUE(Valid(SchemaInModule(mode), config)) << mode << " " << config.dump();
  const std::vector<std::pair<std::string, Json>> refused = {
      {"BACKGROUND_CHANGE", {{"background_color", "blue"}, {"output_format", "webp"}}},
      {"BACKGROUND_CHANGE", {{"background_color", "blue"}, {"quality", 0}}},
      {"BACKGROUND_CHANGE", {{"background_color", "red"}, {"feather", -1}}},
      {"BACKGROUND_CHANGE", {{"background_color", 12}}},
      {"BACKGROUND_CHANGE", {{"background_gradient", {{"from", "red"}}}}},
      {"BACKGROUND_CHANGE", {{"background_color", "red"}, {"tolerance", "high"}}},
      {"BACKGROUND_CHANGE", {{"background_color", "red"}, {"model", 3}}},
      {"BACKGROUND_CHANGE", {{"background_color", "red"}, {"model", ""}}},
      {"BACKGROUND_CHANGE", {{"background_color", "red"}, {"matte", "magic"}}},
      {"BACKGROUND_CHANGE", {{"background_color", "red"}, {"output_mask", "yes"}}},
      {"BACKGROUND_CHANGE", {{"background_color", "red"}, {"background_image", "img_x"}}},  // two backgrounds
      {"BACKGROUND_CHANGE", {{"feather", 2}}},                                               // none
      {"HEAD_SWAP", {{"source_box", {0, 0, 8, 8}}}},  // no reference_image
      {"HEAD_SWAP", {{"reference_image", "img_ref"}, {"face_index", 50}}},
      {"HEAD_SWAP", {{"reference_image", "img_ref"}, {"box_expand", 0.5}}},
      {"POSE_CHANGE", {{"method", "magic"}, {"rotate", 90}}},
      {"POSE_CHANGE", {{"scale", 0}}},
      {"POSE_CHANGE", {{"width", 0}}},
      {"POSE_CHANGE", {{"method", "generative"}, {"size", 4096}}},
  };
  for (const auto& [mode, config] : refused)
    EXPECT_FALSE(Valid(SchemaInModule(mode), config)) << mode << " " << config.dump();
}

// The choices a pipeline lists when it refuses `config` (its INVALID_CONFIG message "… must be one of a,
// b, c (not …)").
std::vector<std::string> ChoicesTheCodeAccepts(const std::string& mode, const Json& config) {
  PipelineRun run(mode);
  run.InputPng("source", Image(16, 16, {10, 20, 30}));
  Outcome r = run.Native(config);
  EXPECT_EQ(r.code, "INVALID_CONFIG") << r.message;
  std::smatch m;
  static const std::regex kList("must be one of (.*) \\(not ");
  if (!std::regex_search(r.message, m, kList)) {
    ADD_FAILURE() << mode << ": no list of choices in \"" << r.message << "\"";
    return {};
  }
  std::vector<std::string> out;
  std::string list = m[1];
  for (size_t start = 0;;) {
    size_t comma = list.find(", ", start);
    out.push_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
  return out;
}

TEST(ConfigSchema, EnumsAreTheChoicesTheCodeAccepts) {
  const Json quad = {{0, 0}, {10, 0}, {10, 10}, {0, 10}};
  const std::vector<std::tuple<std::string, std::string, Json>> cases = {
      {"BACKGROUND_CHANGE", "output_format", {{"background_color", "red"}}},
      {"BACKGROUND_CHANGE", "matte", {{"background_color", "red"}}},
      {"HEAD_SWAP", "output_format", {{"reference_image", "img_ref"}}},
      {"POSE_CHANGE", "output_format", {{"rotate", 90}}},
      {"POSE_CHANGE", "method", {{"rotate", 90}}},
      {"POSE_CHANGE", "fit", {{"source_keypoints", quad}, {"target_keypoints", quad}}},
      {"POSE_CHANGE", "flip", Json::object()},
  };
  for (const auto& [mode, key, base] : cases) {
    Json schema = SchemaInModule(mode);
    Json config = base;
    config[key] = "not-a-choice";
    std::vector<std::string> in_schema = schema["properties"][key]["enum"].get<std::vector<std::string>>();
    EXPECT_EQ(in_schema, ChoicesTheCodeAccepts(mode, config)) << mode << "." << key;
    EXPECT_EQ(schema["properties"][key]["default"], in_schema.front()) << mode << "." << key;
  }
}

}  // namespace
}  // namespace wasmq::pipelines::testing
