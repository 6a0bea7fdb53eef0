// File: src/config/flags.cc
#include "config/flags.h"

#include <algorithm>

namespace wasmq::config {

void AddSettingFlags(CLI::App* cmd, LoadInput* input, std::initializer_list<std::string_view> keys) {
  for (const Setting& s : Settings()) {
    if (keys.size() && std::find(keys.begin(), keys.end(), s.key) == keys.end()) continue;
    std::string help = std::string(s.help) + " [" + std::string(s.env);
    if (!s.fallback.empty()) help += ", default " + std::string(s.fallback);
    help += "]";
    std::string key(s.key);
    cmd->add_option_function<std::string>(
           "--" + key, [input, key](const std::string& v) { input->flags[key] = v; }, help)
        ->type_name("VALUE");
  }
  cmd->add_option("--env-file", input->dotenv_path, "read settings from this .env file [default .env]")
      ->type_name("PATH");
}

}  // namespace wasmq::config
