#include "cli.hpp"
#include "vigil/error.hpp"

namespace vigil::cli {
int convert(int, char**) { throw InputError("'convert' is not built yet"); }
}  // namespace vigil::cli
