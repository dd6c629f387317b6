#include "simulator/api.hpp"

#include <deque>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include "support/ipv4.hpp"

namespace sim {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using net::ip::tcp;

namespace {
constexpr auto tok = net::as_tuple(net::use_awaitable);
constexpr std::size_t max_body = 1 << 20;
constexpr std::size_t max_ws_queue = 10000;
constexpr std::size_t max_connections = 256;

std::vector<std::string> split_path(std::string_view p) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < p.size()) {
        if (p[i] == '/') {
            ++i;
            continue;
        }
        auto j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        out.emplace_back(p.substr(i, j - i));
        i = j;
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            int hi = hex_value(s[i + 1]);
            int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += (plus_is_space && s[i] == '+') ? ' ' : s[i];
    }
    return out;
}

}  // namespace

// Constant time: the token must not leak through timing.
bool same_token(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

api_response api_error(int status, const std::string& message, const std::string& detail) {
    boost::json::object o;
    o["error"] = message;
    if (!detail.empty()) o["detail"] = detail;
    else o["detail"] = nullptr;
    return {status, "application/json", boost::json::serialize(o)};
}

std::map<std::string, std::string> parse_query(std::string_view q) {
    std::map<std::string, std::string> out;
    while (!q.empty()) {
        auto amp = q.find('&');
        auto part = q.substr(0, amp);
        auto eq = part.find('=');
        auto key = percent_decode(part.substr(0, eq), true);
        auto value = eq == std::string_view::npos ? std::string{} : percent_decode(part.substr(eq + 1), true);
        if (!key.empty()) out[key] = value;
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return out;
}

void api_router::add(std::string method, std::string pattern, http_handler h) {
    routes_.push_back({std::move(method), split_path(pattern), std::move(h), {}, {}});
}

void api_router::add_ws(std::string pattern, ws_handler h) {
    routes_.push_back({"WS", split_path(pattern), {}, std::move(h), {}});
}

void api_router::add_async(std::string method, std::string pattern, async_handler h) {
    routes_.push_back({std::move(method), split_path(pattern), {}, {}, std::move(h)});
}

const async_handler* api_router::find_async(api_request& r) const {
    for (auto& rt : routes_) {
        std::map<std::string, std::string> params;
        if (rt.async && rt.method == r.method && match(rt, r.path, params)) {
            r.params = std::move(params);
            return &rt.async;
        }
    }
    return nullptr;
}

bool api_router::match(const route& rt, const std::string& path, std::map<std::string, std::string>& params) {
    auto parts = split_path(path);
    if (parts.size() != rt.parts.size()) return false;
    std::map<std::string, std::string> found;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        auto& want = rt.parts[i];
        if (want.size() > 2 && want.front() == '{' && want.back() == '}') found[want.substr(1, want.size() - 2)] = percent_decode(parts[i], false);
        else if (want != parts[i]) return false;
    }
    params = std::move(found);
    return true;
}

api_response api_router::dispatch(api_request& r) const {
    bool path_known = false;
    for (auto& rt : routes_) {
        if (!rt.http && !rt.async) continue;
        std::map<std::string, std::string> params;
        if (!match(rt, r.path, params)) continue;
        path_known = true;
        if (rt.method != r.method || !rt.http) continue;
        r.params = std::move(params);
        try {
            return rt.http(r);
        } catch (const std::exception& e) {
            // Handlers return errors as values; an exception here is a bug.
            return api_error(500, "internal error", e.what());
        }
    }
    if (path_known) return api_error(405, "method " + r.method + " is not allowed on " + r.path);
    return api_error(404, "no such endpoint: " + r.path);
}

const ws_handler* api_router::find_ws(api_request& r) const {
    for (auto& rt : routes_) {
        std::map<std::string, std::string> params;
        if (rt.ws && match(rt, r.path, params)) {
            r.params = std::move(params);
            return &rt.ws;
        }
    }
    return nullptr;
}

std::string random_token() {
    std::ifstream in("/dev/urandom", std::ios::binary);
    unsigned char bytes[16] = {};
    in.read(reinterpret_cast<char*>(bytes), sizeof bytes);
    std::ostringstream os;
    for (auto b : bytes) os << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(b);
    return os.str();
}

namespace {

class ws_channel_impl : public ws_channel {
public:
    explicit ws_channel_impl(websocket::stream<beast::tcp_stream>& ws) : ws_(ws), signal_(ws.get_executor()) {
        signal_.expires_at(net::steady_timer::time_point::max());
    }

    void send(std::string text) override {
        if (closed_) return;
        if (queue_.size() >= max_ws_queue) {
            // A peer that does not read loses its stream rather than our memory.
            closed_ = true;
            beast::get_lowest_layer(ws_).close();
            return;
        }
        queue_.push_back(std::move(text));
        signal_.cancel();
    }

    net::awaitable<std::optional<std::string>> receive() override {
        beast::flat_buffer buf;
        auto [ec, n] = co_await ws_.async_read(buf, tok);
        if (ec) {
            closed_ = true;
            signal_.cancel();
            co_return std::nullopt;
        }
        co_return beast::buffers_to_string(buf.data());
    }

    void close() override {
        close_requested_ = true;
        signal_.cancel();
    }

    net::awaitable<void> writer() {
        while (!closed_) {
            while (!queue_.empty() && !closed_) {
                auto text = std::move(queue_.front());
                queue_.pop_front();
                ws_.text(true);
                auto [ec, n] = co_await ws_.async_write(net::buffer(text), tok);
                if (ec) {
                    closed_ = true;
                    co_return;
                }
            }
            if (closed_) break;
            if (close_requested_) {
                // A close may run beside the handler's pending read (one read and one write at a time).
                auto [ec] = co_await ws_.async_close(websocket::close_code::normal, tok);
                (void)ec;
                closed_ = true;
                co_return;
            }
            signal_.expires_at(net::steady_timer::time_point::max());
            co_await signal_.async_wait(tok);
        }
    }

    /// The handler is done: send what is queued, then a Close frame, as a
    /// well-behaved server ends a WebSocket (browsers call anything else 1006).
    net::awaitable<void> finish() {
        if (closed_) co_return;
        // The stream's own time-outs (suggested for servers) bound the close handshake.
        while (!queue_.empty()) {
            auto text = std::move(queue_.front());
            queue_.pop_front();
            ws_.text(true);
            auto [ec, n] = co_await ws_.async_write(net::buffer(text), tok);
            if (ec) co_return;
        }
        auto [ec] = co_await ws_.async_close(websocket::close_code::normal, tok);
        (void)ec;
    }

private:
    websocket::stream<beast::tcp_stream>& ws_;
    net::steady_timer signal_;
    std::deque<std::string> queue_;
    bool closed_ = false;
    bool close_requested_ = false;
};

}  // namespace

struct api_server::impl : std::enable_shared_from_this<api_server::impl> {
    impl(net::io_context& io_, std::shared_ptr<api_router> p, token_routes r)
        : io(io_), pages(std::move(p)), routes(std::move(r)), acceptor(io_) {}

    net::io_context& io;
    std::shared_ptr<api_router> pages;  // paths outside /api/
    token_routes routes;
    tcp::acceptor acceptor;
    std::string url;
    bool stopped = false;
    std::size_t connections = 0;

    // The routes this request may use: the pages outside /api/, else those its
    // token opens (Authorization: Bearer, or ?token= for browsers' WebSockets).
    std::shared_ptr<api_router> router_for(const http::request<http::string_body>& req, const api_request& r) const {
        if (r.path.rfind("/api/", 0) != 0) return pages;
        auto h = req[http::field::authorization];
        constexpr std::string_view bearer = "Bearer ";
        if (h.size() > bearer.size() && h.substr(0, bearer.size()) == bearer)
            if (auto found = routes(h.substr(bearer.size()))) return found;
        auto it = r.query.find("token");
        return it != r.query.end() ? routes(it->second) : nullptr;
    }

    net::awaitable<void> accept_loop() {
        auto self = shared_from_this();
        while (!stopped) {
            auto [ec, socket] = co_await acceptor.async_accept(tok);
            if (ec) {
                if (stopped || ec == net::error::operation_aborted) co_return;
                continue;
            }
            if (connections >= max_connections) continue;
            net::co_spawn(io, session(std::move(socket)), net::detached);
        }
    }

    net::awaitable<void> session(tcp::socket socket) {
        using namespace std::chrono_literals;
        auto self = shared_from_this();
        ++connections;
        struct count_guard {
            std::size_t& n;
            ~count_guard() { --n; }
        } guard{connections};
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(max_body);
            parser.header_limit(16 * 1024);
            stream.expires_after(60s);
            auto [ec, n] = co_await http::async_read(stream, buffer, parser, tok);
            if (ec == http::error::body_limit) {
                auto too_large = api_error(413, "request body too large");
                co_await reply(stream, 11, false, too_large);
                break;
            }
            if (ec) break;  // closed, timed out or garbage: end quietly
            auto& req = parser.get();
            api_request r;
            r.method = std::string(req.method_string());
            auto target = std::string(req.target());
            auto qpos = target.find('?');
            r.path = target.substr(0, qpos);
            if (qpos != std::string::npos) r.query = parse_query(std::string_view(target).substr(qpos + 1));
            r.body = req.body();
            auto router = router_for(req, r);

            if (websocket::is_upgrade(req)) {
                if (!router) {
                    auto denied = api_error(401, "missing or wrong token");
                    co_await reply(stream, req.version(), false, denied);
                    break;
                }
                auto* handler = router->find_ws(r);
                if (!handler) {
                    auto not_found = api_error(404, "no WebSocket at " + r.path);
                    co_await reply(stream, req.version(), false, not_found);
                    break;
                }
                stream.expires_never();
                websocket::stream<beast::tcp_stream> ws(std::move(stream));
                ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
                auto [aec] = co_await ws.async_accept(req, tok);
                if (aec) co_return;
                co_await run_ws(ws, *handler, r);
                co_return;
            }

            api_response resp;
            if (!router) {
                resp = api_error(401, "missing or wrong token", "send Authorization: Bearer TOKEN");
            } else if (auto* async = router->find_async(r)) {
                auto pending = (*async)(r);
                resp = co_await std::move(pending);
            } else {
                resp = router->dispatch(r);
            }
            bool keep = req.keep_alive();
            if (!co_await reply(stream, req.version(), keep, resp) || !keep) break;
        }
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    net::awaitable<void> run_ws(websocket::stream<beast::tcp_stream>& ws, const ws_handler& handler,
                                const api_request& r) {
        using namespace net::experimental::awaitable_operators;
        ws_channel_impl channel(ws);
        co_await (handler(channel, r) || channel.writer());
        auto finishing = channel.finish();
        co_await std::move(finishing);
        boost::system::error_code ignored;
        beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
    }

    net::awaitable<bool> reply(beast::tcp_stream& stream, unsigned version, bool keep, const api_response& resp) {
        http::response<http::string_body> res{static_cast<http::status>(resp.status), version};
        res.set(http::field::server, "mailsim");
        res.set(http::field::content_type, resp.content_type);
        res.set(http::field::cache_control, "no-store");
        res.keep_alive(keep);
        res.body() = resp.body;
        res.prepare_payload();
        auto [ec, n] = co_await http::async_write(stream, res, tok);
        co_return !ec;
    }
};

api_server::api_server(net::io_context& io, std::shared_ptr<api_router> router, std::string token)
    : api_server(io, router, [router, token = std::move(token)](std::string_view t) {
          return same_token(t, token) ? router : nullptr;
      }) {}

api_server::api_server(net::io_context& io, std::shared_ptr<api_router> pages, token_routes routes)
    : impl_(std::make_shared<impl>(io, std::move(pages), std::move(routes))) {}

api_server::~api_server() { stop(); }

std::string api_server::listen(const std::string& address) {
    auto colon = address.rfind(':');
    if (colon == std::string::npos) return "--api wants ADDRESS:PORT, such as 127.0.0.1:8025";
    auto ip = support::parse_ipv4(address.substr(0, colon));
    int port = -1;
    try {
        port = std::stoi(address.substr(colon + 1));
    } catch (...) {
    }
    if (!ip) return "--api: `" + address.substr(0, colon) + "` is not an IPv4 address";
    if (!support::is_loopback(*ip))
        return "--api: " + address.substr(0, colon) + " is outside 127.0.0.0/8; mailsim listens on loopback only";
    if (port < 0 || port > 65535) return "--api: bad port `" + address.substr(colon + 1) + "`";
    boost::system::error_code ec;
    tcp::endpoint ep(net::ip::address_v4(*ip), static_cast<unsigned short>(port));
    impl_->acceptor.open(ep.protocol(), ec);
    if (!ec) impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) impl_->acceptor.bind(ep, ec);
    if (!ec) impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        impl_->acceptor.close();
        std::string why = ec.message();
        if (ec == boost::system::errc::address_in_use) why += " (another mailsim? choose another with --api)";
        return "cannot listen on " + address + " for the API: " + why;
    }
    auto bound = impl_->acceptor.local_endpoint(ec);
    impl_->url = "http://" + bound.address().to_string() + ":" + std::to_string(bound.port());
    net::co_spawn(impl_->io, [self = impl_] { return self->accept_loop(); }, net::detached);
    return {};
}

void api_server::stop() {
    if (!impl_ || impl_->stopped) return;
    impl_->stopped = true;
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
}

std::string api_server::url() const { return impl_->url; }

}  // namespace sim
