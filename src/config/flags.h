// File: src/config/flags.h
//
// The settings table as command-line flags: every setting (or a chosen few) becomes `--KEY VALUE` on a
// CLI11 command, with its environment variable and default in the help text, so `wasmq serve --help` lists
// the whole configuration in one place.
#pragma once

#include <CLI/CLI.hpp>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "config/config.h"

namespace wasmq::config {

// Adds the flags to `cmd` (every setting when `keys` is empty, else those keys) plus --env-file. After
// parsing, *input holds the flags that were given and the .env path.
void AddSettingFlags(CLI::App* cmd, LoadInput* input, std::initializer_list<std::string_view> keys = {});

}  // namespace wasmq::config
