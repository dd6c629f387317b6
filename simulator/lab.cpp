#include "simulator/lab.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "fake_dns/resolver.hpp"
#include "fake_dns/server.hpp"
#include "fake_dns/wire.hpp"
#include "fake_dns/zone.hpp"
#include "simulator/files.hpp"
#include "simulator/catalogue.hpp"
#include "simulator/config_json.hpp"
#include "simulator/faults.hpp"
#include "fake_smtp/server.hpp"
#include "simulator/lab_clock.hpp"
#include "simulator/mail_agent.hpp"
#include "simulator/relocate.hpp"
#include "simulator/services.hpp"
#include "simulator/socket_filter.hpp"
#include "simulator/state_store.hpp"
#include "simulator/validate.hpp"
#include "support/random.hpp"

namespace sim {

namespace net = boost::asio;
namespace json = boost::json;
using net::ip::tcp;
using net::ip::udp;
using support::format_ipv4;

namespace {

using steady = std::chrono::steady_clock;

std::int64_t wall_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// The clock, its schedule and the one timer that drives it. Shared so that
/// sleepers can outlive the lab safely while the io_context drains.
struct clock_state {
    clock_state(net::io_context& io, double speed) : clock(speed, steady::now()), timer(io) {}
    lab_clock clock;
    lab_schedule schedule;
    net::steady_timer timer;
    bool stopped = false;

    duration now() const { return clock.now(steady::now()); }

    void arm(const std::shared_ptr<clock_state>& self) {
        if (stopped) return;
        auto next = schedule.next();
        if (!next) {
            timer.cancel();
            return;
        }
        timer.expires_at(clock.real_at(*next, steady::now()));
        timer.async_wait([weak = std::weak_ptr<clock_state>(self)](boost::system::error_code ec) {
            if (ec) return;
            if (auto s = weak.lock()) s->fire(s);
        });
    }

    void fire(const std::shared_ptr<clock_state>& self) {
        // Callbacks may schedule more; loop until nothing is due.
        for (;;) {
            auto due = schedule.take_due(now());
            if (due.empty()) break;
            for (auto& fn : due) fn();
        }
        arm(self);
    }
};

/// Waits `d` of lab time. Cancellable (by `||`), and safe if the lab goes away meanwhile.
net::awaitable<void> lab_sleep(std::shared_ptr<clock_state> state, duration d) {
    auto timer = std::make_shared<net::steady_timer>(state->timer.get_executor(), net::steady_timer::time_point::max());
    auto id = state->schedule.at(state->now() + d, [timer] { timer->cancel(); });
    state->arm(state);
    struct guard {
        std::weak_ptr<clock_state> s;
        lab_schedule::id id;
        ~guard() {
            if (auto l = s.lock()) l->schedule.cancel(id);
        }
    } g{state, id};
    co_await timer->async_wait(net::as_tuple(net::use_awaitable));
}

/// The zones one DNS server serves, as views per client segment.
struct zone_views {
    std::vector<std::unique_ptr<fake_dns::zone>> zones;
    std::vector<const fake_dns::zone*> everyone;
    std::map<std::string, std::vector<const fake_dns::zone*>> by_segment;

    /// True when the zones a segment sees hold records of `type` at `owner`.
    bool holds(const segment_config* seg, const std::string& owner, std::uint16_t type) const {
        for (auto* z : for_segment(seg)) {
            bool exists = false;
            for (auto* r : z->find(owner, exists))
                if (r->type == type) return true;
        }
        return false;
    }

    const std::vector<const fake_dns::zone*>& for_segment(const segment_config* seg) const {
        if (seg) {
            auto it = by_segment.find(seg->name);
            if (it != by_segment.end()) return it->second;
        }
        return everyone;
    }

    static std::shared_ptr<const zone_views> build(const configuration& c, const std::string& server) {
        auto v = std::make_shared<zone_views>();
        std::vector<std::pair<const zone_config*, const fake_dns::zone*>> mine;
        for (auto& z : c.zones) {
            if (!support::iequals(z.server, server)) continue;
            try {
                v->zones.push_back(std::make_unique<fake_dns::zone>(z.origin, z.records));
            } catch (const std::exception&) {
                continue;  // a record the live edit made unencodable; the API refuses those
            }
            mine.emplace_back(&z, v->zones.back().get());
        }
        for (auto& [cfg, zone] : mine)
            if (cfg->clients.empty()) v->everyone.push_back(zone);
        // A segment sees the zones listed for it, and the default zones of other origins.
        for (auto& seg : c.segments) {
            std::vector<const fake_dns::zone*> view;
            for (auto& [cfg, zone] : mine)
                if (std::find(cfg->clients.begin(), cfg->clients.end(), seg.name) != cfg->clients.end())
                    view.push_back(zone);
            if (view.empty()) continue;
            for (auto& [cfg, zone] : mine)
                if (cfg->clients.empty() &&
                    std::none_of(view.begin(), view.end(), [&](auto* z) { return z->origin() == zone->origin(); }))
                    view.push_back(zone);
            v->by_segment[seg.name] = std::move(view);
        }
        return v;
    }
};

struct listener_key {
    ipv4 address = 0;
    int port = 0;
    bool tcp = false;
    auto operator<=>(const listener_key&) const = default;
};

struct desired_listener {
    std::string host;     // "" for a phantom
    std::string service;  // dns | phantom
    source_policy policy;
};

struct listener {
    desired_listener what;
    std::shared_ptr<fake_dns::udp_server> dns_udp;
    std::shared_ptr<fake_dns::tcp_server> dns_tcp;
    std::shared_ptr<fake_smtp::smtp_server> smtp;
    std::unique_ptr<udp::socket> raw_udp;
    std::unique_ptr<tcp::acceptor> raw_tcp;

    /// The listening socket and, for TCP services, every accepted connection.
    std::vector<int> fds() {
        std::vector<int> out{fd()};
        if (dns_tcp)
            for (int s : dns_tcp->session_handles()) out.push_back(s);
        if (smtp)
            for (int s : smtp->session_handles()) out.push_back(s);
        return out;
    }

    int fd() {
        if (dns_udp) return dns_udp->native_handle();
        if (dns_tcp) return dns_tcp->native_handle();
        if (smtp) return smtp->native_handle();
        if (raw_udp) return raw_udp->native_handle();
        return raw_tcp->native_handle();
    }

