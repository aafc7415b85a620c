#pragma once

#include <spawn.h>

namespace berth::runtime {

// Initializes `attr` for a child berthd spawns (berth-lxc-helper, a local exec): an empty signal
// mask, every signal at its default disposition (berthd blocks and ignores some), and a session
// of its own, so a Ctrl-C at a foreground daemon's terminal never reaches it (or, through the
// helper, a container being started). The caller destroys `attr`.
void InitChildSpawnAttributes(posix_spawnattr_t* attr);

}  // namespace berth::runtime
