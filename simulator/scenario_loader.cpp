#include "simulator/scenario_loader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "fake_dns/zone_file.hpp"
#include "simulator/catalogue.hpp"
#include "simulator/doc.hpp"
#include "simulator/toml_guard.hpp"
#include "simulator/validate.hpp"

namespace sim {

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------
// toml++ -> doc_node. The only place that walks toml++ values.

source_pos pos_of(const toml::source_region& r, const std::shared_ptr<const std::string>& fallback) {
    source_pos p;
    p.file = r.path ? r.path : fallback;
    p.line = static_cast<int>(r.begin.line);
    p.column = static_cast<int>(r.begin.column);
    return p;
}

doc_node convert(const toml::node& n, const std::shared_ptr<const std::string>& file) {
    doc_node out;
    out.pos = pos_of(n.source(), file);
    if (auto* t = n.as_table()) {
        out.type = doc_node::kind::table;
        for (auto&& [k, v] : *t) {
            doc_member m;
            m.key = std::string(k.str());
            m.key_pos = pos_of(k.source(), file);
            m.value = convert(v, file);
            out.members.push_back(std::move(m));
        }
    } else if (auto* a = n.as_array()) {
        out.type = doc_node::kind::array;
        for (auto& item : *a) out.items.push_back(convert(item, file));
    } else if (auto* s = n.as_string()) {
        out.type = doc_node::kind::string;
        out.text = s->get();
    } else if (auto* i = n.as_integer()) {
        out.type = doc_node::kind::integer;
        out.integer = i->get();
    } else if (auto* f = n.as_floating_point()) {
        out.type = doc_node::kind::floating;
        out.floating = f->get();
    } else if (auto* b = n.as_boolean()) {
        out.type = doc_node::kind::boolean;
        out.boolean = b->get();
    } else {
        out.type = doc_node::kind::date_time;
        std::ostringstream os;
        if (auto* d = n.as_date()) os << *d;
        else if (auto* t2 = n.as_time()) os << *t2;
        else if (auto* dt = n.as_date_time()) os << *dt;
        out.text = os.str();
    }
    return out;
}

// ---------------------------------------------------------------------------
// Files and includes.

constexpr std::size_t max_file_bytes = 1 << 20;
constexpr int max_include_depth = 16;

struct file_set {
    std::map<std::string, std::string> texts;  // path -> raw text, for positions inside strings
    std::vector<std::string> order;
};

std::optional<std::string> read_file(const std::string& path, diagnostics& diags, const source_pos& from) {
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) {
        if (from.file) diags.error(from, "cannot read `" + path + "`: " + ec.message());
        else diags.error(path, 0, 0, "cannot read the file: " + ec.message());
        return std::nullopt;
    }
    if (size > max_file_bytes) {
        diags.error(path, 1, 1, "the file is " + std::to_string(size) + " bytes; scenario files are limited to " +
                                    std::to_string(max_file_bytes));
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) {
        diags.error(path, 0, 0, "cannot read the file");
        return std::nullopt;
    }
    return text;
}

bool inside(const fs::path& root, const fs::path& p) {
    auto r = root.lexically_normal().string();
    auto s = p.lexically_normal().string();
    if (!r.empty() && r.back() != '/') r += '/';
    return s.rfind(r, 0) == 0;
}

class document_loader {
public:
    document_loader(diagnostics& d, file_set& files, fs::path root) : diags_(d), files_(files), root_(std::move(root)) {}

    // Parses `text` (from `path`), loads its includes first and merges the file over them.
    std::optional<doc_node> load(std::string_view text, const std::string& path, int depth) {
        auto file = std::make_shared<const std::string>(path);
        files_.texts[path] = std::string(text);
        files_.order.push_back(path);
        auto parsed = guarded_parse(text, path);
        if (parsed.refusal) {
            auto& r = *parsed.refusal;
            diags_.error(path, r.line, r.column, r.message);
            return std::nullopt;
        }
        doc_node doc = convert(*parsed.table, file);
        doc.pos = source_pos{file, 1, 1};

        auto* inc = doc.find("include");
        if (!inc) return doc;
        doc_node merged;
        merged.pos = doc.pos;
        bool ok = true;
        if (!inc->is_array()) {
            diags_.error(inc->pos, "`include` must be an array of paths, not " + std::string(inc->type_name()));
            ok = false;
        } else {
            for (auto& item : inc->items) {
                if (!item.is_string()) {
                    diags_.error(item.pos, "an include must be a path string, not " + std::string(item.type_name()));
                    ok = false;
                    continue;
                }
                auto sub = include(item, path, depth);
                if (!sub) {
                    ok = false;
                    continue;
                }
                merge_into(merged, std::move(*sub));
            }
        }
        std::erase_if(doc.members, [](const doc_member& m) { return m.key == "include"; });
        merge_into(merged, std::move(doc));
        if (!ok) return std::nullopt;
        return merged;
    }

private:
    std::optional<doc_node> include(const doc_node& item, const std::string& from, int depth) {
        fs::path target = fs::path(from).parent_path() / item.text;
        if (fs::path(item.text).is_absolute()) {
            diags_.error(item.pos, "include `" + item.text + "` must be a path relative to this file");
            return std::nullopt;
        }
        std::error_code ec;
        auto canonical = fs::weakly_canonical(target, ec);
        auto root = fs::weakly_canonical(root_, ec);
        if (!inside(root, canonical)) {
            diags_.error(item.pos, "include `" + item.text + "` lies outside the scenario library (the folder `" +
                                       root.filename().string() + "`)");
            return std::nullopt;
        }
        auto key = canonical.string();
        if (std::find(stack_.begin(), stack_.end(), key) != stack_.end()) {
            std::string cycle;
            for (auto& s : stack_) cycle += fs::path(s).filename().string() + " -> ";
            cycle += canonical.filename().string();
            diags_.error(item.pos, "include cycle: " + cycle);
            return std::nullopt;
        }
        if (depth >= max_include_depth) {
            diags_.error(item.pos, "includes nest deeper than " + std::to_string(max_include_depth) + " files");
            return std::nullopt;
        }
        std::error_code exists_ec;
        if (!fs::is_regular_file(target, exists_ec)) {
            diags_.error(item.pos, "include `" + item.text + "`: no such file");
            return std::nullopt;
        }
        auto text = read_file(target.lexically_normal().string(), diags_, item.pos);
        if (!text) return std::nullopt;
        stack_.push_back(key);
        auto sub = load(*text, target.lexically_normal().string(), depth + 1);
        stack_.pop_back();
        return sub;
    }

public:
    std::vector<std::string> stack_;

private:
    diagnostics& diags_;
    file_set& files_;
    fs::path root_;
};

