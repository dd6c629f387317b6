#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simulator/api.hpp"
#include "simulator/lab.hpp"
#include "simulator/scenario.hpp"

namespace boost::asio {
class io_context;
}

namespace sim {

/// One trainee's place in a class: their scenario (loaded), seed, prefix, token.
struct class_seat {
    std::string name;
    std::string token;  ///< "" = the one kept in the state directory, else a random one
    std::uint64_t seed = 0;
    int prefix = 60;
    scenario s;
};

struct class_options {
    std::string title;
    port_mode ports = port_mode::automatic;
    double speed = 1;
    std::optional<duration> time_limit;  ///< overrides each scenario's [trainer] time_limit
    std::string instructor_token;        ///< "" = kept in the state directory, else random
    std::string state_dir;               ///< each trainee's lab and sessions under DIR/NAME/
};

/// Class mode (`mailsim serve --class`): a lab, a trainer and routes per
/// trainee, all on one io_context, and the instructor's view of them. A
/// trainee's token opens only their own lab's API (without the fault
/// endpoints); the instructor's token opens /api/v1/class/...
class class_room {
public:
    class_room(boost::asio::io_context& io, class_options opts, std::vector<class_seat> seats);
    ~class_room();
    class_room(const class_room&) = delete;
    class_room& operator=(const class_room&) = delete;

    /// Starts every lab; "" or what could not be started and why (then nothing runs).
    std::string start();
    void stop();

    /// The routes a token opens (nullptr: none), and the pages outside /api/.
    std::shared_ptr<api_router> routes_for(std::string_view token) const;
    std::shared_ptr<api_router> pages() const;
    /// The API's address, once it listens ("http://127.0.0.1:8025").
    void set_url(std::string url);

    /// The ready JSON of `mailsim serve`: the class, the instructor's page and each trainee's.
    std::string ready_json() const;
    /// The same as a table for people.
    void print_table(std::ostream& out) const;
    /// Every trainee's progress (GET /api/v1/class).
    std::string overview_json() const;

    std::size_t size() const;
    lab& lab_of(std::size_t i);

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

/// The instructor page (GET /instructor), with the fault catalogue for its inject form.
api_response instructor_page();

}  // namespace sim
