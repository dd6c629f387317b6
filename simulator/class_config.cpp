#include "simulator/class_config.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "simulator/toml_guard.hpp"

namespace sim {

namespace {

constexpr std::string_view class_keys[] = {"title",  "scenario",  "scenarios", "prefix",          "seed",
                                           "speed",  "time_limit", "ports",    "instructor_token", "trainees"};
constexpr std::string_view trainee_keys[] = {"name", "token", "scenario", "seed"};
constexpr std::string_view top_keys[] = {"class", "trainee"};

bool good_name(std::string_view n) {
    return !n.empty() && n.size() <= 40 && std::all_of(n.begin(), n.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
}

// Tokens travel in URLs and headers: plain characters only.
bool good_token(std::string_view t) {
    return t.size() >= 8 && t.size() <= 128 && std::all_of(t.begin(), t.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
}

class reader {
public:
    reader(std::string path, diagnostics& d) : file_(std::make_shared<const std::string>(path)), d_(d) {}

    source_pos pos(const toml::source_region& r) const {
        return {file_, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
    }
    void error(const toml::node& n, std::string message) { d_.error(pos(n.source()), std::move(message)); }
    void unknown(const toml::key& k, std::span<const std::string_view> known, std::string_view where) {
        auto hint = support::did_you_mean(k.str(), known);
        d_.error(pos(k.source()), "unknown key `" + std::string(k.str()) + "` in " + std::string(where) +
                                      (hint ? " — did you mean `" + *hint + "`?" : ""));
    }
    std::optional<std::string> text(const toml::node& n, std::string_view key) {
        auto v = n.value<std::string>();
        if (!v) error(n, "`" + std::string(key) + "` must be a string");
        return v;
    }
    std::optional<std::int64_t> integer(const toml::node& n, std::string_view key, std::int64_t lo, std::int64_t hi) {
        auto v = n.value<std::int64_t>();
        if (!v || !n.is_integer() || *v < lo || *v > hi) {
            error(n, "`" + std::string(key) + "` must be a whole number from " + std::to_string(lo) + " to " +
                         std::to_string(hi));
            return std::nullopt;
        }
        return v;
    }

    void read_class(const toml::table& t, class_config& c) {
        for (auto&& [k, v] : t) {
            auto key = k.str();
            if (key == "title") {
                if (auto s = text(v, key)) c.title = *s;
            } else if (key == "scenario") {
                if (auto s = text(v, key)) c.scenarios = {*s};
                c.scenarios_pos = pos(v.source());
            } else if (key == "scenarios") {
                c.scenarios_pos = pos(v.source());
                auto* a = v.as_array();
                if (!a || a->empty()) error(v, "`scenarios` must be a non-empty array of scenario files or ids");
                else
                    for (auto& x : *a)
                        if (auto s = text(x, "scenarios")) c.scenarios.push_back(*s);
            } else if (key == "prefix") {
                if (auto n = integer(v, key, 1, 255)) c.prefix = static_cast<int>(*n);
            } else if (key == "seed") {
                if (auto n = integer(v, key, 0, INT64_MAX)) c.seed = static_cast<std::uint64_t>(*n);
            } else if (key == "speed") {
                auto d = v.value<double>();
                if (!d || !(*d >= 0.001 && *d <= 100000)) error(v, "`speed` must be a number from 0.001 to 100000");
                else c.speed = *d;
            } else if (key == "time_limit") {
                auto s = text(v, key);
                auto d = s ? support::parse_duration(*s) : std::nullopt;
                if (s && (!d || d->count() <= 0)) error(v, "`time_limit` must be a duration such as \"45m\" or \"1h30m\"");
                else if (d) c.time_limit = d;
            } else if (key == "ports") {
                auto s = text(v, key);
                if (s && *s != "auto" && *s != "standard" && *s != "high")
                    error(v, "`ports` must be \"auto\", \"standard\" or \"high\"");
                else if (s) c.ports = *s;
            } else if (key == "instructor_token") {
                auto s = text(v, key);
                if (s && !good_token(*s)) error(v, "`instructor_token` must be 8 to 128 letters, digits, `-`, `_` or `.`");
                else if (s) c.instructor_token = *s;
            } else if (key == "trainees") {
                // A short form: names only.
                auto* a = v.as_array();
                if (!a) {
                    error(v, "`trainees` must be an array of names (or write [[trainee]] tables)");
                    continue;
                }
                for (auto& x : *a)
                    if (auto s = text(x, "trainees")) c.trainees.push_back({*s, "", "", std::nullopt, pos(x.source())});
            } else {
                unknown(k, class_keys, "[class]");
            }
        }
    }

    void read_trainee(const toml::table& t, class_config& c) {
        class_trainee tr;
        tr.pos = pos(t.source());
        for (auto&& [k, v] : t) {
            auto key = k.str();
            if (key == "name") {
                if (auto s = text(v, key)) tr.name = *s;
            } else if (key == "token") {
                auto s = text(v, key);
                if (s && !good_token(*s)) error(v, "`token` must be 8 to 128 letters, digits, `-`, `_` or `.`");
                else if (s) tr.token = *s;
            } else if (key == "scenario") {
                if (auto s = text(v, key)) tr.scenario = *s;
            } else if (key == "seed") {
                if (auto n = integer(v, key, 0, INT64_MAX)) tr.seed = static_cast<std::uint64_t>(*n);
            } else {
                unknown(k, trainee_keys, "[[trainee]]");
            }
        }
        if (!t.contains("name")) d_.error(tr.pos, "this [[trainee]] has no `name`");
        c.trainees.push_back(std::move(tr));
    }

    const std::shared_ptr<const std::string>& file() const { return file_; }

private:
    std::shared_ptr<const std::string> file_;
    diagnostics& d_;
};

}  // namespace

std::optional<class_config> parse_class(std::string_view text, const std::string& path, diagnostics& diags) {
    auto before = diags.size();
    auto parsed = guarded_parse(text, path);
    if (parsed.refusal) {
        diags.error(path, parsed.refusal->line, parsed.refusal->column, parsed.refusal->message);
        return std::nullopt;
    }
    reader r(path, diags);
    class_config c;
    c.file = path;
    c.scenarios_pos = {r.file(), 1, 1};
    for (auto&& [k, v] : *parsed.table) {
        if (k.str() == "class") {
            if (auto* t = v.as_table()) r.read_class(*t, c);
            else r.error(v, "`class` must be a table: write [class]");
        } else if (k.str() == "trainee") {
            auto* a = v.as_array();
            if (!a) {
                r.error(v, "`trainee` must be an array of tables: write each trainee as [[trainee]]");
                continue;
            }
            for (auto& item : *a) {
                if (auto* t = item.as_table()) r.read_trainee(*t, c);
                else r.error(item, "each trainee must be a table with a name");
            }
        } else {
            r.unknown(k, top_keys, "the class file");
        }
    }
    source_pos top{r.file(), 1, 1};
    if (c.trainees.empty()) diags.error(top, "the class has no trainees: add [class] trainees = [\"ana\", ...] or [[trainee]] tables");
    if (c.scenarios.empty() && std::any_of(c.trainees.begin(), c.trainees.end(), [](auto& t) { return t.scenario.empty(); }))
        diags.error(top, "no scenario: add [class] scenario = \"ID\" (or scenarios = [...]), or give every trainee one");
    if (static_cast<int>(c.trainees.size()) > max_class_size)
        diags.error(top, "a class holds at most " + std::to_string(max_class_size) + " trainees, not " +
                             std::to_string(c.trainees.size()));
    else if (c.prefix + static_cast<int>(c.trainees.size()) - 1 > 255)
        diags.error(top, std::to_string(c.trainees.size()) + " trainees from prefix 127." + std::to_string(c.prefix) +
                             " would go past 127.255: lower `prefix`");
    std::set<std::string> names, tokens;
    if (!c.instructor_token.empty()) tokens.insert(c.instructor_token);
    for (auto& t : c.trainees) {
        if (!t.name.empty() && !good_name(t.name))
            diags.error(t.pos, "trainee name `" + t.name + "` must be 1 to 40 letters, digits, `-`, `_` or `.`");
        else if (!t.name.empty() && !names.insert(support::to_lower(t.name)).second)
            diags.error(t.pos, "two trainees are called `" + t.name + "`");
        if (!t.token.empty() && !tokens.insert(t.token).second)
            diags.error(t.pos, "the token of `" + t.name + "` is used twice (each trainee and the instructor need their own)");
    }
    if (diags.size() != before) return std::nullopt;
    return c;
}

std::optional<class_config> load_class(const std::string& path, diagnostics& diags) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        diags.error(path, 0, 0, "cannot read the class file");
        return std::nullopt;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_class(ss.str(), path, diags);
}

std::string scenario_of(const class_config& c, std::size_t index) {
    auto& t = c.trainees.at(index);
    if (!t.scenario.empty()) return t.scenario;
    return c.scenarios.at(index % c.scenarios.size());
}

std::uint64_t seed_of(const class_config& c, std::size_t index) {
    auto& t = c.trainees.at(index);
    return t.seed ? *t.seed : c.seed + index;
}

}  // namespace sim