// ---------------------------------------------------------------------------
// doc_node -> structs.

std::string join(const std::vector<std::string_view>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += i + 1 == v.size() ? " or " : ", ";
        out += v[i];
    }
    return out;
}

/// Reads one table, remembering the keys asked for so that unknown keys can be
/// reported with a suggestion.
class table_reader {
public:
    table_reader(const doc_node& t, std::string where, diagnostics& d) : t_(t), where_(std::move(where)), diags_(d) {}

    const doc_node& node() const { return t_; }
    const std::string& where() const { return where_; }

    const doc_node* get(std::string_view key) {
        known_.push_back(key);
        return t_.find(key);
    }

    void missing(std::string_view key) { diags_.error(t_.pos, where_ + " is missing `" + std::string(key) + "`"); }

    void wrong_type(std::string_view key, const doc_node& n, std::string_view want) {
        diags_.error(n.pos, "`" + std::string(key) + "` must be " + std::string(want) + ", not " +
                                std::string(n.type_name()));
    }

    std::optional<std::string> str(std::string_view key, bool required = false) {
        auto* n = get(key);
        if (!n) {
            if (required) missing(key);
            return std::nullopt;
        }
        if (!n->is_string()) {
            wrong_type(key, *n, "a string");
            return std::nullopt;
        }
        return n->text;
    }

    std::optional<std::int64_t> integer(std::string_view key, std::int64_t lo, std::int64_t hi, bool required = false) {
        auto* n = get(key);
        if (!n) {
            if (required) missing(key);
            return std::nullopt;
        }
        if (n->type != doc_node::kind::integer) {
            wrong_type(key, *n, "an integer");
            return std::nullopt;
        }
        if (n->integer < lo || n->integer > hi) {
            diags_.error(n->pos, "`" + std::string(key) + "` must be between " + std::to_string(lo) + " and " +
                                     std::to_string(hi) + ", not " + std::to_string(n->integer));
            return std::nullopt;
        }
        return n->integer;
    }

    std::optional<double> number(std::string_view key, double lo, double hi) {
        auto* n = get(key);
        if (!n) return std::nullopt;
        double v = 0;
        if (n->type == doc_node::kind::integer) v = static_cast<double>(n->integer);
        else if (n->type == doc_node::kind::floating) v = n->floating;
        else {
            wrong_type(key, *n, "a number");
            return std::nullopt;
        }
        if (!(v >= lo && v <= hi)) {
            diags_.error(n->pos, "`" + std::string(key) + "` must be between " + trim(lo) + " and " + trim(hi));
            return std::nullopt;
        }
        return v;
    }

    std::optional<bool> boolean(std::string_view key) {
        auto* n = get(key);
        if (!n) return std::nullopt;
        if (n->type != doc_node::kind::boolean) {
            wrong_type(key, *n, "true or false");
            return std::nullopt;
        }
        return n->boolean;
    }

    std::optional<std::vector<std::string>> strings(std::string_view key, bool required = false) {
        auto* n = get(key);
        if (!n) {
            if (required) missing(key);
            return std::nullopt;
        }
        if (!n->is_array()) {
            wrong_type(key, *n, "an array of strings");
            return std::nullopt;
        }
        std::vector<std::string> out;
        bool ok = true;
        for (auto& i : n->items) {
            if (!i.is_string()) {
                diags_.error(i.pos, "`" + std::string(key) + "` must hold strings, not " + std::string(i.type_name()));
                ok = false;
            } else {
                out.push_back(i.text);
            }
        }
        if (!ok) return std::nullopt;
        return out;
    }