    void close() {
        boost::system::error_code ignored;
        if (dns_udp) dns_udp->stop();
        if (dns_tcp) dns_tcp->stop();
        if (smtp) smtp->stop();
        if (raw_udp) raw_udp->close(ignored);
        if (raw_tcp) raw_tcp->close(ignored);
    }
};

struct fault_rt {
    fault f;
    std::string state = "pending";
    std::string source;
    duration injected_at{0};
    duration changed_at{0};
    bool applied = false;
    int used = 0;  // matching connections or queries seen (for `first`)
    support::rng rng{0};
    std::vector<lab_schedule::id> timers;
};

bool record_kind(std::string_view kind) {
    return kind == "dns.bad_a_record" || kind == "dns.missing_a_record" || kind == "dns.bad_mx" ||
           kind == "dns.missing_mx";
}

std::uint16_t record_type(std::string_view kind) { return kind.find("mx") != std::string_view::npos ? 15 : 1; }

}  // namespace

/// What a DNS server host needs to answer: the live and answer views and the
/// state of its service. Replaced whole on every change (queries waiting on a
/// delay keep the one they started with).
struct dns_snapshot {
    std::shared_ptr<const zone_views> live, answer;
    dns_service_state state;
};

struct dns_host;

struct lab::impl : mail_context {
    impl(net::io_context& io_, scenario s, lab_options o)
        : io(io_), def(std::move(s)), opts(o), rng(0) {}

    net::io_context& io;
    scenario def;
    lab_options opts;
    configuration live_config;
    std::string vantage;
    int dns_port = 53, smtp_port_number = 25;
    std::shared_ptr<clock_state> clock;
    lab_log log;
    std::unique_ptr<network> model;
    std::vector<fault_rt> faults;
    support::rng rng;
    std::map<std::string, std::shared_ptr<dns_host>> dns;
    std::map<listener_key, listener> listeners;
    bool started = false, stopped = false;
    int api_faults = 0;
    std::int64_t wall_start = wall_now_ms();
    int octet = 25;
    std::map<std::string, std::shared_ptr<mail_agent>> agents;
    std::map<std::string, std::deque<logged_event>> event_logs;  // by host name
    std::uint64_t event_number = 0;
    std::unique_ptr<state_store> store_;
    std::uint64_t id_counter = 0;
    std::uint64_t id_floor = 0;  // the highest id handed out or found in the state directory
    std::int64_t storm_minute = -1;  // the lab minute being counted
    int storm_count = 0;
    bool storm_noted = false;

    // mail_context
    net::any_io_executor executor() override { return io.get_executor(); }
    duration now() const override { return clock->now(); }
    std::int64_t wall_ms(duration lab_time) const override { return wall_start + lab_time.count(); }
    const configuration& live() const override { return live_config; }
    std::uint16_t smtp_port() const override { return static_cast<std::uint16_t>(smtp_port_number); }
    net::awaitable<fake_dns::resolve_result> resolve(std::string host, std::string name, std::uint16_t type) override;
    net::awaitable<fake_dns::resolve_result> lookup(std::string host, std::vector<ipv4> servers, std::string name,
                                                    std::uint16_t type, bool interactive);
    net::awaitable<void> sleep(duration d) override { return lab_sleep(clock, d); }
    void at(duration when, std::function<void()> fn) override { at(when, std::move(fn), nullptr); }
    bool nobody_at(ipv4 from, ipv4 to) const override;
    bool storm_allows(const std::string& host) override;
    std::string next_id() override;
    void saw_id(const std::string& id);
    state_store* store() override { return store_.get(); }
    connection_view open_connection(const std::string& host) override;
    ipv4 counts_as(ipv4 client) const override { return effective_source(client); }

    void note(const std::string& kind, const std::string& host, const std::string& text) override {
        log_entry e;
        e.sim = now();
        e.wall_ms = wall_now_ms();
        e.kind = kind;
        e.host = host;
        e.text = text;
        log.add(std::move(e));
    }

    ipv4 vantage_address() const {
        auto* h = live_config.find_host(vantage);
        return h ? h->address : 0;
    }

    // The address a client counts as: its own when it is a lab host, else the vantage host's.
    ipv4 effective_source(ipv4 client) const {
        if (auto* h = live_config.host_at(client); h && h->tcpip_installed) return client;
        return vantage_address();
    }

    source_policy policy_for(ipv4 target) const {
        auto v = vantage_address();
        bool vantage_ok = v && model->reachable(v, target);
        source_policy p;
        p.listed_accepted = !vantage_ok;
        for (auto& h : live_config.hosts) {
            if (!h.address) continue;
            bool ok = h.tcpip_installed && model->reachable(h.address, target);
            if (vantage_ok ? !ok : ok) p.listed.push_back(h.address);
        }
        return p;
    }

    std::map<listener_key, desired_listener> desired() const;
    std::string open(const listener_key& key, listener& l);
    std::string reconcile(bool at_start);
    void refresh_dns();

    // Faults
    std::string describe(const fault& f) const { return f.id + " (" + f.kind + " " + fault_target(f) + ")"; }
    void activate(std::size_t i);
    void deactivate(std::size_t i, const std::string& state);
    void schedule_fault(std::size_t i);
    void resume_fault(std::size_t i);
    void end_fault(std::size_t i);
    void flap_off(std::size_t i);
    void check_cleared();
    // --state-dir: the live configuration, the faults and the lab clock (lab.json).
    std::string live_path() const { return opts.state_dir.empty() ? std::string{} : opts.state_dir + "/lab.json"; }
    std::string snapshot() const;
    std::string restore(const std::string& text);
    void save_live();
    bool gate(fault_rt& fr);
    void cancel_timers(fault_rt& fr) {
        for (auto id : fr.timers) clock->schedule.cancel(id);
        fr.timers.clear();
    }
    void at(duration when, std::function<void()> fn, fault_rt* owner = nullptr) {
        auto id = clock->schedule.at(when, std::move(fn));
        if (owner) owner->timers.push_back(id);
        clock->arm(clock);
    }
};

/// The query policy of one DNS host: views, service state, fault gates, log.
struct dns_host : fake_dns::query_policy {
    dns_host(lab::impl& l, std::string n) : owner(&l), name(std::move(n)) {}

    lab::impl* owner;
    std::string name;
    std::shared_ptr<const dns_snapshot> snap;
    std::vector<std::size_t> gated;  // indices of gated faults that concern this server

