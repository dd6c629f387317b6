#include "simulator/cli.hpp"

int main(int argc, char** argv) { return sim::cli_main(argc, argv); }