    /// A string that must be one of `allowed`; suggests the nearest.
    std::optional<std::string> choice(std::string_view key, const std::vector<std::string_view>& allowed,
                                      bool required = false) {
        auto s = str(key, required);
        if (!s) return std::nullopt;
        for (auto a : allowed)
            if (*s == a) return s;
        enum_error(*get_node(key), key, *s, allowed);
        return std::nullopt;
    }

    void enum_error(const doc_node& n, std::string_view key, std::string_view value,
                    const std::vector<std::string_view>& allowed) {
        std::string msg = "`" + std::string(key) + "` must be " + join(allowed) + ", not `" + std::string(value) + "`";
        if (auto s = support::did_you_mean(value, allowed)) msg += " — did you mean `" + *s + "`?";
        diags_.error(n.pos, msg);
    }

    std::optional<std::uint64_t> size(std::string_view key) {
        auto* n = get(key);
        if (!n) return std::nullopt;
        if (n->type == doc_node::kind::integer && n->integer >= 0) return static_cast<std::uint64_t>(n->integer);
        if (!n->is_string()) {
            wrong_type(key, *n, "a size string such as \"10MB\"");
            return std::nullopt;
        }
        auto v = support::parse_size(n->text);
        if (!v) diags_.error(n->pos, "`" + std::string(key) + "` is not a size: `" + n->text + "` (use B, KB, MB or GB)");
        return v;
    }

    std::optional<duration> dur(std::string_view key) {
        auto* n = get(key);
        if (!n) return std::nullopt;
        return duration_of(key, *n);
    }

    std::optional<duration> duration_of(std::string_view key, const doc_node& n) {
        if (!n.is_string()) {
            wrong_type(key, n, "a duration string such as \"10m\"");
            return std::nullopt;
        }
        auto v = support::parse_duration(n.text);
        if (!v) diags_.error(n.pos, "`" + std::string(key) + "` is not a duration: `" + n.text + "` (use s, m, h or d)");
        return v;
    }

    const doc_node* get_node(std::string_view key) const { return t_.find(key); }

    /// Reports every key that no get() asked for.
    void finish() {
        for (auto& m : t_.members) {
            if (std::find(known_.begin(), known_.end(), m.key) != known_.end()) continue;
            std::string msg = "unknown key `" + m.key + "` in " + where_;
            if (auto s = support::did_you_mean(m.key, known_)) msg += " — did you mean `" + *s + "`?";
            diags_.error(m.key_pos, msg);
        }
    }

private:
    static std::string trim(double d) {
        auto s = std::to_string(d);
        while (s.size() > 1 && s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
        return s;
    }

    const doc_node& t_;
    std::string where_;
    diagnostics& diags_;
    std::vector<std::string_view> known_;
};

/// Iterates the tables of an array-of-tables key, reporting non-tables.
void for_each_table(table_reader& parent, std::string_view key, diagnostics& diags,
                    const std::function<void(const doc_node&)>& fn) {
    auto* n = parent.get(key);
    if (!n) return;
    if (!n->is_array()) {
        if (n->is_table()) {  // a single [key] where [[key]] was meant
            diags.error(n->pos, "`" + std::string(key) + "` must be an array of tables: write [[" + std::string(key) +
                                    "]]");
        } else {
            parent.wrong_type(key, *n, "an array of tables");
        }
        return;
    }
    for (auto& item : n->items) {
        if (!item.is_table()) {
            diags.error(item.pos, "each `" + std::string(key) + "` must be a table, not " + std::string(item.type_name()));
            continue;
        }
        fn(item);
    }
}

std::optional<ipv4> read_address(table_reader& r, std::string_view key, diagnostics& diags, bool required = false) {
    auto s = r.str(key, required);
    if (!s) return std::nullopt;
    auto a = support::parse_ipv4(*s);
    if (!a) diags.error(r.get_node(key)->pos, "`" + std::string(key) + "` is not an IPv4 address: `" + *s + "`");
    return a;
}

std::vector<ipv4> read_addresses(table_reader& r, std::string_view key, diagnostics& diags) {
    std::vector<ipv4> out;
    auto* n = r.get(key);
    if (!n) return out;
    if (!n->is_array()) {
        r.wrong_type(key, *n, "an array of addresses");
        return out;
    }
    for (auto& i : n->items) {
        if (!i.is_string()) {
            diags.error(i.pos, "`" + std::string(key) + "` must hold address strings, not " + std::string(i.type_name()));
            continue;
        }
        if (auto a = support::parse_ipv4(i.text)) out.push_back(*a);
        else diags.error(i.pos, "`" + i.text + "` is not an IPv4 address");
    }
    return out;
}

// Maps a position inside a string value back into the file: zone records are
// written as TOML strings, and their errors must point at the file's line.
source_pos position_in_string(const doc_node& str, const file_set& files, int line, int column) {
    source_pos p = str.pos;
    auto it = files.texts.find(str.pos.path());
    if (it == files.texts.end() || str.pos.line <= 0) return p;
    // Locate the opening delimiter in the raw text.
    const std::string& text = it->second;
    std::size_t off = 0;
    for (int l = 1; l < str.pos.line && off != std::string::npos; ++l) {
        off = text.find('\n', off);
        if (off != std::string::npos) ++off;
    }
    if (off == std::string::npos) return p;
    off += static_cast<std::size_t>(str.pos.column - 1);
    bool multi = text.compare(off, 3, "\"\"\"") == 0 || text.compare(off, 3, "'''") == 0;
    std::size_t open = multi ? 3 : 1;
    bool trimmed_newline = multi && (text.compare(off + 3, 1, "\n") == 0 || text.compare(off + 3, 2, "\r\n") == 0);
    if (trimmed_newline) {
        p.line = str.pos.line + line;
        p.column = column;
    } else if (line == 1) {
        p.column = str.pos.column + static_cast<int>(open) + column - 1;
    } else {
        p.line = str.pos.line + line - 1;
        p.column = column;
    }
    return p;
}

const std::vector<std::string_view> role_names = {"dns", "relay", "mailstore", "exchange", "client"};

class scenario_reader {
public:
    scenario_reader(diagnostics& d, const file_set& files) : diags_(d), files_(files) {}

