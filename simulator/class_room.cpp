#include "simulator/class_room.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <set>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "simulator/files.hpp"
#include "simulator/catalogue.hpp"
#include "simulator/lab_api.hpp"
#include "simulator/trainer_service.hpp"
#include "trainer/web/instructor_page.hpp"

namespace sim {

namespace net = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr auto tok = net::as_tuple(net::use_awaitable);

api_response ok(const json::value& v, int status = 200) { return {status, "application/json", json::serialize(v)}; }

std::string csv_field(const std::string& s) {
    // Quote every field that could confuse a spreadsheet: separators, quotes,
    // line breaks, and a leading = + - @ (formula injection).
    bool quote = s.find_first_of(",\"\r\n") != std::string::npos || (!s.empty() && std::string("=+-@").find(s[0]) != std::string::npos);
    if (!quote) return s;
    std::string out = "\"";
    if (!s.empty() && std::string("=+-@").find(s[0]) != std::string::npos) out += "'";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

}  // namespace

/// One trainee: their lab, trainer and routes.
struct member {
    std::string name, token;
    std::uint64_t seed = 0;
    std::unique_ptr<lab> l;
    std::unique_ptr<trainer_service> trainer;
    std::shared_ptr<api_router> router;
};

struct class_room::impl : std::enable_shared_from_this<class_room::impl> {
    net::io_context& io;
    class_options opts;
    std::vector<std::unique_ptr<member>> members;
    std::shared_ptr<api_router> pages = std::make_shared<api_router>();
    std::shared_ptr<api_router> instructor = std::make_shared<api_router>();
    std::string url;
    std::string instructor_token;
    // The instructor's live views wait on these; anything that changes wakes them.
    std::set<net::steady_timer*> waiting;
    std::vector<std::uint64_t> subscriptions;

    impl(net::io_context& io_, class_options o) : io(io_), opts(std::move(o)) {}

    void poke() {
        for (auto* t : waiting) t->cancel();
    }

    member* find(std::string_view name) {
        for (auto& m : members)
            if (support::iequals(m->name, name)) return m.get();
        return nullptr;
    }

    std::string page_of(const member& m) const { return url + "/?token=" + m.token + "&trainee=" + m.name; }

    json::object progress(const member& m, bool full) const {
        auto& def = m.l->definition();
        json::array faults;
        int total = 0, fixed = 0, present = 0;
        for (auto& f : m.l->faults(true)) {
            faults.push_back(fault_status_object(f));
            ++total;
            if (f.state == "cleared") ++fixed;
            if (f.state == "active" || f.state == "pending" || f.state == "off") ++present;
        }
        json::object o{{"name", m.name},
                       {"scenario", def.meta.id},
                       {"title", def.meta.title},
                       {"prefix", m.l->prefix()},
                       {"seed", m.seed},
                       {"token", m.token},
                       {"page", page_of(m)},
                       {"lab_time", m.l->now().count() / 1000},
                       {"faults", std::move(faults)},
                       {"faults_total", total},
                       {"faults_fixed", fixed},
                       {"faults_present", present}};
        auto* s = m.trainer->latest();
        if (!s) {
            o["state"] = "not started";
            return o;
        }
        auto r = m.trainer->report(*s);
        int diagnosed = 0, checks_passed = 0;
        for (auto& f : r.faults) diagnosed += f.diagnosed;
        for (auto& c : r.checks) checks_passed += c.passed;
        o["state"] = r.state;
        o["session"] = s->id();
        o["elapsed_seconds"] = r.elapsed.count() / 1000;
        o["time_limit_seconds"] = r.time_limit.count() / 1000;
        o["score"] = r.score;
        o["points"] = r.points;
        o["hints_used"] = r.hints_used;
        o["wrong_diagnoses"] = r.wrong_diagnoses;
        o["diagnosed"] = diagnosed;
        o["checks_passed"] = checks_passed;
        o["checks_total"] = static_cast<std::int64_t>(r.checks.size());
        o["passed"] = r.passed;
        if (!r.trail.empty()) {
            auto& last = r.trail.back();
            o["last_activity"] = json::object{{"at", support::format_duration(last.at)}, {"source", last.source}, {"text", last.text}};
        }
        if (full) o["report"] = trainer_report_object(r);
        return o;
    }

    json::object overview(bool full = false) const {
        json::array list;
        for (auto& m : members) list.push_back(progress(*m, full));
        return {{"title", opts.title},
                {"trainees", std::move(list)},
                {"speed", opts.speed},
                {"instructor", url + "/instructor?token=" + instructor_token}};
    }

