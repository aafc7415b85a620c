#include "berth/client/output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// 2026-11-26 16:50:00 UTC and 2026-11-27 08:05:09 UTC.
constexpr int64_t kCreatedWeb = 1795711800;
constexpr int64_t kCreatedDb = 1795766709;

// Table times in a fixed UTC+1 zone, so the test does not depend on the machine's zone.
const absl::TimeZone kZone = absl::FixedTimeZone(3600);

v1::Container Web() {
  v1::Container c;
  c.set_name("web");
  v1::TemplateSource* source = c.mutable_source()->mutable_template_();
  source->set_name("busybox");
  source->add_args("--flavor");
  source->add_args("tiny");
  (*c.mutable_labels())["tier"] = "front";
  (*c.mutable_labels())["app"] = "web";
  (*c.mutable_config())["limits.memory"] = "256M";
  c.set_revision(3);
  c.mutable_created_at()->set_seconds(kCreatedWeb);
  c.mutable_updated_at()->set_seconds(kCreatedDb);
  c.mutable_updated_at()->set_nanos(500'000'000);
  v1::ContainerStatus* s = c.mutable_status();
  s->set_state(v1::STATE_RUNNING);
  s->set_init_pid(1234);
  s->add_ipv4_addresses("10.0.3.5");
  s->add_ipv4_addresses("10.0.3.6");
  s->add_ipv6_addresses("fd00::5");
  s->set_memory_usage_bytes(12'897'485);  // 12.3 MiB
  s->set_cpu_usage_nanoseconds(1'520'000'000);
  return c;
}

v1::Container Db() {
  v1::Container c;
  c.set_name("db");
  c.mutable_source()->mutable_template_()->set_name("busybox");
  (*c.mutable_labels())["note"] = "say \"hi\", bye";
  c.set_revision(1);
  c.mutable_created_at()->set_seconds(kCreatedDb);
  c.mutable_updated_at()->set_seconds(kCreatedDb);
  c.mutable_status()->set_state(v1::STATE_STOPPED);
  return c;
}

google::protobuf::RepeatedPtrField<v1::Container> Both() {
  google::protobuf::RepeatedPtrField<v1::Container> list;
  *list.Add() = Web();
  *list.Add() = Db();
  return list;
}

v1::Version DaemonVersion() {
  v1::Version v;
  v.set_daemon_version("0.2.0");
  v.set_api_version("v1");
  v.set_liblxc_version("5.0.2");
  v.set_grpc_version("1.51.1");
  return v;
}

v1::HostInfo Host() {
  v1::HostInfo h;
  h.set_hostname("box");
  h.set_kernel_release("6.1.0-18-amd64");
  h.set_cpus(8);
  h.set_memory_total_bytes(16'642'998'272);  // 15.5 GiB
  h.set_cgroup_layout("v2");
  h.set_state_dir("/var/lib/berth");
  h.set_lxc_path("/var/lib/berth/containers");
  h.set_containers_total(5);
  h.set_containers_running(2);
  h.set_containers_frozen(1);
  h.set_containers_stopped(2);
  h.set_daemon_uptime_seconds(3 * 3600 + 4 * 60 + 5);
  return h;
}

constexpr char kContainerCsvHeader[] =
    "name,state,init_pid,ipv4_addresses,ipv6_addresses,memory_usage_bytes,cpu_usage_nanoseconds,"
    "template,template_args,labels,config,revision,created_at,updated_at\n";
constexpr char kWebCsvRow[] =
    "web,RUNNING,1234,10.0.3.5;10.0.3.6,fd00::5,12897485,1520000000,busybox,--flavor;tiny,"
    "app=web;tier=front,limits.memory=256M,3,2026-11-26T16:50:00Z,2026-11-27T08:05:09.5Z\n";
constexpr char kDbCsvRow[] =
    "db,STOPPED,0,,,0,0,busybox,,\"note=say \"\"hi\"\", bye\",,1,2026-11-27T08:05:09Z,"
    "2026-11-27T08:05:09Z\n";

// ---- helpers -----------------------------------------------------------------------------------

TEST(OutputHelpersTest, StateName) {
  EXPECT_EQ(StateName(v1::STATE_RUNNING), "RUNNING");
  EXPECT_EQ(StateName(v1::STATE_FROZEN), "FROZEN");
  EXPECT_EQ(StateName(v1::STATE_UNSPECIFIED), "UNSPECIFIED");
  EXPECT_EQ(StateName(static_cast<v1::State>(42)), "UNKNOWN");
}

TEST(OutputHelpersTest, FormatBytes) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1024), "1.0 KiB");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(1'048'575), "1.0 MiB");
  EXPECT_EQ(FormatBytes(12'897'485), "12.3 MiB");
  EXPECT_EQ(FormatBytes(16'642'998'272), "15.5 GiB");
  EXPECT_EQ(FormatBytes(std::numeric_limits<uint64_t>::max()), "16.0 EiB");
}

TEST(OutputHelpersTest, FormatDurations) {
  EXPECT_EQ(FormatCpuTime(0), "0.00s");
  EXPECT_EQ(FormatCpuTime(250'000'000), "0.25s");
  EXPECT_EQ(FormatCpuTime(1'520'000'000), "1.52s");
  EXPECT_EQ(FormatCpuTime(59'994'000'000), "59.99s");
  EXPECT_EQ(FormatCpuTime(59'996'000'000), "1m00s");
  EXPECT_EQ(FormatCpuTime(123'000'000'000), "2m03s");
  EXPECT_EQ(FormatCpuTime(3'723'000'000'000), "1h02m03s");
  EXPECT_EQ(FormatUptime(0), "0s");
  EXPECT_EQ(FormatUptime(45), "45s");
  EXPECT_EQ(FormatUptime(123), "2m03s");
  EXPECT_EQ(FormatUptime(3723), "1h02m03s");
  EXPECT_EQ(FormatUptime(3 * 86400 + 4 * 3600 + 5 * 60 + 6), "3d04h05m");
}

TEST(OutputHelpersTest, Times) {
  google::protobuf::Timestamp unset;
  EXPECT_EQ(FormatLocalTime(unset, kZone), "-");
  EXPECT_EQ(FormatRfc3339(unset), "");
  google::protobuf::Timestamp t;
  t.set_seconds(kCreatedWeb);
  EXPECT_EQ(FormatLocalTime(t, absl::UTCTimeZone()), "2026-11-26 16:50:00");
  EXPECT_EQ(FormatLocalTime(t, kZone), "2026-11-26 17:50:00");
  EXPECT_EQ(FormatRfc3339(t), "2026-11-26T16:50:00Z");
  t.set_nanos(123);
  EXPECT_EQ(FormatRfc3339(t), "2026-11-26T16:50:00.000000123Z");
}

TEST(OutputHelpersTest, CsvField) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
}

// ---- list --------------------------------------------------------------------------------------

TEST(ListOutputTest, Table) {
  EXPECT_EQ(FormatContainerList(Both(), OutputFormat::kTable, kZone),
            "NAME  STATE    PID   MEMORY    IPV4               CREATED\n"
            "web   RUNNING  1234  12.3 MiB  10.0.3.5,10.0.3.6  2026-11-26 17:50:00\n"
            "db    STOPPED  -     -         -                  2026-11-27 09:05:09\n");
}

TEST(ListOutputTest, EmptyListKeepsHeaderOrShape) {
  google::protobuf::RepeatedPtrField<v1::Container> none;
  EXPECT_EQ(FormatContainerList(none, OutputFormat::kTable, kZone),
            "NAME  STATE  PID  MEMORY  IPV4  CREATED\n");
  EXPECT_EQ(FormatContainerList(none, OutputFormat::kJson, kZone), "[]\n");
  EXPECT_EQ(FormatContainerList(none, OutputFormat::kYaml, kZone), "[]\n");
  EXPECT_EQ(FormatContainerList(none, OutputFormat::kCsv, kZone), kContainerCsvHeader);
}

TEST(ListOutputTest, Csv) {
  EXPECT_EQ(FormatContainerList(Both(), OutputFormat::kCsv, kZone),
            std::string(kContainerCsvHeader) + kWebCsvRow + kDbCsvRow);
}

TEST(ListOutputTest, JsonParsesBack) {
  const std::string text = FormatContainerList(Both(), OutputFormat::kJson, kZone);
  const nlohmann::json json = nlohmann::json::parse(text);
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  const nlohmann::json& web = json[0];
  std::vector<std::string> keys;
  const nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(text);
  for (const auto& [key, value] : ordered[0].items()) keys.push_back(key);
  EXPECT_THAT(keys, ElementsAre("name", "source", "config", "labels", "profiles", "devices",
                                "revision", "created_at", "updated_at", "status"));
  EXPECT_EQ(web["name"], "web");
  EXPECT_EQ(web["source"]["template"]["name"], "busybox");
  EXPECT_EQ(web["source"]["template"]["args"], nlohmann::json({"--flavor", "tiny"}));
  EXPECT_EQ(web["labels"], nlohmann::json({{"app", "web"}, {"tier", "front"}}));
  EXPECT_EQ(web["config"], nlohmann::json({{"limits.memory", "256M"}}));
  EXPECT_EQ(web["revision"], 3);
  EXPECT_EQ(web["created_at"], "2026-11-26T16:50:00Z");
  EXPECT_EQ(web["updated_at"], "2026-11-27T08:05:09.5Z");
  EXPECT_EQ(web["status"]["state"], "RUNNING");
  EXPECT_EQ(web["status"]["init_pid"], 1234);
  EXPECT_EQ(web["status"]["ipv4_addresses"], nlohmann::json({"10.0.3.5", "10.0.3.6"}));
  EXPECT_EQ(web["status"]["ipv6_addresses"], nlohmann::json({"fd00::5"}));
  EXPECT_EQ(web["status"]["memory_usage_bytes"], 12'897'485u);
  EXPECT_EQ(web["status"]["cpu_usage_nanoseconds"], 1'520'000'000u);
  const nlohmann::json& db = json[1];
  EXPECT_EQ(db["status"]["state"], "STOPPED");
  EXPECT_EQ(db["status"]["init_pid"], 0);
  EXPECT_TRUE(db["status"]["ipv4_addresses"].is_array());
  EXPECT_TRUE(db["status"]["ipv4_addresses"].empty());
  EXPECT_TRUE(db["config"].is_object());
  EXPECT_EQ(db["labels"]["note"], "say \"hi\", bye");
}

TEST(ListOutputTest, YamlParsesBack) {
  const YAML::Node yaml = YAML::Load(FormatContainerList(Both(), OutputFormat::kYaml, kZone));
  ASSERT_TRUE(yaml.IsSequence());
  ASSERT_EQ(yaml.size(), 2u);
  const YAML::Node web = yaml[0];
  EXPECT_EQ(web["name"].as<std::string>(), "web");
  EXPECT_EQ(web["source"]["template"]["name"].as<std::string>(), "busybox");
  EXPECT_EQ(web["source"]["template"]["args"][1].as<std::string>(), "tiny");
  EXPECT_EQ(web["labels"]["tier"].as<std::string>(), "front");
  EXPECT_EQ(web["config"]["limits.memory"].as<std::string>(), "256M");
  EXPECT_EQ(web["revision"].as<int64_t>(), 3);
  EXPECT_EQ(web["created_at"].as<std::string>(), "2026-11-26T16:50:00Z");
  EXPECT_EQ(web["status"]["state"].as<std::string>(), "RUNNING");
  EXPECT_EQ(web["status"]["init_pid"].as<int>(), 1234);
  EXPECT_EQ(web["status"]["ipv4_addresses"][0].as<std::string>(), "10.0.3.5");
  EXPECT_EQ(web["status"]["memory_usage_bytes"].as<uint64_t>(), 12'897'485u);
  const YAML::Node db = yaml[1];
  EXPECT_EQ(db["status"]["state"].as<std::string>(), "STOPPED");
  EXPECT_TRUE(db["config"].IsMap());
  EXPECT_EQ(db["config"].size(), 0u);
  EXPECT_TRUE(db["status"]["ipv4_addresses"].IsSequence());
  EXPECT_EQ(db["status"]["ipv4_addresses"].size(), 0u);
  EXPECT_EQ(db["labels"]["note"].as<std::string>(), "say \"hi\", bye");
}

TEST(ListOutputTest, YamlQuotesStringsThatLookLikeOtherTypes) {
  v1::Container c;
  c.set_name("123");
  (*c.mutable_labels())["enabled"] = "true";
  (*c.mutable_labels())["zip"] = "01234";
  (*c.mutable_labels())["empty"] = "";
  (*c.mutable_labels())["nothing"] = "null";
  (*c.mutable_labels())["on"] = "off";
  const YAML::Node yaml = YAML::Load(FormatContainerInfo(c, OutputFormat::kYaml, kZone));
  // A quoted scalar has the non-specific tag "!": every reader keeps it a string.
  EXPECT_EQ(yaml["name"].Tag(), "!");
  EXPECT_EQ(yaml["name"].as<std::string>(), "123");
  for (const char* key : {"enabled", "zip", "empty", "nothing", "on"}) {
    EXPECT_EQ(yaml["labels"][key].Tag(), "!") << key;
  }
  EXPECT_EQ(yaml["labels"]["zip"].as<std::string>(), "01234");
  EXPECT_EQ(yaml["labels"]["empty"].as<std::string>(), "");
  // Plain strings stay plain.
  EXPECT_EQ(yaml["status"]["state"].Tag(), "?");
}

// ---- info --------------------------------------------------------------------------------------

TEST(InfoOutputTest, Table) {
  EXPECT_EQ(FormatContainerInfo(Web(), OutputFormat::kTable, kZone),
            "Name:       web\n"
            "State:      RUNNING\n"
            "PID:        1234\n"
            "IPv4:       10.0.3.5\n"
            "            10.0.3.6\n"
            "IPv6:       fd00::5\n"
            "Memory:     12.3 MiB\n"
            "CPU time:   1.52s\n"
            "Processes:  -\n"
            "Source:     template busybox (args: --flavor tiny)\n"
            "Revision:   3\n"
            "Labels:     app=web\n"
            "            tier=front\n"
            "Config:     limits.memory=256M\n"
            "Profiles:   -\n"
            "Devices:    -\n"
            "Created:    2026-11-26 17:50:00\n"
            "Updated:    2026-11-27 09:05:09\n");
}

TEST(InfoOutputTest, TableWithMemoryPeakLimitAndProcesses) {
  v1::Container web = Web();
  web.mutable_status()->set_memory_peak_bytes(20 << 20);
  web.mutable_status()->set_memory_limit_bytes(256 << 20);
  web.mutable_status()->set_processes(7);
  const std::string table = FormatContainerInfo(web, OutputFormat::kTable, kZone);
  EXPECT_THAT(table, HasSubstr("Memory:     12.3 MiB (peak 20.0 MiB, limit 256.0 MiB)\n"));
  EXPECT_THAT(table, HasSubstr("Processes:  7\n"));
  const auto json = nlohmann::json::parse(FormatContainerInfo(web, OutputFormat::kJson, kZone));
  EXPECT_EQ(json["status"]["memory_peak_bytes"], 20u << 20);
  EXPECT_EQ(json["status"]["memory_limit_bytes"], 256u << 20);
  EXPECT_EQ(json["status"]["processes"], 7u);
}

TEST(InfoOutputTest, TableOfStoppedContainer) {
  EXPECT_EQ(FormatContainerInfo(Db(), OutputFormat::kTable, kZone),
            "Name:       db\n"
            "State:      STOPPED\n"
            "PID:        -\n"
            "IPv4:       -\n"
            "IPv6:       -\n"
            "Memory:     -\n"
            "CPU time:   -\n"
            "Processes:  -\n"
            "Source:     template busybox\n"
            "Revision:   1\n"
            "Labels:     note=say \"hi\", bye\n"
            "Config:     -\n"
            "Profiles:   -\n"
            "Devices:    -\n"
            "Created:    2026-11-27 09:05:09\n"
            "Updated:    2026-11-27 09:05:09\n");
}

TEST(InfoOutputTest, Csv) {
  EXPECT_EQ(FormatContainerInfo(Web(), OutputFormat::kCsv, kZone),
            std::string(kContainerCsvHeader) + kWebCsvRow);
}

TEST(InfoOutputTest, JsonParsesBack) {
  const nlohmann::json json =
      nlohmann::json::parse(FormatContainerInfo(Web(), OutputFormat::kJson, kZone));
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json["name"], "web");
  EXPECT_EQ(json["status"]["state"], "RUNNING");
  EXPECT_EQ(json["labels"]["app"], "web");
  EXPECT_EQ(json["updated_at"], "2026-11-27T08:05:09.5Z");
}

TEST(InfoOutputTest, YamlParsesBack) {
  const YAML::Node yaml = YAML::Load(FormatContainerInfo(Web(), OutputFormat::kYaml, kZone));
  ASSERT_TRUE(yaml.IsMap());
  EXPECT_EQ(yaml["name"].as<std::string>(), "web");
  EXPECT_EQ(yaml["status"]["state"].as<std::string>(), "RUNNING");
  EXPECT_EQ(yaml["status"]["cpu_usage_nanoseconds"].as<uint64_t>(), 1'520'000'000u);
  EXPECT_EQ(yaml["status"]["ipv6_addresses"][0].as<std::string>(), "fd00::5");
}

// ---- version -----------------------------------------------------------------------------------

TEST(VersionOutputTest, Table) {
  EXPECT_EQ(FormatVersion({"0.1.0", DaemonVersion()}, OutputFormat::kTable),
            "Client version:  0.1.0\n"
            "Daemon version:  0.2.0\n"
            "API version:     v1\n"
            "liblxc version:  5.0.2\n"
            "gRPC version:    1.51.1\n");
  EXPECT_EQ(FormatVersion({"0.1.0", std::nullopt}, OutputFormat::kTable),
            "Client version:  0.1.0\n");
}

TEST(VersionOutputTest, Csv) {
  EXPECT_EQ(FormatVersion({"0.1.0", DaemonVersion()}, OutputFormat::kCsv),
            "client_version,daemon_version,api_version,liblxc_version,grpc_version\n"
            "0.1.0,0.2.0,v1,5.0.2,1.51.1\n");
  EXPECT_EQ(FormatVersion({"0.1.0", std::nullopt}, OutputFormat::kCsv), "client_version\n0.1.0\n");
}

TEST(VersionOutputTest, JsonAndYamlParseBack) {
  const nlohmann::json json =
      nlohmann::json::parse(FormatVersion({"0.1.0", DaemonVersion()}, OutputFormat::kJson));
  EXPECT_EQ(json, nlohmann::json({{"client_version", "0.1.0"},
                                  {"daemon_version", "0.2.0"},
                                  {"api_version", "v1"},
                                  {"liblxc_version", "5.0.2"},
                                  {"grpc_version", "1.51.1"}}));
  EXPECT_EQ(nlohmann::json::parse(FormatVersion({"0.1.0", std::nullopt}, OutputFormat::kJson)),
            nlohmann::json({{"client_version", "0.1.0"}}));

  const YAML::Node yaml =
      YAML::Load(FormatVersion({"0.1.0", DaemonVersion()}, OutputFormat::kYaml));
  EXPECT_EQ(yaml["client_version"].as<std::string>(), "0.1.0");
  EXPECT_EQ(yaml["daemon_version"].as<std::string>(), "0.2.0");
  EXPECT_EQ(yaml["api_version"].as<std::string>(), "v1");
  EXPECT_EQ(yaml["liblxc_version"].as<std::string>(), "5.0.2");
  EXPECT_EQ(yaml["grpc_version"].as<std::string>(), "1.51.1");
  EXPECT_EQ(yaml.size(), 5u);
}

// ---- host --------------------------------------------------------------------------------------

TEST(HostOutputTest, Table) {
  EXPECT_EQ(FormatHostInfo(Host(), OutputFormat::kTable),
            "Hostname:       box\n"
            "Kernel:         6.1.0-18-amd64\n"
            "CPUs:           8\n"
            "Memory:         15.5 GiB\n"
            "Cgroup layout:  v2\n"
            "State dir:      /var/lib/berth\n"
            "LXC path:       /var/lib/berth/containers\n"
            "Containers:     5 total, 2 running, 1 frozen, 2 stopped\n"
            "Daemon uptime:  3h04m05s\n");
}

TEST(HostOutputTest, Csv) {
  EXPECT_EQ(FormatHostInfo(Host(), OutputFormat::kCsv),
            "hostname,kernel_release,cpus,memory_total_bytes,cgroup_layout,state_dir,lxc_path,"
            "containers_total,containers_running,containers_frozen,containers_stopped,"
            "daemon_uptime_seconds\n"
            "box,6.1.0-18-amd64,8,16642998272,v2,/var/lib/berth,/var/lib/berth/containers,5,2,1,"
            "2,11045\n");
}

TEST(HostOutputTest, JsonAndYamlParseBack) {
  const nlohmann::json json = nlohmann::json::parse(FormatHostInfo(Host(), OutputFormat::kJson));
  EXPECT_EQ(json["hostname"], "box");
  EXPECT_EQ(json["cpus"], 8);
  EXPECT_EQ(json["memory_total_bytes"], 16'642'998'272u);
  EXPECT_EQ(json["containers_running"], 2);
  EXPECT_EQ(json["daemon_uptime_seconds"], 11045);
  EXPECT_EQ(json.size(), 12u);
  const YAML::Node yaml = YAML::Load(FormatHostInfo(Host(), OutputFormat::kYaml));
  EXPECT_EQ(yaml["kernel_release"].as<std::string>(), "6.1.0-18-amd64");
  EXPECT_EQ(yaml["cgroup_layout"].as<std::string>(), "v2");
  EXPECT_EQ(yaml["containers_frozen"].as<int>(), 1);
  EXPECT_EQ(yaml["lxc_path"].as<std::string>(), "/var/lib/berth/containers");
}

}  // namespace
}  // namespace berth::client
