#pragma once
#include <memory>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace support {

/// Opens, binds and listens (address reuse on); on failure the acceptor is
/// closed again and the error returned. Shared by the DNS and SMTP servers.
boost::system::error_code open_listener(boost::asio::ip::tcp::acceptor& acceptor,
                                        const boost::asio::ip::tcp::endpoint& at);

/// The TCP sessions a server keeps track of (weakly: a session owns its socket).
using session_sockets = std::vector<std::weak_ptr<boost::asio::ip::tcp::socket>>;

/// Closes every session still open and forgets them all.
void close_sessions(session_sockets& sessions);

/// The descriptors of the sessions still open (socket filters are attached to them).
std::vector<int> open_session_handles(const session_sockets& sessions);

}  // namespace support
