// File: src/json/json.h
//
// The json part's public header: reading JSON that comes from outside the process — request bodies, what a
// pipeline writes on stdout, engine replies, registry manifests, configuration files — without letting its
// shape hurt the reader.
//
// nlohmann's parser is iterative, but much of what is done with the value afterwards is not: copying,
// comparing and serialising recurse once per level, so a body of 70 000 '[' parses and then overflows the
// stack of whoever dumps or copies it. The text is therefore checked before it is parsed: more than
// kMaxDepth levels of arrays and objects is refused, whatever else the text holds. The check is a single
// pass over the bytes with no recursion and no allocation.
//
// This lives in its own small library, below queue, oci and engines (none of which depends on another),
// rather than in queue/json.*: the oci and engines parts do not link the queue (SQLite, hiredis), and should
// not have to in order to read a manifest or an engine's reply safely.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace wasmq::json {

// Deeper than this is refused. wasmq's own documents nest fewer than 10 levels; 64 leaves room for a
// product's task config while keeping every recursive walk of the value far from the stack's end.
inline constexpr int kMaxDepth = 64;

// The byte offset at which `text` opens its (max_depth + 1)th nested array or object, or nullopt when it
// never nests that deep. Strings (with their escapes) are skipped, so brackets inside them do not count.
// For text that is not JSON the answer is still safe: whatever prefix a JSON parser accepts is scanned
// exactly as the parser reads it.
std::optional<size_t> TooDeepAt(std::string_view text, int max_depth = kMaxDepth);

// Parses `text`. On any failure — a syntax error, a number out of range, nesting over max_depth — returns
// a discarded value (is_discarded()), as nlohmann::json::parse(text, nullptr, false) does, and puts the
// reason in *error when given ("invalid JSON at byte N: …"). Never throws.
nlohmann::json Parse(std::string_view text, std::string* error = nullptr, int max_depth = kMaxDepth);

// Whether `value` (built in memory, or parsed without this header) nests arrays and objects deeper than
// max_depth; a scalar is depth 0, [] is 1. Without recursion.
bool DeeperThan(const nlohmann::json& value, int max_depth = kMaxDepth);

// The length of value.dump() (compact, no indentation), counted without serialising and without recursion,
// stopping as soon as it passes `limit` (then some value > limit is returned). For checking a size limit
// on a value that came from outside.
size_t DumpedSize(const nlohmann::json& value, size_t limit);

// A short preview of `value` for an error message: a scalar as JSON (strings cut to a few dozen bytes),
// "an array of N" or "an object of N members" for containers, which are never serialised.
std::string Brief(const nlohmann::json& value);

}  // namespace wasmq::json
