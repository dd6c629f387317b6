#pragma once
#include <functional>
#include <string>

#include <boost/json/object.hpp>

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

/// Which of a lab's endpoints a token opens.
struct lab_routes_options {
    /// GET/POST/DELETE /faults: false for a trainee in class mode (403), so the
    /// answer and the undo button stay with the instructor.
    bool faults = true;
};

/// Adds the endpoints of SPEC 8 that a single lab serves, under `/api/v1`, and
/// the trainee page at `/`; with a trainer, the console's trainer commands.
void add_lab_routes(api_router& router, lab& l, std::function<api_identity()> identity, trainer_service* trainer = nullptr,
                    lab_routes_options opts = {});

/// The trainee page (GET /), with the fault catalogue for its diagnosis form.
api_response trainee_page();
/// An embedded page with `data` (JSON) put where it says @@MAILSIM_CATALOGUE@@.
std::string page_with_data(std::string_view html, const boost::json::value& data);

/// A session's report as JSON text.
std::string trainer_report_json(const ::trainer::report& r);

/// The trainer's endpoints (`/api/v1/trainer/...`).
void add_trainer_routes(api_router& router, lab& l, trainer_service& trainer);

/// A fault as GET /faults shows it.
boost::json::object fault_status_object(const fault_status& s);
/// A fault from a POST /faults body; "" in `error` or why not (unknown parameter, bad timing...).
fault fault_from_body(const boost::json::object& body, std::string& error);

/// A session's report as a JSON object (the trainer's and the instructor's endpoints).
boost::json::object trainer_report_object(const ::trainer::report& r);

}  // namespace sim
