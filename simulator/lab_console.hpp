#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "simulator/lab.hpp"
#include "trainer/console.hpp"

namespace sim {

/// The lab as the console sees it (trainer::console_world over a running lab).
class lab_console_world : public trainer::console_world {
public:
    explicit lab_console_world(lab& l) : lab_(l) {}

    const configuration& live() const override;
    route_result route(ipv4 from, ipv4 to) const override;
    bool reachable(ipv4 from, ipv4 to) const override;
    std::vector<trainer::event_line> events(const std::string& host) const override;
    std::vector<trainer::queue_line> queue(const std::string& host) const override;
    std::vector<std::pair<std::string, std::vector<trainer::message_line>>> connector_queues(
        const std::string& host) const override;
    std::vector<trainer::message_line> folder(const std::string& host, const std::string& mailbox,
                                              const std::string& folder) const override;
    std::vector<trainer::traffic_line> traffic(const std::string& host) const override;
    std::string clock_text() const override;
    std::string change(const std::string& what, const std::function<std::string(configuration&)>& edit) override;
    service_result control_service(const std::string& host, const std::string& key, bool start) override;
    std::string send_mail(const std::string& host, const std::string& from, const std::vector<std::string>& to,
                          const std::string& subject, std::uint64_t size, std::string& error) override;
    void retry_queue(const std::string& host) override;

private:
    lab& lab_;
};

/// Receives output as it is produced (an interactive telnet streams).
using console_output = std::function<void(const std::string&)>;

/// One console session on a lab: runs lines through trainer::console and
/// carries out its real actions (lookups, telnet) from the current host's address.
class trainer_service;

class console_session {
public:
    /// `trainer` answers the trainer's commands and keeps the lines as evidence (may be null).
    console_session(lab& l, std::string host, trainer_service* trainer = nullptr);

    /// Runs one line to completion; output goes to `out`. A telnet reads the
    /// banner and closes (the HTTP console); use `interactive` for a terminal.
    boost::asio::awaitable<void> run(std::string line, console_output out);
    /// Like run(), but a telnet stays open: lines from `next_line` go to the
    /// remote host until it closes or the user types "^]" or "~.".
    boost::asio::awaitable<void> run_interactive(std::string line, console_output out,
                                                 std::function<boost::asio::awaitable<std::optional<std::string>>()> next_line);
    std::string prompt() const { return console_.prompt(); }
    const std::string& host() const { return console_.host(); }
    bool finished() const { return finished_; }

private:
    boost::asio::awaitable<void> drive(trainer::console_reply reply, console_output& out,
                                       std::function<boost::asio::awaitable<std::optional<std::string>>()>* next_line);

    lab& lab_;
    trainer_service* trainer_;
    lab_console_world world_;
    trainer::console console_;
    bool finished_ = false;
};

}  // namespace sim
