// File: src/api/openapi.cc
//
// The OpenAPI document is written by hand in openapi.json (next to this file) and compiled in. The test
// tests/api/openapi_test.cc checks it against the route table, both ways.
#include "api/handlers.h"

namespace wasmq::api {

const std::vector<EmbeddedFile>& OpenApiFiles();  // generated from openapi.json

std::string_view OpenApiDocument() { return OpenApiFiles().front().data; }

}  // namespace wasmq::api
