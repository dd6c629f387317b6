#include "simulator/console_client.hpp"

#include <editline/readline.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include "support/ipv4.hpp"

namespace sim {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using net::ip::tcp;

namespace {

// Percent-encodes a query value.
std::string encode(std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// What the network thread and the terminal thread share.
struct shared_state {
    std::mutex m;
    std::condition_variable cv;
    std::string prompt;
    bool prompt_ready = false;  // the last command finished: show the prompt
    bool telnet = false;        // a telnet is open: read lines without a prompt
    bool closed = false;
    std::string error;
};

}  // namespace

int run_console_client(const console_client_options& o) {
    // "http://127.0.0.1:8025" -> host, port
    auto url = o.api;
    if (url.rfind("http://", 0) == 0) url = url.substr(7);
    while (!url.empty() && url.back() == '/') url.pop_back();
    auto colon = url.rfind(':');
    if (colon == std::string::npos) {
        std::cerr << "mailsim console: --api wants http://ADDRESS:PORT, not `" << o.api << "`\n";
        return 2;
    }
    auto address = url.substr(0, colon);
    auto port = url.substr(colon + 1);
    if (auto a = support::parse_ipv4(address); !a || !support::is_loopback(*a)) {
        std::cerr << "mailsim console: the API must be on a 127.0.0.0/8 address, not `" << address << "`\n";
        return 2;
    }

    net::io_context io;
    websocket::stream<tcp::socket> ws(io);
    try {
        tcp::resolver resolver(io);  // numeric address only: no name lookups
        auto endpoints = resolver.resolve(address, port, tcp::resolver::numeric_host | tcp::resolver::numeric_service);
        net::connect(ws.next_layer(), endpoints);
        std::string target = "/api/v1/console?token=" + encode(o.token);
        if (!o.host.empty()) target += "&host=" + encode(o.host);
        ws.handshake(address + ":" + port, target);
    } catch (const beast::system_error& e) {
        if (e.code() == websocket::error::upgrade_declined) {
            // The API answers 401 to a missing or wrong token (404 to a host it does not know).
            std::cerr << "mailsim console: the lab at " << o.api << " refused the console: "
                      << (o.token.empty() ? "no token given (use --token or MAILSIM_TOKEN)" : "the token is wrong") << "\n";
        } else {
            std::cerr << "mailsim console: cannot open the console at " << o.api << ": " << e.code().message() << "\n";
        }
        return 3;
    } catch (const std::exception& e) {
        std::cerr << "mailsim console: cannot open the console at " << o.api << ": " << e.what() << "\n";
        return 3;
    }

    shared_state st;
    std::deque<std::string> outbox;
    bool writing = false;
    std::function<void()> write_next = [&] {
        if (writing || outbox.empty()) return;
        writing = true;
        ws.text(true);
        ws.async_write(net::buffer(outbox.front()), [&](beast::error_code ec, std::size_t) {
            writing = false;
            outbox.pop_front();
            if (!ec) write_next();
        });
    };
    beast::flat_buffer buffer;
    std::function<void()> read_next = [&] {
        ws.async_read(buffer, [&](beast::error_code ec, std::size_t) {
            if (ec) {
                std::lock_guard lock(st.m);
                st.closed = true;
                st.cv.notify_all();
                return;
            }
            auto text = beast::buffers_to_string(buffer.data());
            buffer.consume(buffer.size());
            boost::system::error_code jec;
            auto v = json::parse(text, jec);
            if (!jec && v.is_object()) {
                auto& obj = v.as_object();
                if (auto* out = obj.if_contains("output"); out && out->is_string()) {
                    std::string s(out->as_string());
                    std::fwrite(s.data(), 1, s.size(), stdout);
                    std::fflush(stdout);
                    if (s.find("Type ^] or ~. on a line of its own to close.") != std::string::npos) {
                        std::lock_guard lock(st.m);
                        st.telnet = true;
                        st.cv.notify_all();
                    }
                }
                if (auto* p = obj.if_contains("prompt"); p && p->is_string()) {
                    std::lock_guard lock(st.m);
                    st.prompt = std::string(p->as_string());
                    st.prompt_ready = true;
                    st.telnet = false;
                    st.cv.notify_all();
                }
                if (auto* e = obj.if_contains("error"); e && e->is_string()) {
                    std::lock_guard lock(st.m);
                    st.error = std::string(e->as_string());
                }
            }
            read_next();
        });
    };
    read_next();
    auto work = net::make_work_guard(io);
    std::thread network([&] { io.run(); });

    using_history();
    // Ctrl+] leaves a telnet, as in the real client: let it reach the line.
    rl_bind_key(0x1d, rl_insert);
    for (;;) {
        std::string prompt;
        {
            std::unique_lock lock(st.m);
            st.cv.wait(lock, [&] { return st.prompt_ready || st.telnet || st.closed; });
            if (st.closed) break;
            if (st.prompt_ready) prompt = st.prompt;
            st.prompt_ready = false;
        }
        char* raw = readline(prompt.c_str());
        if (!raw) {  // end of input: leave quietly
            std::cout << "\n";
            break;
        }
        std::string line(raw);
        std::free(raw);
        if (!line.empty()) add_history(line.c_str());
        if (line == "~." || line == "^]" || line == "\x1d") {
            // Leaving a telnet: wait for the console's prompt before reading on.
            std::lock_guard lock(st.m);
            st.telnet = false;
        }
        auto message = json::serialize(json::object{{"line", line}});
        net::post(io, [&, message] {
            outbox.push_back(message);
            write_next();
        });
        if (line == "exit") {
            // Let the server answer, then stop.
            std::unique_lock lock(st.m);
            st.cv.wait_for(lock, std::chrono::seconds(2), [&] { return st.closed; });
            break;
        }
    }
    net::post(io, [&] {
        beast::error_code ignored;
        ws.next_layer().close(ignored);
    });
    work.reset();
    io.stop();
    network.join();
    if (!st.error.empty()) {
        std::cerr << "mailsim console: " << st.error << "\n";
        return 1;
    }
    return 0;
}

}  // namespace sim
