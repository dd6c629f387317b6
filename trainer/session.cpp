#include "trainer/session.hpp"

#include <algorithm>
#include <set>

#include "simulator/catalogue.hpp"
#include "simulator/faults.hpp"
#include "support/text.hpp"

namespace trainer {

namespace {

// The guide's questions, one per step, in our words: what to find out and
// where to look, without naming the fault.
std::string step_question(int step) {
    switch (step) {
        case 1:
            return "Start at the beginning: is the Internet Mail Connector installed on the Exchange server at all? "
                   "`net start` and `admin imc` on the server tell you.";
        case 2:
            return "Does the connector's service start? Try `net start msexchangeimc` on the Exchange server and read "
                   "what it answers.";
        case 3:
            return "When a service will not start, the event log says why: `eventvwr` on that server, and look up the "
                   "event ID.";
        case 4:
            return "Can a user on the Exchange server receive a message typed by hand? `telnet` to port 25 and walk "
                   "through MAIL FROM, RCPT TO and DATA; check the connector's transfer mode and the user's SMTP "
                   "addresses.";
        case 5:
            return "From the host that forwards mail, can you reach the Exchange server by address (`ping`, `tracert`, "
                   "`ipconfig /all` on both ends)? And by name (`nslookup`, `ping NAME`)?";
        case 6:
            return "Follow an outbound message: does it leave the Outbox (`client outbox`), reach the connector's "
                   "queue (`admin queue`), or come back at once as a non-delivery report (`client inbox`)? Look at "
                   "the routing table (`admin gwart`) and the connector's properties.";
        default:
            return "";
    }
}

std::string loop_question() {
    return "Mail that goes round and round leaves a trail: watch the traffic between the relays with `netmon` and "
           "read the Received lines of a bounced message.";
}

const sim::fault_kind* kind_of(const sim::fault& f) { return sim::find_fault_kind(f.kind); }

int first_step(const sim::fault& f) {
    auto* k = kind_of(f);
    return k && !k->guide_steps.empty() ? k->guide_steps.front() : 99;  // the loop kinds come last
}

}  // namespace

std::vector<std::string> hints_for(const sim::scenario& s, const std::vector<sim::fault>& faults) {
    std::vector<std::string> out;
    if (s.trainer && !s.trainer->hints.empty()) {
        for (auto& h : s.trainer->hints) out.push_back(h.text);
        return out;
    }
    // The guide's order of questions: by step, then each fault's symptom, then where it shows.
    auto ordered = faults;
    std::stable_sort(ordered.begin(), ordered.end(), [](auto& a, auto& b) { return first_step(a) < first_step(b); });
    std::set<int> asked;
    if (s.meta.guide_step) {
        out.push_back(step_question(*s.meta.guide_step));
        asked.insert(*s.meta.guide_step);
    }
    for (auto& f : ordered) {
        auto* k = kind_of(f);
        if (!k) continue;
        if (k->guide_steps.empty()) {
            if (asked.insert(0).second) out.push_back(loop_question());
            continue;
        }
        for (int step : k->guide_steps)
            if (asked.insert(step).second) out.push_back(step_question(step));
    }
    for (auto& f : ordered)
        if (auto* k = kind_of(f)) out.push_back("What to look for: " + std::string(k->symptom));
    for (auto& f : ordered)
        if (auto* k = kind_of(f))
            for (auto& t : k->tools)
                if (t.tool == "console" || t.tool == "telnet" || t.tool == "dig") {
                    out.push_back("With " + std::string(t.tool) + ": " + std::string(t.shows) + ".");
                    break;
                }
    for (auto& f : ordered)
        if (auto* k = kind_of(f)) out.push_back("The cause, without the name: " + std::string(k->summary));
    out.erase(std::remove_if(out.begin(), out.end(), [](auto& h) { return h.empty(); }), out.end());
    return out;
}

std::vector<sim::trainer_check> checks_for(const sim::scenario& s) {
    if (s.trainer && !s.trainer->checks.empty()) return s.trainer->checks;
    std::vector<sim::trainer_check> out;
    constexpr std::size_t cap = 12;  // a verify must stay quick
    auto& cfg = s.answer;
    // The vantage host as the lab chooses it: [scenario] vantage, else the
    // first client, else the first host.
    const sim::host_config* vantage = s.meta.vantage.empty() ? nullptr : cfg.find_host(s.meta.vantage);
    for (auto& h : cfg.hosts)
        if (!vantage && h.has_role(sim::role::client)) vantage = &h;
    if (!vantage && !cfg.hosts.empty()) vantage = &cfg.hosts.front();
    // Outside mail leaves from the vantage host when it can send SMTP (a relay
    // or mail store); a workstation or an Exchange server cannot send as an
    // outsider, so the first relay or mail store sends for it.
    auto outside = [](const sim::host_config* h) {
        return h && h->smtp && (h->has_role(sim::role::relay) || h->has_role(sim::role::mailstore));
    };
    const sim::host_config* sender = outside(vantage) ? vantage : nullptr;
    for (auto& h : cfg.hosts)
        if (!sender && outside(&h) && h.has_role(sim::role::relay)) sender = &h;
    for (auto& h : cfg.hosts)
        if (!sender && outside(&h)) sender = &h;
    if (!sender) sender = vantage;
    std::string via = sender ? sender->name : s.meta.vantage;
    // An outside sender: a mailbox on the sending host, else trainee@ the vantage host's name.
    std::string outside_sender = "trainee@" + (vantage && !vantage->fqdn.empty() ? vantage->fqdn : std::string("lab.example"));
    if (sender && sender->smtp && !sender->smtp->mailboxes.empty()) outside_sender = sender->smtp->mailboxes.front();
    std::vector<std::string> internet;  // mailboxes of mail stores: somewhere on the Internet
    for (auto& h : cfg.hosts) {
        if (h.exchange)
            for (auto& m : h.exchange->mailboxes)
                if (!m.smtp.empty() && out.size() < cap) {
                    sim::trainer_check c;
                    c.kind = "deliver";
                    c.from = outside_sender;
                    c.to = m.smtp.front();
                    c.via = via;
                    c.expect = "delivered";
                    out.push_back(c);
                }
        if (h.has_role(sim::role::mailstore) && h.smtp)
            for (auto& m : h.smtp->mailboxes)
                if (!support::to_lower(m).starts_with("postmaster@")) internet.push_back(m);
    }
    for (auto& h : cfg.hosts)
        if (h.exchange && !internet.empty())
            for (auto& m : h.exchange->mailboxes)
                if (!m.smtp.empty() && out.size() < cap) {
                    sim::trainer_check c;
                    c.kind = "deliver";
                    c.from = m.smtp.front();
                    c.to = internet.front();
                    c.via = h.name;
                    c.expect = "delivered";
                    out.push_back(c);
                }
    return out;
}

std::string describe(const sim::trainer_check& c) {
    auto within = support::format_duration(c.within);
    if (c.kind == "deliver")
        return "mail from " + c.from + " to " + c.to + " via " + c.via + " is " + c.expect + " within " + within;
    if (c.kind == "resolve")
        return c.name + " (" + (c.type.empty() ? std::string("A") : c.type) + ") resolves to " + c.expect + " from " + c.via;
    if (c.kind == "connect")
        return "a connection from " + (c.from.empty() ? c.via.empty() ? std::string("the vantage host") : c.via : c.from) +
               " to " + c.host + ":" + std::to_string(c.port ? c.port : 25) + " is " + c.expect;
    return c.kind;
}

// --- the session ---------------------------------------------------------------

session::session(std::string id, std::string trainee, std::string scenario, sim::trainer_config config,
                 std::vector<std::string> hints, duration started)
    : id_(std::move(id)),
      trainee_(std::move(trainee)),
      scenario_(std::move(scenario)),
      config_(std::move(config)),
      hints_(std::move(hints)),
      started_(started) {}

std::optional<std::pair<std::string, int>> session::hint(duration now) {
    if (hints_used_ >= static_cast<int>(hints_.size())) return std::nullopt;
    auto text = hints_[static_cast<std::size_t>(hints_used_++)];
    add_evidence({now, 0, "trainer", "hint " + std::to_string(hints_used_)});
    return std::pair{text, config_.hint_cost};
}

diagnosis session::diagnose(std::string_view kind, std::string_view target, const std::vector<sim::fault>& faults,
                            const sim::configuration& answer, duration now) {
    diagnosis d;
    d.kind = support::to_lower(kind);
    d.target = std::string(target);
    d.at = now - started_;
    for (auto& f : faults)
        if (sim::diagnosis_matches(f, answer, kind, target)) {
            d.correct = true;
            d.fault_id = f.id;
            break;
        }
    if (!d.correct) {
        // The same wrong guess twice costs once.
        bool repeated = std::any_of(diagnoses_.begin(), diagnoses_.end(), [&](auto& x) {
            return !x.correct && x.kind == d.kind && support::iequals(x.target, d.target);
        });
        d.cost = repeated ? 0 : config_.wrong_diagnosis_cost;
    }
    diagnoses_.push_back(d);
    return d;
}

int session::score() const {
    int wrong = 0;
    for (auto& d : diagnoses_) wrong += d.cost;
    return std::max(0, config_.points - hints_used_ * config_.hint_cost - wrong);
}

report session::current(const std::vector<sim::fault>& injected, const std::vector<sim::fault>& active, duration now) const {
    report r;
    r.session = id_;
    r.trainee = trainee_;
    r.scenario = scenario_;
    r.elapsed = (passed_ ? finished_ : now) - started_;
    r.time_limit = config_.time_limit;
    r.points = config_.points;
    r.hints_used = hints_used_;
    r.hint_cost = hints_used_ * config_.hint_cost;
    for (auto& d : diagnoses_)
        if (!d.correct) {
            ++r.wrong_diagnoses;
            r.wrong_cost += d.cost;
        }
    r.diagnoses = diagnoses_;
    for (auto& f : injected) {
        fault_status s{f.id, f.kind, sim::fault_target(f), false, true};
        s.diagnosed = std::any_of(diagnoses_.begin(), diagnoses_.end(), [&](auto& d) { return d.fault_id == f.id; });
        s.fixed = std::none_of(active.begin(), active.end(), [&](auto& a) { return a.id == f.id; });
        r.faults.push_back(s);
    }
    r.checks = last_checks_;
    r.trail = trail_;
    r.passed = passed_;
    r.state = passed_ ? "passed" : expired(now) ? "expired" : "running";
    r.score = passed_ ? score() : 0;
    return r;
}

report session::verify(const std::vector<sim::fault>& injected, const std::vector<sim::fault>& active,
                       const std::vector<check_outcome>& checks, duration now) {
    if (!passed_) last_checks_ = checks;
    add_evidence({now, 0, "trainer", "verify"});
    std::vector<std::string> reasons;
    if (!passed_) {
        if (expired(now))
            reasons.push_back("the time limit of " + support::format_duration(config_.time_limit) + " has passed");
        // Faults are not named: the trainee learns that something is left, not what.
        if (!active.empty())
            reasons.push_back(std::to_string(active.size()) + (active.size() == 1 ? " fault is" : " faults are") +
                              " still present in the lab");
        for (auto& c : checks)
            if (!c.passed) reasons.push_back("check failed: " + describe(c.check) + " (got: " + c.got + ")");
        if (reasons.empty()) {
            passed_ = true;
            finished_ = now;
        }
    }
    auto r = current(injected, active, now);
    r.reasons = reasons;
    return r;
}

void session::add_evidence(evidence e) {
    constexpr std::size_t cap = 2000;
    if (trail_.size() < cap) trail_.push_back(std::move(e));
}

session::saved session::save() const { return {hints_used_, diagnoses_, trail_, passed_, finished_, last_checks_}; }

void session::restore(const saved& s) {
    hints_used_ = std::min<int>(s.hints_used, static_cast<int>(hints_.size()));
    diagnoses_ = s.diagnoses;
    trail_ = s.trail;
    passed_ = s.passed;
    finished_ = s.finished;
    last_checks_ = s.last_checks;
}

}  // namespace trainer
