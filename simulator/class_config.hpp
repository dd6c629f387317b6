#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "simulator/source.hpp"
#include "support/text.hpp"

namespace sim {

/// One trainee of a class: a lab of their own.
struct class_trainee {
    std::string name;
    std::string token;                 ///< "" = a random one at start
    std::string scenario;              ///< "" = the class's scenarios in turn
    std::optional<std::uint64_t> seed; ///< nullopt = the class's seed + the trainee's position
    source_pos pos;
};

/// A class file (`mailsim serve --class FILE`): which scenarios, who, and how.
struct class_config {
    std::string file;
    std::string title;
    std::vector<std::string> scenarios;  ///< handed out in turn to trainees without their own
    int prefix = 60;                     ///< the first trainee's lab is on 127.60, the next on 127.61...
    std::uint64_t seed = 1;
    double speed = 1;                    ///< lab seconds per real second
    std::optional<support::duration> time_limit;  ///< overrides the scenarios' [trainer] time_limit
    std::string ports = "auto";          ///< auto | standard | high
    std::string instructor_token;        ///< "" = a random one at start
    std::vector<class_trainee> trainees;
    source_pos scenarios_pos;
};

/// The most trainees one class holds (one /16 each, from `prefix` up to 127.255).
inline constexpr int max_class_size = 200;

/// Reads and checks a class file (untrusted: through the guarded TOML parser).
/// Every problem goes to `diags` as file:line:col; nullopt when any.
std::optional<class_config> load_class(const std::string& path, diagnostics& diags);
/// The same from text (`path` names it in messages).
std::optional<class_config> parse_class(std::string_view text, const std::string& path, diagnostics& diags);

/// The scenario and seed a trainee gets: their own, else the class's in turn.
std::string scenario_of(const class_config& c, std::size_t index);
std::uint64_t seed_of(const class_config& c, std::size_t index);

}  // namespace sim
