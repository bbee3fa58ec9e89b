#include "cli.hpp"
#include "vigil/error.hpp"

namespace vigil::cli {
int bench(int, char**) { throw InputError("'bench' is not built yet"); }
}  // namespace vigil::cli
