#pragma once
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "simulator/scenario.hpp"

namespace sim {

/// One fault of an answer key: what is wrong, what it looks like, how to fix it.
struct explained_fault {
    std::string id;
    std::string kind;
    std::string target;
    std::string step;                                        ///< guide step(s) as printed
    std::vector<std::pair<std::string, param_value>> params; ///< in the catalogue's order, then any others
    std::vector<std::pair<std::string, std::vector<param_value>>> picked;  ///< alternatives of picked parameters
    std::vector<std::string> timing;                         ///< "starts after 5m"...; empty: from the start until fixed
    std::string summary, symptom, cleared_by;
    std::vector<std::pair<std::string, std::string>> tools;  ///< tool, what it shows
    std::vector<std::pair<std::string, std::string>> fixes;  ///< host, console command
    std::vector<std::string> notes;                          ///< caveats of the loopback back-end
};

/// The answer key of one scenario, made from the catalogue and the scenario
/// (never written per scenario).
struct answer_key {
    std::string path, id, title, difficulty, vantage, briefing, prefix;
    std::optional<int> guide_step;
    std::uint64_t seed = 0;
    std::vector<explained_fault> faults;
    /// What a diagnostic tool must report (kind, target): `[expect]`, else the faults.
    std::vector<std::pair<std::string, std::string>> expect;
    /// Faults that start later (`after`): a tool may report them, need not.
    std::vector<std::pair<std::string, std::string>> later;
    bool expect_written = false;  ///< true when `[expect]` gave them
};

/// Builds the answer key with the faults' picks decided by `seed`.
answer_key make_answer_key(const scenario& s, std::uint64_t seed);

/// The answer key as text for an instructor.
void print_answer_key(const answer_key& k, std::ostream& out);

/// The answer key as one JSON document, for tools.
std::string answer_key_json(const answer_key& k);

/// How `mailsim explain` is asked.
struct explain_options {
    std::optional<std::uint64_t> seed;  ///< --seed: another lab's picks (default: the [lab] seed)
    std::optional<int> prefix;          ///< --prefix 127.N: the key of a lab moved there
    bool json = false;
};

/// `mailsim explain SCENARIO [--seed N] [--prefix 127.N] [--json]`: returns the
/// exit code (0, or 1 when the scenario has errors, printed as file:line:col on `err`).
int explain_scenario(const std::string& path, const explain_options& o, std::ostream& out, std::ostream& err);

}  // namespace sim