    fake_dns::query_plan plan(std::uint32_t client, bool tcp, std::span<const std::uint8_t> query) override {
        fake_dns::query_plan p;
        p.keep = snap;
        auto src = owner->effective_source(client);
        auto* seg = owner->live_config.segment_of(src);
        const zone_views* views = snap->live.get();
        bool down = !snap->state.running;
        bool truncate = snap->state.truncated;
        auto* servfail = snap->state.servfail ? &*snap->state.servfail : nullptr;
        auto delay = snap->state.delay;
        if (!gated.empty()) {
            auto q = fake_dns::parse_question(query);
            for (auto i : gated) {
                auto& fr = owner->faults[i];
                if (!fr.applied) continue;
                auto& k = fr.f.kind;
                if (record_kind(k)) {
                    if (!q) continue;
                    auto qt = q->second.type;
                    auto name = fake_dns::canonical_name(fr.f.text(k.find("mx") != std::string::npos ? "domain" : "name"));
                    if (fake_dns::canonical_name(q->second.name) != name || (qt != record_type(k) && qt != 255))
                        continue;
                    // Only queries that would see the record count toward `first` and `odds`.
                    if (!snap->answer->holds(seg, name, record_type(k))) continue;
                    if (!owner->gate(fr)) views = snap->answer.get();
                } else if (k == "dns.server_down") {
                    if (!owner->gate(fr)) down = false;
                } else if (k == "dns.truncated") {
                    if (tcp) continue;
                    if (!owner->gate(fr)) truncate = false;
                } else if (k == "dns.slow") {
                    if (!owner->gate(fr)) delay = duration{0};
                } else if (k == "dns.servfail") {
                    if (!q || !servfail) continue;
                    auto qn = fake_dns::canonical_name(q->second.name);
                    bool hit = servfail->empty() || std::any_of(servfail->begin(), servfail->end(), [&](auto& n) {
                                   return fake_dns::in_zone(qn, fake_dns::canonical_name(n));
                               });
                    if (hit && !owner->gate(fr)) servfail = nullptr;
                }
            }
        }
        if (down) {
            p.drop = true;
            if (owner->opts.log_queries) log_query(client, tcp, query, {}, true);
            return p;
        }
        p.zones = views->for_segment(seg);
        p.context.tcp = tcp;
        p.context.truncate = truncate;
        p.context.servfail = servfail;
        p.delay = std::chrono::duration_cast<std::chrono::milliseconds>(delay);
        return p;
    }

    net::awaitable<void> wait(std::chrono::milliseconds d) override { return lab_sleep(owner->clock, d); }

    void replied(std::uint32_t client, bool tcp, std::span<const std::uint8_t> query,
                 std::span<const std::uint8_t> reply) override {
        if (!owner->opts.log_queries || reply.size() < 12) return;
        log_query(client, tcp, query, reply, false);
    }

