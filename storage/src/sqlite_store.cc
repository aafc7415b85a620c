#include "berth/storage/sqlite_store.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "record_rules.h"
#include "schema.h"
#include "sqlite.h"
#include "state_database.h"
#include "string_views.h"

namespace berth::storage {
namespace {

using sqlite::Database;
using sqlite::ScopedStatement;
using sqlite::Transaction;

// ---- SQL ----
// The columns of `containers`, in the order ReadContainerRow expects them.
#define BERTH_CONTAINER_COLUMNS \
  "name, source_kind, source_name, phase, phase_detail, revision, created_at_ns, updated_at_ns"

constexpr std::string_view kSelectContainer =
    "SELECT " BERTH_CONTAINER_COLUMNS " FROM containers WHERE name = ?1";
constexpr std::string_view kSelectAllContainers =
    "SELECT " BERTH_CONTAINER_COLUMNS " FROM containers ORDER BY name";
constexpr std::string_view kContainerExists = "SELECT 1 FROM containers WHERE name = ?1";
constexpr std::string_view kSelectRevision = "SELECT revision FROM containers WHERE name = ?1";
constexpr std::string_view kInsertContainer =
    "INSERT INTO containers (" BERTH_CONTAINER_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
// Renaming the row renames its children too (ON UPDATE CASCADE).
constexpr std::string_view kUpdateContainer =
    "UPDATE containers SET name = ?2, source_kind = ?3, source_name = ?4, phase = ?5, "
    "phase_detail = ?6, revision = ?7, created_at_ns = ?8, updated_at_ns = ?9 WHERE name = ?1";
// Deleting the row deletes its children too (ON DELETE CASCADE).
constexpr std::string_view kDeleteContainer = "DELETE FROM containers WHERE name = ?1";

#undef BERTH_CONTAINER_COLUMNS

// A child table of (container_name, key, value) rows: config and labels.
struct MapTable {
  std::string_view select_one;  // ?1 = container; columns key, value.
  std::string_view select_all;  // Columns container_name, key, value.
  std::string_view clear;       // ?1 = container.
  std::string_view insert;      // ?1 = container, ?2 = key, ?3 = value.
};

constexpr MapTable kConfigTable = {
    .select_one = "SELECT key, value FROM container_config WHERE container_name = ?1",
    .select_all = "SELECT container_name, key, value FROM container_config",
    .clear = "DELETE FROM container_config WHERE container_name = ?1",
    .insert = "INSERT INTO container_config (container_name, key, value) VALUES (?1, ?2, ?3)",
};

constexpr MapTable kLabelsTable = {
    .select_one = "SELECT key, value FROM container_labels WHERE container_name = ?1",
    .select_all = "SELECT container_name, key, value FROM container_labels",
    .clear = "DELETE FROM container_labels WHERE container_name = ?1",
    .insert = "INSERT INTO container_labels (container_name, key, value) VALUES (?1, ?2, ?3)",
};

constexpr std::string_view kSelectArgs =
    "SELECT value FROM container_source_args WHERE container_name = ?1 ORDER BY position";
constexpr std::string_view kSelectAllArgs =
    "SELECT container_name, value FROM container_source_args ORDER BY container_name, position";
constexpr std::string_view kClearArgs =
    "DELETE FROM container_source_args WHERE container_name = ?1";
constexpr std::string_view kInsertArg =
    "INSERT INTO container_source_args (container_name, position, value) VALUES (?1, ?2, ?3)";

constexpr std::string_view kInsertSnapshot =
    "INSERT INTO container_snapshots (container_name, name, created_at_ns, definition) "
    "VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view kSelectSnapshots =
    "SELECT container_name, name, created_at_ns, definition FROM container_snapshots "
    "WHERE container_name = ?1 ORDER BY created_at_ns, name";
constexpr std::string_view kSelectSnapshot =
    "SELECT container_name, name, created_at_ns, definition FROM container_snapshots "
    "WHERE container_name = ?1 AND name = ?2";
constexpr std::string_view kDeleteSnapshot =
    "DELETE FROM container_snapshots WHERE container_name = ?1 AND name = ?2";
// Devices: (owner, device, key, value) rows, the type under kDeviceTypeKey.
struct DeviceTable {
  std::string_view select_one;  // ?1 = owner; columns device, key, value.
  std::string_view select_all;  // Columns owner, device, key, value.
  std::string_view clear;       // ?1 = owner.
  std::string_view insert;      // ?1 = owner, ?2 = device, ?3 = key, ?4 = value.
};

constexpr std::string_view kDeviceTypeKey = "type";

constexpr DeviceTable kContainerDevicesTable = {
    .select_one = "SELECT device, key, value FROM container_devices WHERE container_name = ?1",
    .select_all = "SELECT container_name, device, key, value FROM container_devices",
    .clear = "DELETE FROM container_devices WHERE container_name = ?1",
    .insert = "INSERT INTO container_devices (container_name, device, key, value) "
              "VALUES (?1, ?2, ?3, ?4)",
};

constexpr DeviceTable kProfileDevicesTable = {
    .select_one = "SELECT device, key, value FROM profile_devices WHERE profile_name = ?1",
    .select_all = "SELECT profile_name, device, key, value FROM profile_devices",
    .clear = "DELETE FROM profile_devices WHERE profile_name = ?1",
    .insert = "INSERT INTO profile_devices (profile_name, device, key, value) "
              "VALUES (?1, ?2, ?3, ?4)",
};

constexpr MapTable kProfileConfigTable = {
    .select_one = "SELECT key, value FROM profile_config WHERE profile_name = ?1",
    .select_all = "SELECT profile_name, key, value FROM profile_config",
    .clear = "DELETE FROM profile_config WHERE profile_name = ?1",
    .insert = "INSERT INTO profile_config (profile_name, key, value) VALUES (?1, ?2, ?3)",
};

constexpr std::string_view kSelectContainerProfiles =
    "SELECT profile_name FROM container_profiles WHERE container_name = ?1 ORDER BY position";
constexpr std::string_view kSelectAllContainerProfiles =
    "SELECT container_name, profile_name FROM container_profiles "
    "ORDER BY container_name, position";
constexpr std::string_view kClearContainerProfiles =
    "DELETE FROM container_profiles WHERE container_name = ?1";
constexpr std::string_view kInsertContainerProfile =
    "INSERT INTO container_profiles (container_name, position, profile_name) VALUES (?1, ?2, ?3)";
constexpr std::string_view kSelectProfileUsers =
    "SELECT DISTINCT container_name FROM container_profiles WHERE profile_name = ?1 "
    "ORDER BY container_name";

#define BERTH_PROFILE_COLUMNS "name, description, revision, created_at_ns, updated_at_ns"
constexpr std::string_view kSelectProfile =
    "SELECT " BERTH_PROFILE_COLUMNS " FROM profiles WHERE name = ?1";
constexpr std::string_view kSelectAllProfiles =
    "SELECT " BERTH_PROFILE_COLUMNS " FROM profiles ORDER BY name";
constexpr std::string_view kInsertProfile =
    "INSERT INTO profiles (" BERTH_PROFILE_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr std::string_view kUpdateProfile =
    "UPDATE profiles SET description = ?2, revision = ?3, updated_at_ns = ?4 WHERE name = ?1";
constexpr std::string_view kDeleteProfile = "DELETE FROM profiles WHERE name = ?1";
constexpr std::string_view kProfileExists = "SELECT 1 FROM profiles WHERE name = ?1";
#undef BERTH_PROFILE_COLUMNS

// ---- Row helpers. All run inside a transaction the caller holds. ----

ContainerRecord ReadContainerRow(const sqlite::Statement& row) {
  ContainerRecord record;
  record.name = row.ColumnText(0);
  record.source_kind = row.ColumnText(1);
  record.source_name = row.ColumnText(2);
  record.phase = static_cast<Phase>(row.ColumnInt64(3));
  record.phase_detail = row.ColumnText(4);
  record.revision = row.ColumnInt64(5);
  record.created_at = FromStoredNanos(row.ColumnInt64(6));
  record.updated_at = FromStoredNanos(row.ColumnInt64(7));
  return record;
}

// Binds the record's eight columns, in BERTH_CONTAINER_COLUMNS order, to ?first..?first+7.
void BindContainerColumns(sqlite::Statement& statement, int first, const ContainerRecord& record) {
  statement.Bind(first, record.name)
      .Bind(first + 1, record.source_kind)
      .Bind(first + 2, record.source_name)
      .Bind(first + 3, static_cast<int64_t>(record.phase))
      .Bind(first + 4, record.phase_detail)
      .Bind(first + 5, record.revision)
      .Bind(first + 6, ToStoredNanos(record.created_at))
      .Bind(first + 7, ToStoredNanos(record.updated_at));
}

absl::StatusOr<std::map<std::string, std::string>> ReadMap(Database& db, const MapTable& table,
                                                           std::string_view name) {
  absl::StatusOr<ScopedStatement> select = db.Cached(table.select_one);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, name);
  std::map<std::string, std::string> map;
  while (true) {
    absl::StatusOr<bool> row = (*select)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return map;
    map.emplace((*select)->ColumnText(0), (*select)->ColumnText(1));
  }
}

absl::Status WriteMap(Database& db, const MapTable& table, std::string_view name,
                      const std::map<std::string, std::string>& map) {
  absl::StatusOr<ScopedStatement> clear = db.Cached(table.clear);
  if (!clear.ok()) return clear.status();
  if (absl::Status status = (*clear)->Bind(1, name).Run(); !status.ok()) return status;
  absl::StatusOr<ScopedStatement> insert = db.Cached(table.insert);
  if (!insert.ok()) return insert.status();
  for (const auto& [key, value] : map) {
    (*insert)->Reset();
    if (absl::Status status = (*insert)->Bind(1, name).Bind(2, key).Bind(3, value).Run();
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, Device>> ReadDevices(Database& db, const DeviceTable& table,
                                                         std::string_view owner) {
  absl::StatusOr<ScopedStatement> select = db.Cached(table.select_one);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, owner);
  std::map<std::string, Device> devices;
  while (true) {
    absl::StatusOr<bool> row = (*select)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return devices;
    Device& device = devices[(*select)->ColumnText(0)];
    std::string key = (*select)->ColumnText(1);
    if (key == kDeviceTypeKey) {
      device.type = (*select)->ColumnText(2);
    } else {
      device.options.emplace(std::move(key), (*select)->ColumnText(2));
    }
  }
}

absl::Status WriteDevices(Database& db, const DeviceTable& table, std::string_view owner,
                          const std::map<std::string, Device>& devices) {
  absl::StatusOr<ScopedStatement> clear = db.Cached(table.clear);
  if (!clear.ok()) return clear.status();
  if (absl::Status status = (*clear)->Bind(1, owner).Run(); !status.ok()) return status;
  absl::StatusOr<ScopedStatement> insert = db.Cached(table.insert);
  if (!insert.ok()) return insert.status();
  auto put = [&](const std::string& device, std::string_view key,
                 const std::string& value) -> absl::Status {
    (*insert)->Reset();
    return (*insert)->Bind(1, owner).Bind(2, device).Bind(3, key).Bind(4, value).Run();
  };
  for (const auto& [name, device] : devices) {
    if (absl::Status status = put(name, kDeviceTypeKey, device.type); !status.ok()) return status;
    for (const auto& [key, value] : device.options) {
      // "type" is the device's type; the core never lets it be an option.
      if (key == kDeviceTypeKey) continue;
      if (absl::Status status = put(name, key, value); !status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ReadContainerProfiles(Database& db,
                                                               std::string_view name) {
  absl::StatusOr<ScopedStatement> select = db.Cached(kSelectContainerProfiles);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, name);
  std::vector<std::string> profiles;
  while (true) {
    absl::StatusOr<bool> row = (*select)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return profiles;
    profiles.push_back((*select)->ColumnText(0));
  }
}

absl::StatusOr<bool> ProfileExists(Database& db, std::string_view name) {
  absl::StatusOr<ScopedStatement> select = db.Cached(kProfileExists);
  if (!select.ok()) return select.status();
  return (*select)->Bind(1, name).Step();
}

// Checks each profile exists first, so a missing one is NOT_FOUND naming it (not a bare
// foreign-key failure).
absl::Status WriteContainerProfiles(Database& db, std::string_view name,
                                    const std::vector<std::string>& profiles) {
  for (const std::string& profile : profiles) {
    absl::StatusOr<bool> exists = ProfileExists(db, profile);
    if (!exists.ok()) return exists.status();
    if (!*exists) return ProfileNotFound(profile);
  }
  absl::StatusOr<ScopedStatement> clear = db.Cached(kClearContainerProfiles);
  if (!clear.ok()) return clear.status();
  if (absl::Status status = (*clear)->Bind(1, name).Run(); !status.ok()) return status;
  absl::StatusOr<ScopedStatement> insert = db.Cached(kInsertContainerProfile);
  if (!insert.ok()) return insert.status();
  for (size_t i = 0; i < profiles.size(); ++i) {
    (*insert)->Reset();
    if (absl::Status status = (*insert)
                                  ->Bind(1, name)
                                  .Bind(2, static_cast<int64_t>(i))
                                  .Bind(3, profiles[i])
                                  .Run();
        !status.ok()) {
      if (sqlite::ResultCodeOf(status) == SQLITE_CONSTRAINT_UNIQUE) {
        return absl::InvalidArgumentError(absl::StrCat(
            "profile ", QuotedName(profiles[i]), " is given twice; name each profile once"));
      }
      return status;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ProfileUsersIn(Database& db, std::string_view name) {
  absl::StatusOr<ScopedStatement> select = db.Cached(kSelectProfileUsers);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, name);
  std::vector<std::string> users;
  while (true) {
    absl::StatusOr<bool> row = (*select)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return users;
    users.push_back((*select)->ColumnText(0));
  }
}

ProfileRecord ReadProfileRow(const sqlite::Statement& row) {
  ProfileRecord record;
  record.name = row.ColumnText(0);
  record.description = row.ColumnText(1);
  record.revision = row.ColumnInt64(2);
  record.created_at = FromStoredNanos(row.ColumnInt64(3));
  record.updated_at = FromStoredNanos(row.ColumnInt64(4));
  return record;
}

// The whole profile stored under `name`; nullopt when there is none.
absl::StatusOr<std::optional<ProfileRecord>> ReadProfile(Database& db, std::string_view name) {
  ProfileRecord record;
  {
    absl::StatusOr<ScopedStatement> select = db.Cached(kSelectProfile);
    if (!select.ok()) return select.status();
    absl::StatusOr<bool> row = (*select)->Bind(1, name).Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::nullopt;
    record = ReadProfileRow(**select);
  }
  absl::StatusOr<std::map<std::string, std::string>> config =
      ReadMap(db, kProfileConfigTable, name);
  if (!config.ok()) return config.status();
  record.config = *std::move(config);
  absl::StatusOr<std::map<std::string, Device>> devices =
      ReadDevices(db, kProfileDevicesTable, name);
  if (!devices.ok()) return devices.status();
  record.devices = *std::move(devices);
  return record;
}

absl::StatusOr<std::vector<std::string>> ReadArgs(Database& db, std::string_view name) {
  absl::StatusOr<ScopedStatement> select = db.Cached(kSelectArgs);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, name);
  std::vector<std::string> args;
  while (true) {
    absl::StatusOr<bool> row = (*select)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return args;
    args.push_back((*select)->ColumnText(0));
  }
}

absl::Status WriteArgs(Database& db, std::string_view name, const std::vector<std::string>& args) {
  absl::StatusOr<ScopedStatement> clear = db.Cached(kClearArgs);
  if (!clear.ok()) return clear.status();
  if (absl::Status status = (*clear)->Bind(1, name).Run(); !status.ok()) return status;
  absl::StatusOr<ScopedStatement> insert = db.Cached(kInsertArg);
  if (!insert.ok()) return insert.status();
  for (size_t i = 0; i < args.size(); ++i) {
    (*insert)->Reset();
    if (absl::Status status =
            (*insert)->Bind(1, name).Bind(2, static_cast<int64_t>(i)).Bind(3, args[i]).Run();
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

// The whole record stored under `name`; nullopt when there is none.
absl::StatusOr<std::optional<ContainerRecord>> ReadRecord(Database& db, std::string_view name) {
  ContainerRecord record;
  {
    absl::StatusOr<ScopedStatement> select = db.Cached(kSelectContainer);
    if (!select.ok()) return select.status();
    absl::StatusOr<bool> row = (*select)->Bind(1, name).Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::nullopt;
    record = ReadContainerRow(**select);
  }
  absl::StatusOr<std::map<std::string, std::string>> config = ReadMap(db, kConfigTable, name);
  if (!config.ok()) return config.status();
  record.config = *std::move(config);
  absl::StatusOr<std::map<std::string, std::string>> labels = ReadMap(db, kLabelsTable, name);
  if (!labels.ok()) return labels.status();
  record.labels = *std::move(labels);
  absl::StatusOr<std::vector<std::string>> args = ReadArgs(db, name);
  if (!args.ok()) return args.status();
  record.source_args = *std::move(args);
  absl::StatusOr<std::vector<std::string>> profiles = ReadContainerProfiles(db, name);
  if (!profiles.ok()) return profiles.status();
  record.profiles = *std::move(profiles);
  absl::StatusOr<std::map<std::string, Device>> devices =
      ReadDevices(db, kContainerDevicesTable, name);
  if (!devices.ok()) return devices.status();
  record.devices = *std::move(devices);
  return record;
}

absl::StatusOr<bool> Exists(Database& db, std::string_view name) {
  absl::StatusOr<ScopedStatement> select = db.Cached(kContainerExists);
  if (!select.ok()) return select.status();
  return (*select)->Bind(1, name).Step();
}

// Fills each record's map from a (container_name, key, value) table.
absl::Status ReadAllMaps(Database& db, const MapTable& table,
                         const absl::flat_hash_map<std::string, size_t>& index,
                         std::vector<ContainerRecord>& records,
                         std::map<std::string, std::string> ContainerRecord::*member) {
  absl::StatusOr<ScopedStatement> select = db.Cached(table.select_all);
  if (!select.ok()) return select.status();
  while (true) {
    absl::StatusOr<bool> row = (*select)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
    // The foreign key guarantees the container row exists.
    auto it = index.find((*select)->ColumnText(0));
    if (it == index.end()) continue;
    (records[it->second].*member).emplace((*select)->ColumnText(1), (*select)->ColumnText(2));
  }
}

absl::StatusOr<std::vector<ContainerRecord>> ReadAllRecords(Database& db) {
  std::vector<ContainerRecord> records;
  absl::flat_hash_map<std::string, size_t> index;
  {
    absl::StatusOr<ScopedStatement> select = db.Cached(kSelectAllContainers);
    if (!select.ok()) return select.status();
    while (true) {
      absl::StatusOr<bool> row = (*select)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      records.push_back(ReadContainerRow(**select));
      index.emplace(records.back().name, records.size() - 1);
    }
  }
  if (records.empty()) return records;
  if (absl::Status status = ReadAllMaps(db, kConfigTable, index, records, &ContainerRecord::config);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = ReadAllMaps(db, kLabelsTable, index, records, &ContainerRecord::labels);
      !status.ok()) {
    return status;
  }
  absl::StatusOr<ScopedStatement> args = db.Cached(kSelectAllArgs);
  if (!args.ok()) return args.status();
  while (true) {
    absl::StatusOr<bool> row = (*args)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto it = index.find((*args)->ColumnText(0));
    if (it == index.end()) continue;
    records[it->second].source_args.push_back((*args)->ColumnText(1));
  }
  absl::StatusOr<ScopedStatement> profiles = db.Cached(kSelectAllContainerProfiles);
  if (!profiles.ok()) return profiles.status();
  while (true) {
    absl::StatusOr<bool> row = (*profiles)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto it = index.find((*profiles)->ColumnText(0));
    if (it == index.end()) continue;
    records[it->second].profiles.push_back((*profiles)->ColumnText(1));
  }
  absl::StatusOr<ScopedStatement> devices = db.Cached(kContainerDevicesTable.select_all);
  if (!devices.ok()) return devices.status();
  while (true) {
    absl::StatusOr<bool> row = (*devices)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto it = index.find((*devices)->ColumnText(0));
    if (it == index.end()) continue;
    Device& device = records[it->second].devices[(*devices)->ColumnText(1)];
    std::string key = (*devices)->ColumnText(2);
    if (key == kDeviceTypeKey) {
      device.type = (*devices)->ColumnText(3);
    } else {
      device.options.emplace(std::move(key), (*devices)->ColumnText(3));
    }
  }
  return records;
}

absl::StatusOr<SnapshotRecord> ReadSnapshotRow(const sqlite::Statement& row) {
  SnapshotRecord record;
  record.container = row.ColumnText(0);
  record.name = row.ColumnText(1);
  record.created_at = FromStoredNanos(row.ColumnInt64(2));
  if (absl::Status status = DecodeDefinition(row.ColumnText(3), record.config, record.labels);
      !status.ok()) {
    return status;
  }
  return record;
}

// Prefixes an SQLite failure with what the store was doing; leaves the store's own codes alone.
absl::Status Annotate(absl::Status status, absl::string_view doing) {
  if (status.ok() || !sqlite::ResultCodeOf(status).has_value()) return status;
  absl::Status annotated(status.code(), absl::StrCat(doing, ": ", status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    annotated.SetPayload(url, payload);
  });
  return annotated;
}

template <typename T>
absl::StatusOr<T> Annotate(absl::StatusOr<T> result, absl::string_view doing) {
  if (result.ok()) return result;
  return Annotate(result.status(), doing);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  absl::StatusOr<Database> db = OpenStateDatabase(path, Migrations());
  if (!db.ok()) return db.status();
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(path, std::make_unique<Database>(*std::move(db))));
}

SqliteStore::SqliteStore(std::string path, std::unique_ptr<sqlite::Database> db)
    : path_(std::move(path)),
      db_(std::move(db)),
      events_(&mu_, db_.get()),
      images_(&mu_, db_.get()),
      trust_(&mu_, db_.get()) {}

SqliteStore::~SqliteStore() = default;

absl::StatusOr<ContainerRecord> SqliteStore::Get(std::string_view name) {
  absl::MutexLock lock(&mu_);
  return Annotate(sqlite::RetryWhileBusy([&]() -> absl::StatusOr<ContainerRecord> {
                    Transaction transaction(*db_, Transaction::Mode::kDeferred);
                    if (!transaction.status().ok()) return transaction.status();
                    absl::StatusOr<std::optional<ContainerRecord>> record = ReadRecord(*db_, name);
                    if (!record.ok()) return record.status();
                    if (!record->has_value()) return ContainerNotFound(name);
                    if (absl::Status status = transaction.Commit(); !status.ok()) return status;
                    return **std::move(record);
                  }),
                  absl::StrCat("reading container ", QuotedName(name)));
}

absl::StatusOr<std::vector<ContainerRecord>> SqliteStore::List() {
  absl::MutexLock lock(&mu_);
  return Annotate(sqlite::RetryWhileBusy([&]() -> absl::StatusOr<std::vector<ContainerRecord>> {
                    Transaction transaction(*db_, Transaction::Mode::kDeferred);
                    if (!transaction.status().ok()) return transaction.status();
                    absl::StatusOr<std::vector<ContainerRecord>> records = ReadAllRecords(*db_);
                    if (!records.ok()) return records.status();
                    if (absl::Status status = transaction.Commit(); !status.ok()) return status;
                    return records;
                  }),
                  "listing containers");
}

absl::StatusOr<ContainerRecord> SqliteStore::Create(ContainerRecord record) {
  if (absl::Status status = CheckStorable(record); !status.ok()) return status;
  TruncateTimestamps(record);
  record.revision = 1;
  absl::MutexLock lock(&mu_);
  return Annotate(
      sqlite::RetryWhileBusy([&]() -> absl::StatusOr<ContainerRecord> {
        Transaction transaction(*db_);
        if (!transaction.status().ok()) return transaction.status();
        absl::StatusOr<bool> exists = Exists(*db_, record.name);
        if (!exists.ok()) return exists.status();
        if (*exists) return ContainerAlreadyExists(record.name);
        {
          absl::StatusOr<ScopedStatement> insert = db_->Cached(kInsertContainer);
          if (!insert.ok()) return insert.status();
          BindContainerColumns(**insert, 1, record);
          if (absl::Status status = (*insert)->Run(); !status.ok()) {
            if (sqlite::ResultCodeOf(status) == SQLITE_CONSTRAINT_PRIMARYKEY) {
              return ContainerAlreadyExists(record.name);
            }
            return status;
          }
        }
        if (absl::Status status = WriteMap(*db_, kConfigTable, record.name, record.config);
            !status.ok()) {
          return status;
        }
        if (absl::Status status = WriteMap(*db_, kLabelsTable, record.name, record.labels);
            !status.ok()) {
          return status;
        }
        if (absl::Status status = WriteArgs(*db_, record.name, record.source_args); !status.ok()) {
          return status;
        }
        if (absl::Status status = WriteContainerProfiles(*db_, record.name, record.profiles);
            !status.ok()) {
          return status;
        }
        if (absl::Status status =
                WriteDevices(*db_, kContainerDevicesTable, record.name, record.devices);
            !status.ok()) {
          return status;
        }
        if (absl::Status status = transaction.Commit(); !status.ok()) return status;
        return record;
      }),
      absl::StrCat("creating container ", QuotedName(record.name)));
}

absl::StatusOr<ContainerRecord> SqliteStore::Update(std::string_view name, ContainerRecord record,
                                                    int64_t expected_revision) {
  if (absl::Status status = CheckStorable(record); !status.ok()) return status;
  TruncateTimestamps(record);
  absl::MutexLock lock(&mu_);
  return Annotate(
      sqlite::RetryWhileBusy([&]() -> absl::StatusOr<ContainerRecord> {
        Transaction transaction(*db_);
        if (!transaction.status().ok()) return transaction.status();
        absl::StatusOr<std::optional<ContainerRecord>> old = ReadRecord(*db_, name);
        if (!old.ok()) return old.status();
        if (!old->has_value()) return ContainerNotFound(name);
        const ContainerRecord& stored = **old;
        if (stored.revision != expected_revision) {
          return RevisionMismatch(name, expected_revision, stored.revision);
        }
        if (record.name != name) {
          absl::StatusOr<bool> taken = Exists(*db_, record.name);
          if (!taken.ok()) return taken.status();
          if (*taken) return ContainerAlreadyExists(record.name);
        }
        record.revision = stored.revision + 1;
        {
          absl::StatusOr<ScopedStatement> update = db_->Cached(kUpdateContainer);
          if (!update.ok()) return update.status();
          (*update)->Bind(1, name);
          BindContainerColumns(**update, 2, record);
          if (absl::Status status = (*update)->Run(); !status.ok()) return status;
        }
        // The children already followed a rename; rewrite only those that changed.
        if (record.config != stored.config) {
          if (absl::Status status = WriteMap(*db_, kConfigTable, record.name, record.config);
              !status.ok()) {
            return status;
          }
        }
        if (record.labels != stored.labels) {
          if (absl::Status status = WriteMap(*db_, kLabelsTable, record.name, record.labels);
              !status.ok()) {
            return status;
          }
        }
        if (record.source_args != stored.source_args) {
          if (absl::Status status = WriteArgs(*db_, record.name, record.source_args);
              !status.ok()) {
            return status;
          }
        }
        if (record.profiles != stored.profiles) {
          if (absl::Status status = WriteContainerProfiles(*db_, record.name, record.profiles);
              !status.ok()) {
            return status;
          }
        }
        if (record.devices != stored.devices) {
          if (absl::Status status =
                  WriteDevices(*db_, kContainerDevicesTable, record.name, record.devices);
              !status.ok()) {
            return status;
          }
        }
        if (absl::Status status = transaction.Commit(); !status.ok()) return status;
        return record;
      }),
      absl::StrCat("updating container ", QuotedName(name)));
}

absl::Status SqliteStore::Delete(std::string_view name, int64_t expected_revision) {
  absl::MutexLock lock(&mu_);
  return Annotate(sqlite::RetryWhileBusy([&]() -> absl::Status {
                    Transaction transaction(*db_);
                    if (!transaction.status().ok()) return transaction.status();
                    {
                      absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectRevision);
                      if (!select.ok()) return select.status();
                      absl::StatusOr<bool> row = (*select)->Bind(1, name).Step();
                      if (!row.ok()) return row.status();
                      if (!*row) return ContainerNotFound(name);
                      const int64_t revision = (*select)->ColumnInt64(0);
                      if (revision != expected_revision) {
                        return RevisionMismatch(name, expected_revision, revision);
                      }
                    }
                    absl::StatusOr<ScopedStatement> remove = db_->Cached(kDeleteContainer);
                    if (!remove.ok()) return remove.status();
                    if (absl::Status status = (*remove)->Bind(1, name).Run(); !status.ok()) {
                      return status;
                    }
                    return transaction.Commit();
                  }),
                  absl::StrCat("deleting container ", QuotedName(name)));
}

absl::StatusOr<SnapshotRecord> SqliteStore::CreateSnapshot(SnapshotRecord record) {
  if (absl::Status status = CheckStorable(record); !status.ok()) return status;
  record.created_at = FromStoredNanos(ToStoredNanos(record.created_at));
  absl::MutexLock lock(&mu_);
  return Annotate(
      sqlite::RetryWhileBusy([&]() -> absl::StatusOr<SnapshotRecord> {
        Transaction transaction(*db_);
        if (!transaction.status().ok()) return transaction.status();
        absl::StatusOr<bool> exists = Exists(*db_, record.container);
        if (!exists.ok()) return exists.status();
        if (!*exists) return ContainerNotFound(record.container);
        {
          absl::StatusOr<ScopedStatement> insert = db_->Cached(kInsertSnapshot);
          if (!insert.ok()) return insert.status();
          (*insert)
              ->Bind(1, record.container)
              .Bind(2, record.name)
              .Bind(3, ToStoredNanos(record.created_at))
              .Bind(4, EncodeDefinition(record.config, record.labels));
          if (absl::Status status = (*insert)->Run(); !status.ok()) {
            if (sqlite::ResultCodeOf(status) == SQLITE_CONSTRAINT_PRIMARYKEY) {
              return SnapshotAlreadyExists(record.container, record.name);
            }
            return status;
          }
        }
        if (absl::Status status = transaction.Commit(); !status.ok()) return status;
        return record;
      }),
      absl::StrCat("creating snapshot ", QuotedName(record.name), " of ",
                   QuotedName(record.container)));
}

absl::StatusOr<std::vector<SnapshotRecord>> SqliteStore::ListSnapshots(
    std::string_view container) {
  absl::MutexLock lock(&mu_);
  return Annotate(sqlite::RetryWhileBusy([&]() -> absl::StatusOr<std::vector<SnapshotRecord>> {
                    absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectSnapshots);
                    if (!select.ok()) return select.status();
                    (*select)->Bind(1, container);
                    std::vector<SnapshotRecord> records;
                    while (true) {
                      absl::StatusOr<bool> row = (*select)->Step();
                      if (!row.ok()) return row.status();
                      if (!*row) return records;
                      absl::StatusOr<SnapshotRecord> record = ReadSnapshotRow(**select);
                      if (!record.ok()) return record.status();
                      records.push_back(*std::move(record));
                    }
                  }),
                  absl::StrCat("listing the snapshots of ", QuotedName(container)));
}

absl::StatusOr<SnapshotRecord> SqliteStore::GetSnapshot(std::string_view container,
                                                        std::string_view name) {
  absl::MutexLock lock(&mu_);
  return Annotate(sqlite::RetryWhileBusy([&]() -> absl::StatusOr<SnapshotRecord> {
                    absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectSnapshot);
                    if (!select.ok()) return select.status();
                    absl::StatusOr<bool> row = (*select)->Bind(1, container).Bind(2, name).Step();
                    if (!row.ok()) return row.status();
                    if (!*row) return SnapshotNotFound(container, name);
                    return ReadSnapshotRow(**select);
                  }),
                  absl::StrCat("reading snapshot ", QuotedName(name), " of ",
                               QuotedName(container)));
}

absl::Status SqliteStore::DeleteSnapshot(std::string_view container, std::string_view name) {
  absl::MutexLock lock(&mu_);
  return Annotate(sqlite::RetryWhileBusy([&]() -> absl::Status {
                    Transaction transaction(*db_);
                    if (!transaction.status().ok()) return transaction.status();
                    {
                      absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectSnapshot);
                      if (!select.ok()) return select.status();
                      absl::StatusOr<bool> row =
                          (*select)->Bind(1, container).Bind(2, name).Step();
                      if (!row.ok()) return row.status();
                      if (!*row) return SnapshotNotFound(container, name);
                    }
                    absl::StatusOr<ScopedStatement> remove = db_->Cached(kDeleteSnapshot);
                    if (!remove.ok()) return remove.status();
                    if (absl::Status status = (*remove)->Bind(1, container).Bind(2, name).Run();
                        !status.ok()) {
                      return status;
                    }
                    return transaction.Commit();
                  }),
                  absl::StrCat("deleting snapshot ", QuotedName(name), " of ",
                               QuotedName(container)));
}

absl::StatusOr<ProfileRecord> SqliteStore::GetProfile(std::string_view name) {
  absl::MutexLock lock(&mu_);
  return Annotate(sqlite::RetryWhileBusy([&]() -> absl::StatusOr<ProfileRecord> {
                    Transaction transaction(*db_, Transaction::Mode::kDeferred);
                    if (!transaction.status().ok()) return transaction.status();
                    absl::StatusOr<std::optional<ProfileRecord>> record = ReadProfile(*db_, name);
                    if (!record.ok()) return record.status();
                    if (!record->has_value()) return ProfileNotFound(name);
                    if (absl::Status status = transaction.Commit(); !status.ok()) return status;
                    return **std::move(record);
                  }),
                  absl::StrCat("reading profile ", QuotedName(name)));
}

absl::StatusOr<std::vector<ProfileRecord>> SqliteStore::ListProfiles() {
  absl::MutexLock lock(&mu_);
  return Annotate(
      sqlite::RetryWhileBusy([&]() -> absl::StatusOr<std::vector<ProfileRecord>> {
        Transaction transaction(*db_, Transaction::Mode::kDeferred);
        if (!transaction.status().ok()) return transaction.status();
        std::vector<std::string> names;
        {
          absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectAllProfiles);
          if (!select.ok()) return select.status();
          while (true) {
            absl::StatusOr<bool> row = (*select)->Step();
            if (!row.ok()) return row.status();
            if (!*row) break;
            names.push_back((*select)->ColumnText(0));
          }
        }
        // Few profiles: one read each is simple and cheap.
        std::vector<ProfileRecord> records;
        for (const std::string& name : names) {
          absl::StatusOr<std::optional<ProfileRecord>> record = ReadProfile(*db_, name);
          if (!record.ok()) return record.status();
          if (record->has_value()) records.push_back(**std::move(record));
        }
        if (absl::Status status = transaction.Commit(); !status.ok()) return status;
        return records;
      }),
      "listing profiles");
}

absl::StatusOr<ProfileRecord> SqliteStore::CreateProfile(ProfileRecord record) {
  if (absl::Status status = CheckStorableProfile(record); !status.ok()) return status;
  TruncateTimestamps(record);
  record.revision = 1;
  absl::MutexLock lock(&mu_);
  return Annotate(
      sqlite::RetryWhileBusy([&]() -> absl::StatusOr<ProfileRecord> {
        Transaction transaction(*db_);
        if (!transaction.status().ok()) return transaction.status();
        absl::StatusOr<bool> exists = ProfileExists(*db_, record.name);
        if (!exists.ok()) return exists.status();
        if (*exists) return ProfileAlreadyExists(record.name);
        {
          absl::StatusOr<ScopedStatement> insert = db_->Cached(kInsertProfile);
          if (!insert.ok()) return insert.status();
          (*insert)
              ->Bind(1, record.name)
              .Bind(2, record.description)
              .Bind(3, record.revision)
              .Bind(4, ToStoredNanos(record.created_at))
              .Bind(5, ToStoredNanos(record.updated_at));
          if (absl::Status status = (*insert)->Run(); !status.ok()) return status;
        }
        if (absl::Status status = WriteMap(*db_, kProfileConfigTable, record.name, record.config);
            !status.ok()) {
          return status;
        }
        if (absl::Status status =
                WriteDevices(*db_, kProfileDevicesTable, record.name, record.devices);
            !status.ok()) {
          return status;
        }
        if (absl::Status status = transaction.Commit(); !status.ok()) return status;
        return record;
      }),
      absl::StrCat("creating profile ", QuotedName(record.name)));
}

absl::StatusOr<ProfileRecord> SqliteStore::UpdateProfile(ProfileRecord record,
                                                         int64_t expected_revision) {
  if (absl::Status status = CheckStorableProfile(record); !status.ok()) return status;
  TruncateTimestamps(record);
  absl::MutexLock lock(&mu_);
  return Annotate(
      sqlite::RetryWhileBusy([&]() -> absl::StatusOr<ProfileRecord> {
        Transaction transaction(*db_);
        if (!transaction.status().ok()) return transaction.status();
        absl::StatusOr<std::optional<ProfileRecord>> old = ReadProfile(*db_, record.name);
        if (!old.ok()) return old.status();
        if (!old->has_value()) return ProfileNotFound(record.name);
        const ProfileRecord& stored = **old;
        if (stored.revision != expected_revision) {
          return ProfileRevisionMismatch(record.name, expected_revision, stored.revision);
        }
        record.revision = stored.revision + 1;
        record.created_at = stored.created_at;
        {
          absl::StatusOr<ScopedStatement> update = db_->Cached(kUpdateProfile);
          if (!update.ok()) return update.status();
          (*update)
              ->Bind(1, record.name)
              .Bind(2, record.description)
              .Bind(3, record.revision)
              .Bind(4, ToStoredNanos(record.updated_at));
          if (absl::Status status = (*update)->Run(); !status.ok()) return status;
        }
        if (record.config != stored.config) {
          if (absl::Status status =
                  WriteMap(*db_, kProfileConfigTable, record.name, record.config);
              !status.ok()) {
            return status;
          }
        }
        if (record.devices != stored.devices) {
          if (absl::Status status =
                  WriteDevices(*db_, kProfileDevicesTable, record.name, record.devices);
              !status.ok()) {
            return status;
          }
        }
        if (absl::Status status = transaction.Commit(); !status.ok()) return status;
        return record;
      }),
      absl::StrCat("updating profile ", QuotedName(record.name)));
}

absl::Status SqliteStore::DeleteProfile(std::string_view name, int64_t expected_revision) {
  absl::MutexLock lock(&mu_);
  return Annotate(sqlite::RetryWhileBusy([&]() -> absl::Status {
                    Transaction transaction(*db_);
                    if (!transaction.status().ok()) return transaction.status();
                    absl::StatusOr<std::optional<ProfileRecord>> old = ReadProfile(*db_, name);
                    if (!old.ok()) return old.status();
                    if (!old->has_value()) return ProfileNotFound(name);
                    if ((*old)->revision != expected_revision) {
                      return ProfileRevisionMismatch(name, expected_revision, (*old)->revision);
                    }
                    absl::StatusOr<std::vector<std::string>> users = ProfileUsersIn(*db_, name);
                    if (!users.ok()) return users.status();
                    if (!users->empty()) return ProfileInUse(name, *users);
                    absl::StatusOr<ScopedStatement> remove = db_->Cached(kDeleteProfile);
                    if (!remove.ok()) return remove.status();
                    if (absl::Status status = (*remove)->Bind(1, name).Run(); !status.ok()) {
                      return status;
                    }
                    return transaction.Commit();
                  }),
                  absl::StrCat("deleting profile ", QuotedName(name)));
}

absl::StatusOr<std::vector<std::string>> SqliteStore::ProfileUsers(std::string_view name) {
  absl::MutexLock lock(&mu_);
  return Annotate(sqlite::RetryWhileBusy([&]() -> absl::StatusOr<std::vector<std::string>> {
                    Transaction transaction(*db_, Transaction::Mode::kDeferred);
                    if (!transaction.status().ok()) return transaction.status();
                    absl::StatusOr<std::vector<std::string>> users = ProfileUsersIn(*db_, name);
                    if (!users.ok()) return users.status();
                    if (absl::Status status = transaction.Commit(); !status.ok()) return status;
                    return users;
                  }),
                  absl::StrCat("listing the users of profile ", QuotedName(name)));
}

absl::StatusOr<std::string> SqliteStore::PragmaForTesting(std::string_view name) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_islower(static_cast<unsigned char>(c)) || c == '_';
      })) {
    return absl::InvalidArgumentError(absl::StrCat("not a pragma name: ", QuotedName(name)));
  }
  absl::MutexLock lock(&mu_);
  return db_->QueryText(absl::StrCat("PRAGMA ", ToAbsl(name)));
}

}  // namespace berth::storage