    scenario read(const doc_node& root) {
        scenario s;
        table_reader top(root, "the scenario file", diags_);
        if (auto v = top.integer("schema", 1, 1000, false)) {
            if (*v != 1)
                diags_.error(top.get_node("schema")->pos,
                             "unsupported schema " + std::to_string(*v) + " (this mailsim reads schema 1)");
        } else if (!top.get_node("schema") && !fragment_) {
            diags_.error(root.pos, "missing `schema = 1` at the top of the file");
        }
        top.get("include");  // handled by the loader
        if (auto* n = top.get("scenario")) table_or_error(*n, "scenario", [&](auto& t) { read_meta(t, s.meta); });
        else if (!fragment_) diags_.error(root.pos, "missing the [scenario] table");
        if (auto* n = top.get("lab")) table_or_error(*n, "lab", [&](auto& t) { read_lab(t, s.lab); });
        for_each_table(top, "segment", diags_, [&](auto& t) { read_segment(t, s.answer); });
        for_each_table(top, "router", diags_, [&](auto& t) { read_router(t, s.answer); });
        for_each_table(top, "link", diags_, [&](auto& t) { read_link(t, s.answer); });
        for_each_table(top, "host", diags_, [&](auto& t) { read_host(t, s.answer); });
        for_each_table(top, "zone", diags_, [&](auto& t) { read_zone(t, s.answer); });
        for_each_table(top, "fault", diags_, [&](auto& t) { read_fault(t, s.faults); });
        if (auto* n = top.get("trainer"))
            table_or_error(*n, "trainer", [&](auto& t) { s.trainer = read_trainer(t); });
        if (auto* n = top.get("expect")) table_or_error(*n, "expect", [&](auto& t) { s.expect = read_expect(t); });
        top.finish();
        return s;
    }

    bool fragment_ = false;

private:
    template <typename F>
    void table_or_error(const doc_node& n, std::string_view name, F&& fn) {
        if (!n.is_table()) {
            diags_.error(n.pos, "`" + std::string(name) + "` must be a table, not " + std::string(n.type_name()));
            return;
        }
        fn(n);
    }

    void read_meta(const doc_node& n, scenario_meta& m) {
        table_reader r(n, "[scenario]", diags_);
        m.pos = n.pos;
        if (auto v = r.str("id", !fragment_)) {
            bool ok = !v->empty() && std::all_of(v->begin(), v->end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            });
            if (!ok) diags_.error(r.get_node("id")->pos, "`id` must match [a-z0-9-]+, not `" + *v + "`");
            m.id = *v;
        }
        if (auto v = r.str("title", !fragment_)) m.title = *v;
        if (auto v = r.integer("guide_step", 1, 6)) m.guide_step = static_cast<int>(*v);
        if (auto v = r.choice("difficulty", {"intro", "intermediate", "advanced"})) m.difficulty = *v;
        if (auto v = r.strings("tags")) m.tags = *v;
        if (auto v = r.str("vantage")) {
            m.vantage = *v;
            m.vantage_pos = r.get_node("vantage")->pos;
        }
        if (auto v = r.str("briefing")) m.briefing = *v;
        r.finish();
    }

    void read_lab(const doc_node& n, lab_settings& l) {
        table_reader r(n, "[lab]", diags_);
        if (auto v = r.str("prefix")) {
            if (!parse_prefix(*v))
                diags_.error(r.get_node("prefix")->pos,
                             "`prefix` must be \"127.N\" with N from 1 to 255 (127.0 is never used), not `" + *v + "`");
            else l.prefix = *v;
        }
        if (auto v = r.number("speed", 0.001, 100000)) l.speed = *v;
        if (auto v = r.integer("seed", 0, INT64_MAX)) l.seed = static_cast<std::uint64_t>(*v);
        if (auto v = r.integer("smtp_port", 1, 65535)) l.smtp_port = static_cast<int>(*v);
        if (auto v = r.integer("dns_port", 1, 65535)) l.dns_port = static_cast<int>(*v);
        r.finish();
    }

    void read_segment(const doc_node& n, configuration& c) {
        table_reader r(n, "[[segment]]", diags_);
        segment_config s;
        s.pos = n.pos;
        if (auto v = r.str("name", true)) s.name = *v;
        if (auto v = r.str("cidr", true)) {
            if (auto cidr = support::parse_cidr(*v)) s.cidr = *cidr;
            else diags_.error(r.get_node("cidr")->pos,
                              "`cidr` is not a network such as \"127.25.8.0/21\" (host bits must be zero): `" + *v + "`");
        }
        r.finish();
        c.segments.push_back(std::move(s));
    }