    void log_query(std::uint32_t client, bool tcp, std::span<const std::uint8_t> query,
                   std::span<const std::uint8_t> reply, bool dropped) {
        // Filled in place: a full log hands back its oldest slot with its storage.
        log_entry& e = owner->log.next_slot();
        e.sim = owner->now();
        e.wall_ms = wall_now_ms();
        e.kind.assign("dns");
        e.host.assign(name);
        e.text.clear();
        dns_query_note& q = e.query ? *e.query : e.query.emplace();
        q.client = client;
        q.tcp = tcp;
        q.dropped = dropped;
        q.set_question(query);
        if (reply.size() >= 12) {
            q.rcode = reply[3] & 0x0f;
            q.answers = static_cast<std::uint16_t>((reply[6] << 8) | reply[7]);
            q.truncated = reply[2] & 0x02;
        } else {
            q.rcode = 0;
            q.answers = 0;
            q.truncated = false;
        }
        owner->log.publish();
    }
};

lab::lab(net::io_context& io, scenario s, lab_options options) : impl_(std::make_unique<impl>(io, std::move(s), options)) {
    auto& m = *impl_;
    if (options.prefix) relocate(m.def, *options.prefix);
    m.octet = parse_prefix(m.def.lab.prefix).value_or(25);
    if (options.seed) m.def.lab.seed = *options.seed;
    if (options.speed) m.def.lab.speed = *options.speed;
    m.rng = support::rng(m.def.lab.seed ^ 0x5eed);
    m.live_config = m.def.answer;
    m.clock = std::make_shared<clock_state>(io, m.def.lab.speed);
    // Without [scenario] vantage: the first client host, else the first host.
    m.vantage = m.def.meta.vantage;
    if (auto* h = m.def.answer.find_host(m.vantage)) m.vantage = h->name;
    if (m.vantage.empty())
        for (auto& h : m.def.answer.hosts)
            if (h.has_role(role::client)) {
                m.vantage = h.name;
                break;
            }
    if (m.vantage.empty() && !m.def.answer.hosts.empty()) m.vantage = m.def.answer.hosts.front().name;
    for (auto& f : resolve_faults(m.def.faults, m.def.lab.seed)) {
        fault_rt fr;
        fr.f = std::move(f);
        fr.source = "scenario";
        fr.rng = support::rng(m.def.lab.seed ^ support::fnv1a(fr.f.id));
        m.faults.push_back(std::move(fr));
    }
}

lab::~lab() { stop(); }

namespace {

// Can this process bind `port` on `address` for TCP and UDP?
bool can_bind(ipv4 address, int port, bool udp_too) {
    net::io_context io;
    boost::system::error_code ec;
    tcp::acceptor a(io);
    a.open(tcp::v4(), ec);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(tcp::endpoint(net::ip::address_v4(address), static_cast<unsigned short>(port)), ec);
    if (ec) return false;
    if (!udp_too) return true;
    udp::socket u(io);
    u.open(udp::v4(), ec);
    if (!ec) u.bind(udp::endpoint(net::ip::address_v4(address), static_cast<unsigned short>(port)), ec);
    return !ec;
}

}  // namespace

std::string lab::start() {
    auto& m = *impl_;
    if (m.started) return {};
    m.started = true;
    // Ports: explicit [lab] ports win; auto takes the standard ones when they can be bound.
    bool standard = m.opts.ports == port_mode::standard;
    if (m.opts.ports == port_mode::automatic) {
        ipv4 probe = m.def.answer.hosts.empty() ? 0 : m.def.answer.hosts.front().address;
        standard = probe && can_bind(probe, 53, true) && can_bind(probe, 25, false);
    }
    m.dns_port = m.def.lab.dns_port.value_or(standard ? 53 : 5353);
    m.smtp_port_number = m.def.lab.smtp_port.value_or(standard ? 25 : 2525);

    // A state directory that holds a lab's live configuration takes it up
    // again: the lab clock where it was, then faults and configuration.
    std::string saved_live;
    if (!m.opts.state_dir.empty()) {
        m.store_ = std::make_unique<state_store>(m.opts.state_dir);
        if (auto err = m.store_->open(); !err.empty()) return err;
        std::ifstream in(m.live_path(), std::ios::binary);
        if (in) saved_live.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    bool resumed = false;
    if (!saved_live.empty()) {
        if (auto err = m.restore(saved_live); !err.empty())
            m.note("lab", "", "state directory: cannot take up " + m.live_path() + " (" + err + "); starting from the scenario");
        else resumed = true;
    }
    for (auto& h : m.live_config.hosts)
        if (h.has_role(role::relay) || h.has_role(role::mailstore) || h.has_role(role::exchange))
            m.agents[h.name] = std::make_shared<mail_agent>(m, h.name);
    if (m.store_) {
        auto saved = m.store_->load();
        for (auto& p : saved.problems) m.note("lab", "", "state directory: cannot read " + p);
        std::size_t messages = 0, queued = 0;
        for (auto& [name, agent] : m.agents) {
            // Directory names are the host names made safe; scenario host names already are.
            auto msgs = std::move(saved.messages[name]);
            auto q = std::move(saved.queues[name]);
            for (auto& msg : msgs) m.saw_id(msg.id);
            for (auto& e : q) m.saw_id(e.id);
            messages += msgs.size();
            queued += q.size();
            agent->restore(std::move(msgs), std::move(q));
        }
        m.note("lab", "", "state directory " + m.opts.state_dir + ": " + std::to_string(messages) + " message(s) and " +
                              std::to_string(queued) + " queued message(s) restored");
    }

    for (std::size_t i = 0; i < m.faults.size(); ++i) {
        if (resumed) m.resume_fault(i);
        else m.schedule_fault(i);
    }
    if (resumed)
        m.note("lab", "", "state directory " + m.opts.state_dir + ": live configuration and faults taken up at lab time " +
                              support::format_duration(m.now()));
    m.model = std::make_unique<network>(m.live_config);
    auto err = m.reconcile(true);
    if (!err.empty()) {
        stop();
        return err;
    }
    m.note("lab", "", "lab " + m.def.meta.id + " started on " + m.def.lab.prefix + " (DNS port " +
                          std::to_string(m.dns_port) + ", SMTP port " + std::to_string(m.smtp_port_number) + ")");
    return {};
}

void lab::stop() {
    auto& m = *impl_;
    if (m.stopped) return;
    if (m.started) m.save_live();  // the lab clock as it stopped
    m.stopped = true;
    for (auto& [key, l] : m.listeners) l.close();
    m.listeners.clear();
    m.clock->stopped = true;
    m.clock->timer.cancel();
}

void lab::impl::schedule_fault(std::size_t i) {
    auto& fr = faults[i];
    fr.injected_at = now();
    auto start = fr.injected_at + fr.f.timing.after.value_or(duration{0});
    if (fr.f.timing.until) at(fr.injected_at + *fr.f.timing.until, [this, i] { end_fault(i); }, &fr);
    if (start <= now()) activate(i);
    else at(start, [this, i] { activate(i); }, &fr);
}

void lab::impl::end_fault(std::size_t i) {
    auto& x = faults[i];
    cancel_timers(x);
    if (x.state != "cleared") deactivate(i, "ended");
}

void lab::impl::flap_off(std::size_t i) {
    auto& x = faults[i];
    if (x.state != "active") return;
    deactivate(i, "off");
    at(now() + x.f.timing.flap->second, [this, i] { activate(i); }, &x);
}

// A fault read back from the state directory: its timers as they were when the lab stopped.
void lab::impl::resume_fault(std::size_t i) {
    auto& fr = faults[i];
    if (fr.state == "cleared" || fr.state == "ended") return;
    auto& t = fr.f.timing;
    if (t.until) at(fr.injected_at + *t.until, [this, i] { end_fault(i); }, &fr);
    if (fr.state == "pending") at(fr.injected_at + t.after.value_or(duration{0}), [this, i] { activate(i); }, &fr);
    else if (t.flap && fr.state == "active") at(fr.changed_at + t.flap->first, [this, i] { flap_off(i); }, &fr);
    else if (t.flap && fr.state == "off") at(fr.changed_at + t.flap->second, [this, i] { activate(i); }, &fr);
}

void lab::impl::activate(std::size_t i) {
    auto& fr = faults[i];
    if (fr.state == "cleared" || fr.state == "ended") return;
    apply_fault(live_config, fr.f);
    fr.applied = true;
    fr.state = "active";
    fr.changed_at = now();
    note("fault", "", "fault " + describe(fr.f) + " is active");
    if (fr.f.timing.flap) at(now() + fr.f.timing.flap->first, [this, i] { flap_off(i); }, &fr);
    if (started && !stopped) {
        model = std::make_unique<network>(live_config);
        reconcile(false);
    }
    save_live();
}

void lab::impl::deactivate(std::size_t i, const std::string& state) {
    auto& fr = faults[i];
    if (fr.applied) {
        revert_fault(live_config, def.answer, fr.f);
        // Another active fault may share the aspect just restored: apply the
        // others again, in the order they came, so each keeps its effect.
        for (auto& other : faults)
            if (other.applied && &other != &fr) apply_fault(live_config, other.f);
    }
    fr.applied = false;
    fr.state = state;
    fr.changed_at = now();
    note("fault", "", "fault " + describe(fr.f) +
                          (state == "off" ? " is off for now" : state == "cleared" ? " is cleared" : " has ended"));
    check_cleared();
    if (started && !stopped) {
        model = std::make_unique<network>(live_config);
        reconcile(false);
    }
    save_live();
}

void lab::impl::check_cleared() {
    for (auto& fr : faults) {
        if (!fr.applied || !fault_cleared(live_config, def.answer, fr.f)) continue;
        fr.applied = false;
        fr.state = "cleared";
        fr.changed_at = now();
        cancel_timers(fr);
        note("fault", "", "fault " + describe(fr.f) + " is cleared: the configuration matches the answer again");
    }
}

net::awaitable<fake_dns::resolve_result> lab::impl::resolve(std::string host, std::string name, std::uint16_t type) {
    auto pending = lookup(std::move(host), {}, std::move(name), type, false);
    co_return co_await std::move(pending);
}

net::awaitable<void> real_sleep(std::chrono::milliseconds d) {
    net::steady_timer t(co_await net::this_coro::executor, d);
    co_await t.async_wait(net::as_tuple(net::use_awaitable));
}

net::awaitable<fake_dns::resolve_result> lab::impl::lookup(std::string host, std::vector<ipv4> servers, std::string name,
                                                           std::uint16_t type, bool interactive) {
    fake_dns::resolve_result failed;
    failed.what = fake_dns::resolve_result::outcome::unreachable;
    auto* h = live_config.find_host(host);
    if (!h || !h->tcpip_installed) co_return failed;
    if (servers.empty()) servers = h->dns_servers;
    if (servers.empty()) co_return failed;
    fake_dns::resolver_options options;
    options.port = static_cast<std::uint16_t>(dns_port);
    auto state = clock;
    fake_dns::resolver::sleeper sleep = [state](std::chrono::milliseconds d) { return lab_sleep(state, d); };
    // A person's tools (the console's nslookup, ping) wait in real time, as
    // real tools do; the lab's own services wait in lab time.
    if (interactive) {
        options.timeout = std::chrono::seconds(2);
        options.attempts = 1;
        sleep = [](std::chrono::milliseconds d) { return real_sleep(d); };
    }
    fake_dns::resolver r(io.get_executor(), std::move(sleep));
    auto address = h->address;
    auto pending = r.resolve(address, servers, name, type, options);
    auto result = co_await std::move(pending);
    if (!state->stopped)
        note("dns", host, "resolver looked up " + name + " " + fake_dns::type_name(type) + ": " + result.describe());
    co_return result;
}

bool lab::impl::nobody_at(ipv4 from, ipv4 to) const {
    auto* seg = live_config.segment_of(to);
    if (!seg) return false;
    if (auto* h = live_config.host_at(to); h && h->tcpip_installed) return false;
    // The packet must reach the segment for its router to report the silence.
    for (auto& r : live_config.routers)
        for (auto a : r.addresses)
            if (seg->cidr.contains(a)) return model->route(from, a).ok || live_config.segment_of(from) == seg;
    return live_config.segment_of(from) == seg;
}

bool lab::impl::storm_allows(const std::string& host) {
    auto minute = now().count() / 60000;
    if (minute != storm_minute) {
        storm_minute = minute;
        storm_count = 0;
        storm_noted = false;
    }
    if (storm_count < opts.storm_cap) {
        ++storm_count;
        return true;
    }
    if (!storm_noted) {
        storm_noted = true;
        note("mail", host,
             "storm cap: the lab has generated " + std::to_string(opts.storm_cap) +
                 " messages this minute; further delivery reports are dropped until the next lab minute");
    }
    return false;
}

std::string lab::impl::next_id() {
    // Postfix-like ids: the start time keeps ids unique across restarts with a state directory.
    static constexpr char hex[] = "0123456789ABCDEF";
    constexpr std::uint64_t twelve_digits = (std::uint64_t{1} << 48) - 1;
    std::uint64_t v = ((static_cast<std::uint64_t>(wall_start / 1000) << 20) | (++id_counter & 0xFFFFF)) & twelve_digits;
    // A restart within the same second would hand out the ids of the run before
    // it, and a new message would overwrite an old one in the state directory.
    if (v <= id_floor) v = ++id_floor;
    else id_floor = v;
    std::string out(12, '0');
    for (int i = 11; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = hex[v & 0xF];
    return out;
}

void lab::impl::saw_id(const std::string& id) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), v, 16);
    if (ec == std::errc() && end == id.data() + id.size()) id_floor = std::max(id_floor, v);
}

