// The scores CSV of a distributed run: one part per rank in a directory beside the destination,
// joined by rank 0 into the one output.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "dist/dist.hpp"
#include "io/signal_cleanup.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"

namespace vigil::dist {
namespace {

namespace fs = std::filesystem;

}  // namespace

struct ScoresParts::Impl {
  std::string path, dir, part;
  std::unique_ptr<ScoresWriter> writer;
  std::unique_ptr<AtomicFile> out;  // rank 0: the joined output, staged
  int registration = -1;            // the parts folder in the signal cleanup's registry
};

ScoresParts::ScoresParts(const std::string& path, const std::vector<std::string>& dims) : impl_(new Impl) {
  impl_->path = path;
  const fs::path p(path);
  impl_->dir = (p.parent_path() / ("." + p.filename().string() + ".vigil-parts." + job_tag())).string();
  impl_->part = (fs::path(impl_->dir) / ("rank-" + std::to_string(rank()) + ".csv")).string();
  std::error_code ec;
  fs::create_directory(impl_->dir, ec);  // every rank: a rank on another node may see another file system
  if (ec && !fs::is_directory(impl_->dir))
    throw InputError(where(path, 0, "cannot write: " + ec.message()));
  // When a rank dies, the launcher ends the others with SIGTERM, and each removes what the job
  // wrote so far (a killed rank cannot: another does): the run's signal cleanup removes the folder.
  impl_->registration = signal_cleanup::register_temp(impl_->dir, true);
  impl_->writer = std::make_unique<ScoresWriter>(impl_->part, dims);
}

ScoresParts::~ScoresParts() {
  impl_->writer.reset();
  impl_->out.reset();
  std::error_code ec;
  fs::remove_all(impl_->dir, ec);
  if (impl_->registration >= 0) signal_cleanup::unregister_temp(impl_->registration);
  delete impl_;
}

// A failure to write a part is reported against the output the user named.
template <typename F>
void writing_part(const ScoresParts::Impl& impl, F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    std::string message = e.what();
    if (message.rfind(impl.part, 0) == 0) message = impl.path + " (rank " + std::to_string(rank()) + "'s part)" +
                                                    message.substr(impl.part.size());
    throw InputError(message);
  }
}

void ScoresParts::append(const Dataset& batch, const Scores& scores, const std::vector<float>& final_score) {
  writing_part(*impl_, [&] { impl_->writer->append(batch, scores, final_score); });
}

void ScoresParts::gather() {
  writing_part(*impl_, [&] { impl_->writer->commit(); });
  // Tests only: this rank dies here, as under the OOM killer, with its part complete and the
  // others writing or waiting (tests/dist: nothing may be left behind).
  if (const char* r = std::getenv("VIGIL_DIST_TEST_KILL_RANK"); r && std::atoi(r) == rank()) ::raise(SIGKILL);
  checkpoint();  // every part is complete
  if (!is_root()) return;
  impl_->out = std::make_unique<AtomicFile>(impl_->path);
  std::vector<char> buffer(size_t{1} << 20);
  for (int r = 0; r < size(); ++r) {
    const std::string part = (fs::path(impl_->dir) / ("rank-" + std::to_string(r) + ".csv")).string();
    std::ifstream in(part, std::ios::binary);
    if (!in)
      throw InputError(where(part, 0, "cannot read rank " + std::to_string(r) +
                                          "'s scores (--scores under MPI needs a directory every rank sees)"));
    if (r > 0) {  // every part starts with the header; the output has it once
      std::string header;
      std::getline(in, header);
    }
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      impl_->out->write(buffer.data(), static_cast<size_t>(in.gcount()));
    }
    if (in.bad()) throw InputError(where(part, 0, "cannot read rank " + std::to_string(r) + "'s scores"));
  }
}

void ScoresParts::commit() {
  if (impl_->out) impl_->out->commit();
}

}  // namespace vigil::dist
