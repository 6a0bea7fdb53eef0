// File: tests/wasm/gen/diff_harness.h
//
// Differential execution: one module run in two tiers of the engine (the interpreter, the reference, and
// the compiler, the candidate), each in a fresh Store with the same fuel, the same calls in the same order,
// then compared: every call's results bit for bit (NaNs by class when asked), trap against trap (kind
// and message), and after every call the state a caller can see through the exports (each memory's size
// and a hash of its bytes, each global, each table's size and entries).
//
//   diff::Differ differ(diff::Options{});
//   auto calls = diff::PlanCalls(bytes, &entropy, 1);   // every exported function, arguments from entropy
//   diff::Report r = differ.Run(bytes, calls);
//   if (r.mismatch) ...                                  // what differed, with both sides
//
// Imports are satisfied by stubs (functions returning zeros, fresh tables/memories/globals), the same in
// both tiers, so modules of the spec suite run too.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gen/wasm_gen.h"
#include "wasm/wasm.h"

namespace wasmq::wasm::diff {

struct Call {
  std::string name;  // an exported function
  std::vector<Value> args;
};

// What one tier did in one call.
struct CallOutcome {
  bool ok = false;
  Error error;                 // when !ok
  std::vector<Value> results;  // when ok
  std::vector<std::string> state;  // one line per exported memory/global/table, after the call
};

struct Options {
  EngineConfig limits{.max_memory_bytes = 16 << 20, .max_table_elements = 100'000, .max_call_depth = 2'000,
                      .value_stack_slots = 1 << 16};
  CompileMode reference = CompileMode::kNever;
  CompileMode candidate = CompileMode::kAlways;
  uint64_t fuel = 10'000'000;  // per call (and for instantiation)
  // Compare NaN results bit for bit (right for modules generated with canonicalize_nans). Otherwise any
  // two NaNs are equal: the spec leaves a NaN result's sign and payload open.
  bool exact_nans = true;
  // A test hook run in each tier after each call (index into the calls), before the state is read; it
  // may change the outcome or the instance: proof that a difference is reported.
  std::function<void(bool candidate, size_t call, Instance& instance, CallOutcome& outcome)> tamper;
};

struct Report {
  bool compiled = false;      // the module compiled in the reference tier (else nothing was run)
  bool instantiated = false;  // and instantiated
  size_t calls_compared = 0;
  // The reference ran out of fuel or stack: what follows may depend on where each tier counts them,
  // so the remaining calls were not compared.
  bool stopped_early = false;
  std::optional<std::string> mismatch;  // the first difference, both sides described
};

// One call per exported function in export order, `rounds` times, arguments from `in` (numeric edge
// cases or random bits; references null). Empty when the module does not compile.
std::vector<Call> PlanCalls(std::span<const uint8_t> wasm, gen::Entropy* in, int rounds = 1);

class Differ {
 public:
  explicit Differ(Options options);
  Report Run(std::span<const uint8_t> wasm, const std::vector<Call>& calls) const;
  const Options& options() const { return options_; }

 private:
  struct TierRun;
  TierRun RunTier(const Engine& engine, std::span<const uint8_t> wasm, const std::vector<Call>& calls,
                  bool candidate) const;
  std::string Describe(const Value& v) const;

  Options options_;
  Engine reference_, candidate_;
};

}  // namespace wasmq::wasm::diff