connection_view lab::impl::open_connection(const std::string& host) {
    connection_view v;
    auto* h = live_config.find_host(host);
    auto* a = def.answer.find_host(host);
    if (!h) {
        v.drop = true;
        return v;
    }
    v.service = h->smtp_service;
    if (h->smtp) {
        v.max_message_size = h->smtp->max_message_size;
        v.max_recipients = h->smtp->max_recipients;
        v.relay_domains = h->smtp->relay_domains;
    } else if (h->exchange) {
        v.max_message_size = h->exchange->imc.max_message_size;
        v.max_recipients = h->exchange->imc.max_recipients;
    }
    // Gated faults (`first`, `odds`) act on some connections only: for the
    // others, this connection sees the answer configuration of that aspect.
    for (auto& fr : faults) {
        if (!fr.applied || !fr.f.timing.gated() || fr.f.kind.rfind("smtp.", 0) != 0) continue;
        auto* target = live_config.find_host(fr.f.text("host"));
        if (!target || target->name != h->name) continue;
        if (gate(fr)) {
            if (fr.f.kind == "smtp.port_closed" || fr.f.kind == "smtp.filtered") v.drop = true;
            continue;
        }
        auto& k = fr.f.kind;
        if (k == "smtp.stall" || k == "smtp.reject" || k == "smtp.tempfail" || k == "smtp.disconnect") {
            if (auto phase = parse_phase(fr.f.text("phase"))) {
                const smtp_rule* healthy = nullptr;
                if (a)
                    if (auto it = a->smtp_service.rules.find(*phase); it != a->smtp_service.rules.end()) healthy = &it->second;
                if (healthy) v.service.rules[*phase] = *healthy;
                else v.service.rules.erase(*phase);
            }
        } else if (k == "smtp.rate_limit" && a) {
            v.service.rate_limit_per_minute = a->smtp_service.rate_limit_per_minute;
        } else if (k == "smtp.size_limit" && a) {
            v.max_message_size = a->smtp ? a->smtp->max_message_size : a->exchange ? a->exchange->imc.max_message_size : 0;
        } else if (k == "smtp.recipient_limit" && a) {
            v.max_recipients = a->smtp ? a->smtp->max_recipients : a->exchange ? a->exchange->imc.max_recipients : 0;
        } else if (k == "smtp.relay_denied" && a && a->smtp) {
            v.relay_domains = a->smtp->relay_domains;
        }
    }
    return v;
}

bool lab::impl::gate(fault_rt& fr) {
    auto& t = fr.f.timing;
    bool acts = true;
    if (t.first) {
        acts = fr.used < *t.first;
        ++fr.used;
        if (fr.used == *t.first && !t.odds) {
            // The first N have seen it; from now on the service behaves. Leave the
            // handler first: ending the fault re-derives the listeners.
            auto index = static_cast<std::size_t>(&fr - faults.data());
            net::post(io, [this, index, alive = std::weak_ptr<clock_state>(clock)] {
                if (alive.expired() || stopped) return;
                auto& x = faults[index];
                if (x.state == "active") {
                    cancel_timers(x);
                    deactivate(index, "ended");
                }
            });
        }
    }
    if (acts && t.odds) acts = fr.rng.unit() < *t.odds;
    return acts;
}

void lab::impl::refresh_dns() {
    for (auto& h : live_config.hosts) {
        if (!h.has_role(role::dns)) continue;
        auto& slot = dns[h.name];
        if (!slot) slot = std::make_shared<dns_host>(*this, h.name);
        auto snap = std::make_shared<dns_snapshot>();
        snap->live = zone_views::build(live_config, h.name);
        snap->answer = zone_views::build(def.answer, h.name);
        snap->state = h.dns;
        slot->snap = std::move(snap);
        slot->gated.clear();
        for (std::size_t i = 0; i < faults.size(); ++i) {
            auto& f = faults[i].f;
            if (!f.timing.gated() || f.kind.rfind("dns.", 0) != 0) continue;
            bool mine = record_kind(f.kind) ? true : support::iequals(live_config.find_host(f.text("server")) ?
                                                                         live_config.find_host(f.text("server"))->name : "",
                                                                     h.name);
            if (mine) slot->gated.push_back(i);
        }
    }
}