    void read_router(const doc_node& n, configuration& c) {
        table_reader r(n, "[[router]]", diags_);
        router_config rc;
        rc.pos = n.pos;
        if (auto v = r.str("name", true)) rc.name = *v;
        if (!r.get_node("addresses")) r.missing("addresses");
        rc.addresses = read_addresses(r, "addresses", diags_);
        if (auto v = r.boolean("ip_routing")) rc.ip_routing = *v;
        r.finish();
        c.routers.push_back(std::move(rc));
    }

    void read_link(const doc_node& n, configuration& c) {
        table_reader r(n, "[[link]]", diags_);
        link_config l;
        l.pos = n.pos;
        if (auto v = r.strings("between", true)) {
            if (v->size() != 2) diags_.error(r.get_node("between")->pos, "`between` must name exactly two routers");
            else {
                l.a = (*v)[0];
                l.b = (*v)[1];
            }
        }
        if (auto v = r.boolean("up")) l.up = *v;
        r.finish();
        c.links.push_back(std::move(l));
    }

    void read_host(const doc_node& n, configuration& c) {
        table_reader r(n, "[[host]]", diags_);
        host_config h;
        h.pos = n.pos;
        if (auto v = r.str("name", true)) h.name = *v;
        if (auto v = r.str("fqdn")) h.fqdn = fake_dns::canonical_name(*v);
        if (auto v = read_address(r, "address", diags_, true)) h.address = *v;
        if (auto v = read_address(r, "gateway", diags_)) h.gateway = *v;
        h.dns_servers = read_addresses(r, "dns_servers", diags_);
        if (auto v = r.strings("roles")) {
            for (std::size_t i = 0; i < v->size(); ++i) {
                auto& name = (*v)[i];
                auto it = std::find(role_names.begin(), role_names.end(), name);
                if (it == role_names.end()) {
                    std::string msg = "unknown role `" + name + "` (roles are dns, relay, mailstore, exchange, client)";
                    if (auto s = support::did_you_mean(name, role_names)) msg += " — did you mean `" + *s + "`?";
                    diags_.error(r.get_node("roles")->items[i].pos, msg);
                    continue;
                }
                auto ro = static_cast<role>(it - role_names.begin());
                if (h.has_role(ro))
                    diags_.error(r.get_node("roles")->items[i].pos, "role `" + name + "` is listed twice");
                else h.roles.push_back(ro);
            }
        }
        if (auto* s = r.get("smtp")) table_or_error(*s, "smtp", [&](auto& t) { h.smtp = read_smtp(t); });
        if (auto* e = r.get("exchange")) table_or_error(*e, "exchange", [&](auto& t) { h.exchange = read_exchange(t); });
        r.finish();
        c.hosts.push_back(std::move(h));
    }

    smtp_config read_smtp(const doc_node& n) {
        table_reader r(n, "[host.smtp]", diags_);
        smtp_config s;
        auto lower_all = [](std::vector<std::string> v) {
            for (auto& x : v) x = support::to_lower(x);
            return v;
        };
        if (auto v = r.strings("local_domains")) s.local_domains = lower_all(*v);
        if (auto v = r.strings("mailboxes")) s.mailboxes = lower_all(*v);
        if (auto v = r.strings("relay_domains")) s.relay_domains = lower_all(*v);
        if (auto* routes = r.get("routes")) {
            if (!routes->is_array()) r.wrong_type("routes", *routes, "an array of { domain, next_hop } tables");
            else
                for (auto& item : routes->items) {
                    if (!item.is_table()) {
                        diags_.error(item.pos, "each route must be a table { domain = ..., next_hop = ... }");
                        continue;
                    }
                    table_reader rr(item, "a route", diags_);
                    smtp_route route;
                    if (auto d = rr.str("domain", true)) route.domain = support::to_lower(*d);
                    if (auto h = rr.str("next_hop", true)) route.next_hop = *h;
                    rr.finish();
                    s.routes.push_back(std::move(route));
                }
        }
        if (auto v = r.str("smart_host")) s.smart_host = *v;
        if (auto v = r.size("max_message_size")) s.max_message_size = *v;
        if (auto v = r.integer("max_recipients", 1, 100000)) s.max_recipients = static_cast<int>(*v);
        if (auto v = r.integer("max_hops", 1, 1000)) s.max_hops = static_cast<int>(*v);
        if (auto v = r.dur("bounce_after")) s.bounce_after = *v;
        if (auto* retry = r.get("retry")) {
            if (!retry->is_array() || retry->items.empty()) r.wrong_type("retry", *retry, "a non-empty array of durations");
            else {
                s.retry.clear();
                for (auto& item : retry->items)
                    if (auto d = r.duration_of("retry", item)) s.retry.push_back(*d);
            }
        }
        r.finish();
        return s;
    }