    std::string results_csv() const {
        std::ostringstream out;
        out << "trainee,scenario,prefix,seed,state,score,points,elapsed_seconds,time_limit_seconds,hints_used,"
               "wrong_diagnoses,faults_total,faults_fixed,faults_diagnosed,checks_passed,checks_total,passed\r\n";
        for (auto& m : members) {
            auto p = progress(*m, false);
            auto num = [&](const char* k) -> std::string {
                auto* v = p.if_contains(k);
                return v ? json::serialize(*v) : std::string{};
            };
            out << csv_field(m->name) << "," << csv_field(std::string(p.at("scenario").as_string())) << ","
                << m->l->prefix() << "," << m->seed << "," << csv_field(std::string(p.at("state").as_string())) << ","
                << num("score") << "," << num("points") << "," << num("elapsed_seconds") << ","
                << num("time_limit_seconds") << "," << num("hints_used") << "," << num("wrong_diagnoses") << ","
                << num("faults_total") << "," << num("faults_fixed") << "," << num("diagnosed") << ","
                << num("checks_passed") << "," << num("checks_total") << "," << num("passed") << "\r\n";
        }
        return out.str();
    }

    // The trainees a request names: ?trainees= or the body's "trainees": "all", a name, or a list.
    std::vector<member*> chosen(const json::value* v, std::string& error) {
        std::vector<member*> out;
        if (!v) {
            error = "say which labs: \"trainees\": \"all\", a name, or a list of names";
            return out;
        }
        std::vector<std::string> names;
        if (v->is_string()) names.emplace_back(v->as_string());
        else if (v->is_array())
            for (auto& x : v->as_array())
                if (x.is_string()) names.emplace_back(x.as_string());
        if (names.empty()) {
            error = "`trainees` must be \"all\", a name, or a list of names";
            return out;
        }
        if (names.size() == 1 && names.front() == "all") {
            for (auto& m : members) out.push_back(m.get());
            return out;
        }
        for (auto& n : names) {
            auto* m = find(n);
            if (!m) {
                std::vector<std::string> all;
                for (auto& x : members) all.push_back(x->name);
                std::vector<std::string_view> views(all.begin(), all.end());
                auto hint = support::did_you_mean(n, views);
                error = "there is no trainee `" + n + "`" + (hint ? " — did you mean `" + *hint + "`?" : "");
                return {};
            }
            out.push_back(m);
        }
        return out;
    }