std::map<listener_key, desired_listener> lab::impl::desired() const {
    std::map<listener_key, desired_listener> out;
    auto gated_here = [&](const host_config& h, std::string_view kind) {
        return std::any_of(faults.begin(), faults.end(), [&](auto& fr) {
            return fr.applied && fr.f.kind == kind && fr.f.timing.gated() &&
                   support::iequals(live_config.find_host(fr.f.text("server")) ? live_config.find_host(fr.f.text("server"))->name : "",
                                    h.name);
        });
    };
    for (auto& h : live_config.hosts) {
        if (!h.tcpip_installed || !h.address || !h.has_role(role::dns)) continue;
        auto policy = policy_for(h.address);
        // A server that is down (for every query) drops everything in the kernel:
        // its clients time out on TCP connects too.
        if (!h.dns.running && !gated_here(h, "dns.server_down")) policy = source_policy::drop_all();
        out[{h.address, dns_port, false}] = {h.name, "dns", policy};
        bool tcp_refused = h.dns.truncated && !gated_here(h, "dns.truncated");
        if (!tcp_refused) out[{h.address, dns_port, true}] = {h.name, "dns", policy};
    }
    auto gated_smtp = [&](const host_config& h, std::string_view kind) {
        return std::any_of(faults.begin(), faults.end(), [&](auto& fr) {
            auto* target = live_config.find_host(fr.f.text("host"));
            return fr.applied && fr.f.kind == kind && fr.f.timing.gated() && target && target->name == h.name;
        });
    };
    for (auto& h : live_config.hosts) {
        if (!h.tcpip_installed || !h.address || !agents.count(h.name)) continue;
        // An Exchange server takes SMTP only through its IMC: installed, running,
        // and with a transfer mode that lets mail in (guide steps 1, 2 and 4).
        if (h.exchange) {
            auto& imc = h.exchange->imc;
            if (!imc.installed || !imc.running ||
                !(imc.mode == transfer_mode::inbound || imc.mode == transfer_mode::inbound_outbound))
                continue;
        }
        // smtp.port_closed: no listener, the kernel refuses (unless gated: then per connection).
        if (!h.smtp_service.running && !gated_smtp(h, "smtp.port_closed")) continue;
        auto policy = policy_for(h.address);
        // smtp.filtered: a firewall drops every SYN, from everywhere.
        if (h.smtp_service.firewalled && !gated_smtp(h, "smtp.filtered")) policy = source_policy::drop_all();
        out[{h.address, smtp_port_number, true}] = {h.name, "smtp", policy};
    }
    // Phantom addresses: mentioned by the live configuration, inside a
    // segment, owned by no host that answers. Clients time out there.
    std::vector<ipv4> mentioned;
    for (auto& z : live_config.zones)
        for (auto& r : z.records)
            if (auto* a = std::get_if<fake_dns::a_data>(&r.data)) mentioned.push_back(a->address);
    for (auto& h : live_config.hosts) {
        for (auto d : h.dns_servers) mentioned.push_back(d);
        if (!h.tcpip_installed) mentioned.push_back(h.address);
        auto add_text = [&](const std::string& s) {
            if (auto a = support::parse_ipv4(s)) mentioned.push_back(*a);
        };
        if (h.smtp) {
            for (auto& r : h.smtp->routes) add_text(r.next_hop);
            add_text(h.smtp->smart_host);
        }
        if (h.exchange) {
            for (auto& d : h.exchange->imc.email_domains) add_text(d.host);
            add_text(h.exchange->imc.smart_host);
        }
    }
    for (auto& fr : faults)
        if (fr.applied)
            for (auto& [k, v] : fr.f.params)
                if (auto* s = std::get_if<std::string>(&v))
                    if (auto a = support::parse_ipv4(*s)) mentioned.push_back(*a);
    std::sort(mentioned.begin(), mentioned.end());
    mentioned.erase(std::unique(mentioned.begin(), mentioned.end()), mentioned.end());
    for (auto a : mentioned) {
        if (!live_config.segment_of(a) || (a >> 16) != ((127u << 8) | static_cast<unsigned>(octet))) continue;
        if (auto* h = live_config.host_at(a); h && h->tcpip_installed) continue;
        for (auto [port, tcp] : {std::pair{dns_port, false}, std::pair{dns_port, true}, std::pair{smtp_port_number, true}})
            out.try_emplace({a, port, tcp}, desired_listener{"", "phantom", source_policy::drop_all()});
    }
    return out;
}

std::string lab::impl::open(const listener_key& key, listener& l) {
    boost::system::error_code ec;
    auto addr = net::ip::address_v4(key.address);
    auto port = static_cast<unsigned short>(key.port);
    if (l.what.service == "dns") {
        auto policy = dns.at(l.what.host);
        if (key.tcp) {
            l.dns_tcp = std::make_shared<fake_dns::tcp_server>(io.get_executor(), policy);
            ec = l.dns_tcp->open(tcp::endpoint(addr, port));
        } else {
            l.dns_udp = std::make_shared<fake_dns::udp_server>(io.get_executor(), policy);
            ec = l.dns_udp->open(udp::endpoint(addr, port));
        }
    } else if (l.what.service == "smtp") {
        l.smtp = std::make_shared<fake_smtp::smtp_server>(io.get_executor(), agents.at(l.what.host));
        ec = l.smtp->open(tcp::endpoint(addr, port));
    } else if (key.tcp) {
        l.raw_tcp = std::make_unique<tcp::acceptor>(io);
        l.raw_tcp->open(tcp::v4(), ec);
        if (!ec) l.raw_tcp->set_option(net::socket_base::reuse_address(true), ec);
        if (!ec) l.raw_tcp->bind(tcp::endpoint(addr, port), ec);
        if (!ec) l.raw_tcp->listen(net::socket_base::max_listen_connections, ec);
    } else {
        l.raw_udp = std::make_unique<udp::socket>(io);
        l.raw_udp->open(udp::v4(), ec);
        if (!ec) l.raw_udp->bind(udp::endpoint(addr, port), ec);
    }
    std::string where = (key.tcp ? "TCP " : "UDP ") + addr.to_string() + ":" + std::to_string(key.port) + " (" +
                        (l.what.host.empty() ? std::string("phantom address") : l.what.host + " " + l.what.service) + ")";
    if (ec) {
        std::string why = ec.message();
        if (ec == boost::system::errc::permission_denied)
            why += "; ports below 1024 need root or CAP_NET_BIND_SERVICE — try --ports high";
        else if (ec == boost::system::errc::address_in_use)
            why += "; another program (or another lab) listens there — stop it, or use --prefix or --ports high";
        return "cannot bind " + where + ": " + why;
    }
    // Filter before the first packet can arrive, then start serving.
    if (auto err = attach_filter(l.fd(), l.what.policy); !err.empty()) {
        if (err == std::strerror(EPERM))
            err += " (this kernel lets only privileged processes filter TCP sockets: run mailsim as root, or "
                   "grant it CAP_NET_ADMIN, e.g. sudo setcap cap_net_admin,cap_net_bind_service+ep mailsim)";
        return "cannot filter " + where + ": " + err;
    }
    if (l.dns_udp) l.dns_udp->start();
    if (l.dns_tcp) l.dns_tcp->start();
    if (l.smtp) l.smtp->start();
    return {};
}

