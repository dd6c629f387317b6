#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace boost::asio {
class io_context;
}

namespace sim {

/// One HTTP request as the handlers see it.
struct api_request {
    std::string method;
    std::string path;                          ///< without the query string
    std::map<std::string, std::string> query;  ///< decoded query parameters
    std::map<std::string, std::string> params; ///< `{name}` parts of the route
    std::string body;
};

/// What a handler answers.
struct api_response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
};

/// `{"error": message, "detail": detail}` with a status.
api_response api_error(int status, const std::string& message, const std::string& detail = {});

/// A WebSocket as a handler sees it: text messages both ways.
class ws_channel {
public:
    virtual ~ws_channel() = default;
    /// Queues a text message; messages leave in order.
    virtual void send(std::string text) = 0;
    /// The next message from the peer; nullopt once the connection is closed.
    virtual boost::asio::awaitable<std::optional<std::string>> receive() = 0;
    /// Ends the conversation: what is queued goes out, then a Close frame.
    /// The handler may keep a receive() pending meanwhile; the channel's own
    /// writer finishes the connection.
    virtual void close() = 0;
};

using http_handler = std::function<api_response(const api_request&)>;
using ws_handler = std::function<boost::asio::awaitable<void>(ws_channel&, const api_request&)>;
/// A handler that must wait for something (a lookup, a connection) before it answers.
using async_handler = std::function<boost::asio::awaitable<api_response>(const api_request&)>;

/// Routes by method and path pattern ("/api/v1/hosts/{name}"). Pure: no sockets.
class api_router {
public:
    void add(std::string method, std::string pattern, http_handler h);
    void add_ws(std::string pattern, ws_handler h);
    void add_async(std::string method, std::string pattern, async_handler h);
    /// The asynchronous handler for the request, filling `r.params`; nullptr if none.
    const async_handler* find_async(api_request& r) const;
    /// Runs the matching handler; 404 or 405 as JSON errors otherwise.
    api_response dispatch(api_request& r) const;
    /// The WebSocket handler for a path, filling `r.params`.
    const ws_handler* find_ws(api_request& r) const;

private:
    struct route {
        std::string method;
        std::vector<std::string> parts;
        http_handler http;
        ws_handler ws;
        async_handler async;
    };
    static bool match(const route& rt, const std::string& path, std::map<std::string, std::string>& params);
    std::vector<route> routes_;
};

/// Parses "a=1&b=x%20y" into a map.
std::map<std::string, std::string> parse_query(std::string_view q);

/// True when the two tokens are equal, in time that does not depend on where they differ.
bool same_token(std::string_view a, std::string_view b);

/// Which routes a token opens: nullptr for an unknown token (401). Class mode
/// gives each trainee's token their own lab's routes and the instructor's
/// token the class routes.
using token_routes = std::function<std::shared_ptr<api_router>(std::string_view token)>;

/// The control API's HTTP/WebSocket server (Boost.Beast). Every /api/ path
/// needs `Authorization: Bearer TOKEN` (WebSockets may pass `?token=`).
class api_server {
public:
    /// One lab: `token` opens `router`, which also serves the pages outside /api/.
    api_server(boost::asio::io_context& io, std::shared_ptr<api_router> router, std::string token);
    /// Many: `pages` serves paths outside /api/ to anyone; `routes` picks the router for a token.
    api_server(boost::asio::io_context& io, std::shared_ptr<api_router> pages, token_routes routes);
    ~api_server();
    /// Binds "ADDR:PORT" (loopback only); "" or why not.
    std::string listen(const std::string& address);
    void stop();
    /// "http://127.0.0.1:8025"
    std::string url() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

/// A random token for the API (hex, from the kernel's generator).
std::string random_token();

}  // namespace sim
