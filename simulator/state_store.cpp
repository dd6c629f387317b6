#include "simulator/state_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "fake_smtp/mail_policy.hpp"
#include "support/random.hpp"

namespace sim {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Meta files are JSON; keep them ASCII whatever the remote sent.
std::string ascii(std::string_view s) {
    std::string out;
    for (unsigned char c : s) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    return out;
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Writes `bytes` to `path` durably: temporary file, fsync, rename, fsync of the directory.
std::string write_durably(const fs::path& path, std::string_view bytes) {
    auto tmp = path;
    tmp += ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_text("cannot create " + tmp.string());
    std::size_t done = 0;
    while (done < bytes.size()) {
        auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            auto err = errno_text("cannot write " + tmp.string());
            ::close(fd);
            return err;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        auto err = errno_text("cannot fsync " + tmp.string());
        ::close(fd);
        return err;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_text("cannot rename " + tmp.string());
    int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

std::string read_all(const fs::path& p, bool& ok) {
    std::ifstream in(p, std::ios::binary);
    ok = static_cast<bool>(in);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Host names become directory names; keep them to a safe alphabet.
std::string safe(std::string_view name) {
    std::string out;
    for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
    return out.empty() ? "_" : out;
}

// The file name of one copy of a message: id, folder and mailbox (cut to
// stay well inside a file name's 255 bytes; the meta file holds it whole).
std::string copy_key(const stored_message& m) {
    return m.id + "." + m.folder + "." + safe(m.mailbox).substr(0, 120) + "." +
           std::to_string(support::fnv1a(m.mailbox) % 100000);
}

json::array strings(const std::vector<std::string>& v) {
    json::array a;
    for (auto& s : v) a.emplace_back(ascii(s));
    return a;
}

std::string state_name(fake_smtp::queued_recipient::state s) {
    switch (s) {
        case fake_smtp::queued_recipient::state::pending: return "pending";
        case fake_smtp::queued_recipient::state::delivered: return "delivered";
        case fake_smtp::queued_recipient::state::failed: return "failed";
        case fake_smtp::queued_recipient::state::expired: return "expired";
    }
    return "pending";
}

fake_smtp::queued_recipient::state state_of(std::string_view s) {
    if (s == "delivered") return fake_smtp::queued_recipient::state::delivered;
    if (s == "failed") return fake_smtp::queued_recipient::state::failed;
    if (s == "expired") return fake_smtp::queued_recipient::state::expired;
    return fake_smtp::queued_recipient::state::pending;
}

std::string text(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string{};
}

std::int64_t number(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v && v->is_int64() ? v->as_int64() : 0;
}

}  // namespace

state_store::state_store(std::string dir) : dir_(std::move(dir)) {}

std::string state_store::open() {
    std::error_code ec;
    fs::create_directories(fs::path(dir_) / "messages", ec);
    if (!ec) fs::create_directories(fs::path(dir_) / "queue", ec);
    if (ec) return "cannot create the state directory `" + dir_ + "`: " + ec.message();
    return {};
}

std::string state_store::save_message(const std::string& host, const stored_message& m) {
    auto dir = fs::path(dir_) / "messages" / safe(host);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return "cannot create " + dir.string() + ": " + ec.message();
    // One message reaches several mailboxes (and an Exchange sender's Sent
    // folder) under one id: each copy has its own files.
    auto key = copy_key(m);
    if (auto err = write_durably(dir / (key + ".eml"), m.data); !err.empty()) return err;
    json::object meta{{"id", m.id},       {"mailbox", ascii(m.mailbox)}, {"folder", m.folder},
                      {"from", ascii(m.from)}, {"to", strings(m.to)},    {"received_ms", m.received.count()}};
    return write_durably(dir / (key + ".meta"), json::serialize(meta));
}

std::string state_store::save_queue_entry(const std::string& host, const fake_smtp::queue_entry& e) {
    auto dir = fs::path(dir_) / "queue" / safe(host);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return "cannot create " + dir.string() + ": " + ec.message();
    // The content never changes once queued; write it only the first time.
    auto eml = dir / (e.id + ".eml");
    if (!fs::exists(eml, ec))
        if (auto err = write_durably(eml, e.data); !err.empty()) return err;
    json::array rcpts;
    for (auto& r : e.recipients)
        rcpts.push_back({{"address", ascii(r.address)}, {"state", state_name(r.what)}, {"last_error", ascii(r.last_error)},
                         {"status", ascii(r.status)}, {"remote", ascii(r.remote)}});
    json::object meta{{"id", e.id},
                      {"mail_from", ascii(e.mail_from)},
                      {"body_8bit", e.body_8bit},
                      {"arrived_ms", e.arrived.count()},
                      {"next_attempt_ms", e.next_attempt.count()},
                      {"attempts", e.attempts},
                      {"last_error", ascii(e.last_error)},
                      {"recipients", std::move(rcpts)}};
    return write_durably(dir / (e.id + ".meta"), json::serialize(meta));
}

void state_store::remove_queue_entry(const std::string& host, const std::string& id) {
    auto dir = fs::path(dir_) / "queue" / safe(host);
    std::error_code ec;
    fs::remove(dir / (id + ".meta"), ec);  // the meta first: without it the entry no longer exists
    fs::remove(dir / (id + ".eml"), ec);
}

void state_store::remove_message(const std::string& host, const stored_message& m) {
    auto dir = fs::path(dir_) / "messages" / safe(host);
    auto key = copy_key(m);
    std::error_code ec;
    fs::remove(dir / (key + ".meta"), ec);
    fs::remove(dir / (key + ".eml"), ec);
}

saved_state state_store::load() const {
    saved_state out;
    std::error_code ec;
    for (auto kind : {"messages", "queue"}) {
        auto root = fs::path(dir_) / kind;
        if (!fs::is_directory(root, ec)) continue;
        for (auto& host_dir : fs::directory_iterator(root, ec)) {
            if (!host_dir.is_directory()) continue;
            auto host = host_dir.path().filename().string();
            std::vector<fs::path> metas;
            for (auto& f : fs::directory_iterator(host_dir.path(), ec))
                if (f.path().extension() == ".meta") metas.push_back(f.path());
            std::sort(metas.begin(), metas.end());
            for (auto& meta_path : metas) {
                bool ok_meta = false, ok_data = false;
                auto meta_text = read_all(meta_path, ok_meta);
                auto data = read_all(fs::path(meta_path).replace_extension(".eml"), ok_data);
                boost::system::error_code jec;
                auto v = json::parse(meta_text, jec);
                if (!ok_meta || !ok_data || jec || !v.is_object()) {
                    out.problems.push_back(meta_path.string());
                    continue;
                }
                auto& o = v.as_object();
                if (std::string(kind) == "messages") {
                    stored_message m;
                    m.id = text(o, "id");
                    m.mailbox = text(o, "mailbox");
                    m.folder = text(o, "folder");
                    m.from = text(o, "from");
                    if (auto* to = o.if_contains("to"); to && to->is_array())
                        for (auto& t : to->as_array())
                            if (t.is_string()) m.to.emplace_back(t.as_string());
                    m.received = support::duration(number(o, "received_ms"));
                    m.data = std::move(data);
                    m.subject = fake_smtp::header_value(m.data, "Subject");
                    m.date = fake_smtp::header_value(m.data, "Date");
                    out.messages[host].push_back(std::move(m));
                } else {
                    fake_smtp::queue_entry e;
                    e.id = text(o, "id");
                    e.mail_from = text(o, "mail_from");
                    if (auto* b = o.if_contains("body_8bit"); b && b->is_bool()) e.body_8bit = b->as_bool();
                    e.arrived = fake_smtp::duration(number(o, "arrived_ms"));
                    e.next_attempt = fake_smtp::duration(number(o, "next_attempt_ms"));
                    e.attempts = static_cast<int>(number(o, "attempts"));
                    e.last_error = text(o, "last_error");
                    if (auto* rs = o.if_contains("recipients"); rs && rs->is_array())
                        for (auto& r : rs->as_array()) {
                            if (!r.is_object()) continue;
                            auto& ro = r.as_object();
                            e.recipients.push_back({text(ro, "address"), state_of(text(ro, "state")),
                                                    text(ro, "last_error"), text(ro, "status"), text(ro, "remote")});
                        }
                    e.data = std::move(data);
                    out.queues[host].push_back(std::move(e));
                }
            }
        }
    }
    for (auto& [host, list] : out.messages)
        std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.received < b.received; });
    for (auto& [host, list] : out.queues)
        std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.arrived < b.arrived; });
    return out;
}

}  // namespace sim