std::string lab::impl::reconcile(bool at_start) {
    refresh_dns();
    auto want = desired();
    std::string first_error;
    for (auto it = listeners.begin(); it != listeners.end();) {
        auto w = want.find(it->first);
        if (w == want.end() || w->second.host != it->second.what.host || w->second.service != it->second.what.service) {
            it->second.close();
            it = listeners.erase(it);
        } else {
            ++it;
        }
    }
    for (auto& [key, what] : want) {
        auto it = listeners.find(key);
        if (it != listeners.end()) {
            if (!(it->second.what.policy == what.policy)) {
                it->second.what.policy = what.policy;
                // Open connections too: on a real network an established
                // connection stalls when its path breaks.
                for (int fd : it->second.fds())
                    if (auto err = attach_filter(fd, what.policy); !err.empty())
                        note("net", what.host, "cannot update the socket filter: " + err);
            }
            continue;
        }
        listener l;
        l.what = what;
        auto err = open(key, l);
        if (!err.empty()) {
            l.close();
            if (at_start) return err;
            note("net", what.host, err);
            if (first_error.empty()) first_error = err;
            continue;
        }
        listeners.emplace(key, std::move(l));
    }
    return at_start ? std::string{} : first_error;
}

const scenario& lab::definition() const { return impl_->def; }
const configuration& lab::answer() const { return impl_->def.answer; }
const configuration& lab::live() const { return impl_->live_config; }
const std::string& lab::prefix() const { return impl_->def.lab.prefix; }
int lab::dns_port() const { return impl_->dns_port; }
int lab::smtp_port() const { return impl_->smtp_port_number; }
const std::string& lab::vantage() const { return impl_->vantage; }
const network& lab::net() const { return *impl_->model; }
lab_log& lab::log() { return impl_->log; }
boost::asio::io_context& lab::io() const { return impl_->io; }
void lab::note(const std::string& kind, const std::string& host, const std::string& text) {
    impl_->note(kind, host, text);
}
duration lab::now() const { return impl_->now(); }
double lab::speed() const { return impl_->clock->clock.speed(); }
std::int64_t lab::started_wall_ms() const { return impl_->wall_start; }

void lab::advance(duration d) {
    auto& m = *impl_;
    m.clock->clock.advance(d, steady::now());
    m.note("clock", "", "the lab clock was advanced by " + support::format_duration(d));
    m.clock->fire(m.clock);
    m.save_live();
}

std::string lab::impl::snapshot() const {
    json::array list;
    for (auto& fr : faults)
        list.push_back({{"fault", fault_to_json(fr.f)},
                        {"state", fr.state},
                        {"source", fr.source},
                        {"injected_at", fr.injected_at.count()},
                        {"changed_at", fr.changed_at.count()},
                        {"applied", fr.applied},
                        {"used", fr.used}});
    json::object o{{"version", 1},
                   {"scenario", def.meta.id},
                   {"prefix", def.lab.prefix},
                   {"now", now().count()},
                   {"api_faults", api_faults},
                   {"faults", list},
                   {"live", config_to_json(live_config)}};
    return json::serialize(o);
}

