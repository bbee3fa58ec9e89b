#include "cli.hpp"
#include "vigil/error.hpp"

namespace vigil::cli {
int eval(int, char**) { throw InputError("'eval' is not built yet"); }
}  // namespace vigil::cli