    exchange_config read_exchange(const doc_node& n) {
        table_reader r(n, "[host.exchange]", diags_);
        exchange_config e;
        if (auto v = r.str("org_domain", true)) e.org_domain = support::to_lower(*v);
        if (auto v = r.choice("mta", {"running", "stopped"})) e.mta_running = *v == "running";
        if (auto v = r.choice("store", {"running", "stopped"})) e.store_running = *v == "running";
        if (auto* imc = r.get("imc")) table_or_error(*imc, "imc", [&](auto& t) { e.imc = read_imc(t); });
        for_each_table(r, "mailbox", diags_, [&](const doc_node& t) {
            table_reader mr(t, "[[host.exchange.mailbox]]", diags_);
            exchange_mailbox m;
            m.pos = t.pos;
            if (auto v = mr.str("alias", true)) m.alias = *v;
            if (auto v = mr.str("display_name")) m.display_name = *v;
            if (auto* smtp = mr.get("smtp")) {
                if (smtp->is_string()) m.smtp.push_back(support::to_lower(smtp->text));
                else if (auto v = mr.strings("smtp")) {
                    for (auto& a : *v) m.smtp.push_back(support::to_lower(a));
                }
            }
            if (m.display_name.empty()) m.display_name = m.alias;
            mr.finish();
            e.mailboxes.push_back(std::move(m));
        });
        for_each_table(r, "connector", diags_, [&](const doc_node& t) {
            table_reader cr(t, "[[host.exchange.connector]]", diags_);
            exchange_connector c;
            c.pos = t.pos;
            if (auto v = cr.str("name", true)) c.name = *v;
            if (auto v = cr.strings("address_space", true)) c.address_space = *v;
            if (auto v = cr.integer("cost", 1, 100)) c.cost = static_cast<int>(*v);
            cr.finish();
            e.connectors.push_back(std::move(c));
        });
        r.finish();
        return e;
    }

    imc_config read_imc(const doc_node& n) {
        table_reader r(n, "[host.exchange.imc]", diags_);
        imc_config i;
        if (auto v = r.boolean("installed")) i.installed = *v;
        if (auto v = r.choice("service", {"running", "stopped"})) i.running = *v == "running";
        if (auto v = r.choice("transfer_mode", {"none", "inbound", "outbound", "inbound_outbound"}))
            i.mode = *parse_transfer_mode(*v);
        if (auto v = r.strings("address_space")) i.address_space = *v;
        if (auto v = r.integer("cost", 1, 100)) i.cost = static_cast<int>(*v);
        if (auto* ed = r.get("email_domains")) {
            if (!ed->is_array()) r.wrong_type("email_domains", *ed, "an array of { domain, host } tables");
            else
                for (auto& item : ed->items) {
                    if (!item.is_table()) {
                        diags_.error(item.pos, "each Email Domain entry must be a table { domain = ..., host = ... }");
                        continue;
                    }
                    table_reader er(item, "an Email Domain entry", diags_);
                    email_domain d;
                    if (auto v = er.str("domain", true)) d.domain = support::to_lower(*v);
                    if (auto v = er.str("host", true)) d.host = *v;
                    er.finish();
                    i.email_domains.push_back(std::move(d));
                }
        }
        if (auto v = r.str("smart_host")) i.smart_host = *v;
        if (auto v = r.strings("resolver_search_list")) i.resolver_search_list = *v;
        if (auto v = r.size("max_message_size")) i.max_message_size = *v;
        if (auto v = r.integer("max_recipients", 0, 100000)) i.max_recipients = static_cast<int>(*v);
        if (auto v = r.choice("protocol_log", {"none", "medium", "maximum"})) i.protocol_log = *v;
        r.finish();
        return i;
    }

    void read_zone(const doc_node& n, configuration& c) {
        table_reader r(n, "[[zone]]", diags_);
        zone_config z;
        z.pos = n.pos;
        if (auto v = r.str("origin", true)) z.origin = fake_dns::canonical_name(*v);
        if (auto v = r.str("server", true)) z.server = *v;
        if (auto v = r.strings("clients")) z.clients = *v;
        std::uint32_t ttl = 3600;
        if (auto v = r.integer("ttl", 0, 2147483647)) ttl = static_cast<std::uint32_t>(*v);
        if (auto v = r.str("records")) {
            auto* node = r.get_node("records");
            auto parsed = fake_dns::parse_zone_text(*v, z.origin, ttl);
            for (auto& e : parsed.errors) {
                auto p = position_in_string(*node, files_, e.line, e.column);
                diags_.error(p, "in zone `" + z.origin + "`: " + e.message);
            }
            z.records = std::move(parsed.records);
            for (auto [line, column] : parsed.positions) z.record_pos.push_back(position_in_string(*node, files_, line, column));
        }
        r.finish();
        c.zones.push_back(std::move(z));
    }

    // A fault parameter: a scalar, a list of strings, or { pick = [...] }.
    std::optional<fault_param> read_param(const std::string& key, const doc_node& v) {
        fault_param p;
        p.pos = v.pos;
        if (v.is_table()) {
            auto* pick = v.find("pick");
            if (!pick || v.members.size() != 1) {
                diags_.error(v.pos, "`" + key + "` may be a value or { pick = [...] }, and nothing else");
                return std::nullopt;
            }
            if (!pick->is_array() || pick->items.empty()) {
                diags_.error(pick->pos, "`pick` must be a non-empty array of values");
                return std::nullopt;
            }
            p.picked = true;
            for (auto& item : pick->items) {
                auto one = scalar(key, item);
                if (!one) return std::nullopt;
                p.choices.push_back(*one);
                p.choice_pos.push_back(item.pos);
            }
            return p;
        }
        auto one = scalar(key, v);
        if (!one) return std::nullopt;
        p.choices.push_back(*one);
        p.choice_pos.push_back(v.pos);
        return p;
    }

