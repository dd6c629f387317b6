#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "simulator/lab.hpp"
#include "trainer/session.hpp"

namespace sim {

/// The trainer of one lab: its sessions, and what they need from the running
/// lab — the injected and still-active faults, the checks run for real, the
/// trainee's evidence from the lab log, and the console's trainer commands.
class trainer_service {
public:
    explicit trainer_service(lab& l);

    /// Starts a session for `trainee`; its clock starts now. A dedicated
    /// service (class mode) keeps one session, for its trainee, whatever name is given.
    trainer::session& start(const std::string& trainee);
    /// Class mode: this lab belongs to `trainee`; every start() gives their one session.
    void dedicate(std::string trainee) { dedicated_ = std::move(trainee); }
    /// The newest session, or nullptr before anyone started one.
    const trainer::session* latest() const;
    trainer::session* find(const std::string& id);
    /// The session the console acts in: the newest (one is started for "console" if none).
    trainer::session& current();
    const std::map<std::string, std::unique_ptr<trainer::session>>& sessions() const { return sessions_; }

    /// Faults the lab injected (from the scenario or the API), and those still present.
    std::vector<fault> injected() const;
    std::vector<fault> active() const;

    /// Runs the checks of the scenario in the lab (advancing the lab clock as a
    /// check's `within` allows), then verifies the session.
    boost::asio::awaitable<trainer::report> verify(trainer::session& s);
    /// The report as things stand, with the evidence from the lab log.
    trainer::report report(const trainer::session& s) const;

    /// A trainer command typed at the console (briefing, hint, catalogue,
    /// diagnose, verify, score): its output.
    boost::asio::awaitable<std::string> console_command(std::string line);
    /// A console line, as evidence for the current session.
    void note_console(const std::string& host, const std::string& line);

    /// Lab time skipped by verify's checks (it does not count against the time limit).
    duration skipped() const { return skipped_; }
    /// Lab time as a session counts it.
    duration session_now() const;

    /// Persistence (--state-dir): sessions as JSON text, and back.
    std::string save() const;
    void load(const std::string& text);
    /// Keeps sessions in `path` (read now if it exists, written after every change).
    void persist_to(std::string path);
    /// Call after changing a session: writes the sessions when persisting and tells `on_change`.
    void changed();
    /// Called after every change to a session (the instructor's live view listens).
    std::function<void()> on_change;

private:
    boost::asio::awaitable<trainer::check_outcome> run_check(const trainer_check& c);
    /// Advances the lab clock by `d` and lets the lab's real I/O run a little.
    boost::asio::awaitable<void> pass_time(duration d);

    lab& lab_;
    std::map<std::string, std::unique_ptr<trainer::session>> sessions_;
    std::map<std::string, std::uint64_t> log_start_;  ///< session id -> lab log seq when it started
    std::string latest_;
    int next_id_ = 1;
    duration skipped_{0};
    int checks_run_ = 0;
    std::string path_;
    std::string dedicated_;
};

}  // namespace sim
