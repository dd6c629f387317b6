#include "simulator/lab_clock.hpp"

namespace sim {

duration lab_clock::now(real_time real) const {
    auto elapsed = std::chrono::duration<double, std::milli>(real - base_real_).count();
    if (elapsed < 0) elapsed = 0;
    return base_sim_ + duration{static_cast<std::int64_t>(elapsed * speed_)};
}

lab_clock::real_time lab_clock::real_at(duration at, real_time real) const {
    auto current = now(real);
    if (at <= current) return real;
    auto ms = static_cast<double>((at - current).count()) / speed_;
    // Round up so that a timer never fires before the simulated time arrives.
    auto wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double, std::milli>(ms));
    return real + wait + std::chrono::microseconds(1);
}

void lab_clock::rebase(real_time real) {
    base_sim_ = now(real);
    base_real_ = real;
}

void lab_clock::advance(duration d, real_time real) {
    rebase(real);
    if (d.count() > 0) {
        base_sim_ += d;
        advanced_ += d;
    }
}

void lab_clock::set_speed(double speed, real_time real) {
    rebase(real);
    speed_ = speed;
}

lab_schedule::id lab_schedule::at(duration when, std::function<void()> fn) {
    auto seq = next_id_++;
    key k{when, seq};
    entries_.emplace(k, std::move(fn));
    index_.emplace(seq, k);
    return seq;
}

void lab_schedule::cancel(id which) {
    auto it = index_.find(which);
    if (it == index_.end()) return;
    entries_.erase(it->second);
    index_.erase(it);
}

std::optional<duration> lab_schedule::next() const {
    if (entries_.empty()) return std::nullopt;
    return entries_.begin()->first.when;
}

std::vector<std::function<void()>> lab_schedule::take_due(duration now) {
    std::vector<std::function<void()>> out;
    while (!entries_.empty() && entries_.begin()->first.when <= now) {
        auto node = entries_.extract(entries_.begin());
        index_.erase(node.key().seq);
        out.push_back(std::move(node.mapped()));
    }
    return out;
}

}  // namespace sim
