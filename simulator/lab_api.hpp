#pragma once
#include <functional>
#include <string>

#include "simulator/api.hpp"
#include "simulator/lab.hpp"

namespace sim {

/// Where the API of a lab is reached, for the ready JSON.
struct api_identity {
    std::string url;
    std::string token;
};

/// The ready JSON of SPEC 7 (also `GET /api/v1/lab`), one line.
std::string ready_json(const lab& l, const api_identity& id);

/// Adds the endpoints of SPEC 8 that a single lab serves, under `/api/v1`.
void add_lab_routes(api_router& router, lab& l, std::function<api_identity()> identity);

}  // namespace sim
