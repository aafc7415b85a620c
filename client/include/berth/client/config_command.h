#pragma once

// berth config set|get|unset|show|edit|keys: a container's config keys (see the daemon's schema,
// System.ListConfigKeys). show and edit speak YAML (a flat map of key: value).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "berth/client/command_line.h"

namespace berth::client {

// When `args` (argv without the program name) is a `config` command, runs it against the daemon
// at the socket (--socket, BERTH_SOCKET, default) and returns berth's exit code (0, 2 for usage,
// or the error's, see exit_codes.h). Returns nullopt for every other command.
std::optional<int> RunConfigCommandLine(const std::vector<std::string>& args,
                                        const Environment& env);

// A config as YAML: a block map in key order; multi-line values (raw.lxc) as literal blocks.
// Empty config: "{}\n".
std::string ConfigToYaml(const std::map<std::string, std::string>& config);

// The config a user wrote in YAML: a map of scalar values (numbers and booleans are taken as
// written), or an empty document for "no keys". nullopt with `error` naming what is wrong (not
// YAML, not a map, a nested or null value).
std::optional<std::map<std::string, std::string>> ConfigFromYaml(const std::string& text,
                                                                 std::string* error);

// The text of an edit: on a terminal, `initial` in a temporary /tmp/berth-<kind>-*.yaml opened in
// the user's editor ($VISUAL, else $EDITOR, else vi); otherwise stdin. Empty (after saying why on
// stderr) when the file cannot be made or the editor fails.
std::optional<std::string> ReadEditedText(const std::string& kind, const std::string& initial);

// What to send to turn `before` into `after`: keys to set (new or changed) and keys to unset.
struct ConfigChange {
  std::map<std::string, std::string> set;
  std::vector<std::string> unset;
};
ConfigChange DiffConfig(const std::map<std::string, std::string>& before,
                        const std::map<std::string, std::string>& after);

}  // namespace berth::client
