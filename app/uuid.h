#pragma once
// Random UUID v4 strings (lower-case, canonical form) for order, item, event and request ids.
// Thread-safe: each thread has its own generator seeded from std::random_device.
#include <string>

namespace orderflow::app {
std::string new_uuid_v4();
}