    void add_instructor_routes();
    net::awaitable<void> live(ws_channel& ch);
};

void class_room::impl::add_instructor_routes() {
    const std::string base = "/api/v1/class";
    auto& r = *instructor;
    r.add("GET", base, [this](const api_request&) { return ok(overview()); });
    r.add("GET", base + "/trainees/{name}", [this](const api_request& q) {
        auto* m = find(q.params.at("name"));
        if (!m) return api_error(404, "there is no trainee `" + q.params.at("name") + "`");
        return ok(progress(*m, true));
    });
    r.add("POST", base + "/faults", [this](const api_request& q) {
        boost::system::error_code ec;
        auto body = json::parse(q.body, ec);
        if (ec || !body.is_object()) return api_error(400, "the body must be a JSON object: {\"kind\": ..., \"trainees\": \"all\"}");
        auto& o = body.as_object();
        std::string error;
        auto targets = chosen(o.if_contains("trainees"), error);
        if (!error.empty()) return api_error(400, error);
        o.erase("trainees");
        auto f = fault_from_body(o, error);
        if (!error.empty()) return api_error(400, error);
        json::array results;
        int injected = 0;
        std::string last_error;
        for (auto* m : targets) {
            std::string why;
            auto id = m->l->inject(f, why);
            if (why.empty()) {
                ++injected;
                results.push_back({{"trainee", m->name}, {"id", id}});
            } else {
                last_error = why;
                results.push_back({{"trainee", m->name}, {"error", why}});
            }
        }
        poke();
        if (!injected) return api_error(400, last_error);
        return ok(json::object{{"injected", injected}, {"results", std::move(results)}}, 201);
    });
    r.add("DELETE", base + "/faults/{id}", [this](const api_request& q) {
        std::string error;
        json::value which = q.query.count("trainees") ? json::value(q.query.at("trainees")) : json::value(nullptr);
        if (which.is_string() && std::string_view(which.as_string()).find(',') != std::string_view::npos) {
            json::array names;
            std::stringstream ss(std::string(which.as_string()));
            for (std::string n; std::getline(ss, n, ',');) names.emplace_back(n);
            which = names;
        }
        auto targets = chosen(which.is_null() ? nullptr : &which, error);
        if (!error.empty()) return api_error(400, error, "add ?trainees=all or ?trainees=NAME[,NAME...]");
        json::array results;
        int cleared = 0;
        for (auto* m : targets) {
            bool found = m->l->clear_fault(q.params.at("id"));
            cleared += found;
            results.push_back({{"trainee", m->name}, {"cleared", found}});
        }
        poke();
        if (!cleared) return api_error(404, "no fault `" + q.params.at("id") + "` in those labs");
        return ok(json::object{{"cleared", cleared}, {"results", std::move(results)}});
    });
    r.add("GET", base + "/results.json", [this](const api_request&) { return ok(overview(true)); });
    r.add("GET", base + "/results.csv", [this](const api_request&) {
        return api_response{200, "text/csv; charset=utf-8", results_csv()};
    });
    r.add_ws(base + "/events", [this](ws_channel& ch, const api_request&) { return live(ch); });
}

// The instructor page's live view: the overview whenever something changed,
// at most four times a second, and every two seconds for the clocks.
net::awaitable<void> class_room::impl::live(ws_channel& ch) {
    using namespace net::experimental::awaitable_operators;
    auto self = shared_from_this();
    net::steady_timer wake(io), pace(io);
    bool open = true;
    auto receiving = [&]() -> net::awaitable<void> {
        while (co_await ch.receive()) {
        }
        open = false;
        wake.cancel();
        pace.cancel();
    };
    auto pushing = [&]() -> net::awaitable<void> {
        std::string last;
        while (open) {
            auto text = json::serialize(overview());
            if (text != last) {
                ch.send(text);
                last = std::move(text);
            }
            pace.expires_after(std::chrono::milliseconds(250));
            co_await pace.async_wait(tok);
            if (!open) break;
            wake.expires_after(std::chrono::seconds(2));
            waiting.insert(&wake);
            co_await wake.async_wait(tok);
            waiting.erase(&wake);
        }
    };
    co_await (receiving() || pushing());
    waiting.erase(&wake);
}

class_room::class_room(net::io_context& io, class_options opts, std::vector<class_seat> seats)
    : impl_(std::make_shared<impl>(io, std::move(opts))) {
    auto& r = *impl_;
    // Tokens: the class file's, else those a state directory kept, else new ones.
    json::object kept;
    fs::path dir = r.opts.state_dir;
    if (!dir.empty()) {
        std::ifstream in(dir / "class.json", std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        boost::system::error_code ec;
        auto v = json::parse(text, ec);
        if (!ec && v.is_object()) kept = v.as_object();
    }
    auto kept_token = [&](const std::string& key) -> std::string {
        if (auto* t = kept.if_contains("tokens"); t && t->is_object())
            if (auto* x = t->as_object().if_contains(key); x && x->is_string()) return std::string(x->as_string());
        return {};
    };
    r.instructor_token = r.opts.instructor_token;
    if (r.instructor_token.empty()) r.instructor_token = kept_token("@instructor");
    if (r.instructor_token.empty()) r.instructor_token = random_token();

    for (auto& seat : seats) {
        auto m = std::make_unique<member>();
        m->name = seat.name;
        m->seed = seat.seed;
        m->token = !seat.token.empty() ? seat.token : kept_token(seat.name);
        if (m->token.empty()) m->token = random_token();
        if (r.opts.time_limit) {
            auto t = seat.s.trainer.value_or(trainer_config{});
            t.time_limit = *r.opts.time_limit;
            seat.s.trainer = t;
        }
        lab_options lo;
        lo.prefix = seat.prefix;
        lo.ports = r.opts.ports;
        lo.speed = r.opts.speed;
        lo.seed = seat.seed;
        if (!dir.empty()) lo.state_dir = (dir / seat.name).string();
        m->l = std::make_unique<lab>(io, std::move(seat.s), lo);
        m->trainer = std::make_unique<trainer_service>(*m->l);
        m->trainer->dedicate(m->name);
        m->router = std::make_shared<api_router>();
        auto* mp = m.get();
        auto* room = impl_.get();
        add_lab_routes(*m->router, *m->l, [mp, room] { return api_identity{room->url, mp->token}; }, m->trainer.get(),
                       lab_routes_options{.faults = false});
        add_trainer_routes(*m->router, *m->l, *m->trainer);
        r.members.push_back(std::move(m));
    }
    r.pages->add("GET", "/", [](const api_request&) { return trainee_page(); });
    r.pages->add("GET", "/instructor", [](const api_request&) { return instructor_page(); });
    r.add_instructor_routes();
}

class_room::~class_room() { stop(); }

std::string class_room::start() {
    auto& r = *impl_;
    fs::path dir = r.opts.state_dir;
    if (!dir.empty()) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) return "cannot create the state directory " + dir.string() + ": " + ec.message();
        for (auto& m : r.members) fs::create_directories(dir / m->name, ec);
        if (ec) return "cannot create a directory under " + dir.string() + ": " + ec.message();
    }
    for (auto& m : r.members) {
        if (auto err = m->l->start(); !err.empty()) {
            stop();
            return m->name + "'s lab (" + m->l->prefix() + "): " + err;
        }
        if (!dir.empty()) m->trainer->persist_to((dir / m->name / "trainer.json").string());
        std::weak_ptr<impl> weak = impl_;
        m->trainer->on_change = [weak] {
            if (auto self = weak.lock()) self->poke();
        };
        r.subscriptions.push_back(m->l->log().subscribe([weak](const log_entry&) {
            if (auto self = weak.lock()) self->poke();
        }));
    }
    if (!dir.empty()) {
        json::object tokens{{"@instructor", r.instructor_token}};
        for (auto& m : r.members) tokens[m->name] = m->token;
        if (auto err = write_file_atomically((dir / "class.json").string(), json::serialize(json::object{{"tokens", tokens}}));
            !err.empty())
            return err;
    }
    return {};
}

