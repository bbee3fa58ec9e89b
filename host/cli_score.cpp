#include "cli.hpp"
#include "vigil/error.hpp"

namespace vigil::cli {
int score(int, char**) { throw InputError("'score' is not built yet"); }
}  // namespace vigil::cli
