#include "cli.hpp"
#include "vigil/error.hpp"

namespace vigil::cli {
int sample(int, char**) { throw InputError("'sample' is not built yet"); }
}  // namespace vigil::cli
