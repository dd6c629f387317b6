#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "support/text.hpp"

namespace sim {

using support::duration;

/// The lab clock (SPEC 6): simulated time runs at `speed` simulated seconds per
/// real second and can jump forward. Pure: the real time is passed in.
class lab_clock {
public:
    using real_time = std::chrono::steady_clock::time_point;

    lab_clock(double speed, real_time start) : speed_(speed), base_real_(start) {}

    /// Simulated time since the lab started.
    duration now(real_time real) const;
    /// The real time at which simulated time `at` arrives (never before `real`).
    real_time real_at(duration at, real_time real) const;
    /// Jumps simulated time forward by `d`.
    void advance(duration d, real_time real);
    void set_speed(double speed, real_time real);
    double speed() const { return speed_; }
    /// Total time added by advance().
    duration advanced() const { return advanced_; }

private:
    void rebase(real_time real);

    double speed_;
    real_time base_real_;
    duration base_sim_{0};
    duration advanced_{0};
};

/// Callbacks due at simulated times, in order. Pure: the caller says what time
/// it is and runs what is due.
class lab_schedule {
public:
    using id = std::uint64_t;

    /// Schedules `fn` at simulated time `at`; the id cancels it.
    id at(duration when, std::function<void()> fn);
    void cancel(id which);
    /// The earliest pending time.
    std::optional<duration> next() const;
    /// Removes and returns, in time order, the callbacks due at or before `now`.
    std::vector<std::function<void()>> take_due(duration now);
    std::size_t size() const { return entries_.size(); }

private:
    struct key {
        duration when;
        id seq;
        auto operator<=>(const key&) const = default;
    };
    std::map<key, std::function<void()>> entries_;
    std::map<id, key> index_;
    id next_id_ = 1;
};

}  // namespace sim
