#include "simulator/trainer_service.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "fake_smtp/mail_policy.hpp"
#include "simulator/files.hpp"
#include "simulator/catalogue.hpp"
#include "simulator/lab_checks.hpp"
#include "simulator/mail_agent.hpp"
#include "support/ipv4.hpp"

namespace sim {

namespace net = boost::asio;
namespace json = boost::json;

namespace {

constexpr auto tok = net::as_tuple(net::use_awaitable);

bool is_present(const fault_status& s) { return s.state == "active" || s.state == "pending" || s.state == "off"; }

std::vector<std::string> words_of(const std::string& line) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : line) {
        if (c == ' ' || c == '\t') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

}  // namespace

trainer_service::trainer_service(lab& l) : lab_(l) {}

duration trainer_service::session_now() const { return lab_.now() - skipped_; }

trainer::session& trainer_service::start(const std::string& name) {
    if (!dedicated_.empty())
        for (auto& [id, s] : sessions_)
            if (s->trainee() == dedicated_) return *s;
    const std::string& trainee = dedicated_.empty() ? name : dedicated_;
    auto id = "s" + std::to_string(next_id_++);
    auto& def = lab_.definition();
    auto config = def.trainer.value_or(trainer_config{});
    auto hints = trainer::hints_for(def, injected());
    auto s = std::make_unique<trainer::session>(id, trainee, def.meta.id, config, std::move(hints), session_now());
    auto& ref = *s;
    sessions_[id] = std::move(s);
    log_start_[id] = lab_.log().last_seq();
    latest_ = id;
    lab_.note("trainer", "", "session " + id + " started for " + trainee);
    changed();
    return ref;
}

trainer::session* trainer_service::find(const std::string& id) {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second.get();
}

trainer::session& trainer_service::current() {
    if (auto* s = find(latest_)) return *s;
    return start("console");
}

const trainer::session* trainer_service::latest() const {
    auto it = sessions_.find(latest_);
    return it == sessions_.end() ? nullptr : it->second.get();
}

std::vector<fault> trainer_service::injected() const {
    std::vector<fault> out;
    for (auto& s : lab_.faults(true)) out.push_back(s.f);
    return out;
}

std::vector<fault> trainer_service::active() const {
    std::vector<fault> out;
    for (auto& s : lab_.faults(true))
        if (is_present(s)) out.push_back(s.f);
    return out;
}

trainer::report trainer_service::report(const trainer::session& s) const {
    auto r = s.current(injected(), active(), session_now());
    // The trainee's own tools: queries and SMTP sessions from addresses that are
    // not lab hosts (dig, telnet, swaks on the trainee's machine).
    std::vector<ipv4> lab_addresses;
    for (auto& h : lab_.live().hosts) lab_addresses.push_back(h.address);
    auto inside = [&](ipv4 a) { return std::find(lab_addresses.begin(), lab_addresses.end(), a) != lab_addresses.end(); };
    auto start = log_start_.count(s.id()) ? log_start_.at(s.id()) : 0;
    std::size_t taken = 0;
    for (auto& e : lab_.log().since(start, 100000)) {
        if (taken >= 500) break;
        if (e.kind == "dns" && e.query && !inside(e.query->client)) {
            r.trail.push_back({e.sim - skipped_, e.wall_ms, "dns", e.host + ": " + e.describe()});
            ++taken;
        }
    }
    // SMTP as each host saw it on the wire (an IMC's protocol log may be off):
    // dialogues with peers that are not lab hosts.
    for (auto& agent : lab_.mail_agents())
        for (auto& e : agent->events()) {
            if (taken >= 1000) break;
            auto peer = support::parse_ipv4(e.peer);
            if (e.outbound || !peer || inside(*peer) || e.at - skipped_ < s.started()) continue;
            auto wall = lab_.started_wall_ms() + static_cast<std::int64_t>(e.at.count() / std::max(0.000001, lab_.speed()));
            r.trail.push_back({e.at - skipped_, wall, "smtp", agent->host() + ": " + e.peer + " " + e.line});
            ++taken;
        }
    std::stable_sort(r.trail.begin(), r.trail.end(), [](auto& a, auto& b) { return a.at < b.at; });
    return r;
}

void trainer_service::note_console(const std::string& host, const std::string& line) {
    if (sessions_.empty()) return;
    auto wall = lab_.started_wall_ms() + static_cast<std::int64_t>(lab_.now().count() / std::max(0.000001, lab_.speed()));
    current().add_evidence({session_now(), wall, "console", host + "> " + line});
    changed();
}

net::awaitable<void> trainer_service::pass_time(duration d) {
    skipped_ += d;
    auto pending = let_lab_time_pass(lab_, d);
    co_await std::move(pending);
}

net::awaitable<trainer::check_outcome> trainer_service::run_check(const trainer_check& c) {
    auto pending = run_lab_check(lab_, c, ++checks_run_, [this](duration d) { return pass_time(d); });
    co_return co_await std::move(pending);
}

net::awaitable<trainer::report> trainer_service::verify(trainer::session& s) {
    std::vector<trainer::check_outcome> results;
    auto still = active();
    // Checks only mean something once every fault is gone; skip them (and the clock jump) before.
    if (still.empty())
        for (auto& c : trainer::checks_for(lab_.definition())) {
            auto pending = run_check(c);
            results.push_back(co_await std::move(pending));
        }
    auto r = s.verify(injected(), active(), results, session_now());
    auto full = report(s);
    full.reasons = r.reasons;
    changed();
    lab_.note("trainer", "", "session " + s.id() + " verify: " + (r.passed ? "passed, score " + std::to_string(r.score) : "not yet"));
    co_return full;
}

net::awaitable<std::string> trainer_service::console_command(std::string line) {
    auto w = words_of(line);
    if (w.empty()) co_return std::string{};
    auto cmd = support::to_lower(w[0]);
    auto& def = lab_.definition();
    if (cmd == "briefing") {
        std::string out = def.meta.title.empty() ? std::string() : def.meta.title + "\n\n";
        out += def.meta.briefing.empty() ? "This lab has no briefing: look around." : def.meta.briefing;
        co_return out + "\n";
    }
    if (cmd == "catalogue") {
        std::string out = "Fault kinds (diagnose KIND TARGET names one; TARGET is its first parameter):\n";
        for (auto& k : catalogue())
            out += "  " + std::string(k.kind) + " " + std::string(k.params.front().name) + "  - " + std::string(k.summary) + "\n";
        co_return out;
    }
    auto& s = current();
    if (cmd == "hint") {
        auto h = s.hint(session_now());
        changed();
        if (!h) co_return std::string("There are no more hints.\n");
        co_return "Hint " + std::to_string(s.hints_used()) + ": " + h->first + "\n(-" + std::to_string(h->second) +
            " points; " + std::to_string(s.hints_left()) + " left)\n";
    }
    if (cmd == "diagnose") {
        if (w.size() != 3) co_return std::string("Usage: diagnose KIND TARGET   (see `catalogue` for the kinds)\n");
        if (!find_fault_kind(support::to_lower(w[1])))
            co_return "diagnose: there is no fault kind '" + w[1] + "'. Type `catalogue` for the list.\n";
        auto d = s.diagnose(w[1], w[2], injected(), lab_.answer(), session_now());
        changed();
        if (d.correct) co_return "Right: " + d.kind + " on " + d.target + ". Now fix it, then `verify`.\n";
        co_return "Not this one" + std::string(d.cost ? " (-" + std::to_string(d.cost) + " points)" : "") + ".\n";
    }
    if (cmd == "verify") {
        auto pending = verify(s);
        auto r = co_await std::move(pending);
        if (r.passed) co_return "Verified: every fault is fixed and every check passes. Score: " + std::to_string(r.score) +
                          " of " + std::to_string(r.points) + ".\n";
        std::string out = "Not yet:\n";
        for (auto& reason : r.reasons) out += "  - " + reason + "\n";
        co_return out;
    }
    if (cmd == "score") {
        auto r = report(s);
        std::string out = "Session " + s.id() + " (" + s.trainee() + "), " + r.state + ": time " +
                          support::format_duration(r.elapsed) + " of " + support::format_duration(r.time_limit) + "\n";
        out += "  hints " + std::to_string(r.hints_used) + " (-" + std::to_string(r.hint_cost) + "), wrong diagnoses " +
               std::to_string(r.wrong_diagnoses) + " (-" + std::to_string(r.wrong_cost) + ")\n";
        out += "  score " + (r.passed ? std::to_string(r.score) : "none yet (it counts after a successful verify; now " + std::to_string(s.score()) + ")") + "\n";
        co_return out;
    }
    co_return "Unknown trainer command.\n";
}

// --- persistence -----------------------------------------------------------------

void trainer_service::persist_to(std::string path) {
    path_ = std::move(path);
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    load(text);
}

void trainer_service::changed() {
    if (on_change) on_change();
    if (path_.empty()) return;
    if (auto err = write_file_atomically(path_, save()); !err.empty()) lab_.note("trainer", "", err);
}

std::string trainer_service::save() const {
    json::array list;
    for (auto& [id, s] : sessions_) {
        auto st = s->save();
        json::array diags, trail, checks;
        for (auto& d : st.diagnoses)
            diags.push_back({{"kind", d.kind}, {"target", d.target}, {"correct", d.correct}, {"cost", d.cost},
                             {"at", d.at.count()}, {"fault", d.fault_id}});
        for (auto& e : st.trail) trail.push_back({{"at", e.at.count()}, {"wall", e.wall_ms}, {"source", e.source}, {"text", e.text}});
        for (auto& c : st.last_checks) checks.push_back({{"description", trainer::describe(c.check)}, {"passed", c.passed}, {"got", c.got}});
        list.push_back({{"id", id}, {"trainee", s->trainee()}, {"started", s->started().count()},
                        {"log_start", log_start_.count(id) ? log_start_.at(id) : 0}, {"hints_used", st.hints_used},
                        {"diagnoses", diags}, {"trail", trail}, {"passed", st.passed}, {"finished", st.finished.count()},
                        {"checks", checks}});
    }
    return json::serialize(json::object{{"latest", latest_}, {"next", next_id_}, {"skipped", skipped_.count()}, {"sessions", list}});
}

void trainer_service::load(const std::string& text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return;
    try {
        auto& o = v.as_object();
        latest_ = json::value_to<std::string>(o.at("latest"));
        next_id_ = static_cast<int>(o.at("next").to_number<std::int64_t>());
        skipped_ = duration(o.at("skipped").to_number<std::int64_t>());
        auto& def = lab_.definition();
        for (auto& item : o.at("sessions").as_array()) {
            auto& so = item.as_object();
            auto id = json::value_to<std::string>(so.at("id"));
            auto s = std::make_unique<trainer::session>(id, json::value_to<std::string>(so.at("trainee")), def.meta.id,
                                                        def.trainer.value_or(trainer_config{}), trainer::hints_for(def, injected()),
                                                        duration(so.at("started").to_number<std::int64_t>()));
            trainer::session::saved st;
            st.hints_used = static_cast<int>(so.at("hints_used").to_number<std::int64_t>());
            for (auto& d : so.at("diagnoses").as_array()) {
                auto& dobj = d.as_object();
                st.diagnoses.push_back({json::value_to<std::string>(dobj.at("kind")), json::value_to<std::string>(dobj.at("target")),
                                        dobj.at("correct").as_bool(), static_cast<int>(dobj.at("cost").to_number<std::int64_t>()),
                                        duration(dobj.at("at").to_number<std::int64_t>()),
                                        json::value_to<std::string>(dobj.at("fault"))});
            }
            for (auto& e : so.at("trail").as_array()) {
                auto& eo = e.as_object();
                st.trail.push_back({duration(eo.at("at").to_number<std::int64_t>()), eo.at("wall").to_number<std::int64_t>(),
                                    json::value_to<std::string>(eo.at("source")), json::value_to<std::string>(eo.at("text"))});
            }
            st.passed = so.at("passed").as_bool();
            st.finished = duration(so.at("finished").to_number<std::int64_t>());
            s->restore(st);
            log_start_[id] = static_cast<std::uint64_t>(so.at("log_start").to_number<std::int64_t>());
            sessions_[id] = std::move(s);
        }
    } catch (const std::exception& e) {
        lab_.note("trainer", "", std::string("the saved trainer sessions could not be read: ") + e.what());
    }
}

}  // namespace sim
