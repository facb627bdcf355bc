#pragma once
// Routes that are not about orders: the seed's health envelope at GET /.
#include "api/router.h"

namespace orderflow::api {
void add_system_routes(Router& router);
}