    std::optional<param_value> scalar(const std::string& key, const doc_node& v) {
        switch (v.type) {
            case doc_node::kind::string: return param_value{v.text};
            case doc_node::kind::integer: return param_value{v.integer};
            case doc_node::kind::floating: return param_value{v.floating};
            case doc_node::kind::boolean: return param_value{v.boolean};
            case doc_node::kind::array: {
                std::vector<std::string> list;
                for (auto& i : v.items) {
                    if (!i.is_string()) {
                        diags_.error(i.pos, "`" + key + "` must hold strings, not " + std::string(i.type_name()));
                        return std::nullopt;
                    }
                    list.push_back(i.text);
                }
                return param_value{std::move(list)};
            }
            default:
                diags_.error(v.pos, "`" + key + "` cannot be a " + std::string(v.type_name()));
                return std::nullopt;
        }
    }

    void read_fault(const doc_node& n, std::vector<fault_spec>& faults) {
        fault_spec f;
        f.pos = n.pos;
        static const std::vector<std::string_view> timing_keys = {"after", "until", "flap", "first", "odds"};
        const fault_kind* kind = nullptr;
        for (auto& m : n.members) {
            if (m.key == "kind") {
                if (!m.value.is_string()) {
                    diags_.error(m.value.pos, "`kind` must be a string");
                    continue;
                }
                f.kind = m.value.text;
                kind = find_fault_kind(f.kind);
                if (!kind) {
                    auto names = fault_kind_names();
                    std::string msg = "unknown fault kind `" + f.kind + "`";
                    if (auto s = support::did_you_mean(f.kind, names)) msg += " — did you mean `" + *s + "`?";
                    else msg += " (`mailsim faults` lists the catalogue)";
                    diags_.error(m.value.pos, msg);
                } else {
                    f.kind = std::string(kind->kind);
                }
            }
        }
        if (f.kind.empty() && !n.find("kind")) diags_.error(n.pos, "[[fault]] is missing `kind`");
        for (auto& m : n.members) {
            if (m.key == "kind") continue;
            if (m.key == "id") {
                if (!m.value.is_string()) diags_.error(m.value.pos, "`id` must be a string");
                else f.id = m.value.text;
                continue;
            }
            if (std::find(timing_keys.begin(), timing_keys.end(), m.key) != timing_keys.end()) {
                read_timing(m, f.timing);
                continue;
            }
            if (kind) {
                bool known = std::any_of(kind->params.begin(), kind->params.end(),
                                         [&](auto& p) { return p.name == m.key; });
                if (!known) {
                    std::vector<std::string_view> names;
                    for (auto& p : kind->params) names.push_back(p.name);
                    std::string msg = "unknown parameter `" + m.key + "` for " + f.kind;
                    auto all = names;
                    all.insert(all.end(), timing_keys.begin(), timing_keys.end());
                    if (auto s = support::did_you_mean(m.key, all)) msg += " — did you mean `" + *s + "`?";
                    else msg += " (it takes " + join(names) + ")";
                    diags_.error(m.key_pos, msg);
                    continue;
                }
            }
            if (auto p = read_param(m.key, m.value)) f.params[m.key] = std::move(*p);
        }
        if (kind)
            for (auto& p : kind->params)
                if (p.required && !n.find(p.name))
                    diags_.error(n.pos, "[[fault]] " + f.kind + " is missing `" + std::string(p.name) + "`");
        faults.push_back(std::move(f));
    }

    void read_timing(const doc_member& m, fault_timing& t) {
        auto as_duration = [&](const doc_node& v) -> std::optional<duration> {
            if (!v.is_string()) {
                diags_.error(v.pos, "`" + m.key + "` must be a duration string such as \"5m\"");
                return std::nullopt;
            }
            auto d = support::parse_duration(v.text);
            if (!d) diags_.error(v.pos, "`" + m.key + "` is not a duration: `" + v.text + "`");
            return d;
        };
        if (m.key == "after") t.after = as_duration(m.value);
        else if (m.key == "until") t.until = as_duration(m.value);
        else if (m.key == "flap") {
            if (!m.value.is_table()) {
                diags_.error(m.value.pos, "`flap` must be { on = \"1m\", off = \"30s\" }");
                return;
            }
            table_reader r(m.value, "`flap`", diags_);
            auto on = r.dur("on");
            auto off = r.dur("off");
            if (!r.get_node("on")) r.missing("on");
            if (!r.get_node("off")) r.missing("off");
            r.finish();
            if (on && off) {
                if (on->count() <= 0 || off->count() <= 0) diags_.error(m.value.pos, "`flap` periods must be positive");
                else t.flap = std::pair{*on, *off};
            }
        } else if (m.key == "first") {
            if (m.value.type != doc_node::kind::integer || m.value.integer < 1 || m.value.integer > 1000000)
                diags_.error(m.value.pos, "`first` must be a positive integer (how many connections or queries)");
            else t.first = static_cast<int>(m.value.integer);
        } else if (m.key == "odds") {
            double v = m.value.type == doc_node::kind::floating  ? m.value.floating
                       : m.value.type == doc_node::kind::integer ? static_cast<double>(m.value.integer)
                                                                 : -1;
            if (!(v > 0 && v <= 1)) diags_.error(m.value.pos, "`odds` must be a number above 0 and at most 1");
            else t.odds = v;
        }
    }