std::string lab::impl::restore(const std::string& text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return "not JSON";
    auto& o = v.as_object();
    try {
        auto id = o.if_contains("scenario");
        auto prefix = o.if_contains("prefix");
        if (!id || !prefix || *id != json::value(def.meta.id) || *prefix != json::value(def.lab.prefix))
            return "it belongs to another scenario or prefix";
        auto live = config_from_json(o.at("live"));
        std::vector<fault_rt> restored;
        for (auto& item : o.at("faults").as_array()) {
            auto& fo = item.as_object();
            fault_rt fr;
            fr.f = fault_from_json(fo.at("fault"));
            fr.state = json::value_to<std::string>(fo.at("state"));
            fr.source = json::value_to<std::string>(fo.at("source"));
            fr.injected_at = duration(fo.at("injected_at").to_number<std::int64_t>());
            fr.changed_at = duration(fo.at("changed_at").to_number<std::int64_t>());
            fr.applied = fo.at("applied").as_bool();
            fr.used = static_cast<int>(fo.at("used").to_number<std::int64_t>());
            fr.rng = support::rng(def.lab.seed ^ support::fnv1a(fr.f.id));
            restored.push_back(std::move(fr));
        }
        auto at = duration(o.at("now").to_number<std::int64_t>());
        // Nothing changes until everything was read.
        live_config = std::move(live);
        faults = std::move(restored);
        api_faults = static_cast<int>(o.at("api_faults").to_number<std::int64_t>());
        if (at > now()) clock->clock.advance(at - now(), steady::now());
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

void lab::impl::save_live() {
    if (!started || stopped) return;
    auto path = live_path();
    if (path.empty()) return;
    if (auto err = write_file_atomically(path, snapshot()); !err.empty()) note("lab", "", err);
}

std::vector<service_endpoint> lab::services() const {
    std::map<std::pair<std::string, std::string>, service_endpoint> by;
    for (auto& [key, l] : impl_->listeners) {
        if (l.what.service == "phantom" || l.what.policy == source_policy::drop_all()) continue;
        auto& e = by[{l.what.host, l.what.service}];
        e.host = l.what.host;
        e.service = l.what.service;
        e.address = key.address;
        e.port = key.port;
        (key.tcp ? e.tcp : e.udp) = true;
    }
    std::vector<service_endpoint> out;
    for (auto& [k, e] : by) out.push_back(e);
    return out;
}

std::string lab::change(const std::string& what, const std::function<std::string(configuration&)>& edit) {
    auto& m = *impl_;
    configuration next = m.live_config;
    if (auto err = edit(next); !err.empty()) return err;
    // Every address stays inside the lab's prefix: a lab never reaches elsewhere.
    auto inside = [&](ipv4 a) { return a == 0 || (a >> 16) == ((127u << 8) | static_cast<unsigned>(m.octet)); };
    for (auto& h : next.hosts) {
        if (!inside(h.address)) return "address " + format_ipv4(h.address) + " is outside the lab prefix " + m.def.lab.prefix;
        if (h.gateway && !inside(*h.gateway)) return "gateway " + format_ipv4(*h.gateway) + " is outside the lab prefix";
        for (auto d : h.dns_servers)
            if (!inside(d)) return "DNS server " + format_ipv4(d) + " is outside the lab prefix";
    }
    for (auto& z : next.zones)
        for (auto& r : z.records)
            if (auto* a = std::get_if<fake_dns::a_data>(&r.data); a && !inside(a->address))
                return "A record " + format_ipv4(a->address) + " is outside the lab prefix " + m.def.lab.prefix;
    m.live_config = std::move(next);
    m.note("config", "", what);
    m.check_cleared();
    m.model = std::make_unique<network>(m.live_config);
    if (m.started && !m.stopped) {
        m.reconcile(false);
        // A change may unblock mail: an MTA started, a transfer mode allowing outbound.
        for (auto& [name, agent] : m.agents) agent->kick();
    }
    m.save_live();
    return {};
}

namespace {

net::awaitable<void> resolve_task(lab::impl* m, std::shared_ptr<clock_state> clock, std::string host, std::string name,
                                  std::uint16_t type, std::function<void(const fake_dns::resolve_result&)> done) {
    auto pending = m->resolve(host, name, type);
    auto result = co_await std::move(pending);
    if (!clock->stopped) done(result);
}

}  // namespace

void lab::resolve(const std::string& from, const std::string& name, std::uint16_t type,
                  std::function<void(const fake_dns::resolve_result&)> done) {
    auto& m = *impl_;
    net::co_spawn(m.io, resolve_task(impl_.get(), m.clock, from, name, type, std::move(done)), net::detached);
}

void lab::log_event(const std::string& host, event_record e) {
    auto& m = *impl_;
    logged_event le;
    le.number = ++m.event_number;
    le.at = m.now();
    le.wall_ms = m.wall_ms(le.at);
    le.record = std::move(e);
    m.note("event", host,
           le.record.log + " " + le.record.type + " " + std::to_string(le.record.id) + " " + le.record.source + ": " +
               le.record.text);
    auto& log = m.event_logs[host];
    log.push_back(std::move(le));
    if (log.size() > 500) log.pop_front();
}

std::vector<logged_event> lab::event_log(const std::string& host) const {
    auto* h = impl_->live_config.find_host(host);
    if (!h) return {};
    auto it = impl_->event_logs.find(h->name);
    if (it == impl_->event_logs.end()) return {};
    return {it->second.begin(), it->second.end()};
}

service_result lab::control_service(const std::string& host, const std::string& service, bool start) {
    service_result result;
    auto* h = impl_->live_config.find_host(host);
    if (!h) {
        result.output = "There is no host called " + host + ".\n";
        return result;
    }
    auto name = h->name;
    change(std::string("net ") + (start ? "start " : "stop ") + service + " on " + name, [&](configuration& c) {
        auto* live_host = c.find_host(name);
        result = start ? start_service(*live_host, service) : stop_service(*live_host, service);
        return std::string{};
    });
    for (auto& e : result.events) log_event(name, e);
    return result;
}

namespace {
net::awaitable<void> lookup_task(lab::impl* m, std::shared_ptr<clock_state> clock, std::string host,
                                 std::vector<ipv4> servers, std::string name, std::uint16_t type,
                                 std::function<void(const fake_dns::resolve_result&)> done) {
    auto pending = m->lookup(host, servers, name, type, true);
    auto result = co_await std::move(pending);
    if (!clock->stopped) done(result);
}
}  // namespace

void lab::lookup(const std::string& from, std::vector<ipv4> servers, const std::string& name, std::uint16_t type,
                 std::function<void(const fake_dns::resolve_result&)> done) {
    auto& m = *impl_;
    net::co_spawn(m.io, lookup_task(impl_.get(), m.clock, from, std::move(servers), name, type, std::move(done)),
                  net::detached);
}

std::shared_ptr<mail_agent> lab::mail(const std::string& host) const {
    auto* h = impl_->live_config.find_host(host);
    if (!h) return nullptr;
    auto it = impl_->agents.find(h->name);
    return it == impl_->agents.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<mail_agent>> lab::mail_agents() const {
    std::vector<std::shared_ptr<mail_agent>> out;
    for (auto& h : impl_->live_config.hosts)
        if (auto it = impl_->agents.find(h.name); it != impl_->agents.end()) out.push_back(it->second);
    return out;
}

std::vector<fault_status> lab::faults(bool all) const {
    std::vector<fault_status> out;
    for (auto& fr : impl_->faults) {
        if (!all && fr.state != "active") continue;
        out.push_back({fr.f, fr.state, fr.source, fr.injected_at, fr.changed_at});
    }
    return out;
}

std::string lab::inject(fault f, std::string& error) {
    auto& m = *impl_;
    if (auto* k = find_fault_kind(f.kind)) f.kind = std::string(k->kind);
    error = check_fault(f, m.live_config, m.octet);
    if (!error.empty()) return {};
    if (f.id.empty()) f.id = "a" + std::to_string(++m.api_faults);
    for (auto& fr : m.faults)
        if (fr.f.id == f.id) {
            error = "a fault with id `" + f.id + "` exists already";
            return {};
        }
    fault_rt fr;
    fr.f = std::move(f);
    fr.source = "api";
    fr.rng = support::rng(m.def.lab.seed ^ support::fnv1a(fr.f.id));
    m.faults.push_back(std::move(fr));
    m.note("fault", "", "fault " + m.describe(m.faults.back().f) + " injected");
    m.schedule_fault(m.faults.size() - 1);
    m.save_live();
    return m.faults.back().f.id;
}

bool lab::clear_fault(const std::string& id) {
    auto& m = *impl_;
    for (std::size_t i = 0; i < m.faults.size(); ++i) {
        auto& fr = m.faults[i];
        if (fr.f.id != id) continue;
        m.cancel_timers(fr);
        if (fr.state == "cleared" || fr.state == "ended") return true;
        m.deactivate(i, "cleared");
        return true;
    }
    return false;
}

}  // namespace sim
