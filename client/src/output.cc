#include "berth/client/output.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace berth::client {
namespace {

using Json = nlohmann::ordered_json;
using StringMap = google::protobuf::Map<std::string, std::string>;

// A proto map's entries sorted by key: proto maps have no stable order.
std::vector<std::pair<std::string, std::string>> Sorted(const StringMap& map) {
  std::vector<std::pair<std::string, std::string>> entries(map.begin(), map.end());
  std::sort(entries.begin(), entries.end());
  return entries;
}

std::vector<std::string> KeyValueStrings(const StringMap& map) {
  std::vector<std::string> out;
  for (const auto& [key, value] : Sorted(map)) out.push_back(absl::StrCat(key, "=", value));
  return out;
}

absl::Time ToAbslTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

bool IsUnset(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() == 0 && timestamp.nanos() == 0;
}

// ---- json / yaml -------------------------------------------------------------------------------

Json MapToJson(const StringMap& map) {
  Json out = Json::object();
  for (const auto& [key, value] : Sorted(map)) out[key] = value;
  return out;
}

Json StringsToJson(const google::protobuf::RepeatedPtrField<std::string>& values) {
  Json out = Json::array();
  for (const std::string& value : values) out.push_back(value);
  return out;
}

Json SourceToJson(const v1::ContainerSource& source) {
  Json out = Json::object();
  if (source.has_image()) out["image"] = {{"image", source.image().image()}};
  if (source.has_template_()) {
    out["template"] = {{"name", source.template_().name()},
                       {"args", StringsToJson(source.template_().args())}};
  }
  return out;
}

Json StatusToJson(const v1::ContainerStatus& status) {
  return {{"state", StateName(status.state())},
          {"init_pid", status.init_pid()},
          {"ipv4_addresses", StringsToJson(status.ipv4_addresses())},
          {"ipv6_addresses", StringsToJson(status.ipv6_addresses())},
          {"memory_usage_bytes", status.memory_usage_bytes()},
          {"memory_peak_bytes", status.memory_peak_bytes()},
          {"memory_limit_bytes", status.memory_limit_bytes()},
          {"cpu_usage_nanoseconds", status.cpu_usage_nanoseconds()},
          {"processes", status.processes()}};
}

// {name: {"type": T, KEY: VALUE...}}, as `berth config device add` takes them.
Json DevicesToJson(const google::protobuf::Map<std::string, v1::Device>& devices) {
  Json out = Json::object();
  for (const auto& [name, device] : devices) {
    Json d = MapToJson(device.options());
    d["type"] = device.type();
    out[name] = std::move(d);
  }
  return out;
}

// "data (disk path=/data source=/srv)" per device, ordered by name.
std::vector<std::string> DeviceStrings(
    const google::protobuf::Map<std::string, v1::Device>& devices) {
  std::map<std::string, const v1::Device*> sorted;
  for (const auto& [name, device] : devices) sorted[name] = &device;
  std::vector<std::string> out;
  for (const auto& [name, device] : sorted) {
    std::map<std::string, std::string> options(device->options().begin(),
                                               device->options().end());
    std::string text = absl::StrCat(name, " (", device->type());
    for (const auto& [key, value] : options) absl::StrAppend(&text, " ", key, "=", value);
    out.push_back(absl::StrCat(text, ")"));
  }
  return out;
}

Json ContainerToJson(const v1::Container& container) {
  Json out = {{"name", container.name()},
              {"source", SourceToJson(container.source())},
              {"config", MapToJson(container.config())},
              {"labels", MapToJson(container.labels())},
              {"profiles", StringsToJson(container.profiles())},
              {"devices", DevicesToJson(container.devices())},
              {"revision", container.revision()},
              {"created_at", FormatRfc3339(container.created_at())},
              {"updated_at", FormatRfc3339(container.updated_at())}};
  out["status"] = StatusToJson(container.status());
  return out;
}

Json VersionToJson(const VersionReport& report) {
  Json out = {{"client_version", report.client_version}};
  if (report.daemon.has_value()) {
    out["daemon_version"] = report.daemon->daemon_version();
    out["api_version"] = report.daemon->api_version();
    out["liblxc_version"] = report.daemon->liblxc_version();
    out["grpc_version"] = report.daemon->grpc_version();
  }
  return out;
}

Json HostToJson(const v1::HostInfo& host) {
  return {{"hostname", host.hostname()},
          {"kernel_release", host.kernel_release()},
          {"cpus", host.cpus()},
          {"memory_total_bytes", host.memory_total_bytes()},
          {"cgroup_layout", host.cgroup_layout()},
          {"state_dir", host.state_dir()},
          {"lxc_path", host.lxc_path()},
          {"containers_total", host.containers_total()},
          {"containers_running", host.containers_running()},
          {"containers_frozen", host.containers_frozen()},
          {"containers_stopped", host.containers_stopped()},
          {"daemon_uptime_seconds", host.daemon_uptime_seconds()}};
}

std::string DumpJson(const Json& json) {
  // Replace, not throw, on invalid UTF-8 (the daemon should never send any).
  return json.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

// True if a YAML 1.1 or 1.2 reader could take `value` for something other than a string (a
// number, bool, null, ...), so it must be quoted to stay a string.
bool NeedsYamlQuotes(const std::string& value) {
  if (value.empty()) return true;
  static constexpr std::array<std::string_view, 15> kSpecial = {
      "null", "~", "true", "false", "yes",   "no",   "on", "off",
      "y",    "n", ".inf", "-.inf", "+.inf", ".nan", "<<"};
  const std::string lower = absl::AsciiStrToLower(value);
  if (std::find(kSpecial.begin(), kSpecial.end(), lower) != kSpecial.end()) return true;
  const char first = value.front();
  return absl::ascii_isdigit(static_cast<unsigned char>(first)) || first == '-' || first == '+' ||
         first == '.';
}

void EmitYamlString(YAML::Emitter& out, const std::string& value) {
  if (NeedsYamlQuotes(value)) out << YAML::DoubleQuoted;
  out << value;
}

void EmitYaml(YAML::Emitter& out, const Json& json) {
  switch (json.type()) {
    case Json::value_t::object:
      // Empty maps and lists in flow style ("{}", "[]") so they stay on their key's line.
      if (json.empty()) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& [key, value] : json.items()) {
        out << YAML::Key;
        EmitYamlString(out, key);
        out << YAML::Value;
        EmitYaml(out, value);
      }
      out << YAML::EndMap;
      break;
    case Json::value_t::array:
      if (json.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const Json& value : json) EmitYaml(out, value);
      out << YAML::EndSeq;
      break;
    case Json::value_t::string:
      EmitYamlString(out, json.get<std::string>());
      break;
    case Json::value_t::boolean:
      out << json.get<bool>();
      break;
    case Json::value_t::number_integer:
      out << json.get<int64_t>();
      break;
    case Json::value_t::number_unsigned:
      out << json.get<uint64_t>();
      break;
    case Json::value_t::number_float:
      out << json.get<double>();
      break;
    default:
      out << YAML::Null;
      break;
  }
}

std::string DumpYaml(const Json& json) {
  YAML::Emitter out;
  EmitYaml(out, json);
  return std::string(out.c_str()) + "\n";
}

// ---- csv ---------------------------------------------------------------------------------------

std::string CsvRow(const std::vector<std::string>& fields) {
  std::vector<std::string> quoted;
  quoted.reserve(fields.size());
  for (const std::string& field : fields) quoted.push_back(CsvField(field));
  return absl::StrCat(absl::StrJoin(quoted, ","), "\n");
}

const std::vector<std::string>& ContainerCsvHeader() {
  static const auto* const kHeader = new std::vector<std::string>{"name",
                                                                  "state",
                                                                  "init_pid",
                                                                  "ipv4_addresses",
                                                                  "ipv6_addresses",
                                                                  "memory_usage_bytes",
                                                                  "cpu_usage_nanoseconds",
                                                                  "template",
                                                                  "template_args",
                                                                  "labels",
                                                                  "config",
                                                                  "revision",
                                                                  "created_at",
                                                                  "updated_at"};
  return *kHeader;
}

std::vector<std::string> ContainerCsvFields(const v1::Container& c) {
  const v1::ContainerStatus& s = c.status();
  return {c.name(),
          StateName(s.state()),
          absl::StrCat(s.init_pid()),
          absl::StrJoin(s.ipv4_addresses(), ";"),
          absl::StrJoin(s.ipv6_addresses(), ";"),
          absl::StrCat(s.memory_usage_bytes()),
          absl::StrCat(s.cpu_usage_nanoseconds()),
          c.source().template_().name(),
          absl::StrJoin(c.source().template_().args(), ";"),
          absl::StrJoin(KeyValueStrings(c.labels()), ";"),
          absl::StrJoin(KeyValueStrings(c.config()), ";"),
          absl::StrCat(c.revision()),
          FormatRfc3339(c.created_at()),
          FormatRfc3339(c.updated_at())};
}

// Header row and one data row from a flat JSON object of scalars.
std::string FlatJsonToCsv(const Json& json) {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (const auto& [key, value] : json.items()) {
    keys.push_back(key);
    values.push_back(value.is_string() ? value.get<std::string>() : value.dump());
  }
  return CsvRow(keys) + CsvRow(values);
}

// ---- table -------------------------------------------------------------------------------------

std::string Dash(std::string value) { return value.empty() ? "-" : value; }

// Columns left-aligned, two spaces apart, no trailing spaces.
std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

// "Key:  value" lines with the values aligned; a key with several values gets one line each, the
// later ones indented to the value column; a key with none shows "-".
class KeyValueTable {
 public:
  KeyValueTable& Add(std::string key, std::string value) {
    return Add(std::move(key), std::vector<std::string>{std::move(value)});
  }
  KeyValueTable& Add(std::string key, std::vector<std::string> values) {
    rows_.emplace_back(std::move(key), std::move(values));
    return *this;
  }
  std::string Render() const {
    size_t width = 0;
    for (const auto& [key, values] : rows_) width = std::max(width, key.size() + 1);
    std::string out;
    for (const auto& [key, values] : rows_) {
      const std::string label = absl::StrCat(key, ":");
      const std::string pad(width + 2 - label.size(), ' ');
      const std::string indent(width + 2, ' ');
      if (values.empty() || (values.size() == 1 && values[0].empty())) {
        absl::StrAppend(&out, label, pad, "-\n");
        continue;
      }
      for (size_t i = 0; i < values.size(); ++i) {
        absl::StrAppend(&out, i == 0 ? label + pad : indent, values[i], "\n");
      }
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::vector<std::string>>> rows_;
};

std::vector<std::string> ToVector(const google::protobuf::RepeatedPtrField<std::string>& values) {
  return {values.begin(), values.end()};
}

std::string SourceText(const v1::ContainerSource& source) {
  if (source.has_image()) return absl::StrCat("image ", source.image().image());
  if (!source.has_template_()) return "";
  std::string text = absl::StrCat("template ", source.template_().name());
  if (!source.template_().args().empty()) {
    absl::StrAppend(&text, " (args: ", absl::StrJoin(source.template_().args(), " "), ")");
  }
  return text;
}

std::string PidText(int32_t pid) { return pid == 0 ? "-" : absl::StrCat(pid); }

}  // namespace

std::string StateName(v1::State state) {
  if (!v1::State_IsValid(state)) return "UNKNOWN";
  std::string name = v1::State_Name(state);
  constexpr std::string_view kPrefix = "STATE_";
  if (name.rfind(kPrefix, 0) == 0) name.erase(0, kPrefix.size());
  return name;
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  static constexpr std::array<const char*, 6> kUnits = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  // Round first, so 1023.96 KiB shows as "1.0 MiB", not "1024.0 KiB".
  while (value >= 1024.0 - 0.05 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string FormatCpuTime(uint64_t nanoseconds) {
  const uint64_t centis = (nanoseconds + 5'000'000) / 10'000'000;
  if (centis < 6000) return absl::StrFormat("%d.%02ds", centis / 100, centis % 100);
  return FormatUptime(centis / 100);
}

std::string FormatUptime(uint64_t seconds) {
  const uint64_t days = seconds / 86400;
  const uint64_t hours = seconds / 3600 % 24;
  const uint64_t minutes = seconds / 60 % 60;
  const uint64_t secs = seconds % 60;
  if (days > 0) return absl::StrFormat("%dd%02dh%02dm", days, hours, minutes);
  if (hours > 0) return absl::StrFormat("%dh%02dm%02ds", hours, minutes, secs);
  if (minutes > 0) return absl::StrFormat("%dm%02ds", minutes, secs);
  return absl::StrFormat("%ds", secs);
}

std::string FormatLocalTime(const google::protobuf::Timestamp& timestamp,
                            const absl::TimeZone& zone) {
  if (IsUnset(timestamp)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", ToAbslTime(timestamp), zone);
}

std::string FormatRfc3339(const google::protobuf::Timestamp& timestamp) {
  if (IsUnset(timestamp)) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", ToAbslTime(timestamp), absl::UTCTimeZone());
}

std::string CsvField(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string FormatContainerList(const google::protobuf::RepeatedPtrField<v1::Container>& containers,
                                OutputFormat format, const absl::TimeZone& zone) {
  switch (format) {
    case OutputFormat::kJson:
    case OutputFormat::kYaml: {
      Json list = Json::array();
      for (const v1::Container& container : containers) list.push_back(ContainerToJson(container));
      return format == OutputFormat::kJson ? DumpJson(list) : DumpYaml(list);
    }
    case OutputFormat::kCsv: {
      std::string out = CsvRow(ContainerCsvHeader());
      for (const v1::Container& container : containers) {
        absl::StrAppend(&out, CsvRow(ContainerCsvFields(container)));
      }
      return out;
    }
    case OutputFormat::kTable:
      break;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "STATE", "PID", "MEMORY", "IPV4", "CREATED"}};
  for (const v1::Container& c : containers) {
    const uint64_t memory = c.status().memory_usage_bytes();
    rows.push_back({c.name(), StateName(c.status().state()), PidText(c.status().init_pid()),
                    memory == 0 ? "-" : FormatBytes(memory),
                    Dash(absl::StrJoin(c.status().ipv4_addresses(), ",")),
                    FormatLocalTime(c.created_at(), zone)});
  }
  return Columns(rows);
}

// "12.0 MiB (peak 20.1 MiB, limit 256.0 MiB)"; empty when nothing is known.
std::string MemoryText(const v1::ContainerStatus& s) {
  if (s.memory_usage_bytes() == 0) return "";
  std::vector<std::string> extra;
  if (s.memory_peak_bytes() != 0) extra.push_back("peak " + FormatBytes(s.memory_peak_bytes()));
  if (s.memory_limit_bytes() != 0) {
    extra.push_back("limit " + FormatBytes(s.memory_limit_bytes()));
  }
  std::string text = FormatBytes(s.memory_usage_bytes());
  if (!extra.empty()) absl::StrAppend(&text, " (", absl::StrJoin(extra, ", "), ")");
  return text;
}

std::string FormatContainerInfo(const v1::Container& c, OutputFormat format,
                                const absl::TimeZone& zone) {
  switch (format) {
    case OutputFormat::kJson:
      return DumpJson(ContainerToJson(c));
    case OutputFormat::kYaml:
      return DumpYaml(ContainerToJson(c));
    case OutputFormat::kCsv:
      return CsvRow(ContainerCsvHeader()) + CsvRow(ContainerCsvFields(c));
    case OutputFormat::kTable:
      break;
  }
  const v1::ContainerStatus& s = c.status();
  return KeyValueTable()
      .Add("Name", c.name())
      .Add("State", StateName(s.state()))
      .Add("PID", PidText(s.init_pid()))
      .Add("IPv4", ToVector(s.ipv4_addresses()))
      .Add("IPv6", ToVector(s.ipv6_addresses()))
      .Add("Memory", MemoryText(s))
      .Add("CPU time",
           s.cpu_usage_nanoseconds() == 0 ? "" : FormatCpuTime(s.cpu_usage_nanoseconds()))
      .Add("Processes", s.processes() == 0 ? "" : absl::StrCat(s.processes()))
      .Add("Source", SourceText(c.source()))
      .Add("Revision", absl::StrCat(c.revision()))
      .Add("Labels", KeyValueStrings(c.labels()))
      .Add("Config", KeyValueStrings(c.config()))
      .Add("Profiles", ToVector(c.profiles()))
      .Add("Devices", DeviceStrings(c.devices()))
      .Add("Created", FormatLocalTime(c.created_at(), zone))
      .Add("Updated", FormatLocalTime(c.updated_at(), zone))
      .Render();
}

std::string FormatVersion(const VersionReport& report, OutputFormat format) {
  switch (format) {
    case OutputFormat::kJson:
      return DumpJson(VersionToJson(report));
    case OutputFormat::kYaml:
      return DumpYaml(VersionToJson(report));
    case OutputFormat::kCsv:
      return FlatJsonToCsv(VersionToJson(report));
    case OutputFormat::kTable:
      break;
  }
  KeyValueTable table;
  table.Add("Client version", report.client_version);
  if (report.daemon.has_value()) {
    table.Add("Daemon version", report.daemon->daemon_version())
        .Add("API version", report.daemon->api_version())
        .Add("liblxc version", report.daemon->liblxc_version())
        .Add("gRPC version", report.daemon->grpc_version());
  }
  return table.Render();
}

std::string FormatHostInfo(const v1::HostInfo& host, OutputFormat format) {
  switch (format) {
    case OutputFormat::kJson:
      return DumpJson(HostToJson(host));
    case OutputFormat::kYaml:
      return DumpYaml(HostToJson(host));
    case OutputFormat::kCsv:
      return FlatJsonToCsv(HostToJson(host));
    case OutputFormat::kTable:
      break;
  }
  return KeyValueTable()
      .Add("Hostname", host.hostname())
      .Add("Kernel", host.kernel_release())
      .Add("CPUs", absl::StrCat(host.cpus()))
      .Add("Memory", FormatBytes(host.memory_total_bytes()))
      .Add("Cgroup layout", host.cgroup_layout())
      .Add("State dir", host.state_dir())
      .Add("LXC path", host.lxc_path())
      .Add("Containers", absl::StrFormat("%d total, %d running, %d frozen, %d stopped",
                                         host.containers_total(), host.containers_running(),
                                         host.containers_frozen(), host.containers_stopped()))
      .Add("Daemon uptime", FormatUptime(host.daemon_uptime_seconds()))
      .Render();
}

std::string FormatConfigKeys(const v1::ListConfigKeysResponse& keys, OutputFormat format) {
  if (format == OutputFormat::kJson || format == OutputFormat::kYaml) {
    Json list = Json::array();
    for (const v1::ConfigKey& key : keys.keys()) {
      list.push_back({{"name", key.name()},
                      {"type", key.type()},
                      {"default", key.default_value()},
                      {"live", key.live()},
                      {"help", key.help()}});
    }
    return format == OutputFormat::kJson ? DumpJson(list) : DumpYaml(list);
  }
  if (format == OutputFormat::kCsv) {
    std::string out = CsvRow({"name", "type", "default", "live", "help"});
    for (const v1::ConfigKey& key : keys.keys()) {
      absl::StrAppend(&out, CsvRow({key.name(), key.type(), key.default_value(),
                                    key.live() ? "true" : "false", key.help()}));
    }
    return out;
  }
  std::vector<std::vector<std::string>> rows = {{"KEY", "TYPE", "DEFAULT", "LIVE", "DESCRIPTION"}};
  for (const v1::ConfigKey& key : keys.keys()) {
    rows.push_back(
        {key.name(), key.type(), Dash(key.default_value()), key.live() ? "yes" : "no", key.help()});
  }
  return Columns(rows);
}

}  // namespace berth::client
