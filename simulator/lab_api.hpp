#pragma once
#include <functional>
#include <string>

#include "simulator/api.hpp"
#include "simulator/lab.hpp"

namespace trainer {
struct report;
}

namespace sim {

/// Where the API of a lab is reached, for the ready JSON.
struct api_identity {
    std::string url;
    std::string token;
};

/// The ready JSON of SPEC 7 (also `GET /api/v1/lab`), one line.
std::string ready_json(const lab& l, const api_identity& id);

class trainer_service;

/// Adds the endpoints of SPEC 8 that a single lab serves, under `/api/v1`;
/// with a trainer, its sessions too, and the console's trainer commands.
void add_lab_routes(api_router& router, lab& l, std::function<api_identity()> identity, trainer_service* trainer = nullptr);

/// A session's report as JSON text.
std::string trainer_report_json(const ::trainer::report& r);

/// The trainer's endpoints (`/api/v1/trainer/...`).
void add_trainer_routes(api_router& router, lab& l, trainer_service& trainer);

}  // namespace sim