void class_room::stop() {
    auto& r = *impl_;
    for (std::size_t i = 0; i < r.subscriptions.size() && i < r.members.size(); ++i)
        r.members[i]->l->log().unsubscribe(r.subscriptions[i]);
    r.subscriptions.clear();
    for (auto& m : r.members) m->l->stop();
    r.poke();
}

std::shared_ptr<api_router> class_room::routes_for(std::string_view token) const {
    // Every token is compared, so the time taken says nothing about which matched.
    std::shared_ptr<api_router> found;
    if (same_token(token, impl_->instructor_token)) found = impl_->instructor;
    for (auto& m : impl_->members)
        if (same_token(token, m->token)) found = m->router;
    return found;
}

std::shared_ptr<api_router> class_room::pages() const { return impl_->pages; }
void class_room::set_url(std::string url) { impl_->url = std::move(url); }
std::size_t class_room::size() const { return impl_->members.size(); }
lab& class_room::lab_of(std::size_t i) { return *impl_->members.at(i)->l; }

std::string class_room::overview_json() const { return json::serialize(impl_->overview()); }

std::string class_room::ready_json() const {
    auto& r = *impl_;
    json::array trainees;
    for (auto& m : r.members)
        trainees.push_back({{"name", m->name},
                            {"scenario", m->l->definition().meta.id},
                            {"prefix", m->l->prefix()},
                            {"seed", m->seed},
                            {"token", m->token},
                            {"page", r.page_of(*m)},
                            {"ports", {{"dns", m->l->dns_port()}, {"smtp", m->l->smtp_port()}}}});
    return json::serialize(json::object{{"class", r.opts.title},
                                        {"api", r.url},
                                        {"instructor", {{"token", r.instructor_token}, {"page", r.url + "/instructor?token=" + r.instructor_token}}},
                                        {"trainees", std::move(trainees)}});
}

void class_room::print_table(std::ostream& out) const {
    auto& r = *impl_;
    auto pad = [](std::string s, std::size_t w) {
        if (s.size() < w) s.append(w - s.size(), ' ');
        return s + " ";
    };
    out << "mailsim class" << (r.opts.title.empty() ? "" : " `" + r.opts.title + "`") << ": " << r.members.size()
        << " trainee(s), clock x" << r.opts.speed << "\n\n";
    out << "Instructor page:  " << r.url << "/instructor?token=" << r.instructor_token << "\n\n";
    out << pad("TRAINEE", 14) << pad("PREFIX", 8) << pad("PORTS", 12) << pad("SCENARIO", 26) << "PAGE\n";
    for (auto& m : r.members)
        out << pad(m->name, 14) << pad(m->l->prefix(), 8)
            << pad(std::to_string(m->l->dns_port()) + "/" + std::to_string(m->l->smtp_port()), 12)
            << pad(m->l->definition().meta.id, 26) << r.page_of(*m) << "\n";
    out << "\nPorts are DNS/SMTP. Each trainee's page link carries their own token; it reaches their lab only.\n"
        << "Stop with Ctrl-C." << std::endl;
}

api_response instructor_page() {
    static const std::string page = [] {
        json::array kinds;
        for (auto& k : catalogue()) {
            json::array params;
            for (auto& p : k.params) params.push_back({{"name", std::string(p.name)}, {"required", p.required}});
            kinds.push_back({{"kind", std::string(k.kind)}, {"summary", std::string(k.summary)}, {"params", params}});
        }
        return page_with_data(trainer::instructor_page, kinds);
    }();
    return api_response{200, "text/html; charset=utf-8", page};
}

}  // namespace sim
