#include "support/listener.hpp"

namespace support {

namespace net = boost::asio;

boost::system::error_code open_listener(net::ip::tcp::acceptor& acceptor, const net::ip::tcp::endpoint& at) {
    boost::system::error_code ec;
    acceptor.open(at.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(at, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        boost::system::error_code ignored;
        acceptor.close(ignored);
    }
    return ec;
}

void close_sessions(session_sockets& sessions) {
    boost::system::error_code ignored;
    for (auto& w : sessions)
        if (auto s = w.lock()) s->close(ignored);
    sessions.clear();
}

std::vector<int> open_session_handles(const session_sockets& sessions) {
    std::vector<int> out;
    for (auto& w : sessions)
        if (auto s = w.lock(); s && s->is_open()) out.push_back(s->native_handle());
    return out;
}

}  // namespace support
