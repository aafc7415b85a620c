#pragma once

// berth profile create|list|show|get|set|unset|edit|delete|assign|device, and
// berth config device add|list|remove (a container's own devices): the Profiles service.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "berth/client/command_line.h"

namespace berth::client {

// When `args` (argv without the program name) is a `profile` command, runs it against the daemon
// and returns berth's exit code; nullopt for every other command.
std::optional<int> RunProfileCommandLine(const std::vector<std::string>& args,
                                         const Environment& env);

// `berth config device VERB NAME ...`: `positional` holds VERB and what follows it.
int RunContainerDeviceCommand(const std::string& socket, bool debug,
                              const std::vector<std::string>& positional);

// `berth config show NAME --expanded`: the merged config as YAML, each key from a profile
// followed by a comment naming it, then its devices as comments. `keys` gets the keys shown.
int ShowExpandedConfig(const std::string& socket, bool debug, const std::string& name,
                       std::set<std::string>* keys);

// A device from the command line: TYPE then KEY=VALUE options. nullopt with `error` set when an
// option is not KEY=VALUE or a key is given twice.
struct DeviceArgs {
  std::string type;
  std::map<std::string, std::string> options;
};
std::optional<DeviceArgs> ParseDeviceArgs(const std::vector<std::string>& words,
                                          std::string* error);

}  // namespace berth::client
