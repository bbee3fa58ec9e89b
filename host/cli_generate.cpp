#include "cli.hpp"
#include "vigil/error.hpp"

namespace vigil::cli {
int generate(int, char**) { throw InputError("'generate' is not built yet"); }
}  // namespace vigil::cli