    trainer_config read_trainer(const doc_node& n) {
        table_reader r(n, "[trainer]", diags_);
        trainer_config t;
        if (auto v = r.dur("time_limit")) t.time_limit = *v;
        if (auto v = r.integer("points", 1, 100000)) t.points = static_cast<int>(*v);
        if (auto v = r.integer("hint_cost", 0, 100000)) t.hint_cost = static_cast<int>(*v);
        if (auto v = r.integer("wrong_diagnosis_cost", 0, 100000)) t.wrong_diagnosis_cost = static_cast<int>(*v);
        for_each_table(r, "hint", diags_, [&](const doc_node& h) {
            table_reader hr(h, "[[trainer.hint]]", diags_);
            trainer_hint hint;
            hint.pos = h.pos;
            if (auto v = hr.str("text", true)) hint.text = *v;
            hr.finish();
            t.hints.push_back(std::move(hint));
        });
        for_each_table(r, "check", diags_, [&](const doc_node& c) {
            table_reader cr(c, "[[trainer.check]]", diags_);
            trainer_check ch;
            ch.pos = c.pos;
            if (auto v = cr.choice("kind", {"deliver", "resolve", "connect"}, true)) ch.kind = *v;
            if (auto v = cr.str("from")) ch.from = *v;
            if (auto v = cr.str("to")) ch.to = *v;
            if (auto v = cr.str("via")) ch.via = *v;
            if (auto v = cr.str("expect")) ch.expect = *v;
            if (auto v = cr.size("size")) ch.size = *v;
            if (auto v = cr.integer("recipients", 1, 100000)) ch.recipients = static_cast<int>(*v);
            if (auto v = cr.str("name")) ch.name = *v;
            if (auto v = cr.str("type")) ch.type = *v;
            if (auto v = cr.str("host")) ch.host = *v;
            if (auto v = cr.integer("port", 1, 65535)) ch.port = static_cast<int>(*v);
            if (auto v = cr.dur("within")) ch.within = *v;
            cr.finish();
            t.checks.push_back(std::move(ch));
        });
        r.finish();
        return t;
    }

    std::vector<expected_finding> read_expect(const doc_node& n) {
        table_reader r(n, "[expect]", diags_);
        std::vector<expected_finding> out;
        if (auto* f = r.get("findings")) {
            if (!f->is_array()) r.wrong_type("findings", *f, "an array of { kind, target } tables");
            else
                for (auto& item : f->items) {
                    if (!item.is_table()) {
                        diags_.error(item.pos, "each finding must be a table { kind = ..., target = ... }");
                        continue;
                    }
                    table_reader fr(item, "a finding", diags_);
                    expected_finding e;
                    e.pos = item.pos;
                    if (auto v = fr.str("kind", true)) e.kind = *v;
                    if (auto v = fr.str("target", true)) e.target = *v;
                    fr.finish();
                    out.push_back(std::move(e));
                }
        } else {
            r.missing("findings");
        }
        r.finish();
        return out;
    }

    diagnostics& diags_;
    const file_set& files_;
};

fs::path default_root(const std::string& path) {
    std::error_code ec;
    auto p = fs::weakly_canonical(fs::path(path), ec).parent_path();
    for (auto d = p; !d.empty() && d != d.root_path(); d = d.parent_path())
        if (d.filename() == "scenarios") return d;
    return p;
}

}  // namespace

bool is_fragment_path(const std::string& path) {
    for (auto& part : fs::path(path).parent_path())
        if (part == "base") return true;
    return false;
}

std::optional<scenario> load_scenario_text(std::string_view text, const std::string& path, diagnostics& diags,
                                           const load_options& options) {
    diagnostics local;
    file_set files;
    fs::path root = options.library_root.empty() ? default_root(path) : fs::path(options.library_root);
    document_loader loader(local, files, root);
    std::error_code ec;
    loader.stack_.push_back(fs::weakly_canonical(path, ec).string());
    auto doc = loader.load(text, path, 0);
    if (!doc) {
        diags.append(local);
        return std::nullopt;
    }
    scenario_reader reader(local, files);
    reader.fragment_ = options.fragment;
    auto s = reader.read(*doc);
    s.path = path;
    s.included.assign(files.order.begin() + 1, files.order.end());
    if (!options.fragment) validate(s, local);
    diags.append(local);
    if (!local.empty()) return std::nullopt;
    return s;
}

std::optional<scenario> load_scenario(const std::string& path, diagnostics& diags, const load_options& options) {
    auto text = read_file(path, diags, source_pos{});
    if (!text) return std::nullopt;
    return load_scenario_text(*text, path, diags, options);
}

}  // namespace sim
