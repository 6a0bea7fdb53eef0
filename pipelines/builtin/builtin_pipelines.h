// The built-in pipelines compiled into the binary: pipelines/*.c built for wasm32-wasi at build time and
// embedded by pipelines/embed.cmake, which generates the definition. Empty when the build had no wasm32-wasi
// clang. The worker part does not link them: the binary (src/cli) and the tests hand them to
// worker::PipelineRegistry::AddBuiltins, so src/ depends on nothing built from outside it.
#ifndef WASMQ_PIPELINES_BUILTIN_PIPELINES_H_
#define WASMQ_PIPELINES_BUILTIN_PIPELINES_H_

#include <vector>

#include "worker/registry.h"

namespace wasmq::pipelines {

const std::vector<worker::BuiltinModule>& BuiltinModules();

}  // namespace wasmq::pipelines

#endif  // WASMQ_PIPELINES_BUILTIN_PIPELINES_H_
