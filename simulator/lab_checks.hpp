#pragma once
#include <functional>

#include <boost/asio/awaitable.hpp>

#include "simulator/lab.hpp"
#include "trainer/session.hpp"

namespace sim {

/// How a check lets lab time pass while it waits for mail: the trainer also
/// counts the time it skipped, `validate --deep` only lets it go by.
using time_passer = std::function<boost::asio::awaitable<void>(duration)>;

/// Advances the lab clock by `d` at once, then lets the real I/O that the jump
/// set off (deliveries, lookups, connections) run for a moment.
boost::asio::awaitable<void> let_lab_time_pass(lab& l, duration d);

/// Runs one `[[trainer.check]]` for real in a running lab, with the lab's live
/// configuration as it is: a deliver check sends a tagged message and follows
/// it on the lab clock up to its `within`; a resolve check asks the DNS servers
/// of its host; a connect check opens a TCP connection from its host's own
/// address. `serial` makes the message tag unique within the lab. Shared by the
/// trainer's verify and `mailsim validate --deep`.
boost::asio::awaitable<trainer::check_outcome> run_lab_check(lab& l, const trainer_check& c, int serial,
                                                             time_passer pass_time);

}  // namespace sim
