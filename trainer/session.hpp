#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/scenario.hpp"

namespace trainer {

using sim::duration;

/// The hints of a scenario in the order a trainee gets them: the
/// `[[trainer.hint]]` texts when there are any, else hints made from the
/// guide's questions for each fault's step (in the guide's order), then what
/// each fault looks like, then where to look for it.
std::vector<std::string> hints_for(const sim::scenario& s, const std::vector<sim::fault>& faults);

/// The checks `verify` runs: `[[trainer.check]]` when given, else the default
/// checks of SPEC 3 (every mailbox receives from the vantage host; every
/// Exchange mailbox can send to an Internet mailbox).
std::vector<sim::trainer_check> checks_for(const sim::scenario& s);

/// One sentence saying what a check tests ("mail from bob@example.net to alice@corp.example via MAILHOST is delivered within 10m").
std::string describe(const sim::trainer_check& c);

/// A check as the lab ran it.
struct check_outcome {
    sim::trainer_check check;
    bool passed = false;
    std::string got;  ///< what happened: "delivered", "bounced", "queued", an address, "refused"...
};

/// Something the trainee did, for the report's evidence.
struct evidence {
    duration at{0};            ///< lab time
    std::int64_t wall_ms = 0;  ///< real time
    std::string source;        ///< console | dns | smtp
    std::string text;
};

struct diagnosis {
    std::string kind, target;
    bool correct = false;
    int cost = 0;
    duration at{0};
    std::string fault_id;  ///< the fault it named, when correct
};

/// Where each injected fault stands at verify time.
struct fault_status {
    std::string id, kind, target;
    bool diagnosed = false;
    bool fixed = false;
};

/// The report a finished (or checked) session gives.
struct report {
    std::string session, trainee, scenario;
    std::string state;  ///< running | passed | expired
    duration elapsed{0};
    duration time_limit{0};
    int points = 0;
    int hints_used = 0, hint_cost = 0;
    int wrong_diagnoses = 0, wrong_cost = 0;
    int score = 0;
    bool passed = false;
    std::vector<std::string> reasons;  ///< why verify did not pass
    std::vector<diagnosis> diagnoses;
    std::vector<fault_status> faults;
    std::vector<check_outcome> checks;
    std::vector<evidence> trail;
};

/// A trainee's go at a scenario: hints, diagnoses, verification and the score,
/// on the lab clock. Pure: the lab supplies the faults, the answer
/// configuration and the results of the checks it ran.
class session {
public:
    session(std::string id, std::string trainee, std::string scenario, sim::trainer_config config,
            std::vector<std::string> hints, duration started);

    const std::string& id() const { return id_; }
    const std::string& trainee() const { return trainee_; }
    const sim::trainer_config& config() const { return config_; }

    /// The next hint and what it cost; nullopt when every hint has been given.
    std::optional<std::pair<std::string, int>> hint(duration now);
    int hints_used() const { return hints_used_; }
    int hints_left() const { return static_cast<int>(hints_.size()) - hints_used_; }

    /// Names a fault: right when `kind` is the kind of one of `faults` and
    /// `target` names its target (case-insensitive, a host by name or FQDN).
    /// A wrong guess costs `wrong_diagnosis_cost`; a right one is free.
    diagnosis diagnose(std::string_view kind, std::string_view target, const std::vector<sim::fault>& faults,
                       const sim::configuration& answer, duration now);

    /// Checks the trainee's fix: `active` are the injected faults still present
    /// in the live configuration; `checks` the results of the checks. Passes
    /// when nothing is active and every check passed, within the time limit.
    report verify(const std::vector<sim::fault>& injected, const std::vector<sim::fault>& active,
                  const std::vector<check_outcome>& checks, duration now);

    /// The report as things stand, without verifying.
    report current(const std::vector<sim::fault>& injected, const std::vector<sim::fault>& active, duration now) const;

    void add_evidence(evidence e);
    bool passed() const { return passed_; }
    /// True once the time limit has passed without a successful verify.
    bool expired(duration now) const { return !passed_ && now - started_ > config_.time_limit; }
    int score() const;
    duration started() const { return started_; }

    /// For persistence: everything that changes, as plain data.
    struct saved {
        int hints_used = 0;
        std::vector<diagnosis> diagnoses;
        std::vector<evidence> trail;
        bool passed = false;
        duration finished{0};
        std::vector<check_outcome> last_checks;
    };
    saved save() const;
    void restore(const saved& s);

private:
    std::string id_, trainee_, scenario_;
    sim::trainer_config config_;
    std::vector<std::string> hints_;
    duration started_;
    int hints_used_ = 0;
    std::vector<diagnosis> diagnoses_;
    std::vector<evidence> trail_;
    bool passed_ = false;
    duration finished_{0};
    std::vector<check_outcome> last_checks_;
};

}  // namespace trainer
